// The frame codec's refusals of bad arguments: a typed error that names the operation and shows what it got
// (docs/frame-format.md: ShapeError / ValidationError from the encoder; FrameError and its subclasses from the
// decoder).
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { f16BitsToF32 } from "../src/io/f16.js";
import {
  FrameError,
  decodeFrame,
  encodeFrame,
  type FrameDtype,
  type FrameInput,
  type FrameKind,
} from "../src/split/frame.js";

const HASH = "0123456789abcdef";
const input = (over: Partial<FrameInput> = {}): FrameInput => ({
  data: Float32Array.of(1, -2, 3, 0.5),
  shape: [2, 2],
  dtype: "f32",
  kind: "activation",
  splitId: 0,
  modelHash: HASH,
  ...over,
});

describe("encodeFrame refuses", () => {
  const cases: [string, Partial<FrameInput>, typeof ShapeError | typeof ValidationError, RegExp][] = [
    [
      "data that is not a Float32Array",
      { data: [1, 2, 3, 4] as unknown as Float32Array },
      ValidationError,
      /^encodeFrame: data must be a Float32Array$/,
    ],
    [
      "a Float64Array",
      { data: new Float64Array(4) as unknown as Float32Array },
      ValidationError,
      /^encodeFrame: data must be a Float32Array$/,
    ],
    [
      "a shape that holds more values than the data",
      { shape: [3, 2] },
      ShapeError,
      /^encodeFrame: shape \[3, 2\] holds 6 values, data has 4$/,
    ],
    ["a shape that holds fewer", { shape: [3] }, ShapeError, /^encodeFrame: shape \[3\] holds 3 values, data has 4$/],
    ["rank 5", { shape: [1, 1, 1, 2, 2] }, ShapeError, /^encodeFrame: shape must have rank 1\.\.4, got \[1,1,1,2,2\]$/],
    ["rank 0", { shape: [] }, ShapeError, /^encodeFrame: shape must have rank 1\.\.4, got \[\]$/],
    [
      "a zero dimension",
      { shape: [0, 4] },
      ValidationError,
      /^encodeFrame: shape dimension must be an integer in \[1, 4294967295\], got 0$/,
    ],
    ["a fractional dimension", { shape: [2.5, 2] }, ValidationError, /^encodeFrame: shape dimension .* got 2\.5$/],
    [
      "an unknown dtype",
      { dtype: "f64" as FrameDtype },
      ValidationError,
      /^encodeFrame: dtype must be one of f32, f16, int8, got f64$/,
    ],
    [
      "an unknown kind",
      { kind: "embedding" as FrameKind },
      ValidationError,
      /^encodeFrame: kind must be one of activation, logits, probabilities, got embedding$/,
    ],
    [
      "a negative split id",
      { splitId: -1 },
      ValidationError,
      /^encodeFrame: splitId must be an integer in \[0, 4294967295\], got -1$/,
    ],
    [
      "NaN",
      { data: Float32Array.of(1, NaN, 3, 4) },
      ValidationError,
      /^encodeFrame: data\[1\] is NaN, frames carry finite values$/,
    ],
    [
      "-Infinity in int8 even when allowed",
      { data: Float32Array.of(1, 2, 3, -Infinity), dtype: "int8", nonFinite: "allow" },
      ValidationError,
      /^encodeFrame: data\[3\] is -Infinity/,
    ],
    [
      "a value past the f16 range",
      { data: Float32Array.of(1, 2, 65520, 4), dtype: "f16" },
      ValidationError,
      /^encodeFrame: data\[2\] = 65520 is beyond the f16 range \(±65504\); use f32 or int8$/,
    ],
    [
      "a value past the f16 range, with non-finite values allowed",
      { data: Float32Array.of(-70000, 2, 3, 4), dtype: "f16", nonFinite: "allow" },
      ValidationError,
      /^encodeFrame: data\[0\] = -70000 is beyond the f16 range/,
    ],
  ];
  for (const [what, over, cls, message] of cases) {
    it(what, () => {
      expect(() => encodeFrame(input(over))).toThrow(cls);
      expect(() => encodeFrame(input(over))).toThrow(message);
    });
  }
});

describe("encodeFrame refuses a model hash that is not a string", () => {
  it("even one whose digits read as 16 hex digits", () => {
    for (const h of [1234567890123456, { toString: () => HASH }]) {
      expect(() => encodeFrame(input({ modelHash: h as unknown as string }))).toThrow(ValidationError);
      expect(() => encodeFrame(input({ modelHash: h as unknown as string }))).toThrow(
        /^encodeFrame: modelHash must be 16 hex digits, got /,
      );
    }
  });
});

describe("encodeFrame accepts", () => {
  it("every kind, written as its code; every dtype, written as its code and element size", () => {
    (["activation", "logits", "probabilities"] as const).forEach((kind, code) => {
      const b = encodeFrame(input({ kind }));
      expect([b[6], decodeFrame(b).kind]).toEqual([code, kind]);
    });
    (["f32", "f16", "int8"] as const).forEach((dtype, code) => {
      const b = encodeFrame(input({ dtype }));
      expect([b[5], b.length, decodeFrame(b).dtype]).toEqual([code, 40 + 4 * [4, 2, 1][code]! + 4, dtype]);
    });
  });

  it(
    "NaN and ±Infinity in f32 and f16 when allowed, as the IEEE codes (f16: 0x7e00 for NaN, " +
      "0x7c00 / 0xfc00 for ±Inf)",
    () => {
      const data = Float32Array.of(NaN, Infinity, -Infinity, 1);
      const f16 = encodeFrame(input({ data, dtype: "f16", nonFinite: "allow" }));
      const codes = Array.from({ length: 4 }, (_, i) => new DataView(f16.buffer).getUint16(40 + 2 * i, true));
      expect(codes).toEqual([0x7e00, 0x7c00, 0xfc00, 0x3c00]);
      expect(codes.map(f16BitsToF32)).toEqual([NaN, Infinity, -Infinity, 1]);
      const d = decodeFrame(encodeFrame(input({ data, nonFinite: "allow" })), { nonFinite: "allow" }).data;
      expect(Array.from(d)).toEqual([NaN, Infinity, -Infinity, 1]);
      expect(() => decodeFrame(f16)).toThrow(/^frame: payload: element 0 is NaN$/);
    },
  );

  it("int8: codes round(x / scale), clamped to ±127, the zero tensor all zeros with scale 0", () => {
    const b = encodeFrame(input({ data: Float32Array.of(127, -127, 63.4, -0.6), dtype: "int8" }));
    expect(new DataView(b.buffer).getFloat32(24, true)).toBe(1);
    expect(Array.from(new Int8Array(b.buffer, 40, 4))).toEqual([127, -127, 63, -1]);
    const z = encodeFrame(input({ data: new Float32Array(4), dtype: "int8" }));
    expect([new DataView(z.buffer).getFloat32(24, true), ...new Int8Array(z.buffer, 40, 4)]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("decodeFrame reads exactly the payload", () => {
  it("a frame whose CRC, read as a float32, is NaN or infinite decodes: the CRC is not a payload element", () => {
    let found = 0;
    for (let k = 1; found < 3 && k < 20_000; k++) {
      const b = encodeFrame(input({ data: Float32Array.of(k, -k, k / 8, 0.25) }));
      if (Number.isFinite(new DataView(b.buffer).getFloat32(b.length - 4, true))) continue;
      found++;
      expect(Array.from(decodeFrame(b).data)).toEqual([k, -k, k / 8, 0.25]);
    }
    expect(found).toBe(3);
  });
});

describe("decodeFrame refuses", () => {
  it("anything but a Uint8Array, with a ValidationError", () => {
    for (const b of [[80, 83, 70, 82], new ArrayBuffer(48), "PSFR", new Int8Array(48)]) {
      expect(() => decodeFrame(b as unknown as Uint8Array)).toThrow(ValidationError);
      expect(() => decodeFrame(b as unknown as Uint8Array)).toThrow(/^decodeFrame: bytes must be a Uint8Array$/);
    }
  });

  it("non-finite payload values and int8 codes that do not fit the scale, naming the element", () => {
    const f32 = encodeFrame(input({ data: Float32Array.of(1, 2, Infinity, NaN), nonFinite: "allow" }));
    expect(() => decodeFrame(f32)).toThrow(/^frame: payload: element 2 is Infinity$/);
    const i8 = encodeFrame(input({ data: new Float32Array(4), dtype: "int8" }));
    i8[41] = 5;
    new DataView(i8.buffer).setUint32(i8.length - 4, crc(i8.subarray(0, i8.length - 4)), true);
    expect(() => decodeFrame(i8)).toThrow(
      /^frame: payload: element 1 is 5 with scale 0, which only an all-zero tensor has$/,
    );
    i8[41] = 0x80;
    new DataView(i8.buffer).setUint32(i8.length - 4, crc(i8.subarray(0, i8.length - 4)), true);
    expect(() => decodeFrame(i8)).toThrow(/^frame: payload: element 1 is -128, int8 codes are in \[-127, 127\]$/);
  });

  it("a payload length that disagrees with the shape, showing both", () => {
    const b = encodeFrame(input());
    new DataView(b.buffer).setUint32(28, 17, true);
    new DataView(b.buffer).setUint32(b.length - 4, crc(b.subarray(0, b.length - 4)), true);
    expect(() => decodeFrame(b)).toThrow(
      /^frame: payloadLength: shape \[2, 2\] of f32 needs 16 bytes, header says 17$/,
    );
  });

  it("a frame whose f32 or f16 scale is -0: the docs say +0", () => {
    const b = encodeFrame(input());
    new DataView(b.buffer).setFloat32(24, -0, true);
    new DataView(b.buffer).setUint32(b.length - 4, crc(b.subarray(0, b.length - 4)), true);
    let err: unknown;
    try {
      decodeFrame(b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FrameError);
    // (the message names the -0, which a plain number-to-string would print as "0")
    expect((err as FrameError).message).toBe("frame: scale: expected 0 for f32, got -0");
  });
});

/** CRC-32 (IEEE, reflected 0xEDB88320), bit by bit. */
function crc(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
