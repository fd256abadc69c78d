// How the tail server refuses: one error type that carries its status, code and headers, the JSON body every
// refusal has, and the one table from a frame's rejection reason (the frame format's word) to a status (HTTP's).
import { PresparseError } from "../engine/errors.js";
import type { FrameError, FrameErrorReason } from "../split/frame.js";
import type { Answer } from "./handler.js";

/** The JSON body of every non-200 answer. */
export interface ErrorBody {
  error: { status: number; code: string; field?: string; message: string };
}

/** A refusal: its status, a stable `code`, the part of the request at fault and extra headers (Allow, Retry-After). */
export class HttpError extends PresparseError {
  override readonly name: string = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** How the server answers each reason a frame is refused. */
export const FRAME_REFUSALS: Readonly<Record<FrameErrorReason, { status: number; code: string }>> = Object.freeze({
  malformed: { status: 400, code: "bad_frame" },
  too_large: { status: 413, code: "too_large" },
  mismatch: { status: 409, code: "frame_mismatch" },
});

/** The refusal of a frame the decoder rejected, by its reason; `field` is the frame field. */
export function frameRefusal(e: FrameError): HttpError {
  const { status, code } = FRAME_REFUSALS[e.reason];
  return new HttpError(status, code, e.message, e.field);
}

/** 504: not answered within the deadline, whichever stage the request was in. */
export function timeoutError(timeoutMs: number): HttpError {
  return new HttpError(504, "timeout", `not answered within ${timeoutMs} ms`);
}

/** 413 for a body past the limit (declared or streamed). */
export function bodyTooLarge(limit: number, declared?: string): HttpError {
  const what = declared === undefined ? "body exceeds" : `Content-Length ${declared} exceeds`;
  return new HttpError(413, "too_large", `${what} the limit of ${limit} bytes`, "length");
}

/** 503 with Retry-After: the queue is full, or the server is draining (both retryable elsewhere or later). */
export function unavailable(code: "overloaded" | "shutting_down", message: string, retryAfter: number): HttpError {
  return new HttpError(503, code, message, undefined, { "Retry-After": String(retryAfter) });
}

/** The answer carrying a refusal: its status and headers, and the JSON error body. */
export function errorAnswer(e: HttpError): Answer {
  const error = { status: e.status, code: e.code, ...(e.field ? { field: e.field } : {}), message: e.message };
  const headers = { "Content-Type": "application/json; charset=utf-8", ...e.headers };
  return { status: e.status, headers, body: `${JSON.stringify({ error } satisfies ErrorBody)}\n` };
}
