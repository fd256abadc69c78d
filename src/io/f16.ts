// IEEE 754 binary16 <-> binary32, round to nearest, ties to even.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Largest finite half-precision value. */
export const F16_MAX = 65504;
/** Smallest positive normal half-precision value, 2^-14; below it values are subnormal (step 2^-24). */
export const F16_MIN_NORMAL = 2 ** -14;

/**
 * The binary16 bits nearest to x (ties to even). |x| ≥ 65520 gives ±Inf (0x7c00), NaN gives 0x7e00;
 * callers that must not overflow check `f16IsFinite` on the result.
 */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  let u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  u &= 0x7fffffff;
  if (u >= 0x47800000) return sign | (u > 0x7f800000 ? 0x7e00 : 0x7c00); // ≥ 2^16, Inf or NaN
  if (u < 0x38800000) {
    // Subnormal or zero: the result counts steps of 2^-24; scaling by 2^24 is exact, so round the double.
    // A count of 1024 is the bit pattern of the smallest normal, so no special case is needed.
    const v = Math.fround(x < 0 ? -x : x) * 2 ** 24;
    let r = Math.floor(v);
    const d = v - r;
    if (d > 0.5 || (d === 0.5 && r & 1)) r++;
    return sign | r;
  }
  // Normal: rebias the exponent, add just under half an f16 ulp plus the kept lsb (ties to even), truncate.
  // A carry out of the mantissa bumps the exponent, which is the correct rounding up to a power of two or Inf.
  u += ((15 - 127) << 23) + 0xfff + ((u >>> 13) & 1);
  return sign | (u >>> 13);
}

const POW2 = /* @__PURE__ */ (() => Float64Array.from({ length: 32 }, (_, e) => 2 ** (e - 25)))();

/** The value of binary16 bits h (0..0xffff), exactly. */
export function f16BitsToF32(h: number): number {
  const e = (h >>> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * POW2[e]!;
}

/** True unless h encodes ±Inf or NaN. */
export function f16IsFinite(h: number): boolean {
  return (h & 0x7c00) !== 0x7c00;
}
