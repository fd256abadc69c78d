// The stream transport: a WebSocket at GET /v1/stream carrying many requests at once, each message one
// `POST /v1/infer` tagged with the client's request id, through the same handler, batch queue, limits and error
// codes as HTTP. A message the server cannot use is answered for its id and the connection stays open; a closing
// server answers everything it accepted, then closes with 1001. The envelope is in docs/serving.md ("Streaming").
import type { Server as HttpServer, IncomingMessage } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { setMaxListeners } from "node:events";
import { STATUS_CODES } from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { FRAME_MEDIA_TYPE } from "../split/frame.js";
import { STREAM_PROTOCOL } from "../split/ws_transport.js";
import { HttpError, errorAnswer, unavailable, type ErrorBody } from "./errors.js";
import type { Answer, Endpoint, RequestHead } from "./handler.js";
import { answerOptions } from "./infer.js";
import type { TailService } from "./service.js";

/** The stream's path. */
export const STREAM_PATH = "/v1/stream";
/** Close code once a draining server has answered a connection's every request (RFC 6455: going away). */
export const CLOSE_DRAINED = 1001;
/** Bytes of the request id in front of every binary message, both ways (u32, little-endian). */
export const STREAM_ID_BYTES = 4;

// past this many bytes waiting to be written to a client, its messages are not read until half has left
const HIGH_WATER = 1 << 20;

/** What the stream's route checks before an upgrade: the drain, the query, the page's origin. */
export interface StreamDeps {
  draining(t: number): boolean;
  originAllowed(head: RequestHead): boolean;
  retryAfterSeconds: number;
}

/** GET /v1/stream: admitted (or refused) on the head of the upgrade request; without an upgrade, 426. */
export function streamEndpoint(d: StreamDeps): Endpoint {
  return {
    admit(head) {
      if (d.draining(head.arrived ?? performance.now())) {
        throw unavailable(
          "shutting_down",
          "the server is shutting down; connect to another instance",
          d.retryAfterSeconds,
        );
      }
      if (!d.originAllowed(head)) {
        throw new HttpError(
          403,
          "origin_not_allowed",
          `pages from ${String(head.headers.origin)} may not open a stream here`,
          "origin",
        );
      }
      answerOptions(head);
    },
    answer() {
      const message = `${STREAM_PATH} is a WebSocket: send Upgrade: websocket (or POST frames to /v1/infer)`;
      throw new HttpError(426, "upgrade_required", message, undefined, { Upgrade: "websocket", Connection: "Upgrade" });
    },
  };
}

/** The streams of one server. */
export interface StreamServer {
  /** Open connections. */
  readonly connections: number;
  /**
   * Shutdown: every connection closes with 1001 once its accepted requests are answered; resolves when all are
   * closed, cutting any still open `timeoutMs` later.
   */
  close(timeoutMs: number): Promise<void>;
}

/** Serves the stream on `server`'s upgrade requests, through the service `s`. */
export function attachStream(
  server: HttpServer | HttpsServer,
  s: TailService,
  o: { maxBodyBytes: number; refuse?: (socket: Duplex) => HttpError | undefined },
): StreamServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: o.maxBodyBytes + STREAM_ID_BYTES,
    perMessageDeflate: false,
    // the bearer subprotocol, if offered, is never echoed: only ours is selected
    handleProtocols: (offered) => (offered.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false),
  });
  const streams = new Set<Stream>();
  let draining = false;
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, first: Buffer) => {
    const arrived = performance.now();
    socket.on("error", () => socket.destroy());
    const head = upgradeHead(req, arrived);
    const label = head ? s.handler.label(head.path) : "other";
    // the transport's own refusal of the connection (past --max-connections) comes first
    const over = o.refuse?.(socket);
    const refused = over
      ? errorAnswer(over)
      : head === undefined
        ? errorAnswer(new HttpError(400, "bad_request", `cannot parse the request target ${JSON.stringify(req.url)}`))
        : s.handler.admit(head);
    if (refused || head === undefined || head.path !== STREAM_PATH) {
      s.traffic.begin();
      const a =
        refused ?? errorAnswer(new HttpError(404, "not_found", `no WebSocket at ${head?.path}; use ${STREAM_PATH}`));
      s.traffic.end(label, a, arrived);
      return void writeRefusal(socket, a);
    }
    wss.handleUpgrade(req, socket, first, (ws) => {
      const stream = new Stream(ws, socket, s, head, () => {
        streams.delete(stream);
        s.traffic.streamClosed();
      });
      streams.add(stream);
      s.traffic.streamOpened();
      if (draining) stream.drain();
    });
  });
  return {
    get connections() {
      return streams.size;
    },
    async close(timeoutMs) {
      draining = true;
      const all = [...streams];
      for (const st of all) st.drain();
      const cut = setTimeout(() => all.forEach((st) => st.terminate()), timeoutMs);
      await Promise.all(all.map((st) => st.closed));
      clearTimeout(cut);
      wss.close();
    },
  };
}

/** One connection: its requests in flight by id, each answered once, in whatever order their batches finish. */
class Stream {
  private readonly pending = new Map<number, number>();
  // one signal for every request of the connection: they are all gone when it closes
  private readonly gone = new AbortController();
  private corked = false;
  private readonly headers: Record<string, string | string[] | undefined>;
  private readonly label: string;
  private draining = false;
  private paused = false;
  readonly closed: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly s: TailService,
    private readonly head: RequestHead,
    onClose: () => void,
  ) {
    // each message is a POST /v1/infer with the upgrade's headers (its token, its origin) and the frame's media type
    const { "content-length": _, "transfer-encoding": __, ...rest } = head.headers;
    this.headers = { ...rest, "content-type": FRAME_MEDIA_TYPE };
    this.label = s.handler.label("/v1/infer");
    // every request in flight listens on the one signal
    setMaxListeners(0, this.gone.signal);
    ws.binaryType = "nodebuffer";
    ws.on("message", (data, isBinary) => this.message(data, isBinary));
    // protocol errors (a message past the size limit: 1009) close the connection; nothing else to do here
    ws.on("error", () => {});
    this.closed = new Promise((resolve) =>
      ws.once("close", () => {
        this.leave();
        onClose();
        resolve();
      }),
    );
  }

  private message(data: RawData, isBinary: boolean): void {
    const arrived = performance.now();
    // after our close frame nothing is accepted: the client learns it from the close code and retries elsewhere
    if (this.ws.readyState !== this.ws.OPEN) return;
    const buf = data as Buffer;
    if (!isBinary || buf.length < STREAM_ID_BYTES) {
      const message = isBinary
        ? `a message starts with a ${STREAM_ID_BYTES}-byte request id; got ${buf.length} bytes`
        : "requests are binary messages: a request id, then a frame";
      this.refuseUnread(null, new HttpError(400, "bad_message", message), arrived);
      return;
    }
    const id = buf.readUInt32LE(0);
    if (this.pending.has(id)) {
      const message = `request id ${id} is still in flight on this connection`;
      this.refuseUnread(id, new HttpError(400, "duplicate_id", message, "id"), arrived);
      return;
    }
    const body = new Uint8Array(buf.buffer, buf.byteOffset + STREAM_ID_BYTES, buf.length - STREAM_ID_BYTES);
    this.pending.set(id, arrived);
    this.s.traffic.begin();
    const req = {
      method: "POST",
      path: "/v1/infer",
      query: this.head.query,
      headers: this.headers,
      body,
      arrived,
      signal: this.gone.signal,
    };
    void this.s.handler.handle(req).then((a) => {
      // the client left first: its request was counted (499) when it went
      if (this.gone.signal.aborted) return;
      this.pending.delete(id);
      this.s.traffic.end(this.label, a, arrived, "ws");
      this.send(id, a);
      if (this.draining && this.pending.size === 0) this.ws.close(CLOSE_DRAINED, "server shutting down");
    });
  }

  /** A message refused before it became a request of the queue: counted and answered at once. */
  private refuseUnread(id: number | null, e: HttpError, arrived: number): void {
    this.s.traffic.begin();
    const a = errorAnswer(e);
    this.s.traffic.end(this.label, a, arrived, "ws");
    this.send(id, a);
  }

  private send(id: number | null, a: Answer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // the answers of one turn of the event loop (a batch's, typically) leave in one write
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    let msg: Buffer | string;
    if (a.status === 200 && id !== null) {
      const body = a.body as Uint8Array;
      msg = Buffer.allocUnsafe(STREAM_ID_BYTES + body.byteLength);
      msg.writeUInt32LE(id, 0);
      msg.set(body, STREAM_ID_BYTES);
    } else {
      const { error } = JSON.parse(a.body as string) as ErrorBody;
      const retryAfter = a.headers["Retry-After"];
      msg = JSON.stringify({ id, error, ...(retryAfter !== undefined ? { retryAfter: Number(retryAfter) } : {}) });
    }
    this.ws.send(msg, () => {
      if (this.paused && this.ws.bufferedAmount < HIGH_WATER / 2) {
        this.paused = false;
        this.ws.resume();
      }
    });
    // a client that sends without reading: stop reading its messages until its answers leave
    if (!this.paused && this.ws.bufferedAmount > HIGH_WATER) {
      this.paused = true;
      this.ws.pause();
    }
  }

  /** Shutdown: close once every accepted request is answered (now, if none is in flight). */
  drain(): void {
    this.draining = true;
    if (this.pending.size === 0 && this.ws.readyState === this.ws.OPEN)
      this.ws.close(CLOSE_DRAINED, "server shutting down");
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** The connection closed: every request still in flight leaves the queue and is counted as 499. */
  private leave(): void {
    this.gone.abort();
    for (const arrived of this.pending.values()) this.s.traffic.end(this.label, undefined, arrived, "ws");
    this.pending.clear();
  }
}

function upgradeHead(req: IncomingMessage, arrived: number): RequestHead | undefined {
  try {
    const url = new URL(req.url ?? "/", "http://localhost");
    return { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, arrived };
  } catch {
    return undefined;
  }
}

/** An HTTP answer written on a socket that will not become a WebSocket, then closed. */
function writeRefusal(socket: Duplex, a: Answer): void {
  if (!socket.writable) return void socket.destroy();
  const body =
    typeof a.body === "string" ? Buffer.from(a.body) : Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength);
  const lines = [`HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ""}`];
  for (const [k, v] of Object.entries(a.headers)) if (k.toLowerCase() !== "connection") lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${body.length}`, "Connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), body]));
}
