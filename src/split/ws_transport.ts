// The client end of the tail server's stream (GET /v1/stream): one WebSocket carrying many requests at once, each
// a binary message of a 4-byte request id and a frame, each answered by a message with the same id. Browser-safe:
// it takes a WebSocket constructor (the browser's, Node ≥ 22's global one, or the `ws` package's on Node 20) and
// uses typed arrays only. The envelope is specified in docs/serving.md ("Streaming").
import { PresparseError } from "../engine/errors.js";

/** The subprotocol of the stream, and the prefix of the one that carries a bearer token (base64url). */
export const STREAM_PROTOCOL = "presparse.v1";
export const BEARER_PROTOCOL_PREFIX = "presparse.bearer.";
const ID_BYTES = 4;

/** What the stream needs of a WebSocket: the browser's API, which Node ≥ 22's global and `ws` also implement. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "close" | "error" | "message", listener: (event: never) => void): void;
}
/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The connection failed or closed before the answer came: nothing says whether the request ran; it may be resent. */
export class StreamClosedError extends PresparseError {
  override readonly name: string = "StreamClosedError";
  constructor(
    readonly url: string,
    readonly closeCode: number | undefined,
    why: string,
  ) {
    super(`stream ${url}: ${why}`);
  }
}

/** One answer of the stream: a 200 with its frame, or a refusal with the fields of the server's JSON error. */
export type StreamAnswer =
  | { status: 200; body: Uint8Array }
  | { status: number; code: string; message: string; field?: string; retryAfterMs: number };

interface Pending {
  resolve(a: StreamAnswer): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** base64url without padding (RFC 4648 §5), of UTF-8 text. */
function base64url(text: string): string {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const b = new TextEncoder().encode(text);
  let out = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += abc[(n >> 18) & 63]! + abc[(n >> 12) & 63]!;
    if (i + 1 < b.length) out += abc[(n >> 6) & 63]!;
    if (i + 2 < b.length) out += abc[n & 63]!;
  }
  return out;
}

/** The subprotocols a client offers: the stream's, and its token if it has one. */
export function streamProtocols(token?: string): string[] {
  return token === undefined ? [STREAM_PROTOCOL] : [STREAM_PROTOCOL, BEARER_PROTOCOL_PREFIX + base64url(token)];
}

/**
 * A stream to one server, opened on first use and again after it closes. Requests in flight when it closes are
 * rejected with {@link StreamClosedError}; the caller decides whether to resend them (SplitClient does, as it
 * retries an HTTP request whose connection failed).
 */
export class StreamConnection {
  private ws: WebSocketLike | undefined;
  private opening: Promise<WebSocketLike> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(
    /** `ws://host:port/v1/stream[?query]` or `wss://…`. */
    readonly url: string,
    private readonly protocols: string[],
    private readonly WebSocket: WebSocketConstructor,
  ) {}

  /** Requests sent and not yet answered. */
  get inflight(): number {
    return this.pending.size;
  }

  /** Sends one frame; resolves with its answer, rejects with StreamClosedError, or with a timeout after `timeoutMs`. */
  async request(frame: Uint8Array, timeoutMs: number): Promise<StreamAnswer> {
    const ws = await this.open();
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    const msg = new Uint8Array(ID_BYTES + frame.length);
    new DataView(msg.buffer).setUint32(0, id, true);
    msg.set(frame, ID_BYTES);
    return new Promise<StreamAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StreamTimeoutError(this.url, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        ws.send(msg);
      } catch (e) {
        this.settle(id)?.reject(new StreamClosedError(this.url, undefined, `send failed: ${(e as Error).message}`));
      }
    });
  }

  /** Closes the connection (1000); requests in flight are rejected. */
  close(): void {
    const ws = this.ws;
    this.ws = undefined;
    this.opening = undefined;
    this.fail(new StreamClosedError(this.url, 1000, "closed by the client"));
    ws?.close(1000, "client done");
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  private fail(e: StreamClosedError): void {
    for (const id of [...this.pending.keys()]) this.settle(id)!.reject(e);
  }

  private open(): Promise<WebSocketLike> {
    if (this.ws && this.ws.readyState === 1) return Promise.resolve(this.ws);
    this.opening ??= new Promise<WebSocketLike>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new this.WebSocket(this.url, this.protocols);
      } catch (e) {
        this.opening = undefined;
        return reject(new StreamClosedError(this.url, undefined, `cannot open: ${(e as Error).message}`));
      }
      ws.binaryType = "arraybuffer";
      let opened = false,
        why = "";
      ws.addEventListener("open", () => {
        opened = true;
        this.ws = ws;
        this.opening = undefined;
        resolve(ws);
      });
      // a browser says nothing about why (a refused upgrade, a 401, a reset look alike); `ws` gives a message
      ws.addEventListener("error", (e: { message?: string }) => (why = e.message ?? ""));
      ws.addEventListener("close", (e: { code: number; reason: string }) => {
        if (this.ws === ws) this.ws = undefined;
        if (!opened) {
          this.opening = undefined;
          return reject(new StreamClosedError(this.url, e.code, `could not connect${why ? `: ${why}` : ""}`));
        }
        const reason =
          e.code === 1001
            ? "the server is shutting down (1001)"
            : `closed with ${e.code}${e.reason ? ` (${e.reason})` : ""}`;
        this.fail(new StreamClosedError(this.url, e.code, `${reason} before answering`));
      });
      ws.addEventListener("message", (e: { data: ArrayBuffer | string }) => this.message(e.data));
    });
    return this.opening;
  }

  private message(data: ArrayBuffer | string): void {
    if (typeof data !== "string") {
      if (data.byteLength < ID_BYTES) return;
      const id = new DataView(data).getUint32(0, true);
      this.settle(id)?.resolve({ status: 200, body: new Uint8Array(data, ID_BYTES) });
      return;
    }
    let m: {
      id?: unknown;
      error?: { status?: unknown; code?: unknown; message?: unknown; field?: unknown };
      retryAfter?: unknown;
    };
    try {
      m = JSON.parse(data) as typeof m;
    } catch {
      return;
    }
    // an error for no id (the server could not read one) answers nothing this client sent
    if (typeof m.id !== "number" || !m.error) return;
    const e = m.error;
    this.settle(m.id)?.resolve({
      status: typeof e.status === "number" ? e.status : 0,
      code: typeof e.code === "string" ? e.code : "stream_error",
      message: typeof e.message === "string" ? e.message : "",
      field: typeof e.field === "string" ? e.field : undefined,
      retryAfterMs: typeof m.retryAfter === "number" ? m.retryAfter * 1000 : 0,
    });
  }
}

/** No answer within the attempt's time; the request may still be answered (and is then dropped). */
export class StreamTimeoutError extends PresparseError {
  override readonly name: string = "StreamTimeoutError";
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer from ${url} within ${timeoutMs} ms`);
  }
}
