// An independent frame decoder written from docs/frame-format.md alone (its byte table, its checks in their
// order, their fields and statuses), compared with decodeFrame and encodeFrame under fast-check. It shares no code
// with src/: the CRC is zlib's, binary16 is widened by its definition.
import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FrameError,
  FrameMismatchError,
  FrameTooLargeError,
  decodeFrame,
  encodeFrame,
  type FrameDtype,
  type FrameKind,
} from "../src/split/frame.js";

const DTYPES: FrameDtype[] = ["f32", "f16", "int8"];
const KINDS: FrameKind[] = ["activation", "logits", "probabilities"];
const SIZE = { f32: 4, f16: 2, int8: 1 } as const;

interface Limits {
  maxBytes?: number;
  maxRank?: number;
  maxDim?: number;
  maxElements?: number;
  nonFinite?: "reject" | "allow";
}
interface Expect {
  modelHash?: string;
  splitId?: number;
  kind?: FrameKind;
}
interface Decoded {
  data: Float32Array;
  shape: number[];
  dtype: FrameDtype;
  kind: FrameKind;
  splitId: number;
  modelHash: string;
  scale: number;
}
/** A rejection: the error class and field the docs name, and numbers its "expected vs got" message must show. */
interface Rejected {
  error: "FrameError" | "FrameTooLargeError" | "FrameMismatchError";
  field: string;
  shows: string[];
}
type Verdict = { ok: Decoded } | { rejected: Rejected };

const reject = (error: Rejected["error"], field: string, ...shows: (string | number)[]): Verdict => ({
  rejected: { error, field, shows: shows.map(String) },
});

/** IEEE binary16 → number, by the definition: (-1)^s · 2^(e-15) · (1 + m/1024), subnormals 2^-14 · m/1024. */
function half(h: number): number {
  const s = h >> 15 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return e === 0 ? s * 2 ** -14 * (m / 1024) : s * 2 ** (e - 15) * (1 + m / 1024);
}

/** docs/frame-format.md, "Decoding: checks, in order". */
function oracleDecode(b: Uint8Array, limits: Limits = {}, exp: Expect = {}): Verdict {
  const maxBytes = limits.maxBytes ?? 64 * 2 ** 20,
    maxRank = limits.maxRank ?? 4;
  const maxDim = limits.maxDim ?? 2 ** 24,
    maxElements = limits.maxElements ?? 2 ** 24;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (o: number) => dv.getUint32(o, true);
  if (b.length > maxBytes) return reject("FrameTooLargeError", "length", b.length, maxBytes);
  if (b.length < 36) return reject("FrameError", "length", b.length, 36);
  if (b[0] !== 0x50 || b[1] !== 0x53 || b[2] !== 0x46 || b[3] !== 0x52)
    return reject(
      "FrameError",
      "magic",
      Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, "0")).join(" "),
    );
  if (b[4] !== 1) return reject("FrameError", "version", b[4]!);
  if (b[5]! > 2) return reject("FrameError", "dtype", b[5]!);
  if (b[6]! > 2) return reject("FrameError", "kind", b[6]!);
  const rank = b[7]!;
  if (rank < 1 || rank > maxRank) return reject("FrameError", "rank", rank, maxRank);
  const headerLength = u32(8);
  if (headerLength !== 32 + 4 * rank) return reject("FrameError", "headerLength", headerLength, 32 + 4 * rank);
  if (b.length < headerLength + 4) return reject("FrameError", "length", b.length, headerLength + 4);
  const shape = Array.from({ length: rank }, (_, i) => u32(32 + 4 * i));
  let n = 1;
  for (const [i, d] of shape.entries()) {
    // each dimension in turn: ≥ 1, then ≤ maxDim and the running product (docs/frame-format.md)
    if (d < 1) return reject("FrameError", "dims", i);
    if (d > maxDim) return reject("FrameTooLargeError", "dims", d, maxDim);
    n *= d;
    if (n > maxElements) return reject("FrameTooLargeError", "dims", maxElements);
  }
  const dtype = DTYPES[b[5]!]!,
    kind = KINDS[b[6]!]!;
  const payloadLength = u32(28);
  if (payloadLength !== n * SIZE[dtype]) return reject("FrameError", "payloadLength", n * SIZE[dtype], payloadLength);
  const total = headerLength + payloadLength + 4;
  if (b.length < total) return reject("FrameError", "length", b.length, total);
  if (b.length > total) return reject("FrameError", "trailing", b.length - total, total);
  const stored = u32(total - 4),
    actual = zlibCrc32(b.subarray(0, total - 4));
  if (stored !== actual)
    return reject(
      "FrameError",
      "checksum",
      `0x${actual.toString(16).padStart(8, "0")}`,
      `0x${stored.toString(16).padStart(8, "0")}`,
    );
  const scale = dv.getFloat32(24, true);
  // int8: finite, ≥ +0 and not −0 (the encoder never writes one), 127·scale finite; f32/f16: +0
  const scaleOk =
    dtype === "int8"
      ? scale >= 0 && !Object.is(scale, -0) && Number.isFinite(Math.fround(127 * scale))
      : Object.is(scale, 0);
  if (!scaleOk) return reject("FrameError", "scale", scale);
  const splitId = u32(12);
  const modelHash = Array.from(b.subarray(16, 24), (x) => x.toString(16).padStart(2, "0")).join("");
  if (exp.modelHash !== undefined && exp.modelHash.toLowerCase() !== modelHash)
    return reject("FrameMismatchError", "modelHash", exp.modelHash.toLowerCase(), modelHash);
  if (exp.splitId !== undefined && exp.splitId !== splitId)
    return reject("FrameMismatchError", "splitId", exp.splitId, splitId);
  if (exp.kind !== undefined && exp.kind !== kind) return reject("FrameMismatchError", "kind", exp.kind, kind);
  const data = new Float32Array(n);
  const allow = limits.nonFinite === "allow";
  for (let i = 0; i < n; i++) {
    const at = headerLength + i * SIZE[dtype];
    let v: number;
    if (dtype === "f32") v = dv.getFloat32(at, true);
    else if (dtype === "f16") v = half(dv.getUint16(at, true));
    else {
      const q = dv.getInt8(at);
      if (q === -128 || (scale === 0 && q !== 0)) return reject("FrameError", "payload", i);
      v = q * scale;
    }
    if (!allow && !Number.isFinite(v)) return reject("FrameError", "payload", i);
    data[i] = v;
  }
  return { ok: { data, shape, dtype, kind, splitId, modelHash, scale } };
}

function actual(b: Uint8Array, limits?: Limits, exp?: Expect): Verdict | { other: unknown } {
  try {
    return { ok: decodeFrame(b, limits, exp) };
  } catch (e) {
    if (!(e instanceof FrameError)) return { other: e };
    const error =
      e instanceof FrameTooLargeError
        ? "FrameTooLargeError"
        : e instanceof FrameMismatchError
          ? "FrameMismatchError"
          : "FrameError";
    return { rejected: { error, field: e.field, shows: [e.message, e.reason, e.format] } };
  }
}

// the docs' table gives each refusal a reason (and the server a status: 400, 413, 409)
const REASON = { FrameError: "malformed", FrameTooLargeError: "too_large", FrameMismatchError: "mismatch" };

/** decodeFrame agrees with the oracle: same values, or the same class, field, reason and the numbers in its message. */
function agree(b: Uint8Array, limits?: Limits, exp?: Expect, seen?: Map<string, number>): void {
  const want = oracleDecode(b, limits, exp);
  const key = "ok" in want ? "ok" : `${want.rejected.error} ${want.rejected.field}`;
  seen?.set(key, (seen.get(key) ?? 0) + 1);
  const got = actual(b, limits, exp);
  if ("other" in got) throw got.other;
  if ("ok" in want) {
    expect(
      "ok" in got,
      "ok" in got
        ? ""
        : `decodeFrame rejected a frame the docs accept: ${"rejected" in got ? got.rejected.shows[0] : ""}`,
    ).toBe(true);
    const { data, ...rest } = (got as { ok: Decoded }).ok;
    const { data: wantData, ...wantRest } = want.ok;
    expect(rest).toEqual(wantRest);
    expect(data.length).toBe(wantData.length);
    for (let i = 0; i < data.length; i++)
      if (!Object.is(data[i], wantData[i])) expect(data[i], `element ${i}`).toBe(wantData[i]);
    return;
  }
  expect("rejected" in got, `decodeFrame accepted a frame the docs reject at ${want.rejected.field}`).toBe(true);
  const r = (got as { rejected: Rejected }).rejected;
  const [message, status, format] = r.shows;
  expect([r.error, r.field, format, status]).toEqual([
    want.rejected.error,
    want.rejected.field,
    "frame",
    REASON[want.rejected.error],
  ]);
  expect(message!.startsWith(`frame: ${want.rejected.field}: `), message).toBe(true);
  for (const s of want.rejected.shows) expect(message, `the message shows ${s}`).toContain(s);
}

// ---- generators ----

const hashArb = fc
  .uint8Array({ minLength: 8, maxLength: 8 })
  .map((a) => Array.from(a, (x) => x.toString(16).padStart(2, "0")).join(""));
const shapeArb = fc
  .integer({ min: 1, max: 4 })
  .chain((rank) => fc.array(fc.integer({ min: 1, max: 5 }), { minLength: rank, maxLength: rank }));
const valueArb = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true, min: -60000, max: 60000 }),
  fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e-6), max: Math.fround(1e-6) }),
  fc.constantFrom(0, -0, 1, -1, 0.5, 65504, -65504),
);
const inputArb = fc
  .record({
    shape: shapeArb,
    dtype: fc.constantFrom(...DTYPES),
    kind: fc.constantFrom(...KINDS),
    splitId: fc.oneof(fc.nat(10), fc.constant(2 ** 32 - 1)),
    modelHash: hashArb,
    upper: fc.boolean(),
  })
  .chain((r) =>
    fc
      .array(valueArb, { minLength: r.shape.reduce((a, b) => a * b, 1), maxLength: r.shape.reduce((a, b) => a * b, 1) })
      .map((v) => ({ ...r, data: Float32Array.from(v) })),
  );

interface Input {
  data: Float32Array;
  shape: number[];
  dtype: FrameDtype;
  kind: FrameKind;
  splitId: number;
  modelHash: string;
  upper: boolean;
}
const encode = (i: Input) =>
  encodeFrame({
    data: i.data,
    shape: i.shape,
    dtype: i.dtype,
    kind: i.kind,
    splitId: i.splitId,
    modelHash: i.upper ? i.modelHash.toUpperCase() : i.modelHash,
  });

function reseal(b: Uint8Array): Uint8Array {
  const out = b.slice();
  if (out.length >= 4)
    new DataView(out.buffer).setUint32(out.length - 4, zlibCrc32(out.subarray(0, out.length - 4)), true);
  return out;
}

type Edit = (b: Uint8Array) => Uint8Array;
const u32Arb = fc.oneof(
  fc.nat(300),
  fc.constantFrom(0, 1, 2 ** 16, 2 ** 24, 2 ** 24 + 1, 2 ** 31, 2 ** 32 - 1),
  fc.nat({ max: 2 ** 32 - 1 }),
);
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fc.constantFrom(0, 3, 4, 5, 6, 7), fc.integer({ min: 0, max: 255 })).map(([o, v]) => (b: Uint8Array) => {
    const c = b.slice();
    c[o] = v;
    return c;
  }),
  fc.tuple(fc.constantFrom(8, 12, 16, 20, 24, 28, 32, 36, 40, 44), u32Arb).map(([o, v]) => (b: Uint8Array) => {
    const c = b.slice();
    if (o + 4 <= c.length) new DataView(c.buffer).setUint32(o, v >>> 0, true);
    return c;
  }),
  fc
    .tuple(fc.constantFrom(24), fc.constantFrom(-0, -1, NaN, Infinity, 3e38, 2 ** -149, 1))
    .map(([o, v]) => (b: Uint8Array) => {
      const c = b.slice();
      if (o + 4 <= c.length) new DataView(c.buffer).setFloat32(o, v, true);
      return c;
    }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([o, v]) => (b: Uint8Array) => {
    const c = b.slice();
    c[o % c.length] = v;
    return c;
  }),
  fc.tuple(fc.nat(), fc.constantFrom(0x80, 0x7c, 0x7e, 0xff, 0x00, 0x01)).map(([o, v]) => (b: Uint8Array) => {
    const c = b.slice();
    const p = 36 + (o % Math.max(1, c.length - 40));
    if (p < c.length) c[p] = v;
    return c;
  }),
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity), fc.boolean())
      .map(([k, v, half]) => (b: Uint8Array) => {
        // a non-finite payload element at an element boundary, as float32 or binary16
        const c = b.slice();
        const header = 32 + 4 * (c[7] ?? 0),
          size = half ? 2 : 4;
        const at = header + size * (k % Math.max(1, Math.floor((c.length - 4 - header) / size)));
        if (at + 4 <= c.length - 4)
          half
            ? new DataView(c.buffer).setUint16(at, Number.isNaN(v) ? 0x7e01 : v > 0 ? 0x7c00 : 0xfc00, true)
            : new DataView(c.buffer).setFloat32(at, v, true);
        return c;
      }),
  },
  fc.nat(3).map((i) => (b: Uint8Array) => {
    // a zero dimension
    const c = b.slice();
    if (i < (c[7] ?? 0) && 36 + 4 * i <= c.length) new DataView(c.buffer).setUint32(32 + 4 * i, 0, true);
    return c;
  }),
  fc.nat().map((n) => (b: Uint8Array) => b.slice(0, n % (b.length + 1))),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((x) => (b: Uint8Array) => {
    const c = new Uint8Array(b.length + x.length);
    c.set(b);
    c.set(x, b.length);
    return c;
  }),
);

/** Limits around the frame's own sizes, so each one is met exactly, missed by one, or not binding. */
const limitsArb = (b: Uint8Array, n: number, maxd: number, rank: number): fc.Arbitrary<Limits | undefined> =>
  fc.option(
    fc.record(
      {
        maxBytes: fc.constantFrom(b.length, b.length - 1, b.length + 1, 2 ** 26).filter((x) => x >= 1),
        maxRank: fc.constantFrom(rank, Math.max(1, rank - 1), 4),
        maxDim: fc.constantFrom(maxd, Math.max(1, maxd - 1), 2 ** 32 - 1),
        maxElements: fc.constantFrom(n, Math.max(1, n - 1), Number.MAX_SAFE_INTEGER),
        nonFinite: fc.constantFrom<"reject" | "allow">("reject", "allow"),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  );

const expectArb = (hash: string, splitId: number, kind: FrameKind): fc.Arbitrary<Expect | undefined> =>
  fc.option(
    fc.record(
      {
        modelHash: fc.oneof(fc.constant(hash), fc.constant(hash.toUpperCase()), hashArb),
        splitId: fc.constantFrom(splitId, splitId + 1),
        kind: fc.constantFrom(kind, ...KINDS),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  );

const caseArb = inputArb.chain((input) => {
  const bytes = encode(input);
  const n = input.data.length;
  return fc.record({
    input: fc.constant(input),
    bytes: fc.constant(bytes),
    edits: fc.array(editArb, { maxLength: 3 }),
    resealed: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    limits: limitsArb(bytes, n, Math.max(...input.shape), input.shape.length),
    expect: expectArb(input.modelHash, input.splitId, input.kind),
  });
});

// ---- properties ----

describe("the frame decoder against an oracle written from docs/frame-format.md", () => {
  it("every frame encodeFrame writes is laid out as the docs say and decodes to the oracle's values", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const b = encode(input);
        const want = oracleDecode(b);
        if (!("ok" in want)) throw new Error(`the oracle rejects an encoded frame at ${want.rejected.field}`);
        expect([want.ok.shape, want.ok.dtype, want.ok.kind, want.ok.splitId, want.ok.modelHash]).toEqual([
          input.shape,
          input.dtype,
          input.kind,
          input.splitId,
          input.modelHash,
        ]);
        expect(b.length).toBe(32 + 4 * input.shape.length + input.data.length * SIZE[input.dtype] + 4);
        if (input.dtype === "int8") {
          // scale: the smallest float32 with 127 · scale ≥ max|x|; q = round(x / scale) in [-127, 127]
          const maxabs = input.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const s = want.ok.scale;
          if (maxabs === 0) expect(s).toBe(0);
          else {
            expect(127 * s).toBeGreaterThanOrEqual(maxabs);
            const below = new Float32Array([s]);
            new Uint32Array(below.buffer)[0]! -= 1;
            expect(127 * below[0]!).toBeLessThan(maxabs);
            const q = new Int8Array(b.buffer, b.byteOffset + 32 + 4 * input.shape.length, input.data.length);
            q.forEach((c, i) => expect(Math.abs(c - input.data[i]! / s)).toBeLessThanOrEqual(0.5));
          }
        } else {
          expect(Object.is(want.ok.scale, 0)).toBe(true);
          if (input.dtype === "f32") input.data.forEach((v, i) => expect(Object.is(want.ok.data[i], v)).toBe(true));
          // f16: round to nearest (no other half is closer)
          else
            input.data.forEach((v, i) =>
              expect(Math.abs(want.ok.data[i]! - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25)),
            );
        }
        agree(b);
      }),
      { numRuns: 300 },
    );
  });

  it(
    "on edited, truncated and extended frames, " + "with limits at and around the frame's sizes and any expectation",
    () => {
      const seen = new Map<string, number>();
      fc.assert(
        fc.property(caseArb, ({ bytes, edits, resealed, limits, expect: exp }) => {
          let b = edits.reduce((x, e) => e(x), bytes);
          if (resealed) b = reseal(b);
          agree(b, limits, exp, seen);
        }),
        { numRuns: 3000 },
      );
      // the runs reached every row of the docs' table, and acceptance
      const rows = [
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
      // (each is reached 20 times or more in a run of 3000; a category that a run misses is a generator to widen)
      expect([...seen.keys()].sort()).toEqual(
        [
          ...rows.map((f) => `FrameError ${f}`),
          "FrameMismatchError kind",
          "FrameMismatchError modelHash",
          "FrameMismatchError splitId",
          "FrameTooLargeError dims",
          "FrameTooLargeError length",
          "ok",
        ].sort(),
      );
    },
  );

  it("on random bytes behind a valid magic and version, resealed", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 36, maxLength: 120 }),
        fc.integer({ min: 0, max: 4 }),
        fc.nat(120),
        (raw, rank, payload) => {
          const b = raw.slice();
          b.set([0x50, 0x53, 0x46, 0x52, 1], 0);
          b[5]! %= 3;
          b[6]! %= 3;
          b[7] = rank;
          const dv = new DataView(b.buffer);
          dv.setUint32(8, 32 + 4 * rank, true);
          dv.setUint32(28, payload, true);
          agree(reseal(b), { nonFinite: "allow" });
          agree(reseal(b));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it(
    "the dims are checked one at a time, in order: a zero dimension is malformed (400) before a later " +
      "oversized one, and an oversized one is too large (413) before a later zero",
    () => {
      for (const [dims, error] of [
        [[0, 2 ** 25], "FrameError"],
        [[2 ** 25, 0], "FrameTooLargeError"],
      ] as const) {
        const b = encodeFrame({
          data: new Float32Array(2),
          shape: [1, 2],
          dtype: "f32",
          kind: "activation",
          splitId: 0,
          modelHash: "0123456789abcdef",
        });
        const dv = new DataView(b.buffer);
        dv.setUint32(32, dims[0], true);
        dv.setUint32(36, dims[1], true);
        const r = actual(reseal(b));
        expect("rejected" in r && [r.rejected.error, r.rejected.field]).toEqual([error, "dims"]);
        agree(reseal(b));
      }
    },
  );
});
