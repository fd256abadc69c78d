// Every documented limit of the frame and safetensors codecs, at exactly its value (accepted) and one past it
// (rejected, with the documented error, field and status), each limit alone: the others are lifted or far away.
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { decodeSafetensors } from "../src/io/safetensors.js";
import { Pattern } from "../src/sparsity/pattern.js";
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_MAGIC,
  FRAME_MAX_RANK,
  FRAME_VERSION,
  FrameError,
  FrameMismatchError,
  decodeFrame,
  encodeFrame,
  frameBytes,
  frameBytesPerSample,
  frameErrorBound,
  frameHeaderBytes,
  type FrameDtype,
  type FrameLimits,
} from "../src/split/frame.js";
import { HASH, LIFTED, frame, header, rejection, tooLarge } from "./helpers/frame_limits.js";
import { resealed } from "./helpers/frame_mutations.js";
import { safetensorsFile, safetensorsRefusal } from "./helpers/safetensors_files.js";

describe("frame limits at their edges", () => {
  it("the documented defaults: 64 MiB, rank 4, 2^24 per dimension and in total, non-finite rejected", () => {
    expect(DEFAULT_FRAME_LIMITS).toEqual({
      maxBytes: 64 * 2 ** 20,
      maxRank: 4,
      maxDim: 2 ** 24,
      maxElements: 2 ** 24,
      nonFinite: "reject",
    });
    expect(Object.isFrozen(DEFAULT_FRAME_LIMITS)).toBe(true);
    expect([FRAME_MAX_RANK, FRAME_MAGIC, FRAME_VERSION]).toEqual([4, "PSFR", 1]);
  });

  it("maxBytes: a frame of exactly maxBytes decodes, one byte less of limit is 413 (length)", () => {
    const f = frame([40, 3]);
    expect(decodeFrame(f, { maxBytes: f.length }).shape).toEqual([40, 3]);
    tooLarge(f, { maxBytes: f.length - 1 }, "length", f.length, f.length - 1);
    // a longer buffer is too large before it is anything else
    const long = new Uint8Array(f.length + 1);
    long.set(f);
    tooLarge(long, { maxBytes: f.length }, "length", f.length + 1, f.length);
  });

  it("length: 36 bytes (fixed header + CRC) pass the length check, 35 do not", () => {
    const f = frame([1]);
    const e35 = rejection(f.slice(0, 35));
    expect([e35.constructor, e35.field, e35.reason]).toEqual([FrameError, "length", "malformed"]);
    expect(e35.message).toMatch(/35 bytes.*36/);
    const bad = f.slice(0, 36);
    bad[0] = 0;
    expect(rejection(bad).field).toBe("magic");
    // rank 1 needs 36 + 4 header bytes and a CRC: 40 bytes get past the header check, 39 do not
    expect(rejection(f.slice(0, 39)).message).toMatch(/^frame: length: .*39 bytes.*40/);
    expect(rejection(f.slice(0, 40)).field).toBe("length"); // now the declared payload is missing
    expect(rejection(f.slice(0, 40)).message).toMatch(/40 bytes.*41/);
  });

  it("rank: 1 and 4 decode, 0 and 5 do not; maxRank r admits rank r and refuses rank r + 1", () => {
    for (const shape of [[3], [2, 1, 1, 3]]) expect(decodeFrame(frame(shape)).shape).toEqual(shape);
    for (const r of [0, 5, 255]) {
      const b = new Uint8Array(64);
      b.set([0x50, 0x53, 0x46, 0x52, 1, 2, 0, r]);
      const e = rejection(b);
      expect([e.constructor, e.field, e.reason]).toEqual([FrameError, "rank", "malformed"]);
      expect(e.message).toContain(`1..4, got ${r}`);
    }
    for (let r = 1; r < 4; r++) {
      const ok = frame(new Array(r).fill(2));
      expect(decodeFrame(ok, { maxRank: r }).shape.length).toBe(r);
      const e = rejection(frame(new Array(r + 1).fill(2)), { maxRank: r });
      expect([e.constructor, e.field, e.reason]).toEqual([FrameError, "rank", "malformed"]);
      expect(e.message).toContain(`1..${r}, got ${r + 1}`);
    }
  });

  it("maxDim: a dimension of exactly maxDim decodes, maxDim + 1 is 413 (dims), at every position", () => {
    for (let pos = 0; pos < 3; pos++) {
      const at = (d: number) => [2, 2, 2].map((x, i) => (i === pos ? d : x));
      expect(decodeFrame(frame(at(7)), { maxDim: 7, maxElements: 2 ** 20 }).shape).toEqual(at(7));
      tooLarge(frame(at(8)), { maxDim: 7, maxElements: 2 ** 20 }, "dims", 8, 7);
    }
  });

  it(
    "the default maxDim and maxElements refuse one past them from the header alone, " + "before any payload is read",
    () => {
      tooLarge(resealed(header([2 ** 24 + 1])), { maxElements: 2 ** 30 }, "dims", 2 ** 24 + 1, 2 ** 24);
      tooLarge(resealed(header([2 ** 12, 2 ** 12 + 1])), undefined, "dims", 2 ** 24);
      // the product is checked after each factor: four dims of 2^32 - 1 never overflow into an accepted size
      const huge = resealed(header([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1]));
      tooLarge(huge, { maxDim: 2 ** 32 - 1 }, "dims", 2 ** 24);
      tooLarge(huge, LIFTED, "dims", Number.MAX_SAFE_INTEGER);
    },
  );

  it("maxElements: exactly maxElements decodes, one more is 413 (dims), checked on the running product", () => {
    expect(decodeFrame(frame([3, 5]), { maxElements: 15 }).shape).toEqual([3, 5]);
    tooLarge(frame([3, 5]), { maxElements: 14 }, "dims", 14);
    expect(decodeFrame(frame([2, 2, 2, 2]), { maxElements: 16, maxDim: 2 }).shape).toEqual([2, 2, 2, 2]);
    tooLarge(frame([2, 2, 2, 2]), { maxElements: 15, maxDim: 2 }, "dims", 15);
  });

  it("the limits themselves are checked: each at its bound is valid, one past it is a ValidationError", () => {
    const f = frame([2]);
    const ok: FrameLimits[] = [
      { maxBytes: Number.MAX_SAFE_INTEGER },
      { maxRank: 1 },
      { maxRank: 4 },
      { maxDim: 1 },
      { maxDim: 2 ** 32 - 1 },
      { maxElements: Number.MAX_SAFE_INTEGER },
      { nonFinite: "allow" },
    ];
    for (const l of ok) expect(() => decodeFrame(f, { ...l, ...(l.maxDim === 1 ? { maxDim: 2 } : {}) })).not.toThrow();
    const bad: [FrameLimits, RegExp][] = [
      [{ maxBytes: 0 }, /limits\.maxBytes/],
      [{ maxBytes: 2 ** 53 }, /limits\.maxBytes/],
      [{ maxRank: 0 }, /limits\.maxRank/],
      [{ maxRank: 5 }, /limits\.maxRank/],
      [{ maxDim: 0 }, /limits\.maxDim/],
      [{ maxDim: 2 ** 32 }, /limits\.maxDim/],
      [{ maxElements: 0 }, /limits\.maxElements/],
      [{ maxElements: 2 ** 53 }, /limits\.maxElements/],
      [{ nonFinite: "sometimes" as "allow" }, /limits\.nonFinite must be "reject" or "allow", got sometimes/],
    ];
    for (const [l, msg] of bad) {
      expect(() => decodeFrame(f, l), JSON.stringify(l)).toThrow(ValidationError);
      expect(() => decodeFrame(f, l), JSON.stringify(l)).toThrow(msg);
      expect(() => decodeFrame(f, l)).toThrow(/^decodeFrame: /);
    }
  });

  it(
    "rank and size helpers: frameHeaderBytes(1..4) = 36..48, outside is a ValidationError; " +
      "too many elements is a ShapeError",
    () => {
      expect([1, 2, 3, 4].map(frameHeaderBytes)).toEqual([36, 40, 44, 48]);
      for (const r of [0, 5])
        expect(() => frameHeaderBytes(r)).toThrow(/frameHeaderBytes: rank must be an integer in \[1, 4\]/);
      expect(frameBytesPerSample(2 ** 32 - 1, "int8")).toBe(2 ** 32 - 1);
      expect(frameBytesPerSample(1, "f32")).toBe(4);
      expect(() => frameBytesPerSample(0, "f32")).toThrow(/frameBytesPerSample: features/);
      expect(() => frameBytesPerSample(2 ** 32, "f32")).toThrow(/frameBytesPerSample: features/);
      expect(() => frameBytesPerSample(3, "f64" as FrameDtype)).toThrow(
        /frameBytesPerSample: dtype must be one of f32, f16, int8, got f64/,
      );
      expect(frameBytes([40, 1], "f16")).toBe(124);
      expect(frameBytes([2 ** 32 - 1], "int8")).toBe(36 + 2 ** 32 - 1 + 4);
      expect(() => frameBytes([2 ** 32], "int8")).toThrow(/frameBytes: shape dimension/);
      expect(() => frameBytes([1, 1, 1, 1, 1], "int8")).toThrow(ShapeError);
      expect(() => frameBytes([], "int8")).toThrow(/frameBytes: shape must have rank 1\.\.4, got \[\]/);
      expect(() => frameBytes([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1], "int8")).toThrow(ShapeError);
      expect(() => frameBytes([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1], "int8")).toThrow(
        /frameBytes: shape \[4294967295, 4294967295, 4294967295\] holds too many elements/,
      );
      expect(() => frameBytes([3], "bf16" as FrameDtype)).toThrow(/frameBytes: dtype/);
      expect(() => frameBytes("3" as unknown as number[], "int8")).toThrow(ShapeError);
    },
  );

  it("splitId: 2^32 - 1 is carried, 2^32 and -1 are refused", () => {
    const f = encodeFrame({
      data: new Float32Array(1),
      shape: [1],
      dtype: "f32",
      kind: "logits",
      splitId: 2 ** 32 - 1,
      modelHash: HASH,
    });
    expect(decodeFrame(f, {}, { splitId: 2 ** 32 - 1 }).splitId).toBe(2 ** 32 - 1);
    for (const splitId of [2 ** 32, -1, 1.5]) {
      expect(() =>
        encodeFrame({ data: new Float32Array(1), shape: [1], dtype: "f32", kind: "logits", splitId, modelHash: HASH }),
      ).toThrow(/encodeFrame: splitId must be an integer in \[0, 4294967295\]/);
    }
  });

  it(
    "int8 scale: the largest scale whose 127 multiple is finite in float32 decodes; " + "the next one up is rejected",
    () => {
      const f32 = new Float32Array(1),
        u32 = new Uint32Array(f32.buffer);
      f32[0] = 3.4028234663852886e38 / 127;
      while (Number.isFinite(Math.fround(127 * f32[0]!))) u32[0]!++;
      const tooBig = f32[0]!;
      u32[0]!--;
      const largest = f32[0]!;
      const withScale = (s: number) => {
        const b = frame([2], "int8", Float32Array.of(1, -1));
        new DataView(b.buffer).setFloat32(24, s, true);
        return resealed(b);
      };
      expect(decodeFrame(withScale(largest)).data[0]).toBe(Math.fround(127 * largest));
      const e = rejection(withScale(tooBig));
      expect([e.field, e.reason]).toEqual(["scale", "malformed"]);
      expect(e.message).toContain(String(tooBig));
      // the encoder refuses data whose scale would land there, rather than write a frame its decoder rejects
      expect(() => frame([1], "int8", Float32Array.of(3.4028234663852886e38))).toThrow(
        /encodeFrame: max \|x\| = 3\.4028234663852886e\+38 is too close to the float32 limit/,
      );
      expect(decodeFrame(frame([1], "int8", Float32Array.of(3.4e38))).scale).toBeGreaterThan(0);
    },
  );
});

describe("model hash rules of frames", () => {
  const enc = (modelHash: string) =>
    encodeFrame({ data: new Float32Array(2), shape: [2], dtype: "f32", kind: "activation", splitId: 0, modelHash });

  it("exactly 16 hex digits: 15, 17, and 16 with anything before or after are refused", () => {
    for (const h of [
      HASH.slice(1),
      `${HASH}0`,
      `0${HASH}`,
      `${HASH}\n`,
      ` ${HASH}`,
      `x${HASH.slice(1)}`,
      `${HASH.slice(0, 15)}g`,
      "",
      "0x0123456789abcd",
    ]) {
      expect(() => enc(h), JSON.stringify(h)).toThrow(ValidationError);
      expect(() => enc(h), JSON.stringify(h)).toThrow(
        `encodeFrame: modelHash must be 16 hex digits, got ${JSON.stringify(h)}`,
      );
    }
    expect(() => enc(1234 as unknown as string)).toThrow(/modelHash must be 16 hex digits, got 1234/);
  });

  it(
    "upper-case input is accepted and written and read back lower-case; " +
      "the expected hash is compared case-insensitively",
    () => {
      const upper = "0123456789ABCDEF",
        mixed = "0123456789aBcDeF";
      for (const h of [upper, mixed]) {
        const f = enc(h);
        expect(Array.from(f.subarray(16, 24))).toEqual([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        expect(decodeFrame(f).modelHash).toBe(HASH);
        expect(decodeFrame(f, {}, { modelHash: upper }).modelHash).toBe(HASH);
        expect(decodeFrame(f, {}, { modelHash: HASH }).modelHash).toBe(HASH);
      }
      const e = rejection(enc(HASH), {}, { modelHash: "FEDCBA9876543210" });
      expect([e.constructor, e.field, e.reason]).toEqual([FrameMismatchError, "modelHash", "mismatch"]);
      expect(e.message).toBe("frame: modelHash: expected model fedcba9876543210, got 0123456789abcdef");
      // a 17-character expectation names no model: it matches none
      expect(rejection(enc(HASH), {}, { modelHash: `${HASH}0` }).constructor).toBe(FrameMismatchError);
    },
  );
});

describe("frameErrorBound", () => {
  it("states the documented bounds exactly: f32 0, f16 |x|·2^-11 (2^-25 below 2^-14), int8 scale·(1/2 + 2^-16)", () => {
    expect(frameErrorBound("f32", 123.5)).toBe(0);
    expect(frameErrorBound("f32", 1e30, 7)).toBe(0);
    expect(frameErrorBound("f16", 1)).toBe(2 ** -11);
    expect(frameErrorBound("f16", -1024)).toBe(0.5);
    expect(frameErrorBound("f16", 2 ** -14)).toBe(2 ** -25);
    expect(frameErrorBound("f16", 2 ** -20)).toBe(2 ** -25);
    expect(frameErrorBound("f16", 0)).toBe(2 ** -25);
    expect(frameErrorBound("int8", 5, 1)).toBe(0.5 + 2 ** -16);
    expect(frameErrorBound("int8", -5, 2 ** -3)).toBe((0.5 + 2 ** -16) / 8);
    expect(frameErrorBound("int8", 5, 0)).toBe(0);
    expect(frameErrorBound("int8", 5)).toBe(0);
  });
});

describe("safetensors limits at their edges", () => {
  const F32x2 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

  const file = (header: unknown, data?: Uint8Array, declared?: number) => safetensorsFile(header, data, { declared });
  const fails = (bytes: Uint8Array, field: string, options = {}) => safetensorsRefusal(bytes, field, options).message;

  it("the 8-byte length prefix: 7 bytes are refused; 8 bytes declaring an empty header get past it", () => {
    expect(fails(new Uint8Array(7), "header length")).toMatch(/need 8 bytes, buffer has 7/);
    expect(fails(new Uint8Array(8), "header")).toMatch(/not valid JSON/);
  });

  it("maxHeaderBytes: a header of exactly the cap decodes, a cap one byte smaller refuses it", () => {
    const f = file({ a: F32x2 }, new Uint8Array(8));
    const n = f.length - 16;
    expect(decodeSafetensors(f, { maxHeaderBytes: n }).tensors.get("a")!.shape).toEqual([2]);
    expect(fails(f, "header length", { maxHeaderBytes: n - 1 })).toBe(
      `safetensors: header length: ${n} bytes exceeds the ${n - 1}-byte cap`,
    );
  });

  it(
    "the default cap is 100,000,000 bytes: a header declaring exactly that passes the cap (and fails on the buffer), " +
      "one more does not",
    () => {
      expect(fails(file("{}", new Uint8Array(0), 100_000_000), "header length")).toMatch(
        /100000000 bytes of header but only 2 follow/,
      );
      expect(fails(file("{}", new Uint8Array(0), 100_000_001), "header length")).toMatch(
        /100000001 bytes exceeds the 100000000-byte cap/,
      );
      // the high word of the u64 counts: 2^32 + 2 is not 2
      expect(fails(file("{}", new Uint8Array(0), 2 ** 32 + 2), "header length")).toMatch(/4294967298 bytes exceeds/);
      expect(fails(file("{}", new Uint8Array(0), 2 ** 32 + 2), "header length", { maxHeaderBytes: 2 ** 33 })).toMatch(
        /4294967298 bytes of header but only 2 follow/,
      );
    },
  );

  it("the header may end exactly at the buffer's end; one byte short is refused", () => {
    expect(decodeSafetensors(file("{}")).tensors.size).toBe(0);
    expect(fails(file("{}", new Uint8Array(0), 3), "header length")).toBe(
      "safetensors: header length: 3 bytes of header but only 2 follow",
    );
  });

  it(
    "shape × element size at the safe-integer edge: 2^53 − 1 bytes is a size (that misfits), " +
      "2^53 − 1 elements of 2 bytes overflow",
    () => {
      const big = Number.MAX_SAFE_INTEGER;
      expect(
        fails(file({ a: { dtype: "U8", shape: [big], data_offsets: [0, 8] } }, new Uint8Array(8)), "data_offsets"),
      ).toContain(`needs ${big} bytes`);
      expect(
        fails(file({ a: { dtype: "U16", shape: [big], data_offsets: [0, 8] } }, new Uint8Array(8)), "shape"),
      ).toMatch(/overflows/);
      expect(
        fails(
          file({ a: { dtype: "F32", shape: [2 ** 26, 2 ** 26], data_offsets: [0, 8] } }, new Uint8Array(8)),
          "shape",
        ),
      ).toMatch(/overflows/);
      expect(
        fails(
          file({ a: { dtype: "U8", shape: [2 ** 25, 2 ** 26], data_offsets: [0, 8] } }, new Uint8Array(8)),
          "data_offsets",
        ),
      ).toContain(`needs ${2 ** 51} bytes`);
      // a zero dimension makes any other dimension harmless
      expect(
        decodeSafetensors(file({ a: { dtype: "F64", shape: [0, big], data_offsets: [0, 0] } })).tensors.get("a")!.data
          .length,
      ).toBe(0);
    },
  );

  it("data_offsets: integers from 0 to 2^53 − 1 with begin ≤ end; begin = end is an empty tensor", () => {
    expect(
      decodeSafetensors(file({ a: { dtype: "F32", shape: [0], data_offsets: [0, 0] } })).tensors.get("a")!.data.length,
    ).toBe(0);
    for (const o of [
      [-1, 7],
      [1, 0],
      [0, 2 ** 53],
      [0.5, 8],
    ])
      expect(fails(file({ a: { ...F32x2, data_offsets: o } }, new Uint8Array(8)), "data_offsets")).toContain(
        JSON.stringify(o),
      );
  });

  it("deep nesting in the header is a FormatError, not a crash: refused past maxJsonDepth before it is parsed", () => {
    const deep = (depth: number) => file(`{"__metadata__":${"[".repeat(depth)}${"]".repeat(depth)}}`);
    expect(fails(deep(200_000), "header")).toMatch(/JSON nested deeper than 64 levels/);
    // the object and 63 arrays are 64 levels, the default: parsed, and refused by the header's own checks
    expect(fails(deep(64), "header")).toMatch(/JSON nested deeper than 64 levels/);
    expect(fails(deep(63), "__metadata__")).toMatch(/expected an object of strings/);
    expect(fails(deep(64), "__metadata__", { maxJsonDepth: 65 })).toMatch(/expected an object of strings/);
    const nested = `{"a":${"[".repeat(50)}${"]".repeat(50)}}`;
    expect(fails(file(nested), "tensor")).toBe('safetensors: tensor: "a" is not an object');
  });
});

describe("pattern limits at their edges", () => {
  const empty = (inputs: number, outputs: number) => Pattern.fromCsr(inputs, outputs, new Int32Array(outputs + 1), []);

  it("inputs and outputs up to 2^24 each: 2^24 + 1 is a ValidationError naming the generator and the size", () => {
    expect(() => empty(2 ** 24 + 1, 1)).toThrow(
      /^Pattern\.fromCsr: inputs must be an integer in \[1, 16777216\], got 16777217$/,
    );
    expect(() => empty(1, 2 ** 24 + 1)).toThrow(
      /^Pattern\.fromCsr: outputs must be an integer in \[1, 16777216\], got 16777217$/,
    );
  });

  it("2^31 connections are refused before anything is allocated; 2^16 · (2^15 − 1) are built", () => {
    // 2^31 − 1 is prime, so no pair of sizes ≤ 2^24 reaches it (limits_large.test.ts builds 2^24 · 127)
    expect(empty(2 ** 16, 2 ** 15 - 1).nnz).toBe(0);
    for (const [i, o] of [
      [2 ** 24, 128],
      [128, 2 ** 24],
      [2 ** 16, 2 ** 15],
    ] as const) {
      expect(() => empty(i, o)).toThrow(ValidationError);
      expect(() => empty(i, o)).toThrow(`Pattern.fromCsr: ${i}×${o} connections exceed 2^31 − 1`);
      expect(() => Pattern.dense(i, o)).toThrow(`Pattern.dense: ${i}×${o} connections exceed 2^31 − 1`);
    }
  });

  it("every generator names itself and the argument in its refusals", () => {
    const cases: [() => unknown, string][] = [
      [() => Pattern.fixedDegree(0, 3, 1), "Pattern.fixedDegree: inputs must be an integer in [1, 16777216], got 0"],
      [() => Pattern.fixedDegree(3, 0, 1), "Pattern.fixedDegree: outputs must be an integer in [1, 16777216], got 0"],
      [() => Pattern.fixedDegree(3, 3, 4), "Pattern.fixedDegree: outDegree must be an integer in [0, 3], got 4"],
      [() => Pattern.random(3.5, 3, 0.5), "Pattern.random: inputs must be an integer in [1, 16777216], got 3.5"],
      [() => Pattern.dense(3, NaN), "Pattern.dense: outputs must be an integer in [1, 16777216], got NaN"],
      [() => Pattern.fromMask(-1, 3, []), "Pattern.fromMask: inputs must be an integer in [1, 16777216], got -1"],
      [
        () => Pattern.fromCsr(3, Infinity, [], []),
        "Pattern.fromCsr: outputs must be an integer in [1, 16777216], got Infinity",
      ],
    ];
    for (const [make, message] of cases) {
      expect(make).toThrow(ValidationError);
      expect(make).toThrow(message);
    }
  });

  it("out-degree 0 and out-degree = outputs are the edges of fixedDegree: no connections, and every connection", () => {
    const none = Pattern.fixedDegree(6, 4, 0, 3);
    expect([none.nnz, Array.from(none.rowPtr)]).toEqual([0, [0, 0, 0, 0, 0]]);
    const all = Pattern.fixedDegree(6, 4, 4, 3);
    expect(all.hash).toBe(Pattern.dense(6, 4).hash);
    expect(Pattern.fromMask(2, 2, [1, 0, 0, 1]).kind).toBe("mask");
  });
});
