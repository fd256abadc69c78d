import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtemp, readdir, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FormatError, ValidationError } from "../src/engine/errors.js";
import {
  SAFETENSORS_DTYPES,
  decodeSafetensors,
  encodeSafetensors,
  type Dtype,
  type SafeTensor,
} from "../src/io/safetensors.js";
import { safetensorsFile, safetensorsRefusal } from "./helpers/safetensors_files.js";
import { readSafetensorsFile, writeSafetensorsFile } from "../src/node/index.js";

const SIZE: Record<Dtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

function bytesOf(d: ArrayBufferView): Uint8Array {
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A file from a header (object or raw text) and a data region; the header is not padded unless asked. */
const file = (header: unknown, data?: Uint8Array, pad = false) => safetensorsFile(header, data, { pad });
const rejects = safetensorsRefusal;

function anyArray(dtype: Dtype, raw: Uint8Array): SafeTensor["data"] {
  const buf = raw.slice().buffer;
  const n = raw.length / SIZE[dtype];
  switch (dtype) {
    case "I8":
      return new Int8Array(buf, 0, n);
    case "U16":
    case "F16":
    case "BF16":
      return new Uint16Array(buf, 0, n);
    case "I16":
      return new Int16Array(buf, 0, n);
    case "U32":
      return new Uint32Array(buf, 0, n);
    case "I32":
      return new Int32Array(buf, 0, n);
    case "F32":
      return new Float32Array(buf, 0, n);
    case "U64":
      return new BigUint64Array(buf, 0, n);
    case "I64":
      return new BigInt64Array(buf, 0, n);
    case "F64":
      return new Float64Array(buf, 0, n);
    default:
      return new Uint8Array(buf, 0, n);
  }
}

const tensorArb = fc
  .record({
    dtype: fc.constantFrom(...SAFETENSORS_DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  })
  .chain(({ dtype, shape }) =>
    fc
      .uint8Array({
        minLength: shape.reduce((a, b) => a * b, 1) * SIZE[dtype],
        maxLength: shape.reduce((a, b) => a * b, 1) * SIZE[dtype],
      })
      .map((raw): SafeTensor => ({ dtype, shape, data: anyArray(dtype, raw) })),
  );
const nameArb = fc.string({ maxLength: 8 }).filter((s) => s !== "__metadata__");
const setArb = fc.dictionary(nameArb, tensorArb, { maxKeys: 6 });
const metaArb = fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), { maxKeys: 4 });

const sample = (): Uint8Array =>
  encodeSafetensors(
    {
      "layer0.values": { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, NaN, 0, -0]) },
      "layer0.colIdx": { dtype: "I32", shape: [3], data: new Int32Array([0, 7, 2]) },
      bits: { dtype: "U8", shape: [5], data: new Uint8Array([1, 2, 3, 4, 5]) },
      empty: { dtype: "F64", shape: [0, 4], data: new Float64Array(0) },
    },
    { arch: "[800,40,40,10]", format: "presparse" },
  );

describe("safetensors round trip", () => {
  it("is bit-exact for random tensor sets, with metadata, empty tensors and every dtype", () => {
    fc.assert(
      fc.property(setArb, metaArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(n % 8).toBe(0);
        const out = decodeSafetensors(bytes);
        expect(out.metadata).toEqual(metadata);
        expect([...out.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          const got = out.tensors.get(name)!;
          expect(got.dtype).toBe(t.dtype);
          expect(got.shape).toEqual(t.shape);
          expect(got.data.constructor).toBe(t.data.constructor);
          expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
          // padded header + largest-element-first layout: every tensor is an aligned view, not a copy
          expect(got.data.buffer).toBe(bytes.buffer);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("gives the same bytes whatever the insertion order", () => {
    fc.assert(
      fc.property(setArb, metaArb, (tensors, metadata) => {
        const reversed = Object.fromEntries(Object.entries(tensors).reverse());
        expect(encodeSafetensors(reversed, metadata)).toEqual(encodeSafetensors(tensors, metadata));
      }),
      { numRuns: 50 },
    );
  });

  it("copies tensors that sit unaligned in the buffer, and on request", () => {
    const bytes = sample();
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const ref = decodeSafetensors(bytes);
    for (const opts of [{}, { copy: true }]) {
      const out = decodeSafetensors(shifted, opts);
      for (const [name, t] of ref.tensors) {
        const got = out.tensors.get(name)!;
        expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
        if (got.data.byteLength > 0 && SIZE[got.dtype] > 1) expect(got.data.buffer).not.toBe(shifted.buffer);
      }
    }
    const copied = decodeSafetensors(bytes, { copy: true }).tensors.get("bits")!;
    expect(copied.data.buffer).not.toBe(bytes.buffer);
  });

  it("reads headers that are not padded to 8 bytes", () => {
    const data = new Uint8Array(new Float32Array([1.5, 2.5, -1]).buffer);
    const bytes = file({ x: { dtype: "F32", shape: [3], data_offsets: [0, 12] } }, data);
    expect((bytes.length - 8 - 12) % 8).not.toBe(0);
    const x = decodeSafetensors(bytes).tensors.get("x")!;
    expect(Array.from(x.data as Float32Array)).toEqual([1.5, 2.5, -1]);
    expect(x.data.buffer).not.toBe(bytes.buffer);
  });

  it("keeps a __proto__ key as data", () => {
    const bytes = encodeSafetensors(
      { ["__proto__"]: { dtype: "U8", shape: [1], data: new Uint8Array([9]) } },
      JSON.parse('{"__proto__":"x"}'),
    );
    const out = decodeSafetensors(bytes);
    expect(out.tensors.get("__proto__")?.data[0]).toBe(9);
    expect(Object.getOwnPropertyDescriptor(out.metadata, "__proto__")?.value).toBe("x");
  });
});

describe("safetensors writer validation", () => {
  it("rejects reserved names, unknown dtypes, bad shapes, mismatched arrays and lengths", () => {
    const ok = { dtype: "F32" as const, shape: [2], data: new Float32Array(2) };
    expect(() => encodeSafetensors({ __metadata__: ok })).toThrow(ValidationError);
    expect(() => encodeSafetensors({ a: { ...ok, dtype: "F17" as Dtype } })).toThrow(/dtype/);
    expect(() => encodeSafetensors({ a: { ...ok, shape: [-2] } })).toThrow(/shape/);
    expect(() => encodeSafetensors({ a: { ...ok, data: new Int32Array(2) } })).toThrow(/Float32Array/);
    expect(() => encodeSafetensors({ a: { ...ok, shape: [3] } })).toThrow(/12 bytes, data has 8/);
    expect(() => encodeSafetensors({ a: ok }, { k: 1 as unknown as string })).toThrow(/metadata "k"/);
  });
});

describe("safetensors reader rejections", () => {
  const f32 = (n: number) => new Uint8Array(n * 4);
  const t = (over: object = {}) => ({ dtype: "F32", shape: [2], data_offsets: [0, 8], ...over });

  it("rejects short buffers and bad header lengths", () => {
    rejects(new Uint8Array(7), "header length");
    rejects(new Uint8Array(0), "header length");
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(4, 1, true); // 2^32 bytes
    rejects(huge, "header length");
    expect(rejects(file({ a: t() }, f32(2)), "header length", { maxHeaderBytes: 10 }).message).toMatch(/cap/);
    const short = file({ a: t() }, f32(2));
    new DataView(short.buffer).setUint32(0, short.length, true);
    rejects(short, "header length");
  });

  it("rejects invalid UTF-8, JSON and non-objects", () => {
    const bad = file("{}    ");
    bad[9] = 0xff;
    rejects(bad, "header");
    rejects(file('{"a": '), "header");
    rejects(file("\uFEFF{}"), "header");
    for (const h of ["[]", "null", "3", '"x"']) rejects(file(h), "header");
    rejects(file({ a: 5 }), "tensor");
    rejects(file({ a: [1] }), "tensor");
  });

  it("rejects duplicate names, however they are spelled", () => {
    rejects(file(`{"a":${JSON.stringify(t())},"a":${JSON.stringify(t())}}`, f32(2)), "header");
    rejects(file(`{"a":${JSON.stringify(t())},"\\u0061":${JSON.stringify(t())}}`, f32(2)), "header");
    rejects(file(`{"__metadata__":{"k":"1","k":"2"}}`), "header");
    // the same key in different objects is fine
    expect(decodeSafetensors(file(`{"__metadata__":{"a":"1"},"a":${JSON.stringify(t())}}`, f32(2))).tensors.size).toBe(
      1,
    );
  });

  it("rejects unknown dtypes and malformed shapes", () => {
    rejects(file({ a: t({ dtype: "F17" }) }, f32(2)), "dtype");
    rejects(file({ a: t({ dtype: 4 }) }, f32(2)), "dtype");
    rejects(file({ a: t({ dtype: "toString" }) }, f32(2)), "dtype");
    for (const shape of [2, [-2], [1.5], ["2"], null, [2 ** 53]]) rejects(file({ a: t({ shape }) }, f32(2)), "shape");
    rejects(file({ a: t({ shape: [2 ** 30, 2 ** 30, 2 ** 30] }) }, f32(2)), "shape"); // prod × 4 overflows
  });

  it("rejects malformed, misfitting, gapped, overlapping and short data_offsets", () => {
    for (const data_offsets of [[0], [0, 8, 8], "0,8", [0, 8.5], [-1, 7], [8, 0], null]) {
      rejects(file({ a: t({ data_offsets }) }, f32(2)), "data_offsets");
    }
    rejects(file({ a: t({ data_offsets: [0, 12] }) }, f32(3)), "data_offsets"); // 2 floats in 12 bytes
    rejects(file({ a: t({ data_offsets: [4, 12] }) }, f32(3)), "data_offsets"); // not from 0
    rejects(file({ a: t(), b: t({ data_offsets: [12, 20] }) }, f32(5)), "data_offsets"); // gap
    rejects(file({ a: t(), b: t({ data_offsets: [4, 12] }) }, f32(3)), "data_offsets"); // overlap
    rejects(file({ a: t(), b: t() }, f32(2)), "data_offsets"); // same range twice
    rejects(file({ a: t() }, f32(3)), "data"); // trailing bytes
    rejects(file({ a: t() }, f32(1)), "data"); // data region too short
    rejects(file({}, f32(1)), "data");
    // out of order in the header is fine: ranges are checked in data order
    const ok = decodeSafetensors(file({ b: t({ data_offsets: [8, 16] }), a: t() }, f32(4)));
    expect([...ok.tensors.keys()]).toEqual(["a", "b"]);
  });

  it("rejects metadata that is not a string map", () => {
    for (const m of [[], "x", 3, { k: 1 }, { k: null }, { k: { v: "x" } }])
      rejects(file({ __metadata__: m }), "__metadata__");
    expect(decodeSafetensors(file({ __metadata__: null })).metadata).toEqual({});
  });

  it("names the source in its messages", () => {
    expect(() => decodeSafetensors(new Uint8Array(3), { source: "model.safetensors" })).toThrow(/model\.safetensors/);
  });
});

describe("safetensors reader under corruption", () => {
  const mustBeFormatError = (bytes: Uint8Array) => {
    try {
      const out = decodeSafetensors(bytes);
      let covered = 0;
      for (const t of out.tensors.values()) covered += t.data.byteLength;
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      expect(covered).toBe(bytes.length - 8 - n);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
    }
  };
  const valid = sample();
  const headerLength = Number(new DataView(valid.buffer).getBigUint64(0, true));

  it("bit flips, truncations and extensions only ever give FormatError", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(7)), { minLength: 1, maxLength: 4 }), (flips) => {
        const b = valid.slice();
        for (const [i, bit] of flips) b[i]! ^= 1 << bit;
        mustBeFormatError(b);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.nat(valid.length), (n) => mustBeFormatError(valid.slice(0, n))),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (tail) => {
        const b = new Uint8Array(valid.length + tail.length);
        b.set(valid);
        b.set(tail, valid.length);
        rejects(b, "data");
      }),
      { numRuns: 50 },
    );
  });

  it("edited header lengths only ever give FormatError", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -16, max: 16 }), (any, delta) => {
        for (const n of [any, BigInt(Math.max(0, headerLength + delta))]) {
          const b = valid.slice();
          new DataView(b.buffer).setBigUint64(0, n, true);
          mustBeFormatError(b);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("random edits of the JSON header only ever give FormatError", () => {
    const header = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + headerLength))) as Record<
      string,
      Record<string, unknown>
    >;
    const data = valid.subarray(8 + headerLength);
    const keys = Object.keys(header);
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.constantFrom("dtype", "shape", "data_offsets", "k", "arch"),
        fc.jsonValue({ maxDepth: 2 }),
        (key, field, value) => {
          const edited = structuredClone(header);
          edited[key]![field] = value;
          mustBeFormatError(file(edited, data));
        },
      ),
      { numRuns: 300 },
    );
    const chars = '{}[]",:0123456789-.e \\u';
    fc.assert(
      fc.property(fc.nat(headerLength - 1), fc.constantFrom(...chars), (i, ch) => {
        const b = valid.slice();
        b[8 + i] = ch.charCodeAt(0);
        mustBeFormatError(b);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => mustBeFormatError(bytes)),
      { numRuns: 200 },
    );
  });
});

describe("safetensors files", () => {
  it("write then read gives the same tensors; a damaged file is named in the error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "presparse-st-"));
    try {
      const path = join(dir, "model.safetensors");
      const bytes = sample();
      const ref = decodeSafetensors(bytes);
      const tensors = Object.fromEntries(ref.tensors);
      expect(await writeSafetensorsFile(path, tensors, ref.metadata)).toBe(bytes.length);
      expect(await readdir(dir)).toEqual(["model.safetensors"]);
      const back = await readSafetensorsFile(path);
      expect(back.metadata).toEqual(ref.metadata);
      for (const [name, t] of ref.tensors) expect(bytesOf(back.tensors.get(name)!.data)).toEqual(bytesOf(t.data));
      await truncate(path, bytes.length - 3);
      await expect(readSafetensorsFile(path)).rejects.toThrow(new RegExp(`safetensors: data: .*${path}`));
      await expect(readSafetensorsFile(join(dir, "absent.safetensors"))).rejects.toThrow(/absent\.safetensors/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
