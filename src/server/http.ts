// The tail server over node:http: a thin adapter around the service's handler. It reads each body within the
// limit, asks the handler, and writes the answer, keeping the transport's own promises: exactly one answer per
// accepted request (a client that leaves first is counted as 499 and its work dropped), 504 at the deadline while
// the body is still arriving, Connection: close after an unread body or once draining, 400 for unparseable HTTP,
// and on close an orderly drain. What a request means is the handler's; see handler.ts and service.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { defaultEngine, type Engine } from "../engine/engine.js";
import { ValidationError, checkInt } from "../engine/errors.js";
import { loadDemo, demoRoutes, type DemoOptions } from "./demo.js";
import { HttpError, bodyTooLarge, errorAnswer, timeoutError } from "./errors.js";
import type { Answer, RequestHead } from "./handler.js";
import type { ServerMetrics } from "./metrics.js";
import { openTail, servedTail, type Tail } from "./served_tail.js";
import { createService, type ServiceOptions, type TailService } from "./service.js";
import { attachStream } from "./ws.js";

/**
 * Options of {@link startServer}; every limit has a default suited to the paper's network. `tokens`, `corsOrigins`
 * (access.ts) and `modelName` (the Open Inference Protocol's, oip.ts) come from ServiceOptions.
 */
export interface ServerOptions extends ServiceOptions {
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
  /**
   * On close, keep listening this long first, answering /healthz 503 and new requests 503 shutting_down, so a load
   * balancer's health check takes the server out before its port closes (default 0).
   */
  drainDelayMs?: number;
  /** Also serve the live demo page at /demo/ (the head runs in the visitor's browser); see docs/demo.md. */
  demo?: DemoOptions;
  /** Serve HTTPS (and wss://) with this PEM certificate chain and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port` (`https://` with TLS), no trailing slash. */
  url: string;
  port: number;
  tail: Tail;
  metrics: ServerMetrics;
  /** Waiting requests and samples. */
  queueDepth(): { requests: number; samples: number };
  /** Stops accepting, answers every accepted request, closes the connections; resolves when done. Idempotent. */
  close(): Promise<void>;
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
    drainDelayMs: o.drainDelayMs ?? 0,
  };
  checkInt("startServer", "port", r.port, 0, 65535);
  checkInt("startServer", "maxBatch", r.maxBatch, 1, 1 << 24);
  checkInt("startServer", "maxQueue", r.maxQueue, 1, 1 << 30);
  checkInt("startServer", "timeoutMs", r.timeoutMs, 1, 2 ** 31 - 1);
  checkInt("startServer", "maxBodyBytes", r.maxBodyBytes, 64, 2 ** 31 - 1);
  checkInt("startServer", "retryAfterSeconds", r.retryAfterSeconds, 0, 86_400);
  checkInt("startServer", "drainTimeoutMs", r.drainTimeoutMs, 0, 2 ** 31 - 1);
  checkInt("startServer", "drainDelayMs", r.drainDelayMs, 0, 2 ** 31 - 1);
  if (!(r.maxDelayMs >= 0 && r.maxDelayMs <= 60_000)) {
    throw new ValidationError(`startServer: maxDelayMs must be in [0, 60000], got ${r.maxDelayMs}`);
  }
  return r;
}

/** Starts the tail server and resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const o = resolveOptions(options);
  const engine = options.engine ?? (await defaultEngine());
  const model = await openTail(options.model, engine);
  const tail = servedTail(model.tail);
  let s: TailService;
  try {
    const demo = options.demo && demoRoutes(await loadDemo(engine, tail, options.demo));
    s = createService(tail, o, demo, options);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const server: Server = options.tls
    ? (createTlsServer(options.tls, listener(s, o)) as unknown as Server)
    : createServer(listener(s, o));
  const streams = attachStream(server, s, o);
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const a = errorAnswer(new HttpError(400, "bad_request", `malformed HTTP request: ${err.code ?? err.message}`));
    const length = Buffer.byteLength(a.body);
    const head = `HTTP/1.1 400 Bad Request\r\nContent-Type: ${a.headers["Content-Type"]}\r\nContent-Length: ${length}`;
    socket.end(`${head}\r\nConnection: close\r\n\r\n${a.body}`);
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
    s.dispose();
    model.dispose();
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidationError(`startServer: cannot listen on ${o.host}:${o.port}: ${code ?? (e as Error).message}`);
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      s.drain();
      if (o.drainDelayMs > 0) await new Promise((r) => setTimeout(r, o.drainDelayMs));
      const streamsClosed = streams.close(o.drainTimeoutMs);
      const listenerClosed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await s.traffic.idle();
      // answered connections close on their own (Connection: close); cut any that linger
      const cut = setTimeout(() => server.closeAllConnections(), o.drainTimeoutMs);
      server.closeIdleConnections();
      await Promise.all([listenerClosed, streamsClosed]);
      clearTimeout(cut);
      s.dispose();
      model.dispose();
    })();
    return closed;
  };
  const url = `${options.tls ? "https" : "http"}://${host}:${addr.port}`;
  return { url, port: addr.port, tail: model.tail, metrics: s.metrics, queueDepth: () => s.queue.depth, close };
}

/** node:http's request listener: one request in, the handler's answer out, exactly once. */
function listener(s: TailService, o: { timeoutMs: number; maxBodyBytes: number }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const arrived = performance.now();
    s.traffic.begin();
    const gone = new AbortController();
    let label = "other";
    let finished = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = (a: Answer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.traffic.end(label, a, arrived);
      // an unread body cannot be skipped on a kept-alive connection, and a draining server keeps none
      if (!res.destroyed && !res.headersSent) send(res, a, s.traffic.draining || !req.complete);
    };
    // the client went away before its answer: nothing to send, but its work must leave the queue and the counts
    res.on("close", () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      gone.abort();
      s.traffic.end(label, undefined, arrived);
    });

    const head = requestHead(req, arrived);
    if (head instanceof HttpError) return void (answer(errorAnswer(head)), req.resume());
    label = s.handler.label(head.path);
    const refused = s.handler.admit(head);
    if (refused) return void (answer(refused), req.resume());
    // the handler keeps the deadline once it has the body; until then it is the transport's
    timer = setTimeout(() => answer(errorAnswer(timeoutError(o.timeoutMs))), o.timeoutMs);
    readBody(req, o.maxBodyBytes).then(
      (body) => {
        if (finished) return;
        clearTimeout(timer);
        void s.handler.handle({ ...head, body, signal: gone.signal }).then(answer);
      },
      (e: HttpError) => {
        answer(errorAnswer(e));
        req.resume();
      },
    );
  };
}

function requestHead(req: IncomingMessage, arrived: number): RequestHead | HttpError {
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://localhost");
  } catch {
    return new HttpError(400, "bad_request", `cannot parse the request target ${JSON.stringify(req.url)}`);
  }
  return { method: req.method ?? "", path: url.pathname, query: url.searchParams, headers: req.headers, arrived };
}

/** The body, refused with 413 as soon as it passes `limit` (the rest is drained unread). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      if (size > limit) return;
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      chunks.length = 0;
      reject(bodyTooLarge(limit));
    });
    // a broken upload ends in the response's close event (499); nothing to answer here
    req.on("error", () => {});
    req.on("end", () => {
      if (size > limit) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    });
  });
}

function send(res: ServerResponse, a: Answer, close: boolean): void {
  const length = typeof a.body === "string" ? Buffer.byteLength(a.body) : a.body.byteLength;
  res.writeHead(a.status, { ...a.headers, ...(close ? { Connection: "close" } : {}), "Content-Length": length });
  res.end(a.body);
}
