// The tail server: POST /v1/infer takes an activation frame and answers a logits (or probabilities) frame; requests
// that arrive together share a batch. Every accepted request gets exactly one answer — its own — and every
// refusal is a status with a JSON body { error: { status, code, field?, message } }. No per-client state.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { FRAME_MEDIA_TYPE } from "../split/client.js";
import { defaultEngine, type Engine } from "../engine/engine.js";
import { ValidationError, checkInt } from "../engine/errors.js";
import { FrameError, decodeFrame, encodeFrame, type FrameDtype, type FrameKind } from "../split/frame.js";
import { loadTail, type Tail } from "../split/split.js";
import { DEMO_PREFIX, loadDemo, type DemoOptions } from "./demo.js";
import { ServerMetrics } from "./metrics.js";
import { BatchQueue, type BatchJob } from "./queue.js";

/** The media type of a frame body, both ways (the client's {@link FRAME_MEDIA_TYPE}). */
export const FRAME_CONTENT_TYPE = FRAME_MEDIA_TYPE;

/** Options of {@link startServer}; every limit has a default suited to the paper's network. */
export interface ServerOptions {
  /** The server bundle: its bytes, a path to it, or a loaded Tail (then the caller keeps ownership). */
  model: Uint8Array | string | Tail;
  engine?: Engine;
  /** TCP port; 0 picks a free one (default 8080). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Samples per batch (default 64). */
  maxBatch?: number;
  /** Longest a request waits for others to join its batch, ms (default 1). */
  maxDelayMs?: number;
  /** Samples allowed to wait for a batch; past it requests get 503 (default 4096). */
  maxQueue?: number;
  /** A request not answered this long after it arrived gets 504 (default 10,000 ms). */
  timeoutMs?: number;
  /** Largest request body, checked on Content-Length and while reading (default 4 MiB). */
  maxBodyBytes?: number;
  /** Seconds in the Retry-After of a 503 (default 1). */
  retryAfterSeconds?: number;
  /** On close, connections still open this long after the last answer are cut (default 10,000 ms). */
  drainTimeoutMs?: number;
  /** Also serve the live demo page at /demo/ (the head runs in the visitor's browser); see docs/demo.md. */
  demo?: DemoOptions;
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`, no trailing slash. */
  url: string;
  port: number;
  tail: Tail;
  metrics: ServerMetrics;
  /** Waiting requests and samples. */
  queueDepth(): { requests: number; samples: number };
  /** Stops accepting, answers every accepted request, closes the connections; resolves when done. Idempotent. */
  close(): Promise<void>;
}

/** The JSON body of every non-200 answer. */
export interface ErrorBody {
  error: { status: number; code: string; field?: string; message: string };
}

const OUTPUTS: readonly FrameKind[] = ["logits", "probabilities"];
const DTYPES: readonly FrameDtype[] = ["f32", "f16", "int8"];

class HttpError extends Error {
  override readonly name: string = "HttpError";
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function resolveOptions(o: ServerOptions) {
  const r = {
    port: o.port ?? 8080,
    host: o.host ?? "127.0.0.1",
    maxBatch: o.maxBatch ?? 64,
    maxDelayMs: o.maxDelayMs ?? 1,
    maxQueue: o.maxQueue ?? 4096,
    timeoutMs: o.timeoutMs ?? 10_000,
    maxBodyBytes: o.maxBodyBytes ?? 4 * 2 ** 20,
    retryAfterSeconds: o.retryAfterSeconds ?? 1,
    drainTimeoutMs: o.drainTimeoutMs ?? 10_000,
  };
  checkInt("startServer", "port", r.port, 0, 65535);
  checkInt("startServer", "maxBatch", r.maxBatch, 1, 1 << 24);
  checkInt("startServer", "maxQueue", r.maxQueue, 1, 1 << 30);
  checkInt("startServer", "timeoutMs", r.timeoutMs, 1, 2 ** 31 - 1);
  checkInt("startServer", "maxBodyBytes", r.maxBodyBytes, 64, 2 ** 31 - 1);
  checkInt("startServer", "retryAfterSeconds", r.retryAfterSeconds, 0, 86_400);
  checkInt("startServer", "drainTimeoutMs", r.drainTimeoutMs, 0, 2 ** 31 - 1);
  if (!(r.maxDelayMs >= 0 && r.maxDelayMs <= 60_000)) throw new ValidationError(`startServer: maxDelayMs must be in [0, 60000], got ${r.maxDelayMs}`);
  return r;
}

async function tailFrom(model: ServerOptions["model"], engine: Engine): Promise<{ tail: Tail; owned: boolean }> {
  if (typeof model === "string") {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(model);
    } catch (e) {
      throw new ValidationError(`startServer: cannot read ${model}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return { tail: loadTail(engine, bytes, model), owned: true };
  }
  if (model instanceof Uint8Array) return { tail: loadTail(engine, model, "model"), owned: true };
  return { tail: model, owned: false };
}

/** Starts the tail server and resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const o = resolveOptions(options);
  const engine = options.engine ?? (await defaultEngine());
  const { tail, owned } = await tailFrom(options.model, engine);
  const demo = options.demo && (await loadDemo(engine, tail, options.demo).catch((e: unknown) => {
    if (owned) tail.dispose();
    throw e;
  }));
  let inflight = 0;
  let closing = false;
  let queue: BatchQueue;
  const metrics = new ServerMetrics(o.maxBatch, () => queue.depth, () => inflight);
  queue = new BatchQueue(tail, o, (samples, requests) => {
    metrics.batchSize.observe(samples);
    metrics.batchRequests.observe(requests);
  });
  const idleWaiters: (() => void)[] = [];
  const settle = () => {
    if (inflight === 0) for (const w of idleWaiters.splice(0)) w();
  };

  const server: Server = createServer((req, res) => {
    inflight++;
    let pathLabel = "other";
    let finished = false;
    let onAbort: (() => void) | undefined;
    // exactly one answer per request: the first call wins, later ones (a timeout racing a result) are dropped
    const answer = (status: number, headers: Record<string, string | number>, body: Uint8Array | string): boolean => {
      if (finished) return false;
      finished = true;
      inflight--;
      metrics.requests.inc({ path: pathLabel, code: String(status) });
      if (!res.destroyed && !res.headersSent) {
        // an unread body cannot be skipped on a kept-alive connection, and a draining server keeps none
        if (closing || !req.complete) headers.Connection = "close";
        res.writeHead(status, { ...headers, "Content-Length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength });
        res.end(body);
      }
      settle();
      return true;
    };
    const fail = (e: HttpError): boolean => {
      const body: ErrorBody = { error: { status: e.status, code: e.code, ...(e.field ? { field: e.field } : {}), message: e.message } };
      return answer(e.status, { "Content-Type": "application/json; charset=utf-8", ...e.headers }, JSON.stringify(body) + "\n");
    };
    // the client went away before its answer: nothing to send, but it must leave the queue and the counts
    res.on("close", () => {
      if (finished) return;
      finished = true;
      inflight--;
      metrics.requests.inc({ path: pathLabel, code: "499" });
      onAbort?.();
      settle();
    });

    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      fail(new HttpError(400, "bad_request", `cannot parse the request target ${JSON.stringify(req.url)}`));
      return void req.resume();
    }
    const page = demo?.resource(url.pathname);
    if (page) {
      pathLabel = DEMO_PREFIX;
      if (req.method === "GET" || req.method === "HEAD") answer(page.status, { ...page.headers }, page.body);
      else fail(new HttpError(405, "method_not_allowed", `${url.pathname} takes GET or HEAD, got ${req.method}`, undefined, { Allow: "GET, HEAD" }));
      return void req.resume();
    }
    const route = ROUTES[url.pathname];
    if (!route) {
      fail(new HttpError(404, "not_found", `no resource at ${url.pathname}; endpoints: POST /v1/infer, GET /healthz, GET /metrics`));
      return void req.resume();
    }
    pathLabel = url.pathname;
    if (!route.includes(req.method ?? "")) {
      fail(new HttpError(405, "method_not_allowed", `${url.pathname} takes ${route.join(" or ")}, got ${req.method}`, undefined, { Allow: route.join(", ") }));
      return void req.resume();
    }
    if (url.pathname === "/healthz") {
      const body = {
        ok: !closing,
        status: closing ? "draining" : "serving",
        modelHash: tail.hash,
        split: { after: tail.info.after, splitId: tail.splitId, activationWidth: tail.activationWidth, classes: tail.classes },
        queue: queue.depth,
        inflight: inflight - 1,
        pid: process.pid,
      };
      answer(closing ? 503 : 200, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" }, JSON.stringify(body) + "\n");
      return void req.resume();
    }
    if (url.pathname === "/metrics") {
      answer(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" }, metrics.render());
      return void req.resume();
    }
    const t0 = performance.now();
    const timeout = () => new HttpError(504, "timeout", `not answered within ${o.timeoutMs} ms`);
    const timer = setTimeout(() => {
      onAbort?.();
      fail(timeout());
    }, o.timeoutMs);
    res.on("close", () => clearTimeout(timer));
    infer(req, url, {
      finished: () => finished,
      fail: (e) => {
        clearTimeout(timer);
        fail(e);
        req.resume();
      },
      queued: (job) => (onAbort = () => queue.cancel(job)),
      ok: (headers, body, samples) => {
        clearTimeout(timer);
        // the event loop was busy past the deadline (the timer could not fire): the result is discarded
        if (performance.now() - t0 > o.timeoutMs) return void fail(timeout());
        if (answer(200, headers, body)) {
          metrics.samples.inc({}, samples);
          metrics.latency.observe((performance.now() - t0) / 1000);
        }
      },
    });
  });

  interface InferContext {
    finished(): boolean;
    fail(e: HttpError): void;
    queued(job: BatchJob): void;
    ok(headers: Record<string, string | number>, body: Uint8Array, samples: number): void;
  }

  function infer(req: IncomingMessage, url: URL, cx: InferContext): void {
    if (closing) return cx.fail(new HttpError(503, "shutting_down", "the server is shutting down; retry on another instance", undefined, { "Retry-After": String(o.retryAfterSeconds) }));
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== FRAME_CONTENT_TYPE) return cx.fail(new HttpError(415, "unsupported_media_type", `Content-Type must be ${FRAME_CONTENT_TYPE}, got ${JSON.stringify(req.headers["content-type"] ?? "")}`, "content-type"));
    const output = url.searchParams.get("output") ?? "logits";
    if (!OUTPUTS.includes(output as FrameKind)) return cx.fail(new HttpError(400, "bad_query", `output must be logits or probabilities, got ${JSON.stringify(output)}`, "output"));
    const dtypeParam = url.searchParams.get("dtype");
    if (dtypeParam !== null && !DTYPES.includes(dtypeParam as FrameDtype)) return cx.fail(new HttpError(400, "bad_query", `dtype must be f32, f16 or int8, got ${JSON.stringify(dtypeParam)}`, "dtype"));
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > o.maxBodyBytes) {
      return cx.fail(new HttpError(413, "too_large", `Content-Length ${declared} exceeds the limit of ${o.maxBodyBytes} bytes`, "length"));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > o.maxBodyBytes) {
        over = true;
        chunks.length = 0;
        cx.fail(new HttpError(413, "too_large", `body exceeds the limit of ${o.maxBodyBytes} bytes`, "length"));
        return;
      }
      chunks.push(c);
    });
    req.on("error", () => {});
    req.on("end", () => {
      if (over || cx.finished()) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      let frame;
      try {
        frame = decodeFrame(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), { maxBytes: o.maxBodyBytes }, { modelHash: tail.hash, splitId: tail.splitId, kind: "activation" });
      } catch (e) {
        if (e instanceof FrameError) {
          const code = e.status === 409 ? "frame_mismatch" : e.status === 413 ? "too_large" : "bad_frame";
          return cx.fail(new HttpError(e.status, code, e.message, e.field));
        }
        return cx.fail(new HttpError(400, "bad_frame", (e as Error).message));
      }
      const n = frame.shape[frame.shape.length - 1]!;
      // [features, batch], or the cut's own per-sample shape then the batch (e.g. [C, H, W, batch])
      const per = frame.shape.slice(0, -1), want = tail.info.activationShape;
      const flat = per.length === 1 && per[0] === tail.activationWidth;
      const shaped = per.length === want.length && per.every((d, i) => d === want[i]);
      if (frame.shape.length < 2 || !(flat || shaped)) {
        const alt = want.length > 1 ? ` or [${want.join(", ")}, batch]` : "";
        return cx.fail(new HttpError(400, "bad_frame", `frame: dims: expected [${tail.activationWidth}, batch]${alt} (features first, batch last), got [${frame.shape.join(", ")}]`, "dims"));
      }
      if (n > o.maxQueue) return cx.fail(new HttpError(413, "too_large", `${n} samples in one frame; the queue holds at most ${o.maxQueue}`, "dims"));
      const dtype: FrameDtype = (dtypeParam as FrameDtype | null) ?? frame.dtype;
      const kind = output as FrameKind;
      const job: BatchJob = {
        data: frame.data,
        n,
        wantProbabilities: kind === "probabilities",
        done: (out) => {
          if (cx.finished()) return;
          const values = kind === "probabilities" ? out.probabilities! : out.logits;
          const base = { data: values, shape: [tail.classes, n], kind, splitId: tail.splitId, modelHash: tail.hash };
          let bytes: Uint8Array, sent: FrameDtype = dtype;
          try {
            bytes = encodeFrame({ ...base, dtype });
          } catch {
            // a logit past the f16 range (or a non-finite one) travels as f32 rather than not at all
            sent = "f32";
            bytes = encodeFrame({ ...base, dtype: "f32", nonFinite: "allow" });
          }
          cx.ok({
            "Content-Type": FRAME_CONTENT_TYPE,
            "X-Presparse-Dtype": sent,
            "X-Presparse-Batch-Samples": out.batchSamples,
            "X-Presparse-Batch-Requests": out.batchRequests,
          }, bytes, n);
        },
        fail: (e) => cx.fail(new HttpError(500, "internal", `the tail failed on this batch: ${(e as Error).message}`)),
      };
      if (!queue.submit(job)) {
        return cx.fail(new HttpError(503, "overloaded", `the queue is full (${queue.depth.samples} of ${o.maxQueue} samples waiting); retry later`, undefined, { "Retry-After": String(o.retryAfterSeconds) }));
      }
      cx.queued(job);
    });
  }

  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const body = JSON.stringify({ error: { status: 400, code: "bad_request", message: `malformed HTTP request: ${err.code ?? err.message}` } }) + "\n";
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    queue.dispose();
    if (owned) tail.dispose();
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidationError(`startServer: cannot listen on ${o.host}:${o.port}: ${code ?? (e as Error).message}`);
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const listenerClosed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      queue.drain();
      await new Promise<void>((r) => (inflight === 0 ? r() : idleWaiters.push(r)));
      // answered connections close on their own (Connection: close); cut any that linger
      const cut = setTimeout(() => server.closeAllConnections(), o.drainTimeoutMs);
      server.closeIdleConnections();
      await listenerClosed;
      clearTimeout(cut);
      queue.dispose();
      if (owned) tail.dispose();
    })();
    return closed;
  };

  return { url: `http://${host}:${addr.port}`, port: addr.port, tail, metrics, queueDepth: () => queue.depth, close };
}

const ROUTES: Record<string, string[]> = {
  "/v1/infer": ["POST"],
  "/healthz": ["GET", "HEAD"],
  "/metrics": ["GET", "HEAD"],
};
