// Model files: a bit-exact round trip, and distrust on read — every corrupted, truncated, extended or edited
// file is rejected with a typed error (FormatError, or ValidationError for a path that is not a file).
import fc from "fast-check";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { I32Buffer, Matrix } from "../src/engine/buffers.js";
import type { Engine } from "../src/engine/engine.js";
import { FormatError, PresparseError, ValidationError } from "../src/engine/errors.js";
import { Rng } from "../src/engine/random.js";
import { decodeModel, encodeModel, hashModel, modelSpec, modelTensors } from "../src/io/model_io.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../src/io/safetensors.js";
import { buildModel as buildArch } from "../src/nn/arch.js";
import type { Layer } from "../src/nn/layers/layer.js";
import { SparseLinear } from "../src/nn/layers/sparse_linear.js";
import { Model, type Exit } from "../src/nn/model.js";
import { Sgd } from "../src/nn/optimizers.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { loadModel, saveModel } from "../src/node/index.js";
import { encodeLayer } from "../src/io/model_io.js";
import { fixedDegrees, getEngine } from "./helpers/engine.js";
import { modelRefusal, outcome } from "./helpers/model_files.js";

// ---------------------------------------------------------------- models to save

interface ModelRecipe {
  sizes: number[];
  kinds: ("fixedDegree" | "random" | "dense")[];
  exitAfter: number[];
  exitWeights: number[];
  finalWeight: number;
  seed: number;
  special: boolean;
}

const modelArb: fc.Arbitrary<ModelRecipe> = fc.integer({ min: 1, max: 3 }).chain((layers) =>
  fc.record({
    sizes: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: layers + 1, maxLength: layers + 1 }),
    kinds: fc.array(fc.constantFrom("fixedDegree" as const, "random" as const, "dense" as const), {
      minLength: layers,
      maxLength: layers,
    }),
    exitAfter: fc.subarray(Array.from({ length: layers - 1 }, (_, i) => i)),
    exitWeights: fc.array(fc.constantFrom(0, 0.3, 1, 2.5), { minLength: 2, maxLength: 2 }),
    finalWeight: fc.constantFrom(1, 0.3),
    seed: fc.nat(),
    special: fc.boolean(),
  }),
);

/** Float32 values that stress a bit-exact copy: −0, subnormals, the largest finite ones (files hold no NaN or ±∞). */
function specialValues(n: number, rng: Rng): Float32Array {
  const bits = new Uint32Array(n);
  const pool = [0x80000000, 0x00000001, 0x807fffff, 0x7f7fffff, 0xff7fffff, 0x00800000, 0x80000001];
  for (let i = 0; i < n; i++) {
    let b = rng.next() < 0.5 ? pool[rng.int(pool.length)]! : (rng.next() * 2 ** 32) >>> 0;
    if ((b & 0x7f800000) === 0x7f800000) b &= 0xff7fffff; // an exponent of all ones is ±∞ or NaN: make it finite
    bits[i] = b;
  }
  return new Float32Array(bits.buffer);
}

function buildModel(engine: Engine, r: ModelRecipe): Model {
  const rng = new Rng(r.seed);
  const pattern = (inputs: number, outputs: number, kind: ModelRecipe["kinds"][number], seed: number) => {
    if (kind === "dense") return Pattern.dense(inputs, outputs);
    if (kind === "random") return Pattern.random(inputs, outputs, 0.4, seed);
    const d = fixedDegrees(inputs, outputs);
    return Pattern.fixedDegree(inputs, outputs, d[seed % d.length]!, seed);
  };
  const layer = (p: Pattern, activation: "relu" | "linear", seed: number) => {
    const opts = r.special
      ? { values: specialValues(p.nnz, rng), bias: specialValues(p.outputs, rng) }
      : { seed, biasInit: rng.next() - 0.5 };
    return new SparseLinear(engine, p, { activation, ...opts });
  };
  const L = r.sizes.length - 1;
  const classes = r.sizes[L]!;
  const trunk = r.kinds.map((k, i) =>
    layer(pattern(r.sizes[i]!, r.sizes[i + 1]!, k, r.seed + i), i < L - 1 ? "relu" : "linear", r.seed + i),
  );
  const exits: Exit[] = r.exitAfter.map((after, e) => ({
    after,
    weight: r.exitWeights[e]!,
    layers: [layer(pattern(r.sizes[after + 1]!, classes, r.kinds[e]!, r.seed + 50 + e), "linear", r.seed + 50 + e)],
  }));
  return new Model(engine, trunk, exits, { finalWeight: r.finalWeight });
}

function layersOf(m: Model): SparseLinear[] {
  return [...m.trunk, ...m.exits.flatMap((e) => e.layers)].map((l: Layer) => {
    if (!(l instanceof SparseLinear)) throw new Error("expected SparseLinear layers");
    return l;
  });
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Every classifier's logits for the same inputs. */
function predictions(m: Model, x: Float32Array, B: number): Float32Array[] {
  const X = Matrix.from(m.engine, m.inputSize, B, x);
  try {
    return m.forwardAll(X).map((z) => z.toArray());
  } finally {
    X.dispose();
  }
}

/** Asserts that b is a bit-for-bit copy of a: architecture, patterns, weights, biases and predictions. */
function expectSameModel(a: Model, b: Model): void {
  expect(b.classes).toBe(a.classes);
  expect(b.finalWeight).toBe(a.finalWeight);
  expect(b.inputShape).toEqual(a.inputShape);
  expect(b.exits.map((e) => [e.after, e.weight, e.layers.length])).toEqual(
    a.exits.map((e) => [e.after, e.weight, e.layers.length]),
  );
  const la = layersOf(a),
    lb = layersOf(b);
  expect(lb.length).toBe(la.length);
  la.forEach((x, i) => {
    const y = lb[i]!;
    expect(y.activation).toBe(x.activation);
    expect(y.pattern.hash).toBe(x.pattern.hash);
    expect(y.pattern.rowPtr).toEqual(x.pattern.rowPtr);
    expect(y.pattern.colIdx).toEqual(x.pattern.colIdx);
    expect(bits(y.weights.values.toArray())).toEqual(bits(x.weights.values.toArray()));
    expect(bits(y.bias.toArray())).toEqual(bits(x.bias.toArray()));
  });
  const B = 5;
  const x = Float32Array.from({ length: a.inputSize * B }, (_, i) => Math.sin(i + 1));
  const pa = predictions(a, x, B),
    pb = predictions(b, x, B);
  pa.forEach((z, k) => expect(computedBits(pb[k]!)).toEqual(computedBits(z)));
}

/**
 * Bits of computed values, every NaN as the canonical one. WebAssembly leaves the payload of a NaN that arithmetic
 * produces unspecified, and V8's baseline and optimizing tiers pick differently (a model of NaN weights gives other
 * NaN bits once its kernels tier up mid-run), so outputs compare as NaN where NaN and bit for bit elsewhere. Stored
 * weights and biases are compared as they are, payloads included.
 */
function computedBits(a: Float32Array): Uint32Array {
  return bits(a.map((v) => (Number.isNaN(v) ? NaN : v)));
}

// ---------------------------------------------------------------- byte-level editing of a file

interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The header JSON of a safetensors file and where its data region starts. */
function header(bytes: Uint8Array): { json: Record<string, unknown>; dataStart: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>,
    dataStart: 8 + n,
  };
}

/** [begin, end) of a tensor's bytes within the file. */
function tensorBytes(bytes: Uint8Array, name: string): [number, number] {
  const { json, dataStart } = header(bytes);
  const info = json[name] as TensorInfo | undefined;
  if (!info) throw new Error(`no tensor ${name}`);
  return [dataStart + info.data_offsets[0], dataStart + info.data_offsets[1]];
}

/** The same data region under an edited header (re-padded to a multiple of 8). */
function withHeader(bytes: Uint8Array, edit: (json: Record<string, unknown>) => void): Uint8Array {
  const { json, dataStart } = header(bytes);
  edit(json);
  const text = new TextEncoder().encode(JSON.stringify(json));
  const n = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + n + bytes.length - dataStart).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(text, 8);
  out.set(bytes.subarray(dataStart), 8 + n);
  return out;
}

/** The file with its architecture record edited. */
function withSpec(bytes: Uint8Array, edit: (spec: Record<string, any>) => void): Uint8Array {
  return withHeader(bytes, (json) => {
    const meta = json.__metadata__ as Record<string, string>;
    const spec = JSON.parse(meta.presparse!) as Record<string, any>;
    edit(spec);
    meta.presparse = JSON.stringify(spec);
  });
}

/** The file re-encoded with its tensors edited (metadata kept). */
function withTensors(bytes: Uint8Array, edit: (t: Record<string, SafeTensor>) => void): Uint8Array {
  const file = decodeSafetensors(bytes, { copy: true });
  const tensors = Object.fromEntries(file.tensors);
  edit(tensors);
  return encodeSafetensors(tensors, file.metadata);
}

/** A copy with little-endian int32 `v` written at byte `at`. */
function withI32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setInt32(at, v, true);
  return out;
}

/** Every tensor's bytes of a model, in name order. */
function modelTensorsBytes(model: Model): Uint8Array {
  const parts = Object.entries(modelTensors(model))
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A copy with the little-endian column index `v` (4 bytes as I32, 2 as U16) written at byte `at`. */
function withIndex(bytes: Uint8Array, width: 2 | 4, at: number, v: number): Uint8Array {
  const out = bytes.slice();
  if (width === 4) new DataView(out.buffer).setInt32(at, v, true);
  else new DataView(out.buffer).setUint16(at, v, true);
  return out;
}

/** Decodes, disposes, and returns the error (or undefined when the file loaded). */
const rejects = (
  engine: Engine,
  bytes: Uint8Array,
  field: RegExp | string,
  detail?: RegExp,
  what = String(field),
): FormatError => modelRefusal(engine, bytes, field, { detail, what });

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- the tests

let engine: Engine;
/** The paper's network with an exit after the first hidden layer, trained a few steps (biases no longer 0.1). */
let paper: Model;
let paperBytes: Uint8Array;
let dir: string;

beforeAll(async () => {
  engine = await getEngine();
  paper = Model.mlp(engine, {
    sizes: [800, 40, 40, 10],
    outDegrees: [2, 9, 10],
    seed: 3,
    exits: [{ after: 0, weight: 1 }],
    finalWeight: 0.3,
  });
  const X = new Matrix(engine, 800, 16),
    labels = I32Buffer.from(
      engine,
      Array.from({ length: 16 }, (_, i) => i % 10),
    );
  X.view().forEach((_, i, d) => (d[i] = (i % 7) / 7));
  const opt = new Sgd({ lr: 0.05 });
  for (let s = 0; s < 3; s++) paper.trainStep(X, labels, opt);
  X.dispose();
  labels.dispose();
  opt.dispose();
  paperBytes = encodeModel(paper, { extra: { note: "test" } }).bytes;
  dir = await mkdtemp(join(tmpdir(), "presparse-model-io-"));
});

afterAll(async () => {
  paper?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("model files round trip", () => {
  it("decode(encode(model)) is the same model bit for bit, and re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(modelArb, (r) => {
        const before = engine.stats().liveBytes;
        const model = buildModel(engine, r);
        try {
          const { bytes, hash } = encodeModel(model, { extra: { recipe: r.seed } });
          const loaded = decodeModel(engine, bytes);
          try {
            expectSameModel(model, loaded.model);
            expect(loaded.hash).toBe(hash);
            expect(hash).toMatch(/^[0-9a-f]{16}$/);
            expect(hash).toBe(hashModel(modelSpec(model), modelTensors(model)));
            expect(loaded.spec).toEqual(modelSpec(model, { recipe: r.seed }));
            expect(sameBytes(encodeModel(loaded.model, { extra: { recipe: r.seed } }).bytes, bytes)).toBe(true);
          } finally {
            loaded.model.dispose();
          }
        } finally {
          model.dispose();
        }
        expect(engine.stats().liveBytes).toBe(before);
      }),
      { numRuns: 40 },
    );
  });

  it("the hash names architecture and weights, not the extras", () => {
    const a = encodeModel(paper).hash;
    expect(encodeModel(paper, { extra: { policy: "maxprob:0.9" } }).hash).toBe(a);
    const v = layersOf(paper)[1]!.weights.values;
    const old = v.view()[5]!;
    v.view()[5] = old + 1;
    try {
      expect(encodeModel(paper).hash).not.toBe(a);
    } finally {
      v.view()[5] = old;
    }
    expect(encodeModel(paper).hash).toBe(a);
  });

  it("loads from Node Buffers at any byteOffset, and keeps no view of them", () => {
    for (const offset of [0, 1, 3, 4, 8, 13]) {
      const big = Buffer.alloc(offset + paperBytes.length + 7, 0xee);
      big.set(paperBytes, offset);
      const buf = big.subarray(offset, offset + paperBytes.length);
      expect(buf.byteOffset).toBe(offset);
      const loaded = decodeModel(engine, buf);
      try {
        expectSameModel(paper, loaded.model);
        // the model owns copies: scribbling over the buffer afterwards changes nothing
        big.fill(0);
        expectSameModel(paper, loaded.model);
      } finally {
        loaded.model.dispose();
      }
    }
    // a small Buffer.from lands in Node's shared pool at a non-zero offset
    const small = Model.mlp(engine, { sizes: [4, 3, 2], outDegrees: [3, 2], seed: 1 });
    try {
      const pooled = Buffer.from(encodeModel(small).bytes);
      const loaded = decodeModel(engine, pooled);
      expectSameModel(small, loaded.model);
      loaded.model.dispose();
    } finally {
      small.dispose();
    }
  });

  it("saveModel / loadModel: the file is the encoded bytes; bad paths are typed errors", async () => {
    const path = join(dir, "paper.safetensors");
    const saved = await saveModel(paper, path, { extra: { note: "test" } });
    expect(saved.bytes).toBe(paperBytes.length);
    expect((await stat(path)).size).toBe(paperBytes.length);
    const loaded = await loadModel(engine, path);
    try {
      expectSameModel(paper, loaded.model);
      expect(loaded.hash).toBe(saved.hash);
      expect(loaded.spec.extra).toEqual({ note: "test" });
    } finally {
      loaded.model.dispose();
    }
    await expect(loadModel(engine, join(dir, "missing.safetensors"))).rejects.toThrow(ValidationError);
    await expect(loadModel(engine, join(dir, "missing.safetensors"))).rejects.toThrow(/ENOENT/);
    await expect(loadModel(engine, dir)).rejects.toThrow(/not a file/);
    const bad = join(dir, "bad.safetensors");
    await writeFile(bad, paperBytes.subarray(0, 1000));
    const e = await loadModel(engine, bad).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toContain(bad);
  });
});

describe("model files are distrusted on read", () => {
  it("any truncation is a FormatError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: paperBytes.length - 1 }), (n) => {
        expect(outcome(engine, paperBytes.subarray(0, n))).toBeInstanceOf(FormatError);
      }),
      { numRuns: 80 },
    );
    for (const n of [0, 7, 8, paperBytes.length - 1])
      expect(outcome(engine, paperBytes.subarray(0, n))).toBeInstanceOf(FormatError);
  });

  it("any extension is a FormatError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (extra) => {
        const out = new Uint8Array(paperBytes.length + extra.length);
        out.set(paperBytes);
        out.set(extra, paperBytes.length);
        rejects(engine, out, "data", /data region has/);
      }),
      { numRuns: 30 },
    );
  });

  it("an oversized or overlong header length is a FormatError before anything is read", () => {
    for (const n of [2n ** 63n, 200_000_000n, BigInt(paperBytes.length)]) {
      const out = paperBytes.slice();
      new DataView(out.buffer).setBigUint64(0, n, true);
      rejects(engine, out, "header length");
    }
  });

  it("a flipped bit anywhere in the data region is rejected; in the header it is rejected or changes no tensor", () => {
    const { dataStart } = header(paperBytes);
    const patterns = layersOf(paper).map((l) => l.pattern.hash);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: dataStart * 8 - 1 }),
          fc.integer({ min: dataStart * 8, max: paperBytes.length * 8 - 1 }),
        ),
        (bit) => {
          const out = paperBytes.slice();
          out[bit >> 3]! ^= 1 << (bit & 7);
          const byte = bit >> 3;
          let loaded;
          try {
            loaded = decodeModel(engine, out);
          } catch (e) {
            expect(e).toBeInstanceOf(PresparseError);
            return;
          }
          try {
            // weights and connections are covered by the tensors checksum: only a header byte that no check reads
            // (e.g. padding, or a digit of the model hash or an exit weight) can change and still load
            expect(byte).toBeLessThan(dataStart);
            expect(layersOf(loaded.model).map((l) => l.pattern.hash)).toEqual(patterns);
            expect(sameBytes(modelTensorsBytes(loaded.model), modelTensorsBytes(paper))).toBe(true);
          } finally {
            loaded.model.dispose();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a changed weight is caught by the tensors checksum, naming it", () => {
    const [v] = tensorBytes(paperBytes, "trunk.0.values");
    const out = paperBytes.slice();
    out[v + 5]! ^= 0x10;
    rejects(engine, out, "__metadata__.tensors_crc32", /tensors checksum [0-9a-f]{8}, the file says [0-9a-f]{8}/);
  });

  it("row_ptr / col_idx bytes that break a CSR invariant are rejected, with I32 or U16 column indices", () => {
    const [rp] = tensorBytes(paperBytes, "trunk.1.row_ptr");
    const cases: [Uint8Array, RegExp][] = [
      [withI32(paperBytes, rp, 1), /rowPtr\[0\] must be 0/],
      [withI32(paperBytes, rp + 4 * 5, 1), /not monotone/],
      [withI32(paperBytes, rp + 4 * 40, 359), /rowPtr\[40\] = 359/],
      [withI32(paperBytes, rp + 4 * 7, 10_000), /exceeds|monotone/],
    ];
    for (const [bytes, message] of cases) rejects(engine, bytes, "trunk.1.pattern", message);
    const u16Bytes = encodeModel(paper, { extra: { note: "test" }, indexDtype: "u16" }).bytes;
    for (const [file, w] of [
      [paperBytes, 4],
      [u16Bytes, 2],
    ] as const) {
      const [ci, ciEnd] = tensorBytes(file, "trunk.1.col_idx");
      const dv = new DataView(file.buffer, file.byteOffset);
      const at = (k: number) => (w === 4 ? dv.getInt32(ci + w * k, true) : dv.getUint16(ci + w * k, true));
      const cases: [Uint8Array, RegExp][] = [
        [withIndex(file, w, ci, 65535), /colIdx\[0\] = 65535 out of range/],
        [withIndex(file, w, ci + w, 40), /colIdx\[1\] = 40 out of range/],
        [withIndex(file, w, ciEnd - w, 0), /not strictly increasing/],
        [withIndex(file, w, ci + w, at(0)), /not strictly increasing/],
      ];
      if (w === 4) cases.push([withIndex(file, w, ci, -1), /colIdx\[0\] = -1 out of range/]);
      for (const [bytes, message] of cases)
        rejects(engine, bytes, "trunk.1.pattern", message, `${w}-byte indices: ${message}`);
      // a valid CSR with other connections: caught by the pattern hash in the architecture record
      const row0 = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(at);
      const free = Array.from({ length: 40 }, (_, c) => c).find((c) => !row0.includes(c) && c > row0[8]!);
      if (free !== undefined)
        rejects(engine, withIndex(file, w, ci + w * 8, free), "trunk.1.patternHash", /tensors hash to/);
    }
  });

  it("edited architecture records are rejected with the field named", () => {
    const cases: [(s: Record<string, any>) => void, RegExp | string, RegExp?][] = [
      [(s) => (s.trunk[1].patternHash = "0123456789abcdef"), "trunk.1.patternHash"],
      [(s) => (s.trunk[0].kind = "conv3d"), "trunk.0.kind", /unknown layer kind "conv3d"/],
      [(s) => (s.exits[0].layers[0].kind = "attention"), "exit.0.0.kind"],
      [(s) => (s.trunk[2].activation = "gelu"), "trunk.2.activation"],
      [(s) => (s.format = "keras"), "presparse.format"],
      [(s) => (s.version = 2), "presparse.version"],
      [(s) => (s.trunk = []), "presparse.trunk"],
      [(s) => (s.exits = {}), "presparse.exits"],
      [(s) => (s.inputShape = [28, 28]), "presparse", /input shape/],
      [(s) => (s.inputShape = [-800]), "presparse.inputShape"],
      [(s) => (s.classes = 11), "presparse.classes"],
      [(s) => (s.trunk[1].inputs = 41), /^trunk\.1\.pattern/],
      [(s) => (s.trunk[0].outputs = 39), /^trunk\.0\.pattern/],
      [(s) => (s.exits[0].after = 2), "presparse", /after/],
      [(s) => (s.exits[0].after = "0"), "presparse", /after/],
      [(s) => (s.exits[0].weight = -1), "presparse", /weight/],
      [(s) => (s.finalWeight = "heavy"), "presparse", /finalWeight|final weight/],
      [(s) => (s.finalWeight = -0.5), "presparse", /finalWeight|final weight/],
      [(s) => s.trunk.push(s.trunk[2]), "trunk.3.values", /tensor missing/],
      [(s) => s.trunk.pop(), /^trunk\.2\./, /not used/],
      [(s) => (s.exits = []), /^exit\.0\.0\./, /not used/],
      [(s) => (s.trunk[0] = null), /presparse\.layers/],
    ];
    cases.forEach(([edit, field, detail], k) =>
      rejects(engine, withSpec(paperBytes, edit), field, detail, `case ${k}: ${edit}`),
    );
    rejects(
      engine,
      withHeader(paperBytes, (j) => delete (j.__metadata__ as Record<string, string>).presparse),
      "__metadata__.presparse",
    );
    rejects(
      engine,
      withHeader(paperBytes, (j) => ((j.__metadata__ as Record<string, string>).presparse = "{trunk:")),
      "__metadata__.presparse",
      /invalid JSON/,
    );
    rejects(
      engine,
      withHeader(paperBytes, (j) => ((j.__metadata__ as Record<string, string>).model_hash = "not a hash")),
      "__metadata__.model_hash",
    );
  });

  it("missing, extra, mistyped and mis-sized tensors are rejected", () => {
    const f32 = (n: number) => ({ dtype: "F32" as const, shape: [n], data: new Float32Array(n) });
    const cases: [(t: Record<string, SafeTensor>) => void, RegExp | string, RegExp?][] = [
      [(t) => delete t["trunk.1.bias"], "trunk.1.bias", /tensor missing/],
      [(t) => delete t["trunk.0.col_idx"], "trunk.0.col_idx", /tensor missing/],
      [(t) => delete t["exit.0.0.values"], "exit.0.0.values", /tensor missing/],
      [(t) => (t["trunk.0.extra"] = f32(3)), "trunk.0.extra", /not used/],
      [(t) => (t["trunk.0.values.copy"] = f32(3)), "trunk.0.values.copy", /not used/],
      [(t) => (t["exit.1.0.values"] = f32(3)), "exit.1.0.values", /not used/],
      [(t) => (t["trunk.0.__proto__"] = f32(3)), "trunk.0.__proto__", /not used/],
      [(t) => (t["trunk.0.constructor"] = f32(3)), "trunk.0.constructor", /not used/],
      [(t) => (t.unrelated = f32(1)), "unrelated", /not used/],
      [
        (t) => (t["trunk.0.values"] = { dtype: "F64", shape: [1600], data: new Float64Array(1600) }),
        "trunk.0.values",
        /dtype F64/,
      ],
      [
        (t) => (t["trunk.0.row_ptr"] = { dtype: "F32", shape: [41], data: new Float32Array(41) }),
        "trunk.0.row_ptr",
        /dtype F32, expected I32/,
      ],
      [
        (t) => (t["trunk.2.values"] = { dtype: "I32", shape: [400], data: new Int32Array(400) }),
        "trunk.2.values",
        /dtype I32, expected F32/,
      ],
      [(t) => (t["trunk.1.values"] = f32(359)), "trunk.1.values", /359 values for nnz 360/],
      [(t) => (t["trunk.1.bias"] = f32(41)), "trunk.1.bias", /41 entries for 40 outputs/],
    ];
    cases.forEach(([edit, field, detail], k) =>
      rejects(engine, withTensors(paperBytes, edit), field, detail, `case ${k}: ${edit}`),
    );
  });

  it("a full layer's size in the metadata must match its stored values before any index is built", () => {
    // trunk.2 is full (40×10), stored without index arrays: only the metadata says how large it is
    const huge = withSpec(paperBytes, (s) =>
      Object.assign(s.trunk[2], { inputs: 46340, outputs: 46340, nnz: 46340 * 46340 }),
    );
    rejects(engine, huge, "trunk.2.values", /400 values for 46340×46340 connections/);
  });

  it("whatever the mutation, decoding either gives a model or throws a PresparseError", () => {
    const { dataStart } = header(paperBytes);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), bits: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("header" as const), at: fc.nat(), bits: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), bits: fc.constant(0) }),
      fc.record({ kind: fc.constant("i32" as const), at: fc.nat(), bits: fc.integer({ min: -2, max: 2000 }) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        let out = paperBytes.slice();
        for (const m of ms) {
          if (out.length === 0) break;
          if (m.kind === "flip") out[m.at % out.length]! ^= m.bits;
          else if (m.kind === "set") out[m.at % out.length] = m.bits;
          else if (m.kind === "header") out[8 + (m.at % Math.max(1, Math.min(dataStart, out.length) - 8))] = m.bits;
          else if (m.kind === "cut") out = out.slice(0, m.at % out.length);
          else if (out.length >= dataStart + 4) {
            const at = dataStart + 4 * (m.at % Math.floor((out.length - dataStart) / 4));
            new DataView(out.buffer).setInt32(at, m.bits, true);
          }
        }
        const e = outcome(engine, out);
        if (e !== undefined && !(e instanceof PresparseError)) throw e;
      }),
      { numRuns: 300 },
    );
  });
});

describe("image model files", () => {
  it("conv and pool layers round-trip; a geometry a layer rejects is a FormatError naming the layer", () => {
    const model = buildArch(engine, "conv:1>4:3x3,maxpool:2,conv:4>6:3x3:deg3,avgpool:2,fc:3", {
      inputShape: [1, 12, 12],
      seed: 5,
    });
    const X = Matrix.from(
      engine,
      144,
      3,
      Float32Array.from({ length: 432 }, (_, i) => Math.cos(i)),
    );
    try {
      const bytes = encodeModel(model).bytes;
      const loaded = decodeModel(engine, bytes).model;
      expect(loaded.trunk.map((l) => l.kind)).toEqual(["conv2d", "maxpool2d", "conv2d", "avgpool2d", "linear"]);
      expect(bits(loaded.forward(X).toArray())).toEqual(bits(model.forward(X).toArray()));
      loaded.dispose();
      const cases: [(s: Record<string, any>) => void, RegExp | string, RegExp?][] = [
        [(s) => (s.trunk[1].k = 11), "trunk.1", /window 11×11 is larger than the input 10×10/],
        [(s) => (s.trunk[1].stride = "2"), "trunk.1.stride", /expected an integer/],
        [(s) => (s.trunk[3].k = 0), "trunk.3", /k must be an integer/],
        [(s) => (s.trunk[3].C = 5), "presparse", /takes 45 features, layer 2 gives 54/],
        [(s) => (s.trunk[0].stride = 0), "trunk.0", /stride must be an integer/],
        [(s) => (s.trunk[2].kh = 9), /^trunk\.2/],
      ];
      cases.forEach(([edit, field, detail], k) =>
        rejects(engine, withSpec(bytes, edit), field, detail, `case ${k}: ${edit}`),
      );
    } finally {
      model.dispose();
      X.dispose();
    }
  });
});

describe("layer clones", () => {
  it("every kind clones to the same record, tensors and outputs in memory of its own", () => {
    const model = buildArch(engine, "conv:1>4:3x3:p1,maxpool:2,conv:4>6:3x3:deg3,avgpool:2,flatten,fc:6:deg3,fc:3", {
      inputShape: [1, 12, 12],
      seed: 2,
    });
    const X = Matrix.from(
      engine,
      144,
      3,
      Float32Array.from({ length: 432 }, (_, i) => Math.sin(i)),
    );
    const clones: Layer[] = [];
    try {
      expect(model.trunk.map((l) => l.kind)).toEqual([
        "conv2d",
        "maxpool2d",
        "conv2d",
        "avgpool2d",
        "flatten",
        "linear",
        "linear",
      ]);
      let h = X;
      for (const l of model.trunk) {
        const c = l.clone();
        clones.push(c);
        expect(c).not.toBe(l);
        expect(encodeLayer(c)).toEqual(encodeLayer(l));
        const want = l.forward(h).toArray();
        // the original's memory is its own: scribbling over its parameters leaves the clone as it was
        for (const p of l.params()) p.values.view().fill(7);
        const out = c.forward(h);
        expect(bits(out.toArray())).toEqual(bits(want));
        h = out;
        c.params().forEach((p, k) => l.params()[k]!.values.view().set(p.values.view()));
      }
    } finally {
      for (const c of clones) c.dispose();
      X.dispose();
      model.dispose();
    }
  });
});
