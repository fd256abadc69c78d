// POST /v1/infer: one activation frame in, one logits (or probabilities) frame out, through the batch queue. The
// request's deadline runs from its arrival, whatever the transport; a request whose client is gone leaves the queue.
import { performance } from "node:perf_hooks";
import {
  FRAME_MAX_RANK,
  FRAME_MEDIA_TYPE,
  FrameError,
  decodeFrame,
  decodeFrameHeader,
  encodeFrame,
  frameHeaderBytes,
} from "../split/frame.js";
import type { FrameDtype, FrameKind } from "../split/frame.js";
import { HttpError, bodyTooLarge, frameRefusal, timeoutError, unavailable } from "./errors.js";
import type { Answer, Endpoint, Request, RequestHead } from "./handler.js";
import type { BatchJob, BatchQueue } from "./queue.js";
import type { ServedTail } from "./served_tail.js";

/** The limits an inference request is held to. */
export interface InferLimits {
  maxBodyBytes: number;
  maxQueue: number;
  timeoutMs: number;
  retryAfterSeconds: number;
}

/** What the endpoint runs over; `draining(t)` says whether shutdown had begun at time t. */
export interface InferDeps {
  tail: ServedTail;
  queue: BatchQueue;
  limits: InferLimits;
  draining(t: number): boolean;
}

type BatchOut = Parameters<BatchJob["done"]>[0];

const OUTPUTS: readonly FrameKind[] = ["logits", "probabilities"];
const DTYPES: readonly FrameDtype[] = ["f32", "f16", "int8"];

/** The endpoint of POST /v1/infer. */
export function inferEndpoint(d: InferDeps): Endpoint {
  const { tail, queue, limits } = d;
  const frames = expected(tail);
  return {
    admit(head) {
      // a request that arrived before the drain began was accepted: it is answered, not refused
      if (d.draining(head.arrived ?? performance.now())) {
        const message = "the server is shutting down; retry on another instance";
        throw unavailable("shutting_down", message, limits.retryAfterSeconds);
      }
      const given = head.headers["content-type"],
        type = typeof given === "string" ? given : "";
      if (type.split(";")[0]!.trim().toLowerCase() !== FRAME_MEDIA_TYPE) {
        const message = `Content-Type must be ${FRAME_MEDIA_TYPE}, got ${JSON.stringify(type)}`;
        throw new HttpError(415, "unsupported_media_type", message, "content-type");
      }
      answerOptions(head);
      const declared = head.headers["content-length"];
      if (typeof declared === "string" && Number(declared) > limits.maxBodyBytes) {
        throw bodyTooLarge(limits.maxBodyBytes, declared);
      }
    },
    // the frame's header against the tail (identity, per-sample shape, size) before its payload is read, let alone
    // decoded: a frame of the wrong shape costs its header, not a copy, a checksum and a decode of megabytes
    inspect: {
      bytes: frameHeaderBytes(FRAME_MAX_RANK),
      check(_head, first) {
        const h = refusingFrames(() => decodeFrameHeader(first, { maxBytes: limits.maxBodyBytes }, frames));
        samples(h.shape, limits);
      },
    },
    async answer(req) {
      const { kind, dtype } = answerOptions(req);
      const { data, n, frameDtype } = activation(req.body, frames, limits);
      const out = await batched(queue, { data, n, wantProbabilities: kind === "probabilities" }, req, limits);
      return answerFrame(tail, out, kind, dtype ?? frameDtype, n);
    },
  };
}

/** `output` and `dtype` of the query; `dtype` undefined means the request frame's own. */
export function answerOptions(head: RequestHead): { kind: FrameKind; dtype?: FrameDtype } {
  const output = head.query.get("output") ?? "logits";
  if (!OUTPUTS.includes(output as FrameKind)) {
    const message = `output must be logits or probabilities, got ${JSON.stringify(output)}`;
    throw new HttpError(400, "bad_query", message, "output");
  }
  const dtype = head.query.get("dtype");
  if (dtype !== null && !DTYPES.includes(dtype as FrameDtype)) {
    throw new HttpError(400, "bad_query", `dtype must be f32, f16 or int8, got ${JSON.stringify(dtype)}`, "dtype");
  }
  return { kind: output as FrameKind, dtype: (dtype ?? undefined) as FrameDtype | undefined };
}

/**
 * What a frame for this tail is: its model, its cut, an activation of [activationWidth, n] or
 * [...activationShape, n].
 */
function expected(tail: ServedTail) {
  const flat = [tail.activationWidth],
    cut = tail.activationShape;
  const sampleShapes = cut.length > 1 ? [flat, cut] : [flat];
  return { modelHash: tail.hash, splitId: tail.splitId, kind: "activation", sampleShapes } as const;
}

/** Runs a frame decoder; its rejection becomes the server's refusal (FRAME_REFUSALS). */
function refusingFrames<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof FrameError) throw frameRefusal(e);
    throw new HttpError(400, "bad_frame", (e as Error).message);
  }
}

/** The frame's samples (its last dimension), refused when the queue could never hold them. */
function samples(shape: readonly number[], limits: InferLimits): number {
  const n = shape[shape.length - 1]!;
  if (n > limits.maxQueue) {
    const message = `${n} samples in one frame; the queue holds at most ${limits.maxQueue}`;
    throw new HttpError(413, "too_large", message, "dims");
  }
  return n;
}

/** The body as the tail's input: a frame for this model and cut, [activationWidth, n] or [...activationShape, n]. */
function activation(body: Uint8Array, frames: ReturnType<typeof expected>, limits: InferLimits) {
  const frame = refusingFrames(() => decodeFrame(body, { maxBytes: limits.maxBodyBytes }, frames));
  return { data: frame.data, n: samples(frame.shape, limits), frameDtype: frame.dtype };
}

type Work = Omit<BatchJob, "done" | "fail">;

/** The job's output from its batch, or a refusal: the queue is full, the deadline passed, the client left. */
export function batched(queue: BatchQueue, work: Work, req: Request, limits: InferLimits): Promise<BatchOut> {
  const deadline = (req.arrived ?? performance.now()) + limits.timeoutMs;
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const job: BatchJob = {
      ...work,
      // the event loop was busy past the deadline (the timer could not fire): the result is discarded
      done: (out) => end(performance.now() > deadline ? timeoutError(limits.timeoutMs) : out),
      fail: (e) => end(new HttpError(500, "internal", `the tail failed on this batch: ${(e as Error).message}`)),
    };
    // the job's one end: its output, or a refusal that also takes it out of the queue if it still waits there
    const end = (r: BatchOut | HttpError) => {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", gone);
      if (!(r instanceof HttpError)) return resolve(r);
      queue.cancel(job);
      reject(r);
    };
    const gone = () => end(new HttpError(499, "client_gone", "the client closed the request before its answer"));
    if (req.signal?.aborted) return gone();
    if (!queue.submit(job)) {
      const message = `the queue is full (${queue.depth.samples} of ${limits.maxQueue} samples waiting); retry later`;
      return reject(unavailable("overloaded", message, limits.retryAfterSeconds));
    }
    timer = setTimeout(() => end(timeoutError(limits.timeoutMs)), deadline - performance.now());
    req.signal?.addEventListener("abort", gone, { once: true });
  });
}

/** The answer frame: the request's dtype unless asked otherwise, f32 when the values do not fit it. */
function answerFrame(tail: ServedTail, out: BatchOut, kind: FrameKind, dtype: FrameDtype, n: number): Answer {
  const values = kind === "probabilities" ? out.probabilities! : out.logits;
  const base = { data: values, shape: [tail.classes, n], kind, splitId: tail.splitId, modelHash: tail.hash };
  let body: Uint8Array,
    sent = dtype;
  try {
    body = encodeFrame({ ...base, dtype });
  } catch {
    // a logit past the f16 range (or a non-finite one) travels as f32 rather than not at all
    sent = "f32";
    body = encodeFrame({ ...base, dtype: "f32", nonFinite: "allow" });
  }
  const headers = {
    "Content-Type": FRAME_MEDIA_TYPE,
    "X-Presparse-Dtype": sent,
    "X-Presparse-Batch-Samples": String(out.batchSamples),
    "X-Presparse-Batch-Requests": String(out.batchRequests),
  };
  return { status: 200, headers, body, samples: n };
}
