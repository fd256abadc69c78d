// Byte-level edits of encoded frames for fuzzing the decoder. Offsets follow docs/frame-format.md.
import { crc32 } from "../../src/io/crc32.js";

/** Header offsets of version-1 fields; dims start at `dims` and take 4 bytes each. */
export const OFFSET = {
  magic: 0,
  version: 4,
  dtype: 5,
  kind: 6,
  rank: 7,
  headerLength: 8,
  splitId: 12,
  modelHash: 16,
  scale: 24,
  payloadLength: 28,
  dims: 32,
} as const;

/** Rewrites the trailing CRC so the decoder gets past the checksum to the deeper checks. */
export function resealed(frame: Uint8Array): Uint8Array {
  const out = frame.slice();
  if (out.length >= 4) {
    new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  }
  return out;
}

/** A copy with one byte set. */
export function withU8(frame: Uint8Array, offset: number, v: number): Uint8Array {
  const out = frame.slice();
  out[offset] = v;
  return out;
}

/** A copy with a little-endian u32 set. */
export function withU32(frame: Uint8Array, offset: number, v: number): Uint8Array {
  const out = frame.slice();
  new DataView(out.buffer).setUint32(offset, v >>> 0, true);
  return out;
}

/** A copy with a little-endian f32 set. */
export function withF32(frame: Uint8Array, offset: number, v: number): Uint8Array {
  const out = frame.slice();
  new DataView(out.buffer).setFloat32(offset, v, true);
  return out;
}

/** A copy with bit `bit` (0 = lsb of byte 0) flipped. */
export function withBitFlipped(frame: Uint8Array, bit: number): Uint8Array {
  const out = frame.slice();
  out[bit >>> 3]! ^= 1 << (bit & 7);
  return out;
}

/** `frame` followed by `extra`. */
export function extended(frame: Uint8Array, extra: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length + extra.length);
  out.set(frame);
  out.set(extra, frame.length);
  return out;
}

/**
 * Runs fn with the global Float32Array, Uint8Array and ArrayBuffer constructors watched, and returns
 * the largest allocation (in bytes) requested by length through any of them, whether fn throws or not.
 */
export function largestAllocation(fn: () => void): number {
  const names = ["Float32Array", "Uint8Array", "ArrayBuffer"] as const;
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = names.map((k) => g[k]);
  let largest = 0;
  names.forEach((k, i) => {
    const ctor = saved[i] as new (...a: unknown[]) => object;
    const unit = k === "Float32Array" ? 4 : 1;
    g[k] = new Proxy(ctor, {
      construct(target, args, newTarget) {
        if (typeof args[0] === "number") largest = Math.max(largest, args[0] * unit);
        return Reflect.construct(target, args, newTarget);
      },
    });
  });
  try {
    fn();
  } catch {
    // the caller inspects the outcome separately
  } finally {
    names.forEach((k, i) => (g[k] = saved[i]));
  }
  return largest;
}
