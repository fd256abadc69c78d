// Model files other tools read, and files written before them: the committed version-1 files (column indices as U16,
// written by the encoder of commit 13a46b4) load to the logits they were written with.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import type { Engine } from "../src/engine/engine.js";
import { FormatError } from "../src/engine/errors.js";
import { decodeModel, encodeModel, type IndexDtype, type LayerSpec, type ModelSpec } from "../src/io/model_io.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../src/io/safetensors.js";
import type { Layer } from "../src/nn/layers/layer.js";
import type { SparseConv2d } from "../src/nn/layers/sparse_conv2d.js";
import { SparseLinear } from "../src/nn/layers/sparse_linear.js";
import { Model } from "../src/nn/model.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { denseWeights, storedIndex } from "./helpers/conv_reference.js";
import { getEngine } from "./helpers/engine.js";
import { cnnModel, paperModel } from "./helpers/reader_models.js";
import { maskedDense } from "./helpers/reference.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** The inputs every fixture's logits were computed on: x[i] = 0.5 + 0.5·sin(i + 1) over [features, batch]. */
function inputs(features: number, batch: number): Float32Array {
  return Float32Array.from({ length: features * batch }, (_, i) => 0.5 + 0.5 * Math.sin(i + 1));
}

/** Every classifier's logits (exits first, then the final one) on the fixtures' inputs. */
function logitsOf(model: Model, batch: number): number[][] {
  const X = Matrix.from(model.engine, model.inputSize, batch, inputs(model.inputSize, batch));
  try {
    return model.forwardAll(X).map((z) => Array.from(z.toArray()));
  } finally {
    X.dispose();
  }
}

/** The file with its architecture record edited (tensors and the rest of the metadata kept). */
function withSpec(bytes: Uint8Array, edit: (spec: Record<string, any>) => void): Uint8Array {
  const file = decodeSafetensors(bytes, { copy: true });
  const spec = JSON.parse(file.metadata.presparse!) as Record<string, any>;
  edit(spec);
  return encodeSafetensors(Object.fromEntries(file.tensors), { ...file.metadata, presparse: JSON.stringify(spec) });
}

interface Fixture {
  bytes: Uint8Array;
  batch: number;
  hash: string;
  logits: number[][];
}

function fixture(name: string): Fixture {
  const want = JSON.parse(readFileSync(`${fixtures}${name}.logits.json`, "utf8")) as Omit<Fixture, "bytes">;
  return { bytes: readFileSync(`${fixtures}${name}.safetensors`), ...want };
}

let engine: Engine;
beforeAll(async () => {
  engine = await getEngine();
});

describe("version-1 model files", () => {
  // v1-mlp: the paper's [800, 40, 40, 10] (2, 9, 10) with a sparse exit head (out-degree 5) after the first hidden
  // layer; v1-cnn: conv, pools, flatten, a sparse and a dense fc, an exit after the first pool. Both trained 3 steps.
  for (const name of ["v1-mlp", "v1-cnn"]) {
    it(`${name} (U16 column indices) loads to the logits it was written with, bit for bit, and keeps its hash`, () => {
      const f = fixture(name);
      const loaded = decodeModel(engine, f.bytes, { source: name });
      try {
        expect(loaded.spec.version).toBe(1);
        expect(loaded.hash).toBe(f.hash);
        expect(logitsOf(loaded.model, f.batch)).toEqual(f.logits);
      } finally {
        loaded.model.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------- files other tools read

/** The architecture record and tensors of a file, read as a foreign reader would (safetensors alone). */
function foreign(bytes: Uint8Array): { spec: ModelSpec; tensors: Map<string, SafeTensor> } {
  const file = decodeSafetensors(bytes, { copy: true });
  return { spec: JSON.parse(file.metadata.presparse!) as ModelSpec, tensors: file.tensors };
}

/** Every weighted layer's record with its tensors, by prefix. */
function weighted(bytes: Uint8Array): { prefix: string; spec: LayerSpec; t: (n: string) => SafeTensor | undefined }[] {
  const { spec, tensors } = foreign(bytes);
  const all = [
    ...spec.trunk.map((l, i) => [`trunk.${i}`, l] as const),
    ...spec.exits.flatMap((e, k) => e.layers.map((l, j) => [`exit.${k}.${j}`, l] as const)),
  ];
  return all
    .filter(([, l]) => l.kind === "linear" || l.kind === "conv2d")
    .map(([prefix, l]) => ({ prefix, spec: l, t: (n: string) => tensors.get(`${prefix}.${n}`) }));
}

/** The dense weight a foreign reader rebuilds from `shape` and `layout` alone: scipy's csr_matrix(...).toarray(). */
function denseFromRecord(spec: LayerSpec, t: (n: string) => SafeTensor | undefined): Float64Array {
  const shape = spec.shape as number[],
    values = t("values")!.data as Float32Array;
  const W = new Float64Array(shape.reduce((a, b) => a * b, 1));
  if (spec.layout === "dense") return Float64Array.from(values);
  const rowPtr = t("row_ptr")!.data as Int32Array,
    colIdx = t("col_idx")!.data as Int32Array | Uint16Array;
  const cols = shape[1]!,
    K = spec.layout === "csr-taps" ? shape[2]! * shape[3]! : 1;
  const mask = t("tap_mask")?.data as Int32Array | undefined;
  let v = 0;
  for (let r = 0; r < shape[0]!; r++) {
    for (let q = rowPtr[r]!; q < rowPtr[r + 1]!; q++) {
      for (let k = 0; k < K; k++) if (!mask || mask[q * K + k]) W[(r * cols + colIdx[q]!) * K + k] = values[v++]!;
    }
  }
  return W;
}

/** A layer's own dense weight [outputs, inputs] or [outC, inC, kh, kw], from the layer object. */
function denseOfLayer(l: Layer): Float64Array {
  if (l instanceof SparseLinear) return maskedDense(l.pattern, l.weights.values.toArray());
  const c = l as SparseConv2d,
    w = c.weights;
  const g = { inC: w.inC, outC: w.outC, H: w.H, W: w.W, kh: w.kh, kw: w.kw, stride: w.stride, padding: w.padding };
  return denseWeights(g, storedIndex(g, c.pattern, w.tapMask), w.values.toArray());
}

function weightedLayers(m: Model): Layer[] {
  return [...m.trunk, ...m.exits.flatMap((e) => e.layers)].filter((l) => l.kind === "linear" || l.kind === "conv2d");
}

/** Bytes of the data region (everything after the header). */
function dataBytes(bytes: Uint8Array): number {
  return bytes.length - 8 - Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

describe("files other tools read", () => {
  let paper: Model, cnn: Model, wide: Model;
  beforeAll(() => {
    paper = paperModel(engine);
    cnn = cnnModel(engine);
    // a layer wider than 16-bit indices reach
    const first = new SparseLinear(engine, Pattern.random(65537, 3, 0.001, 1), { activation: "relu", seed: 1 });
    wide = new Model(engine, [first, new SparseLinear(engine, Pattern.dense(3, 2), { activation: "linear" })]);
  });
  afterAll(() => {
    paper?.dispose();
    cnn?.dispose();
    wide?.dispose();
  });

  it("a file holds only F32 and I32 tensors (which torch 1.13 has), its column indices I32", () => {
    for (const m of [paper, cnn, wide]) {
      const { tensors } = foreign(encodeModel(m).bytes);
      expect(new Set([...tensors.values()].map((t) => t.dtype))).toEqual(new Set(["F32", "I32"]));
      for (const [name, t] of tensors) if (name.endsWith(".col_idx")) expect(t.dtype, name).toBe("I32");
    }
  });

  it('indexDtype "u16" stores U16 where a layer has ≤ 65,536 inputs: 2 B less per connection, same hash', () => {
    const sparseNnz = (m: Model) =>
      weightedLayers(m).reduce(
        (n, l) => n + (l instanceof SparseLinear && l.pattern.nnz < l.inputSize * l.outputSize ? l.pattern.nnz : 0),
        0,
      );
    for (const m of [paper, cnn, wide]) {
      const i32 = encodeModel(m),
        u16 = encodeModel(m, { indexDtype: "u16" });
      expect(u16.hash).toBe(i32.hash);
      const narrow = m === wide ? 0 : sparseNnz(m);
      expect(dataBytes(i32.bytes) - dataBytes(u16.bytes)).toBe(2 * narrow);
      for (const { prefix, spec, t } of weighted(u16.bytes)) {
        if (spec.kind === "linear" && spec.layout === "csr")
          expect(t("col_idx")!.dtype, prefix).toBe((spec.inputs as number) <= 65536 ? "U16" : "I32");
        if (spec.kind === "conv2d") expect(t("col_idx")!.dtype, prefix).toBe("I32");
      }
      const a = decodeModel(engine, i32.bytes),
        b = decodeModel(engine, u16.bytes);
      try {
        expect(b.hash).toBe(a.hash);
        expect(logitsOf(b.model, 3)).toEqual(logitsOf(a.model, 3));
        expect(encodeModel(b.model).bytes).toEqual(i32.bytes);
      } finally {
        a.model.dispose();
        b.model.dispose();
      }
    }
    expect(() => encodeModel(paper, { indexDtype: "i16" as IndexDtype })).toThrow(
      /indexDtype must be i32 or u16, got "i16"/,
    );
  });

  it("each weighted layer records shape and layout, from which alone its dense weight is rebuilt", () => {
    for (const m of [paper, cnn]) {
      const layers = weightedLayers(m);
      const records = weighted(encodeModel(m).bytes);
      expect(records.map((r) => [r.spec.kind, r.spec.layout])).toEqual(
        layers.map((l) => {
          if (l instanceof SparseLinear)
            return ["linear", l.pattern.nnz === l.inputSize * l.outputSize ? "dense" : "csr"];
          return ["conv2d", "csr-taps"];
        }),
      );
      records.forEach(({ prefix, spec, t }, k) => {
        const l = layers[k]!;
        const want =
          l instanceof SparseLinear
            ? [l.outputSize, l.inputSize]
            : [
                (l as SparseConv2d).weights.outC,
                (l as SparseConv2d).weights.inC,
                (l as SparseConv2d).weights.kh,
                (l as SparseConv2d).weights.kw,
              ];
        expect(spec.shape, prefix).toEqual(want);
        expect(Array.from(denseFromRecord(spec, t)), prefix).toEqual(Array.from(denseOfLayer(l)));
      });
    }
    // the exit head, trunk.2 (full) and a CNN's masked conv are all covered
    expect(weighted(encodeModel(paper).bytes).map((r) => r.spec.layout)).toEqual(["csr", "csr", "dense", "csr"]);
  });

  it("a shape or layout that disagrees with the layer is rejected, naming it", () => {
    const bytes = encodeModel(paper).bytes,
      cnnBytes = encodeModel(cnn).bytes;
    const cases: [Uint8Array, string, RegExp][] = [
      [withSpec(bytes, (s) => (s.trunk[1].shape = [40, 41])), "trunk.1.shape", /expected \[40, 40\], got \[40,41\]/],
      [withSpec(bytes, (s) => (s.trunk[0].shape = [800, 40])), "trunk.0.shape", /expected \[40, 800\]/],
      [withSpec(bytes, (s) => (s.trunk[0].shape = "40x800")), "trunk.0.shape", /got "40x800"/],
      [withSpec(bytes, (s) => (s.trunk[2].layout = "csr")), "trunk.2.layout", /expected dense, got "csr"/],
      [withSpec(bytes, (s) => (s.exits[0].layers[0].layout = "dense")), "exit.0.0.layout", /expected csr/],
      [withSpec(cnnBytes, (s) => (s.trunk[2].shape = [6, 4, 9])), "trunk.2.shape", /expected \[6, 4, 3, 3\]/],
      [withSpec(cnnBytes, (s) => (s.trunk[0].layout = "csr")), "trunk.0.layout", /expected csr-taps/],
    ];
    for (const [b, field, message] of cases) {
      const e = (() => {
        try {
          decodeModel(engine, b).model.dispose();
        } catch (x) {
          return x;
        }
      })();
      expect(e, field).toBeInstanceOf(FormatError);
      expect((e as FormatError).field, field).toBe(field);
      expect((e as Error).message, field).toMatch(message);
    }
  });

  it("a version-1 file re-saved has I32 indices and the reader record, and loads to the same logits", () => {
    const f = fixture("v1-mlp");
    const loaded = decodeModel(engine, f.bytes);
    try {
      const resaved = encodeModel(loaded.model, { hash: loaded.hash }).bytes;
      expect(weighted(resaved).every(({ spec, t }) => spec.shape !== undefined && t("col_idx")?.dtype !== "U16")).toBe(
        true,
      );
      const again = decodeModel(engine, resaved);
      expect(logitsOf(again.model, f.batch)).toEqual(f.logits);
      expect(again.hash).toBe(f.hash);
      again.model.dispose();
    } finally {
      loaded.model.dispose();
    }
  });
});

describe("--index-dtype", () => {
  const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "presparse-index-dtype-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("train --save and split write I32 by default and U16 with --index-dtype u16; another value exits 2", () => {
    const i32 = join(dir, "i32.safetensors"),
      u16 = join(dir, "u16.safetensors");
    const base = ["train", "--epochs", "1", "--exits", "1", "-q", "--save"];
    expect(cli([...base, i32]).status).toBe(0);
    expect(cli([...base, u16, "--index-dtype", "u16"]).status).toBe(0);
    const dtypes = (p: string) =>
      new Set([...foreign(readFileSync(p)).tensors].filter(([n]) => n.endsWith("col_idx")).map(([, t]) => t.dtype));
    expect(dtypes(i32)).toEqual(new Set(["I32"]));
    expect(dtypes(u16)).toEqual(new Set(["U16"]));
    expect(readFileSync(i32).length - readFileSync(u16).length).toBeGreaterThanOrEqual(2 * (1600 + 360) - 8);
    const s = cli(["split", "--model", i32, "--after", "1", "--out-dir", join(dir, "split"), "--index-dtype", "u16"]);
    expect(s.status, s.stderr).toBe(0);
    expect(dtypes(join(dir, "split/head.safetensors"))).toEqual(new Set(["U16"]));
    const bad = cli(["train", "--epochs", "1", "-q", "--index-dtype", "i16"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--index-dtype expects i32 or u16, got "i16"/);
  });
});
