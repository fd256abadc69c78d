// The tail server over node:http: a thin adapter around the service's handler. It reads each body within the
// limits, asks the handler, and writes the answer, keeping the transport's own promises: exactly one answer per
// accepted request (a client that leaves first is counted as 499 and its work dropped; one that only half-closes
// its side after a whole request is still answered), 504 at the deadline while the body is still arriving, a body
// refused on its first bytes read to its end unkept, a cap on connections and on the bytes bodies in flight hold,
// Connection: close after an unread body or once draining, 400 for unparseable HTTP, 501 for CONNECT, and on close
// an orderly drain. What a request means is the handler's; see handler.ts and service.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { Server as NetServer, type AddressInfo, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { defaultEngine, type Engine } from "../engine/engine.js";
import { ValidationError, checkInt } from "../engine/errors.js";
import { loadDemo, demoRoutes, type DemoOptions } from "./demo.js";
import { HttpError, bodyTooLarge, errorAnswer, timeoutError, unavailable } from "./errors.js";
import type { Answer, RequestHead } from "./handler.js";
import type { ServerMetrics } from "./metrics.js";
import type { Model } from "../nn/model.js";
import { openTail, type ServedTail, type Tail } from "./served_tail.js";
import { createService, type ServiceOptions, type TailService } from "./service.js";
import { attachStream } from "./ws.js";

/**
 * Options of {@link startServer}; every limit has a default suited to the paper's network. `tokens`, `corsOrigins`
 * (access.ts) and `modelName` (the Open Inference Protocol's, oip.ts) come from ServiceOptions.
 */
export interface ServerOptions extends ServiceOptions {
  /**
   * The server bundle (or a whole model file, served for full offload: frames of its input with split id 0): its
   * bytes, a path to it, or a loaded Tail (then the caller keeps ownership).
   */
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
  /**
   * On close, connections still sending an answer this long after the last one was written are cut (default
   * 10,000 ms).
   */
  drainTimeoutMs?: number;
  /**
   * On close, keep listening this long first, answering /healthz 503 and new requests 503 shutting_down, so a load
   * balancer's health check takes the server out before its port closes (default 0).
   */
  drainDelayMs?: number;
  /**
   * On close (after drainDelayMs), how long open connections stay open at least, so a request already on its way on
   * a kept-alive one gets 503 with Connection: close rather than a reset (default 100 ms); then idle and half-sent
   * ones are closed at once.
   */
  lingerMs?: number;
  /**
   * Open connections; one past it has its first request (or its stream upgrade) answered 503 + Connection: close
   * (default 1024).
   */
  maxConnections?: number;
  /**
   * Bytes all request bodies being received may hold together, a declared Content-Length counted in full before the
   * body is read; a body past it gets 503 + Retry-After (default 32 MiB, or maxBodyBytes when that is larger).
   */
  maxInflightBytes?: number;
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
  /** The model it serves: a split's tail, or a whole model. */
  tail: Model;
  /** What frames it takes: the model hash, split id (0 for a whole model), shapes. */
  served: ServedTail;
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
    lingerMs: o.lingerMs ?? 100,
    maxConnections: o.maxConnections ?? 1024,
    maxInflightBytes: o.maxInflightBytes ?? Math.max(32 * 2 ** 20, o.maxBodyBytes ?? 0),
  };
  checkInt("startServer", "port", r.port, 0, 65535);
  checkInt("startServer", "maxBatch", r.maxBatch, 1, 1 << 24);
  checkInt("startServer", "maxQueue", r.maxQueue, 1, 1 << 30);
  checkInt("startServer", "timeoutMs", r.timeoutMs, 1, 2 ** 31 - 1);
  checkInt("startServer", "maxBodyBytes", r.maxBodyBytes, 64, 2 ** 31 - 1);
  checkInt("startServer", "retryAfterSeconds", r.retryAfterSeconds, 0, 86_400);
  checkInt("startServer", "drainTimeoutMs", r.drainTimeoutMs, 0, 2 ** 31 - 1);
  checkInt("startServer", "drainDelayMs", r.drainDelayMs, 0, 2 ** 31 - 1);
  checkInt("startServer", "lingerMs", r.lingerMs, 0, 60_000);
  checkInt("startServer", "maxConnections", r.maxConnections, 1, 1 << 20);
  checkInt("startServer", "maxInflightBytes", r.maxInflightBytes, r.maxBodyBytes, Number.MAX_SAFE_INTEGER);
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
  const tail = model.served;
  let s: TailService;
  try {
    const demo = options.demo && demoRoutes(await loadDemo(engine, tail, options.demo));
    s = createService(tail, o, demo, options);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const sockets = new Sockets(o.maxConnections);
  // node:http checks the head and request timeouts on this period (30 s by default, three times our default timeout)
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.ceil(o.timeoutMs / 4)));
  const onRequest = listener(s, o, sockets, new BodyBudget(o.maxInflightBytes));
  const server: Server = options.tls
    ? (createTlsServer({ ...options.tls, connectionsCheckingInterval }, onRequest) as unknown as Server)
    : createServer({ connectionsCheckingInterval }, onRequest);
  // a client may half-close once its request is sent (shutdown(SHUT_WR)); its answer still goes out before the close
  // (node:http's own switch, not in its typings: its socket 'end' handler reads it to keep such a request alive)
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // request heads that trickle in are held at most the request timeout, as bodies are; node:http's own cut of a
  // whole request (408) comes after ours (504), for the rest of a refused body that never ends
  server.headersTimeout = Math.min(server.headersTimeout, o.timeoutMs);
  server.requestTimeout = Math.max(server.headersTimeout, 2 * o.timeoutMs);
  // the sockets requests arrive on: over TLS, the TLS socket once its handshake is done, which (unlike node:http's
  // TCP sockets) is not half-open by default: a client's close_notify would end it before its answer went out
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    socket.allowHalfOpen = true;
    sockets.add(socket);
  });
  // a stream's connection is closed by the stream's own drain (1001 once it has answered everything), not as idle
  server.on("upgrade", (_req: IncomingMessage, socket: Socket) => sockets.stream(socket));
  const streams = attachStream(server, s, {
    maxBodyBytes: o.maxBodyBytes,
    refuse: (socket) =>
      sockets.over(socket as Socket)
        ? unavailable("overloaded", "too many open connections; retry later", o.retryAfterSeconds)
        : undefined,
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const slow = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const e = slow
      ? new HttpError(408, "request_timeout", `the request did not arrive within ${server.headersTimeout} ms`)
      : new HttpError(400, "bad_request", `malformed HTTP request: ${err.code ?? err.message}`);
    writeRaw(socket, errorAnswer(e));
  });
  // CONNECT asks for a tunnel, which this server never opens: answered, counted, and the connection closed
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    const arrived = performance.now();
    s.traffic.begin();
    const a = errorAnswer(
      new HttpError(501, "not_implemented", `CONNECT ${req.url ?? ""} is not supported: this server is not a proxy`),
    );
    s.traffic.end("other", a, arrived);
    if (socket.writable) writeRaw(socket, a);
    else socket.destroy();
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
      // from here every request that arrives is answered 503 shutting_down with Connection: close
      s.drain();
      // a load balancer's health check sees the server not ready while new requests still get a retryable 503
      if (o.drainDelayMs > 0) await new Promise((r) => setTimeout(r, o.drainDelayMs));
      const streamsClosed = streams.close(o.drainTimeoutMs);
      // the listener only: node:http's own close() would also drop idle connections at once, and a request already
      // on its way on one of them would meet a reset
      const listenerClosed = new Promise<void>((r) => netServerClose.call(server, () => r()));
      // a request written just before the client saw the listener close is on its way: let it land and be refused
      await Promise.all([new Promise((r) => setTimeout(r, o.lingerMs)), s.traffic.idle()]);
      // every accepted request is answered: connections with nothing in flight (idle, or a head half sent) go now
      sockets.closeQuiet();
      // the others are writing their last answer (Connection: close); cut any that linger past the drain timeout
      const cut = setTimeout(() => server.closeAllConnections(), o.drainTimeoutMs);
      await Promise.all([listenerClosed, streamsClosed]);
      clearTimeout(cut);
      // node:http's close() now finds nothing to close but still stops its timer of connection checks
      server.close();
      s.dispose();
      model.dispose();
    })();
    return closed;
  };
  const url = `${options.tls ? "https" : "http"}://${host}:${addr.port}`;
  const depth = () => s.queue.depth;
  return { url, port: addr.port, tail: model.tail, served: tail, metrics: s.metrics, queueDepth: depth, close };
}

const netServerClose = NetServer.prototype.close;

/** The most of a refused body's rest that is read to keep its connection; past it the connection is closed. */
const KEEP_READING_BYTES = 64 * 1024;

/**
 * The open connections: which ones are over the cap, and which have a request in flight (from its head to its
 * answer) or carry a stream.
 */
class Sockets {
  private readonly open = new Map<Socket, { busy: number; over: boolean }>();
  constructor(private readonly max: number) {}

  add(socket: Socket): void {
    this.open.set(socket, { busy: 0, over: this.open.size >= this.max });
    socket.once("close", () => this.open.delete(socket));
  }
  /** Whether the connection was opened past the cap (its requests are refused). */
  over(socket: Socket): boolean {
    return this.open.get(socket)?.over ?? false;
  }
  /** A request on the connection began (+1) or was answered or abandoned (−1). */
  busy(socket: Socket, d: 1 | -1): void {
    const c = this.open.get(socket);
    if (c) c.busy += d;
  }
  /** The connection became a stream: never closed as quiet, its stream closes it. */
  stream(socket: Socket): void {
    this.busy(socket, 1);
  }
  /** Closes every connection with no request in flight. */
  closeQuiet(): void {
    for (const [socket, c] of this.open) if (c.busy === 0) socket.destroy();
  }
}

/** The bytes request bodies in flight hold, against one cap; a declared Content-Length is taken in full up front. */
class BodyBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
}

/** A body's share of the budget: grown to the bytes it holds (false: refused), dropped when they are let go. */
interface BodyHold {
  grow(bytes: number): boolean;
  drop(): void;
}

/** An answer written straight to a socket that has no ServerResponse (a parse error, CONNECT), then closed. */
function writeRaw(socket: Duplex, a: Answer): void {
  const length = Buffer.byteLength(a.body);
  const reason = STATUS_TEXT[a.status] ?? "Error";
  const type = a.headers["Content-Type"];
  const head = `HTTP/1.1 ${a.status} ${reason}\r\nContent-Type: ${type}\r\nContent-Length: ${length}`;
  socket.end(`${head}\r\nConnection: close\r\n\r\n${typeof a.body === "string" ? a.body : ""}`);
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  408: "Request Timeout",
  501: "Not Implemented",
};

type Limits = { timeoutMs: number; maxBodyBytes: number; retryAfterSeconds: number };

/** node:http's request listener: one request in, the handler's answer out, exactly once. */
function listener(s: TailService, o: Limits, sockets: Sockets, budget: BodyBudget) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const arrived = performance.now();
    const socket = req.socket;
    s.traffic.begin();
    sockets.busy(socket, 1);
    const gone = new AbortController();
    let label = "other";
    let finished = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let held = 0;
    const settle = (): void => {
      finished = true;
      clearTimeout(timer);
      budget.give(held);
      held = 0;
      sockets.busy(socket, -1);
    };
    const answer = (a: Answer, closing = false): void => {
      if (finished) return;
      settle();
      s.traffic.end(label, a, arrived);
      // A refused body's rest is read and dropped, keeping the connection, only when it is short: a longer or
      // undeclared rest, a client too slow for its deadline, a draining server or a client that closed its side gets
      // Connection: close (node:http reads what is already on its way while the answer goes out, then closes).
      const rest = req.complete ? 0 : declared !== undefined && a.status !== 504 ? declared - received : Infinity;
      const close = closing || rest > KEEP_READING_BYTES || s.traffic.draining || socket.readableEnded;
      if (!req.complete) req.resume();
      if (!res.destroyed && !res.headersSent) send(res, a, close);
    };
    // the client went away before its answer: nothing to send, but its work must leave the queue and the counts
    res.on("close", () => {
      if (finished) return;
      settle();
      gone.abort();
      s.traffic.end(label, undefined, arrived);
    });

    const length = req.headers["content-length"];
    const declared = length === undefined ? undefined : Number(length);
    let received = 0;
    const head = requestHead(req, arrived);
    if (head instanceof HttpError) return void answer(errorAnswer(head));
    label = s.handler.label(head.path);
    if (sockets.over(socket)) {
      const message = "too many open connections; retry later";
      return void answer(errorAnswer(unavailable("overloaded", message, o.retryAfterSeconds)), true);
    }
    const refused = s.handler.admit(head);
    if (refused) return void answer(refused);
    // the body's share of memory: what it declares, up front, or what arrives when it declares nothing
    if (!budget.take(declared ?? 0)) return void answer(errorAnswer(overBudget(o, budget)));
    held = declared ?? 0;
    // the handler keeps the deadline once it has the body; until then it is the transport's
    timer = setTimeout(() => answer(errorAnswer(timeoutError(o.timeoutMs))), o.timeoutMs);
    const hold: BodyHold = {
      grow: (n) => ((received = n), n <= held || (budget.take(n - held) && ((held = n), true))),
      drop: () => (budget.give(held), (held = 0)),
    };
    const prefix = s.handler.prefixBytes(head);
    readBody(req, o.maxBodyBytes, hold, prefix, (bytes) => s.handler.inspect(head, bytes)).then(
      (body) => {
        if (finished) return;
        // refused on its first bytes: answered now, the rest read and dropped
        if (!(body instanceof Uint8Array)) return answer(body);
        clearTimeout(timer);
        void s.handler.handle({ ...head, body, signal: gone.signal }).then(answer);
      },
      (e: HttpError) => answer(errorAnswer(e.status === 503 ? overBudget(o, budget) : e)),
    );
  };
}

function overBudget(o: Limits, budget: BodyBudget): HttpError {
  const message = `request bodies in flight would pass ${budget.limit} bytes; retry later`;
  return unavailable("overloaded", message, o.retryAfterSeconds);
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

/**
 * The body, refused with 413 as soon as it passes `limit` and with 503 when the shared budget cannot `hold` the
 * bytes it has. Once `prefix` bytes are in, `inspect` may refuse the request on them: the refusal resolves in the
 * body's place at once, and what follows is dropped as it arrives.
 */
function readBody(
  req: IncomingMessage,
  limit: number,
  hold: BodyHold,
  prefix: number,
  inspect: (first: Uint8Array) => Answer | undefined,
): Promise<Uint8Array | Answer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0,
      failed = false;
    let refusal: Answer | undefined;
    const fail = (e: HttpError) => {
      failed = true;
      chunks = [];
      reject(e);
    };
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) return fail(bodyTooLarge(limit));
      if (refusal) return;
      if (!hold.grow(size)) return fail(new HttpError(503, "overloaded", "body budget"));
      chunks.push(c);
      if (prefix > 0 && size >= prefix && size - c.length < prefix) {
        const first = chunks.length === 1 ? c : Buffer.concat(chunks, size);
        refusal = inspect(new Uint8Array(first.buffer, first.byteOffset, prefix));
        if (refusal) {
          chunks = [];
          hold.drop();
          resolve(refusal);
        }
      }
    });
    // a broken upload ends in the response's close event (499); nothing to answer here
    req.on("error", () => {});
    req.on("end", () => {
      if (failed || refusal) return;
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
