// Counters, gauges and histograms rendered in the Prometheus text exposition format (version 0.0.4).

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",")}}`;
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

/** Observations counted into cumulative buckets (upper bounds, `le`), with their sum and count. */
export class Histogram implements Metric {
  readonly bounds: number[];
  private readonly counts: number[];
  private sum_ = 0;
  private count_ = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    bounds: number[],
  ) {
    this.bounds = [...new Set(bounds)].sort((a, b) => a - b);
    this.counts = new Array(this.bounds.length).fill(0);
  }
  observe(x: number): void {
    this.sum_ += x;
    this.count_++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (x <= this.bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }
  get count(): number {
    return this.count_;
  }
  get sum(): number {
    return this.sum_;
  }
  /** Cumulative count of observations ≤ each bound, then +Inf. */
  cumulative(): { le: number; count: number }[] {
    let c = 0;
    return [
      ...this.bounds.map((le, i) => ({ le, count: (c += this.counts[i]!) })),
      { le: Infinity, count: this.count_ },
    ];
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const b of this.cumulative()) lines.push(`${this.name}_bucket{le="${num(b.le)}"} ${b.count}`);
    lines.push(`${this.name}_sum ${num(this.sum_)}`, `${this.name}_count ${this.count_}`);
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

/** The tail server's metrics; `render()` is the body of GET /metrics. */
export class ServerMetrics {
  readonly requests = new Counter("presparse_requests_total", "HTTP requests answered, by path and status code.");
  readonly samples = new Counter("presparse_samples_total", "Samples answered with 200 by POST /v1/infer.");
  readonly batchSize: Histogram;
  readonly batchRequests: Histogram;
  readonly latency = new Histogram(
    "presparse_request_duration_seconds",
    "Time from the request's arrival to its answer, POST /v1/infer answered 200.",
    LATENCY_BUCKETS,
  );
  private readonly gauges: Gauge[];

  constructor(maxBatch: number, queue: () => { requests: number; samples: number }, inflight: () => number) {
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
    this.gauges = [
      new Gauge("presparse_queue_depth", "Samples waiting for a batch.", () => queue().samples),
      new Gauge("presparse_queue_requests", "Requests waiting for a batch.", () => queue().requests),
      new Gauge("presparse_inflight_requests", "Requests received and not yet answered.", inflight),
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
