// Frames, bare headers and rejection checks shared by the frame-limit tests. Offsets follow docs/frame-format.md.
import { expect } from "vitest";
import {
  FrameError,
  FrameTooLargeError,
  decodeFrame,
  encodeFrame,
  type FrameDtype,
  type FrameLimits,
} from "../../src/split/frame.js";

export const HASH = "0123456789abcdef";

/** Limits lifted out of the way, so that a test meets only the one it sets. */
export const LIFTED = { maxBytes: Number.MAX_SAFE_INTEGER, maxDim: 2 ** 32 - 1, maxElements: Number.MAX_SAFE_INTEGER };

/** An encoded activation frame of `shape`, filled with small integers unless `data` is given. */
export const frame = (shape: number[], dtype: FrameDtype = "int8", data?: Float32Array): Uint8Array =>
  encodeFrame({
    data: data ?? Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) - 3),
    shape,
    dtype,
    kind: "activation",
    splitId: 3,
    modelHash: HASH,
  });

/** A header alone declaring `dims` (no payload): enough for every check up to the dims. */
export function header(dims: number[], dtype = 2): Uint8Array {
  const b = new Uint8Array(32 + 4 * dims.length + 4);
  const dv = new DataView(b.buffer);
  b.set([0x50, 0x53, 0x46, 0x52, 1, dtype, 0, dims.length]);
  dv.setUint32(8, 32 + 4 * dims.length, true);
  dims.forEach((d, i) => dv.setUint32(32 + 4 * i, d, true));
  return b;
}

/** Runs decodeFrame and returns the FrameError it threw; fails on success or any other exception. */
export function rejection(
  bytes: Uint8Array,
  limits?: FrameLimits,
  expectArg?: Parameters<typeof decodeFrame>[2],
): FrameError {
  try {
    decodeFrame(bytes, limits, expectArg);
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error("decodeFrame accepted the frame");
}

/** Expects a FrameTooLargeError on `field` whose message shows each of `shows`. */
export function tooLarge(bytes: Uint8Array, limits: FrameLimits | undefined, field: string, ...shows: number[]): void {
  const e = rejection(bytes, limits);
  expect([e.constructor, e.field, e.reason]).toEqual([FrameTooLargeError, field, "too_large"]);
  for (const n of shows) expect(e.message).toContain(String(n));
}
