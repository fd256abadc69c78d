// The tail server without a transport: the batch queue, the metrics, the requests in flight and the route table,
// built once and shared by every transport. A transport feeds `handler` and reports each request to `traffic`.
import { performance } from "node:perf_hooks";
import { ValidationError } from "../engine/errors.js";
import { createAccess, type AccessOptions } from "./access.js";
import { createHandler, type Answer, type Endpoint, type Handler, type Route, type RouteTable } from "./handler.js";
import { inferEndpoint, type InferLimits } from "./infer.js";
import { ServerMetrics, type Transport } from "./metrics.js";
import { oipRoutes } from "./oip.js";
import { STREAM_PATH, streamEndpoint } from "./ws.js";
import { BatchQueue, type BatchQueueOptions } from "./queue.js";
import type { ServedTail } from "./served_tail.js";

/** Every limit of the service (ServerOptions, resolved). */
export type ServiceLimits = BatchQueueOptions & InferLimits;

/** Who may call, and the model's name in the Open Inference Protocol's URLs (default `presparse`). */
export interface ServiceOptions extends AccessOptions {
  modelName?: string;
}

/** Requests from arrival to their one answer, over every transport; the drain waits for them. */
export class Traffic {
  private open = 0;
  private streams_ = 0;
  private since: number | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  constructor(private readonly metrics: ServerMetrics) {}

  /** Requests arrived and not yet answered. */
  get inflight(): number {
    return this.open;
  }
  /** Open WebSocket streams. */
  get streams(): number {
    return this.streams_;
  }
  streamOpened(): void {
    this.streams_++;
  }
  streamClosed(): void {
    this.streams_--;
  }
  /** Whether shutdown has begun. */
  get draining(): boolean {
    return this.since !== undefined;
  }
  /** Whether shutdown had begun at time t (performance.now()). */
  drainingAt(t: number): boolean {
    return this.since !== undefined && this.since <= t;
  }
  drain(): void {
    this.since ??= performance.now();
  }
  /** A request arrived. */
  begin(): void {
    this.open++;
  }
  /**
   * Its one end, counted under its route's label and its transport: the answer sent, or none when the client left
   * first (499).
   */
  end(label: string, answer: Answer | undefined, arrived: number, transport: Transport = "http"): void {
    this.open--;
    this.metrics.requests.inc({ path: label, code: String(answer?.status ?? 499), transport });
    if (answer?.status === 200 && answer.samples) {
      this.metrics.samples.inc({ transport }, answer.samples);
      this.metrics.latency.observe((performance.now() - arrived) / 1000, { transport });
    }
    if (this.open === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    return new Promise((r) => (this.open === 0 ? r() : this.idleWaiters.push(r)));
  }
}

/** The queue, metrics, traffic and handler of one served tail. */
export interface TailService {
  readonly tail: ServedTail;
  readonly handler: Handler;
  readonly queue: BatchQueue;
  readonly metrics: ServerMetrics;
  readonly traffic: Traffic;
  /** Shutdown begins: /healthz answers 503, new inference requests get 503, queued batches run without delay. */
  drain(): void;
  /** Frees the queue's buffers (the tail is the caller's). */
  dispose(): void;
}

const NO_STORE = { "Cache-Control": "no-store" };

/**
 * Builds the service: POST /v1/infer, GET /v1/stream (the WebSocket's upgrade, ws.ts), GET /healthz, GET /metrics,
 * the Open Inference Protocol's /v2 routes (oip.ts), and any `extra` routes (the demo's), behind the access gates.
 */
export function createService(
  tail: ServedTail,
  limits: ServiceLimits,
  extra: RouteTable = new Map(),
  options: ServiceOptions = {},
): TailService {
  const access = createAccess(options);
  // the gauges read the queue and the traffic when scraped, after both exist
  let q: BatchQueue;
  const metrics: ServerMetrics = new ServerMetrics(
    limits.maxBatch,
    () => q.depth,
    () => traffic.inflight,
    () => traffic.streams,
  );
  const traffic = new Traffic(metrics);
  q = new BatchQueue(tail, limits, (samples, requests) => {
    metrics.batchSize.observe(samples);
    metrics.batchRequests.observe(requests);
  });
  const { after, splitId, activationWidth, classes } = tail;
  const split = { after, splitId, activationWidth, classes };
  const health: Endpoint = {
    answer: () => {
      const body = {
        ok: !traffic.draining,
        ready: !traffic.draining,
        status: traffic.draining ? "draining" : "serving",
        modelHash: tail.hash,
        split,
        queue: q.depth,
        // the other requests in flight: a transport counts this one as soon as it arrives
        inflight: Math.max(0, traffic.inflight - 1),
        streams: traffic.streams,
        pid: process.pid,
      };
      const headers = { "Content-Type": "application/json; charset=utf-8", ...NO_STORE };
      return { status: traffic.draining ? 503 : 200, headers, body: `${JSON.stringify(body)}\n` };
    },
  };
  const prometheus = { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", ...NO_STORE };
  const scrape: Endpoint = { answer: () => ({ status: 200, headers: prometheus, body: metrics.render() }) };
  const draining = (t: number) => traffic.drainingAt(t);
  const infer = inferEndpoint({ tail, queue: q, limits, draining });
  const stream = streamEndpoint({
    draining,
    originAllowed: access.originAllowed,
    retryAfterSeconds: limits.retryAfterSeconds,
  });
  let routes: Map<string, Route>;
  try {
    routes = new Map<string, Route>([
      ["/v1/infer", { methods: { POST: infer } }],
      [STREAM_PATH, { methods: { GET: stream } }],
      ["/healthz", { methods: { GET: health, HEAD: health }, public: true }],
      ["/metrics", { methods: { GET: scrape, HEAD: scrape } }],
      ...oipRoutes({ tail, queue: q, limits, draining, name: options.modelName ?? "presparse" }),
    ]);
    for (const [path, route] of extra) {
      if (routes.has(path)) throw new ValidationError(`startServer: ${path} is the tail's own route`);
      routes.set(path, route);
    }
  } catch (e) {
    q.dispose();
    throw e;
  }
  return {
    tail,
    handler: createHandler(routes, access.gates),
    queue: q,
    metrics,
    traffic,
    drain: () => {
      traffic.drain();
      q.drain();
    },
    dispose: () => q.dispose(),
  };
}
