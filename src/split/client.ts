// The edge side of split computing: run the head locally, let confident samples exit there, send the rest in one
// activation frame to the tail server, and report per sample where it was answered, what it cost on the wire and
// how long it took. Without a head (full offload) every sample goes as its raw input, a frame with split id 0, to a
// server of the whole model. Browser-safe: fetch, performance and typed arrays only, no Node modules.
import { HASH_FORMAT, PresparseError, ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { ExitRunner, type ExitPolicy, type ExitResult } from "../exits/runner.js";
import { softmaxStats } from "../ops/softmax_xent.js";
import {
  FRAME_DTYPES,
  FRAME_MEDIA_TYPE,
  FrameError,
  decodeFrame,
  encodeFrame,
  frameBytes,
  type FrameDtype,
} from "./frame.js";
import type { Head } from "../nn/model.js";
import { Matrix } from "../engine/buffers.js";
import {
  StreamClosedError,
  StreamConnection,
  StreamTimeoutError,
  streamProtocols,
  type StreamAnswer,
  type WebSocketConstructor,
} from "./ws_transport.js";

/**
 * A non-200 answer of the tail server (after retries, for 503), with the fields of its JSON error body; or no usable
 * answer at all, with status 0: `unreachable` (the connection failed: the URL and the cause are named), `timeout`.
 * A 200 that is not the answer asked for is `bad_answer`; an answer past its size limit `too_large`.
 */
export class SplitServerError extends PresparseError {
  override readonly name: string = "SplitServerError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(
      status === 0
        ? `${code}: ${message}`
        : `server answered ${status} ${code}${field ? ` (${field})` : ""}: ${message}`,
    );
  }
}

/** How much of a refusal's body is read: enough for any JSON error, not a proxy's endless page. */
const ERROR_BODY_BYTES = 64 * 1024;

/**
 * What full offload needs to know of the whole model a server serves — not its weights: frames carry its hash, split
 * id 0 and its input shape.
 */
export interface OffloadTarget {
  /** The model's hash, 16 hex digits (its file's `model_hash`, the server's /healthz `modelHash`). */
  hash: string;
  /** One sample's input shape: [features], or [C, H, W]. */
  inputShape: readonly number[];
  classes: number;
  /** The model's exit count; a sample the server answers reports this as its `exit` (default 0). */
  exits?: number;
}

/** Options of {@link SplitClient}: a `head` to run here, or `offload` to send every sample's input. */
export interface SplitClientOptions {
  head?: Head;
  /** Full offload: no head; every sample is sent as its input to a server of the whole model. */
  offload?: OffloadTarget;
  /** The tail server's base URL, e.g. `http://127.0.0.1:8080` (requests go to `<serverUrl>/v1/infer`). */
  serverUrl: string;
  /** Exit policy for the head's exits (default: the head's share, `head.split.policy`; `null`: no edge exit). */
  policy?: ExitPolicy | null;
  /** Dtype of the activation frame (default f32; int8 is 4× smaller, f16 2×). The answer comes back in the same. */
  dtype?: FrameDtype;
  /** What the server answers; the client reports the same class and confidence either way (default logits). */
  output?: "logits" | "probabilities";
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Retries of a 503 answer (default 3). */
  retries?: number;
  /** First retry delay; doubles each retry; a longer Retry-After wins (default 50 ms). */
  backoffMs?: number;
  /** Cap on any one retry delay, whatever Retry-After says (default 5000 ms). */
  maxBackoffMs?: number;
  /** Abort an attempt not answered within this (default 30,000 ms). */
  timeoutMs?: number;
  /**
   * `http` (default): one POST /v1/infer per call. `ws`: one WebSocket to /v1/stream carrying every call's frame,
   * many in flight at once, with the same answers, errors and retries. Close it with `dispose()`.
   */
  transport?: "http" | "ws";
  /** The WebSocket constructor for `transport: "ws"` (default globalThis.WebSocket; on Node 20, `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** A bearer token, sent on every request (Authorization header) or when the stream opens (a subprotocol). */
  token?: string;
}

/** Where and how one sample was answered. */
export interface SampleResult {
  /**
   * Who answered, as in ExitResult: an edge exit k (k < the head's exit count), or the full model's final
   * classifier (`head.split.totalExits`), which the server runs.
   */
  exit: number;
  label: number;
  /** Max softmax probability of the answering classifier. */
  confidence: number;
  /** This sample's share of the frame sent (frame bytes / samples in it); 0 when it exited on the edge. */
  bytesSent: number;
  /** From the call to its answer: the head's time for an exited sample, head plus round trip for a sent one. */
  latencyMs: number;
}

/** Per-call totals. */
export interface InferTotals {
  samples: number;
  exited: number;
  sent: number;
  /** Bytes of the activation frame (0 when every sample exited); a retry resends it but is not counted again. */
  bytesSent: number;
  bytesReceived: number;
  /** Attempts made (0 when every sample exited) and how many were retries (after a 503 or a failed connection). */
  requests: number;
  retries: number;
  headMs: number;
  /** Round trip(s) to the server including retry waits. */
  serverMs: number;
  latencyMs: number;
}

/** What {@link SplitClient.infer} returns. */
export interface InferResult {
  samples: SampleResult[];
  totals: InferTotals;
}

/** Runs the head on the edge and the tail over HTTP (or a WebSocket stream), one frame per call; calls may overlap. */
export class SplitClient {
  /** The head run here (undefined for full offload). */
  readonly head: Head | undefined;
  readonly url: string;
  readonly policy: ExitPolicy | undefined;
  private readonly runner: ExitRunner | undefined;
  /** What frames carry and answers hold: the cut (0 for full offload), hash, sample shape, classes, final exit. */
  private readonly id: { cut: number; hash: string; shape: readonly number[]; classes: number; final: number };
  readonly dtype: FrameDtype;
  readonly output: "logits" | "probabilities";
  private readonly fetch_: typeof fetch;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly stream: StreamConnection | undefined;
  private X: Matrix | undefined;

  constructor(o: SplitClientOptions) {
    this.head = o.head;
    if (typeof o.serverUrl !== "string" || !/^https?:\/\//.test(o.serverUrl))
      throw new ValidationError(`SplitClient: serverUrl must be an http(s) URL, got ${JSON.stringify(o.serverUrl)}`);
    this.url = `${o.serverUrl.replace(/\/+$/, "")}/v1/infer`;
    if ((o.head === undefined) === (o.offload === undefined))
      throw new ValidationError("SplitClient: give either a head or an offload target");
    this.id = o.head ? identityOf(o.head) : offloadIdentity(o.offload!);
    this.dtype = o.dtype ?? "f32";
    if (!FRAME_DTYPES.includes(this.dtype)) {
      throw new ValidationError(`SplitClient: dtype must be ${FRAME_DTYPES.join(", ")}, got ${String(this.dtype)}`);
    }
    this.output = o.output ?? "logits";
    if (this.output !== "logits" && this.output !== "probabilities")
      throw new ValidationError(`SplitClient: output must be logits or probabilities, got ${String(this.output)}`);
    const f = o.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new ValidationError("SplitClient: no fetch available; pass options.fetch");
    this.fetch_ = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.retries = checkInt("SplitClient", "retries", o.retries ?? 3, 0, 100);
    this.backoffMs = checkInt("SplitClient", "backoffMs", o.backoffMs ?? 50, 0, 3_600_000);
    this.maxBackoffMs = checkInt("SplitClient", "maxBackoffMs", o.maxBackoffMs ?? 5000, 0, 3_600_000);
    this.timeoutMs = checkInt("SplitClient", "timeoutMs", o.timeoutMs ?? 30_000, 1, 2 ** 31 - 1);
    if (o.token !== undefined && !(typeof o.token === "string" && /^[A-Za-z0-9\-._~+/]+=*$/.test(o.token))) {
      throw new ValidationError(
        "SplitClient: token must be a bearer token (letters, digits, - . _ ~ + / and trailing =)",
      );
    }
    this.headers = {
      "Content-Type": FRAME_MEDIA_TYPE,
      ...(o.token !== undefined ? { Authorization: `Bearer ${o.token}` } : {}),
    };
    this.stream = o.transport === "ws" ? this.openStream(o) : undefined;
    if (o.transport !== undefined && o.transport !== "http" && o.transport !== "ws")
      throw new ValidationError(`SplitClient: transport must be http or ws, got ${String(o.transport)}`);
    if (o.head) {
      const policy = o.policy === undefined ? o.head.split.policy : (o.policy ?? undefined);
      this.runner = new ExitRunner(o.head, policy, { logits: false });
    } else if (o.policy) throw new ValidationError("SplitClient: full offload has no edge exits to apply a policy to");
    this.policy = this.runner?.policy;
  }

  /**
   * Classifies a batch: X [inputSize, B] feature-major, or an array of samples of inputSize values each. Samples
   * answered by an edge exit cost no traffic; the others go to the server in one frame.
   */
  async infer(input: Matrix | ArrayLike<number>[]): Promise<InferResult> {
    const t0 = performance.now();
    const id = this.id;
    const r = this.runner
      ? this.runner.run(input instanceof Matrix ? input : this.load(input))
      : everySample(input, id);
    const tHead = performance.now();
    const B = r.exit.length,
      m = r.indices.length;
    const samples: SampleResult[] = new Array(B);
    for (let b = 0; b < B; b++) {
      if (r.exit[b]! === id.final) continue;
      const exited = { exit: r.exit[b]!, label: r.label[b]!, confidence: r.confidence[b]! };
      samples[b] = { ...exited, bytesSent: 0, latencyMs: tHead - t0 };
    }
    const totals: InferTotals = {
      samples: B,
      exited: B - m,
      sent: m,
      bytesSent: 0,
      bytesReceived: 0,
      requests: 0,
      retries: 0,
      headMs: tHead - t0,
      serverMs: 0,
      latencyMs: 0,
    };
    if (m > 0) {
      const shape = [...id.shape, m];
      const frame = encodeFrame({
        data: r.activation,
        shape,
        dtype: this.dtype,
        kind: "activation",
        splitId: id.cut,
        modelHash: id.hash,
      });
      totals.bytesSent = frame.length;
      // over HTTP the answer is read no further than the largest this request can have, an f32 frame of
      // [classes, m]; a stream receives whole messages, so this cap does not apply there (the WebSocket's own
      // limit does: 100 MiB for the ws package's, none in a browser)
      const answer = this.stream
        ? await this.streamPost(this.stream, frame, totals)
        : await this.post(frame, totals, frameBytes([id.classes, m], "f32"));
      totals.bytesReceived = answer.length;
      const kind = this.output;
      let f: ReturnType<typeof decodeFrame>;
      try {
        f = decodeFrame(answer, {}, { modelHash: id.hash, splitId: id.cut, kind });
      } catch (e) {
        // a 200 whose frame does not decode (e.g. non-finite logits) is the server's fault: say so as such
        if (e instanceof FrameError) throw new SplitServerError(200, "bad_answer", e.message, e.field);
        throw e;
      }
      const C = id.classes;
      if (f.shape.length !== 2 || f.shape[0] !== C || f.shape[1] !== m)
        throw new SplitServerError(
          200,
          "bad_answer",
          `expected a [${C}, ${m}] ${kind} frame, got [${f.shape.join(", ")}]`,
          "dims",
        );
      const done = performance.now();
      totals.serverMs = done - tHead;
      // the class from the one softmax-statistics function; probabilities already are the confidence
      const s = softmaxStats(f.data, C, m);
      for (let j = 0; j < m; j++) {
        const confidence = kind === "logits" ? s.confidence[j]! : f.data[s.label[j]! * m + j]!;
        const share = frame.length / m;
        const got = { exit: id.final, label: s.label[j]!, confidence };
        samples[r.indices[j]!] = { ...got, bytesSent: share, latencyMs: done - t0 };
      }
    }
    totals.latencyMs = performance.now() - t0;
    return { samples, totals };
  }

  private load(samples: ArrayLike<number>[]): Matrix {
    const head = this.head!;
    const x = featureMajor(samples, head.inputSize, "the head takes");
    this.X ??= new Matrix(head.engine, head.inputSize, samples.length);
    this.X.reshape(samples.length).view().set(x);
    return this.X;
  }

  private async post(frame: Uint8Array, totals: InferTotals, answerBytes: number): Promise<Uint8Array> {
    const query = this.output === "probabilities" ? "?output=probabilities" : "";
    for (let attempt = 0; ; attempt++) {
      totals.requests++;
      const ctl = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => ((timedOut = true), ctl.abort()), this.timeoutMs);
      let res: Response;
      let body: Uint8Array;
      try {
        res = await this.fetch_(this.url + query, {
          method: "POST",
          headers: this.headers,
          body: frame as Uint8Array<ArrayBuffer>,
          signal: ctl.signal,
        });
        body = await readCapped(res, res.status === 200 ? answerBytes : ERROR_BODY_BYTES, ctl);
      } catch (e) {
        if (timedOut)
          throw new SplitServerError(0, "timeout", `no answer from ${this.url} within ${this.timeoutMs} ms`);
        // an answer refused here (too_large) is not a failed connection: neither retried nor renamed
        if (e instanceof PresparseError) throw e;
        // the connection failed: an answer is a function of the frame alone, so sending it again is safe
        if (attempt < this.retries) {
          await this.retryWait(attempt, 0, totals);
          continue;
        }
        throw new SplitServerError(0, "unreachable", `cannot reach ${this.url}: ${causeOf(e)}`);
      } finally {
        clearTimeout(timer);
      }
      if (res.status === 200) return body;
      if (res.status === 503 && attempt < this.retries) {
        await this.retryWait(attempt, retryAfterMs(res.headers.get("retry-after")), totals);
        continue;
      }
      throw errorFrom(res.status, body);
    }
  }

  /** Both transports' retry rule: a 503 or a failed connection, `retries` times, backoff doubling from `backoffMs`. */
  private async retryWait(attempt: number, retryAfter: number, totals: InferTotals): Promise<void> {
    totals.retries++;
    const wait = Math.min(this.maxBackoffMs, Math.max(this.backoffMs * 2 ** attempt, retryAfter));
    await new Promise((r) => setTimeout(r, wait));
  }

  private openStream(o: SplitClientOptions): StreamConnection {
    const WS = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== "function")
      throw new ValidationError(
        "SplitClient: no WebSocket available (Node 20 has none built in); " +
          'pass options.WebSocket, e.g. WebSocket from the "ws" package',
      );
    const query = this.output === "probabilities" ? "?output=probabilities" : "";
    const url = this.url.replace(/^http/, "ws").replace(/\/v1\/infer$/, "/v1/stream") + query;
    return new StreamConnection(url, streamProtocols(o.token), WS);
  }

  private async streamPost(stream: StreamConnection, frame: Uint8Array, totals: InferTotals): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      totals.requests++;
      let a: StreamAnswer;
      try {
        a = await stream.request(frame, this.timeoutMs);
      } catch (e) {
        if (e instanceof StreamTimeoutError) throw new SplitServerError(0, "timeout", e.message);
        if (e instanceof StreamClosedError && attempt < this.retries) {
          await this.retryWait(attempt, 0, totals);
          continue;
        }
        throw e;
      }
      if (a.status === 200 && "body" in a) return a.body;
      if (!("code" in a)) throw new SplitServerError(a.status, "stream_error", "an answer without a frame");
      if (a.status === 503 && attempt < this.retries) {
        await this.retryWait(attempt, a.retryAfterMs, totals);
        continue;
      }
      throw new SplitServerError(a.status, a.code, a.message, a.field);
    }
  }

  /** Frees the client's scratch and closes its stream, if any (the head is the caller's). */
  dispose(): void {
    this.stream?.close();
    this.runner?.dispose();
    this.X?.dispose();
    this.X = undefined;
  }
}

function identityOf(head: Head): SplitClient["id"] {
  if (head.split?.role !== "head") throw new ValidationError("SplitClient: head must be the head of a split");
  const s = head.split;
  return { cut: s.cut, hash: s.hash, shape: s.activationShape, classes: s.classes, final: s.totalExits };
}

function offloadIdentity(t: OffloadTarget): SplitClient["id"] {
  if (!(typeof t.hash === "string" && HASH_FORMAT.test(t.hash.toLowerCase())))
    throw new ValidationError(`SplitClient: offload.hash must be 16 hex digits, got ${JSON.stringify(t.hash)}`);
  if (!(Array.isArray(t.inputShape) && t.inputShape.length >= 1 && t.inputShape.length <= 3))
    throw new ValidationError("SplitClient: offload.inputShape must be 1 to 3 dimensions");
  t.inputShape.forEach((d, i) => checkInt("SplitClient", `offload.inputShape[${i}]`, d, 1));
  const classes = checkInt("SplitClient", "offload.classes", t.classes, 1);
  const final = checkInt("SplitClient", "offload.exits", t.exits ?? 0, 0);
  return { cut: 0, hash: t.hash.toLowerCase(), shape: [...t.inputShape], classes, final };
}

/** Samples of `F` values each as one feature-major [F, B] array. */
function featureMajor(samples: ArrayLike<number>[], F: number, takes: string): Float32Array {
  const B = samples.length;
  if (B < 1) throw new ShapeError("SplitClient.infer: no samples");
  const x = new Float32Array(F * B);
  samples.forEach((s, b) => {
    if (s.length !== F) throw new ShapeError(`SplitClient.infer: sample ${b} has ${s.length} values, ${takes} ${F}`);
    for (let f = 0; f < F; f++) x[f * B + b] = s[f]!;
  });
  return x;
}

/** Full offload's edge step: no sample exits, every one leaves as its input. */
function everySample(
  input: Matrix | ArrayLike<number>[],
  id: SplitClient["id"],
): Pick<ExitResult, "exit" | "label" | "confidence" | "indices" | "activation"> {
  const F = id.shape.reduce((a, b) => a * b, 1);
  if (input instanceof Matrix && input.rows !== F)
    throw new ShapeError(`SplitClient.infer: X has ${input.rows} rows, the model takes ${F} features`);
  const activation = input instanceof Matrix ? input.toArray() : featureMajor(input, F, "the model takes");
  const B = activation.length / F;
  return {
    exit: new Int32Array(B).fill(id.final),
    label: new Int32Array(B),
    confidence: new Float32Array(B),
    indices: Int32Array.from({ length: B }, (_, i) => i),
    activation,
  };
}

/**
 * The body, read from its stream and stopped at `limit` bytes: an answer that declares more (Content-Length) is
 * refused before any of it is read, one that sends more is cut there. A 200 past the limit is `too_large`; any other
 * status keeps the first `limit` bytes (its message). Works on any fetch's Response, Node's or a browser's.
 */
async function readCapped(res: Response, limit: number, ctl: AbortController): Promise<Uint8Array> {
  const tooLarge = (what: string) => {
    ctl.abort();
    return new SplitServerError(
      200,
      "too_large",
      `${what}, the largest answer to this request is ${limit} bytes`,
      "length",
    );
  };
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > limit && res.status === 200) {
    void res.body?.cancel().catch(() => {});
    throw tooLarge(`Content-Length ${declared}`);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > limit) {
      void reader.cancel().catch(() => {});
      if (res.status === 200) throw tooLarge(`more than ${size + value.length} bytes sent`);
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      ctl.abort();
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out;
}

/** Why a fetch failed, in one line: undici puts the system error (ECONNREFUSED, ENOTFOUND, …) in `cause`. */
function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const why =
    typeof cause?.message === "string" ? cause.message : typeof cause?.code === "string" ? cause.code : undefined;
  const base = e instanceof Error ? e.message : String(e);
  return why ? `${base} (${why})` : base;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; 0 when absent or unreadable. */
export function retryAfterMs(v: string | null): number {
  if (v === null) return 0;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : 0;
}

function errorFrom(status: number, body: Uint8Array): SplitServerError {
  try {
    const j = JSON.parse(new TextDecoder().decode(body)) as {
      error?: { code?: unknown; message?: unknown; field?: unknown };
    };
    const e = j.error;
    if (e && typeof e.code === "string" && typeof e.message === "string")
      return new SplitServerError(status, e.code, e.message, typeof e.field === "string" ? e.field : undefined);
  } catch {
    // not our JSON (a proxy's error page): fall through
  }
  return new SplitServerError(status, "http_error", `${new TextDecoder().decode(body.subarray(0, 200))}`);
}
