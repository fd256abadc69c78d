import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { crc32 } from "../src/io/crc32.js";
import { f16BitsToF32, f32ToF16Bits } from "../src/io/f16.js";
import {
  FRAME_MAGIC,
  FrameError,
  FrameMismatchError,
  FrameTooLargeError,
  decodeFrame,
  decodeFrameHeader,
  encodeFrame,
  frameBytes,
  frameBytesPerSample,
  frameErrorBound,
  frameHeaderBytes,
  type FrameDtype,
  type FrameInput,
  type FrameKind,
  type FrameLimits,
} from "../src/split/frame.js";
import {
  OFFSET,
  extended,
  largestAllocation,
  resealed,
  withBitFlipped,
  withF32,
  withU32,
  withU8,
} from "./helpers/frame_mutations.js";
import { rejection } from "./helpers/frame_limits.js";

const HASH = "0123456789abcdef";
const FIELDS = [
  "length",
  "magic",
  "version",
  "dtype",
  "kind",
  "rank",
  "headerLength",
  "dims",
  "payloadLength",
  "trailing",
  "checksum",
  "scale",
  "payload",
];
const KINDS: FrameKind[] = ["activation", "logits", "probabilities"];
const ascii = (s: string) => new TextEncoder().encode(s);
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function ramp(n: number, k = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + k) * (1 + (i % 5)));
}

function frame(over: Partial<FrameInput> = {}): Uint8Array {
  const shape = over.shape ?? [40, 3];
  return encodeFrame({
    data: ramp(prod(shape)),
    shape,
    dtype: "int8",
    kind: "activation",
    splitId: 1,
    modelHash: HASH,
    ...over,
  });
}

/** Decodes or throws FrameError — nothing else; a decoded frame must be consistent with its input. */
function decodesOrRejects(bytes: Uint8Array, limits?: FrameLimits): void {
  expect(largestAllocation(() => decodeFrame(bytes, limits))).toBeLessThanOrEqual(4 * bytes.length);
  try {
    const f = decodeFrame(bytes, limits);
    expect(f.data.length).toBe(prod(f.shape));
    expect(f.data.byteLength).toBeLessThanOrEqual(4 * bytes.length);
    expect(bytes.length).toBe(frameBytes(f.shape, f.dtype));
  } catch (e) {
    if (!(e instanceof FrameError)) throw e;
    expect(FIELDS).toContain(e.field);
  }
}

describe("crc32", () => {
  it("matches the standard check values", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(ascii("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  });
  it("equals zlib's CRC-32 on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => crc32(b) === zlibCrc32(b)),
      { numRuns: 200 },
    );
  });
});

describe("f16 codec", () => {
  it("round-trips every finite half exactly (f16 → f32 → f16)", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) !== 0x7c00 && f32ToF16Bits(f16BitsToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });
  it("rounds to the nearest half, ties to even, within the stated bound", () => {
    fc.assert(
      fc.property(fc.float({ min: -65504, max: 65504, noNaN: true }), (x) => {
        const h = f32ToF16Bits(x);
        const err = Math.abs(x - f16BitsToF32(h));
        expect(err).toBeLessThanOrEqual(frameErrorBound("f16", x));
        const mag = h & 0x7fff;
        for (const m of [mag - 1, mag + 1]) {
          if (m < 0 || m > 0x7bff) continue;
          const other = Math.abs(x - f16BitsToF32((h & 0x8000) | m));
          expect(other).toBeGreaterThanOrEqual(err);
          if (other === err) expect(mag & 1).toBe(0);
        }
        if (x === 0) expect(h).toBe(Object.is(x, -0) ? 0x8000 : 0);
      }),
      { numRuns: 2000 },
    );
  });
  it("breaks exact ties between neighbouring halves toward the even one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7bfe }), fc.boolean(), (mag, neg) => {
        const sign = neg ? 0x8000 : 0;
        const mid = (f16BitsToF32(sign | mag) + f16BitsToF32(sign | (mag + 1))) / 2;
        expect(Math.fround(mid)).toBe(mid);
        expect(f32ToF16Bits(mid)).toBe(sign | (mag & 1 ? mag + 1 : mag));
      }),
      { numRuns: 500 },
    );
  });
  it("handles the edges: subnormal ties, the largest half, overflow, Inf and NaN", () => {
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and 2^-24: even wins
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the normals
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });
});

const shapeArb = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 67 }))
  .chain(([rank, batch]) =>
    fc
      .array(fc.integer({ min: 1, max: rank === 2 ? 48 : 5 }), { minLength: rank - 1, maxLength: rank - 1 })
      .map((f) => [...f, batch]),
  );
const metaArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  splitId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  hashBytes: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  upper: fc.boolean(),
});
const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function roundTrip(
  dtype: FrameDtype,
  value: fc.Arbitrary<number>,
  check: (x: Float32Array, y: Float32Array, scale: number) => void,
) {
  fc.assert(
    fc.property(
      shapeArb.chain((shape) =>
        fc.tuple(
          fc.constant(shape),
          fc.array(value, { minLength: prod(shape), maxLength: prod(shape) }).map((a) => Float32Array.from(a)),
        ),
      ),
      metaArb,
      ([shape, data], meta) => {
        const hash = meta.upper ? hexOf(meta.hashBytes).toUpperCase() : hexOf(meta.hashBytes);
        const bytes = encodeFrame({ data, shape, dtype, kind: meta.kind, splitId: meta.splitId, modelHash: hash });
        expect(bytes.length).toBe(frameBytes(shape, dtype));
        const f = decodeFrame(bytes, {}, { modelHash: hash, splitId: meta.splitId, kind: meta.kind });
        expect(f.shape).toEqual(shape);
        expect([f.dtype, f.kind, f.splitId, f.modelHash]).toEqual([
          dtype,
          meta.kind,
          meta.splitId,
          hexOf(meta.hashBytes),
        ]);
        check(data, f.data, f.scale);
      },
    ),
    { numRuns: 60 },
  );
}

describe("frame round trip", () => {
  it("f32 is exact, -0 and subnormals included", () => {
    roundTrip("f32", fc.float({ noNaN: true, noDefaultInfinity: true }), (x, y, scale) => {
      expect(scale).toBe(0);
      x.forEach((v, i) => expect(Object.is(y[i], v)).toBe(true));
    });
  });
  it("f16 stays within |x|·2^-11 (2^-25 below the normals)", () => {
    roundTrip("f16", fc.float({ min: -65504, max: 65504, noNaN: true }), (x, y) => {
      x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(frameErrorBound("f16", v)));
    });
  });
  for (const [name, value] of [
    ["moderate", fc.float({ min: -8, max: 8, noNaN: true })],
    ["any magnitude", fc.float({ min: Math.fround(-1e30), max: Math.fround(1e30), noNaN: true })],
  ] as const) {
    it(`int8 stays within scale/2 with the smallest scale covering max|x| (${name})`, () => {
      roundTrip("int8", value, (x, y, scale) => {
        const maxabs = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        if (maxabs === 0) expect(scale).toBe(0);
        else {
          expect(scale * 127).toBeGreaterThanOrEqual(maxabs);
          const below = new Float32Array([scale]);
          new Uint32Array(below.buffer)[0]! -= 1;
          expect(below[0]! * 127).toBeLessThan(maxabs);
        }
        x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(frameErrorBound("int8", v, scale)));
      });
    });
  }
  it("int8 keeps an all-zero tensor exact with scale 0, and a tiny subnormal one within bound", () => {
    const z = decodeFrame(frame({ data: new Float32Array(6), shape: [3, 2] }));
    expect([z.scale, ...z.data]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    const tiny = Float32Array.of(2 ** -149, -3 * 2 ** -149, 0, 2 ** -140);
    const t = decodeFrame(frame({ data: tiny, shape: [2, 2] }));
    expect(t.scale).toBeGreaterThan(0);
    tiny.forEach((v, i) => expect(Math.abs(v - t.data[i]!)).toBeLessThanOrEqual(frameErrorBound("int8", v, t.scale)));
  });
  it("decodes from a view with a byte offset (a Node Buffer slice)", () => {
    const f = frame({ dtype: "f32" });
    const host = new Uint8Array(f.length + 3);
    host.set(f, 3);
    expect(decodeFrame(host.subarray(3)).data).toEqual(decodeFrame(f).data);
    expect(decodeFrame(Buffer.from(f)).shape).toEqual([40, 3]);
  });
});

describe("frame size", () => {
  it("costs features × element size per sample plus a 40-byte header and a 4-byte CRC at rank 2", () => {
    expect(frameHeaderBytes(2)).toBe(40);
    expect(frameHeaderBytes(4)).toBe(48);
    expect([frameBytesPerSample(40, "int8"), frameBytesPerSample(40, "f16"), frameBytesPerSample(40, "f32")]).toEqual([
      40, 80, 160,
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.constantFrom<FrameDtype>("f32", "f16", "int8"), (b, dtype) => {
        const bytes = frame({ data: ramp(40 * b), shape: [40, b], dtype });
        expect(bytes.length).toBe(frameHeaderBytes(2) + b * frameBytesPerSample(40, dtype) + 4);
      }),
      { numRuns: 50 },
    );
    // The paper's split at batch 1: 84 bytes on the wire against a 784-byte uint8 image.
    expect(frame({ data: ramp(40), shape: [40, 1] }).length).toBe(84);
  });
});

describe("frame encoder", () => {
  it("rejects bad input with ShapeError or ValidationError", () => {
    expect(() => frame({ data: ramp(10), shape: [3, 3] })).toThrow(ShapeError);
    expect(() => frame({ data: ramp(1), shape: [1, 1, 1, 1, 1] })).toThrow(ShapeError);
    expect(() => frame({ data: ramp(0), shape: [0, 3] })).toThrow(ValidationError);
    expect(() => frame({ modelHash: "0123" })).toThrow(ValidationError);
    expect(() => frame({ modelHash: "0123456789abcdeg" })).toThrow(ValidationError);
    expect(() => frame({ splitId: -1 })).toThrow(ValidationError);
    expect(() => frame({ splitId: 2 ** 32 })).toThrow(ValidationError);
    expect(() => frame({ dtype: "f64" as FrameDtype })).toThrow(ValidationError);
    expect(() => frame({ kind: "embedding" as FrameKind })).toThrow(ValidationError);
  });
  it("refuses non-finite values unless allowed, and f16 overflow always", () => {
    const bad = Float32Array.of(1, NaN, 2, Infinity);
    for (const dtype of ["f32", "f16", "int8"] as const) {
      expect(() => frame({ data: bad, shape: [4], dtype })).toThrow(ValidationError);
    }
    expect(() => frame({ data: bad, shape: [4], dtype: "int8", nonFinite: "allow" })).toThrow(ValidationError);
    expect(() => frame({ data: Float32Array.of(70000), shape: [1], dtype: "f16" })).toThrow(/f16 range/);
    expect(decodeFrame(frame({ data: Float32Array.of(-65519), shape: [1], dtype: "f16" })).data[0]).toBe(-65504);
    for (const dtype of ["f32", "f16"] as const) {
      const f = frame({ data: bad, shape: [4], dtype, nonFinite: "allow" });
      expect(rejection(f).field).toBe("payload");
      const d = decodeFrame(f, { nonFinite: "allow" }).data;
      expect([d[0], Number.isNaN(d[1]), d[3]]).toEqual([1, true, Infinity]);
    }
  });
});

describe("frame decoder rejects", () => {
  const i8 = frame();
  const f32 = frame({ dtype: "f32" });
  const f16 = frame({ dtype: "f16" });
  const cases: [string, Uint8Array, string, typeof FrameError, FrameLimits?][] = [
    ["an HTML page", extended(ascii("<!DOCTYPE html><html>"), new Uint8Array(40)), "magic", FrameError],
    ["another magic", withU8(i8, OFFSET.magic + 3, 0x53), "magic", FrameError],
    ["version 2", resealed(withU8(i8, OFFSET.version, 2)), "version", FrameError],
    ["dtype 3", resealed(withU8(i8, OFFSET.dtype, 3)), "dtype", FrameError],
    ["kind 3", resealed(withU8(i8, OFFSET.kind, 3)), "kind", FrameError],
    ["rank 0", resealed(withU8(i8, OFFSET.rank, 0)), "rank", FrameError],
    ["rank 5", resealed(withU8(i8, OFFSET.rank, 5)), "rank", FrameError],
    ["rank above limits.maxRank", i8, "rank", FrameError, { maxRank: 1 }],
    ["rank 3 with a rank-2 header length", resealed(withU8(i8, OFFSET.rank, 3)), "headerLength", FrameError],
    ["header length 44", resealed(withU32(i8, OFFSET.headerLength, 44)), "headerLength", FrameError],
    ["a zero dimension", resealed(withU32(i8, OFFSET.dims, 0)), "dims", FrameError],
    ["a dimension past maxDim", resealed(withU32(i8, OFFSET.dims, 2 ** 24 + 1)), "dims", FrameTooLargeError],
    ["more elements than maxElements", i8, "dims", FrameTooLargeError, { maxElements: 119 }],
    ["more bytes than maxBytes", i8, "length", FrameTooLargeError, { maxBytes: i8.length - 1 }],
    [
      "a shape that disagrees with the payload length",
      resealed(withU32(i8, OFFSET.dims, 41)),
      "payloadLength",
      FrameError,
    ],
    ["a payload length off by one", resealed(withU32(i8, OFFSET.payloadLength, 121)), "payloadLength", FrameError],
    ["a flipped payload bit", withBitFlipped(i8, 8 * 50), "checksum", FrameError],
    ["a flipped CRC bit", withBitFlipped(i8, 8 * (i8.length - 1)), "checksum", FrameError],
    ["an int8 scale of NaN", resealed(withF32(i8, OFFSET.scale, NaN)), "scale", FrameError],
    ["a negative int8 scale", resealed(withF32(i8, OFFSET.scale, -1)), "scale", FrameError],
    ["an int8 scale whose 127 multiple overflows", resealed(withF32(i8, OFFSET.scale, 3e38)), "scale", FrameError],
    ["a non-zero scale on f32", resealed(withF32(f32, OFFSET.scale, 1)), "scale", FrameError],
    ["the int8 code -128", resealed(withU8(i8, frameHeaderBytes(2), 0x80)), "payload", FrameError],
    ["int8 codes under scale 0", resealed(withF32(i8, OFFSET.scale, 0)), "payload", FrameError],
    [
      "an int8 scale of -0 (the encoder writes +0)",
      resealed(withF32(frame({ data: new Float32Array(120) }), OFFSET.scale, -0)),
      "scale",
      FrameError,
    ],
    ["a NaN f32", resealed(withF32(f32, frameHeaderBytes(2) + 8, NaN)), "payload", FrameError],
    [
      "an Inf f16",
      resealed(withU8(withU8(f16, frameHeaderBytes(2) + 1, 0x7c), frameHeaderBytes(2), 0)),
      "payload",
      FrameError,
    ],
    ["one trailing byte", extended(i8, Uint8Array.of(0)), "trailing", FrameError],
    ["one missing byte", i8.subarray(0, i8.length - 1), "length", FrameError],
    ["an empty buffer", new Uint8Array(0), "length", FrameError],
  ];
  for (const [name, bytes, field, cls, limits] of cases) {
    it(`${name} (${field})`, () => {
      const e = rejection(bytes, limits);
      expect(e).toBeInstanceOf(cls);
      expect(e.constructor).toBe(cls);
      const reason = cls === FrameTooLargeError ? "too_large" : "malformed";
      expect([e.format, e.field, e.reason]).toEqual(["frame", field, reason]);
      expect(e.message).toMatch(new RegExp(`^frame: ${field}: `));
    });
  }
  it("a frame for another model, split or kind with FrameMismatchError (reason mismatch)", () => {
    expect(decodeFrame(i8, {}, { modelHash: HASH.toUpperCase(), splitId: 1, kind: "activation" }).shape).toEqual([
      40, 3,
    ]);
    for (const [exp, field] of [
      [{ modelHash: "fedcba9876543210" }, "modelHash"],
      [{ splitId: 2 }, "splitId"],
      [{ kind: "logits" }, "kind"],
    ] as const) {
      const e = rejection(i8, {}, exp);
      expect(e).toBeInstanceOf(FrameMismatchError);
      expect([e.field, e.reason]).toEqual([field, "mismatch"]);
    }
    // A corrupt frame is malformed first, whatever it claims to be.
    expect(rejection(withBitFlipped(i8, 8 * 17), {}, { modelHash: HASH }).field).toBe("checksum");
  });
  it("a frame of another per-sample shape on dims, checked before the payload is decoded", () => {
    expect(decodeFrame(i8, {}, { sampleShapes: [[7], [40]] }).shape).toEqual([40, 3]);
    const big = frame({ dtype: "f32", shape: [1024, 256], data: ramp(1024 * 256) });
    for (const sampleShapes of [[[40]], [[4, 10]], [[1024, 256]]]) {
      let e: unknown;
      // nothing the size of the payload is allocated: the shape is refused first
      expect(
        largestAllocation(() => {
          try {
            decodeFrame(big, {}, { sampleShapes });
          } catch (x) {
            e = x;
          }
        }),
      ).toBeLessThan(4096);
      expect(e).toBeInstanceOf(FrameError);
      expect([(e as FrameError).field, (e as FrameError).reason]).toEqual(["dims", "malformed"]);
    }
    expect(rejection(i8, {}, { sampleShapes: [[40, 3]] }).message).toBe(
      "frame: dims: expected [40, 3, batch] (features first, batch last), got [40, 3]",
    );
  });
  it("decodeFrameHeader: the header alone, from the frame's first bytes, against the limits and expectations", () => {
    const h = decodeFrameHeader(
      i8.subarray(0, frameHeaderBytes(2)),
      {},
      { modelHash: HASH, splitId: 1, kind: "activation", sampleShapes: [[40]] },
    );
    expect(h).toEqual({
      dtype: "int8",
      kind: "activation",
      shape: [40, 3],
      splitId: 1,
      modelHash: HASH,
      scale: decodeFrame(i8).scale,
      headerLength: 40,
      payloadLength: 120,
      totalLength: i8.length,
    });
    const refused = (b: Uint8Array, limits?: FrameLimits, exp?: Parameters<typeof decodeFrame>[2]) => {
      try {
        decodeFrameHeader(b, limits, exp);
      } catch (e) {
        if (e instanceof FrameError) return [e.constructor, e.field];
        throw e;
      }
      return undefined;
    };
    expect(refused(i8.subarray(0, 39))).toEqual([FrameError, "length"]);
    expect(refused(i8, { maxBytes: i8.length - 1 })).toEqual([FrameTooLargeError, "length"]);
    expect(refused(i8, {}, { modelHash: "fedcba9876543210" })).toEqual([FrameMismatchError, "modelHash"]);
    expect(refused(i8, {}, { sampleShapes: [[41]] })).toEqual([FrameError, "dims"]);
    expect(refused(withU8(i8, OFFSET.magic, 0))).toEqual([FrameError, "magic"]);
    // the checksum is not the header's to check: a flipped payload bit passes here and fails decodeFrame
    expect(refused(withBitFlipped(i8, 8 * 50))).toBeUndefined();
  });
  it("non-bytes and bad limits with ValidationError", () => {
    expect(() => decodeFrame([1, 2, 3] as unknown as Uint8Array)).toThrow(ValidationError);
    expect(() => decodeFrame(i8, { maxRank: 5 })).toThrow(ValidationError);
    expect(() => decodeFrame(i8, { maxElements: 0.5 })).toThrow(ValidationError);
  });
  it("a forged header claiming 2^31 elements in 100 bytes, before allocating", () => {
    let forged = withU32(withU32(i8, OFFSET.dims, 2 ** 16), OFFSET.dims + 4, 2 ** 15);
    forged = resealed(withU32(forged, OFFSET.payloadLength, 2 ** 31).slice(0, 100));
    expect(forged.length).toBe(100);
    const t0 = performance.now();
    expect(rejection(forged)).toBeInstanceOf(FrameTooLargeError);
    // With the caps lifted the declared size must still be checked against the 100 bytes actually held.
    const lifted = { maxDim: 2 ** 32 - 1, maxElements: Number.MAX_SAFE_INTEGER };
    const e = rejection(forged, lifted);
    expect([e.constructor, e.field]).toEqual([FrameError, "length"]);
    expect(largestAllocation(() => decodeFrame(forged, lifted))).toBeLessThanOrEqual(400);
    // Four dims of 2^32 - 1: the product passes 2^53 and is caught without overflowing into garbage.
    const huge = resealed(
      [0, 1, 2, 3].reduce(
        (b, i) => withU32(b, OFFSET.dims + 4 * i, 2 ** 32 - 1),
        frame({ data: ramp(1), shape: [1, 1, 1, 1] }),
      ),
    );
    expect(rejection(huge, { maxDim: 2 ** 32 - 1, maxElements: Number.MAX_SAFE_INTEGER })).toBeInstanceOf(
      FrameTooLargeError,
    );
    expect(performance.now() - t0).toBeLessThan(100);
  });
});

describe("frame decoder under fuzzing throws only FrameError", () => {
  const seeds = [
    frame(),
    frame({ dtype: "f32", shape: [2, 3, 2, 1], data: ramp(12) }),
    frame({ dtype: "f16", shape: [7], data: ramp(7), kind: "probabilities" }),
  ];
  const lifted: FrameLimits = { maxDim: 2 ** 32 - 1, maxElements: Number.MAX_SAFE_INTEGER };

  it("on random bytes, raw and behind a valid magic, version and CRC", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (raw, dressed) => {
        const b = dressed && raw.length >= 8 ? resealed(extended(ascii(`${FRAME_MAGIC}\x01`), raw.subarray(5))) : raw;
        decodesOrRejects(b);
        decodesOrRejects(b, lifted);
      }),
      { numRuns: 500 },
    );
  });
  it("on every single-bit flip, every truncation and every short extension of valid frames", () => {
    for (const f of seeds) {
      for (let bit = 0; bit < 8 * f.length; bit++) expect(FIELDS).toContain(rejection(withBitFlipped(f, bit)).field);
      for (let n = 0; n < f.length; n++) expect(rejection(f.subarray(0, n)).field).toBe("length");
      for (let k = 1; k <= 16; k++) expect(rejection(extended(f, new Uint8Array(k).fill(k))).field).toBe("trailing");
    }
  });
  it("on header fields rewritten with the CRC recomputed, so the deeper checks run", () => {
    const fields = [OFFSET.version, OFFSET.dtype, OFFSET.kind, OFFSET.rank];
    const words = [
      OFFSET.headerLength,
      OFFSET.splitId,
      OFFSET.scale,
      OFFSET.payloadLength,
      OFFSET.dims,
      OFFSET.dims + 4,
      OFFSET.dims + 8,
      OFFSET.dims + 12,
    ];
    const u32 = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 300 }),
      fc.constantFrom(2 ** 31, 2 ** 32 - 1, 2 ** 16),
    );
    const edit = fc.oneof(
      fc.tuple(fc.constantFrom(...fields), fc.integer({ min: 0, max: 255 })).map(
        ([o, v]) =>
          (f: Uint8Array) =>
            withU8(f, o, v),
      ),
      fc.tuple(fc.constantFrom(...words), u32).map(
        ([o, v]) =>
          (f: Uint8Array) =>
            o + 4 <= f.length ? withU32(f, o, v) : f,
      ),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(
        ([o, v]) =>
          (f: Uint8Array) =>
            withU8(f, o % f.length, v),
      ),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (f, edits, liftCaps) => {
          decodesOrRejects(resealed(edits.reduce((b, e) => e(b), f)), liftCaps ? lifted : undefined);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
