// Counters, gauges and histograms rendered in the Prometheus text exposition format (version 0.0.4).

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  const quoted = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${keys.map((k) => `${k}="${quoted(labels[k]!)}"`).join(",")}}`;
}

function num(x: number): string {
  return x === Infinity ? "+Inf" : x === -Infinity ? "-Inf" : Number.isNaN(x) ? "NaN" : String(x);
}

interface Metric {
  readonly name: string;
  render(): string;
}

/** A monotone count per label set. */
export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by;
    else this.values.set(key, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  /** Sum over every label set. */
  total(): number {
    let s = 0;
    for (const v of this.values.values()) s += v.value;
    return s;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, v] of [...this.values].sort()) lines.push(`${this.name}${key} ${num(v.value)}`);
    return lines.join("\n");
  }
}

/** A value read when scraped. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  get(): number {
    return this.read();
  }
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.read())}`].join(
      "\n",
    );
  }
}

/** Observations counted into cumulative buckets (upper bounds, `le`), with sum and count; a series per label set. */
export class Histogram implements Metric {
  readonly bounds: number[];
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  /** `labels`: series rendered (as zeros) before any observation, e.g. one per transport. */
  constructor(
    readonly name: string,
    readonly help: string,
    bounds: number[],
    labels: Labels[] = [{}],
  ) {
    this.bounds = [...new Set(bounds)].sort((a, b) => a - b);
    for (const l of labels) this.at(l);
  }
  private at(labels: Labels) {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: new Array(this.bounds.length).fill(0), sum: 0, count: 0 }));
    return s;
  }
  observe(x: number, labels: Labels = {}): void {
    const s = this.at(labels);
    s.sum += x;
    s.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (x <= this.bounds[i]!) {
        s.counts[i]!++;
        break;
      }
    }
  }
  /** Observations over every series. */
  get count(): number {
    let c = 0;
    for (const s of this.series.values()) c += s.count;
    return c;
  }
  get sum(): number {
    let c = 0;
    for (const s of this.series.values()) c += s.sum;
    return c;
  }
  /** Cumulative count of observations ≤ each bound, then +Inf, of one series. */
  cumulative(labels: Labels = {}): { le: number; count: number }[] {
    const s = this.series.get(labelText(labels));
    const counts = s?.counts ?? this.bounds.map(() => 0);
    let c = 0;
    return [...this.bounds.map((le, i) => ({ le, count: (c += counts[i]!) })), { le: Infinity, count: s?.count ?? 0 }];
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, s] of [...this.series].sort()) {
      for (const b of this.cumulative(s.labels))
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(b.le) })} ${b.count}`);
      lines.push(`${this.name}_sum${key} ${num(s.sum)}`, `${this.name}_count${key} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** Powers of two from 1 up to (and including) the first ≥ max. */
export function powerOfTwoBuckets(max: number): number[] {
  const out = [1];
  while (out[out.length - 1]! < max) out.push(out[out.length - 1]! * 2);
  return out;
}

/** Latency buckets in seconds: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

/** How a request reached the server: an HTTP request, or a message on a WebSocket stream. */
export type Transport = "http" | "ws";
export const TRANSPORTS: readonly Transport[] = ["http", "ws"];

/** The tail server's metrics; `render()` is the body of GET /metrics. */
export class ServerMetrics {
  readonly requests = new Counter("presparse_requests_total", "Requests answered, by path, status code and transport.");
  readonly samples = new Counter(
    "presparse_samples_total",
    "Samples answered with 200 by an inference route, by transport.",
  );
  readonly batchSize: Histogram;
  readonly batchRequests: Histogram;
  readonly latency = new Histogram(
    "presparse_request_duration_seconds",
    "Time from the request's arrival to its answer, inference answered 200, by transport.",
    LATENCY_BUCKETS,
    TRANSPORTS.map((transport) => ({ transport })),
  );
  private readonly gauges: Gauge[];

  constructor(
    maxBatch: number,
    queue: () => { requests: number; samples: number },
    inflight: () => number,
    streams: () => number = () => 0,
  ) {
    this.batchSize = new Histogram(
      "presparse_batch_size",
      "Samples per batch run through the tail.",
      powerOfTwoBuckets(maxBatch),
    );
    this.batchRequests = new Histogram(
      "presparse_batch_requests",
      "Requests per batch run through the tail.",
      powerOfTwoBuckets(maxBatch),
    );
    for (const transport of TRANSPORTS) this.samples.inc({ transport }, 0);
    this.gauges = [
      new Gauge("presparse_queue_depth", "Samples waiting for a batch.", () => queue().samples),
      new Gauge("presparse_queue_requests", "Requests waiting for a batch.", () => queue().requests),
      new Gauge("presparse_inflight_requests", "Requests received and not yet answered, every transport.", inflight),
      new Gauge("presparse_stream_connections", "Open WebSocket streams.", streams),
    ];
  }

  render(): string {
    const all: Metric[] = [
      this.requests,
      this.samples,
      this.batchSize,
      this.batchRequests,
      this.latency,
      ...this.gauges,
    ];
    return `${all.map((m) => m.render()).join("\n")}\n`;
  }
}
