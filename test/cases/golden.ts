// The golden checks, written once and run two ways: the Node suite runs them on every supported Node line
// (test/golden_pattern.test.ts, golden_model, golden_frame, golden_safetensors), and the Chromium suite runs the same
// source bundled into a page (test/browser/golden.page.ts) against the same test/golden/golden.json. So nothing here
// imports Node or vitest: each check compares through the `equal` it is given (vitest's toEqual in Node, strictEqual
// below in the page), hashes with Web Crypto (global in Node and in a page from 127.0.0.1), and reads the golden file
// and, for the training run, the embedded digits from whoever runs it.
import type { Engine } from "../../src/engine/engine.js";
import { encodeModel } from "../../src/io/model_io.js";
import { decodeSafetensors, encodeSafetensors, type Dtype, type SafeTensor } from "../../src/io/safetensors.js";
import type { Dataset } from "../../src/nn/dataset.js";
import { Model } from "../../src/nn/model.js";
import { Adam } from "../../src/nn/optimizers.js";
import { train } from "../../src/nn/train.js";
import { Pattern } from "../../src/sparsity/pattern.js";
import { decodeFrame, encodeFrame, frameErrorBound } from "../../src/split/frame.js";

// ---- test/golden/golden.json, computed by test/golden/golden.py without any presparse code ----

export interface GoldenPattern {
  fixedDegree?: [number, number, number, number];
  random?: [number, number, number, number];
  dense?: [number, number];
  csr?: [number, number];
  kind: string;
  inputs: number;
  outputs: number;
  hash: string;
  rowPtrSha256: string;
  colIdxSha256: string;
  firstRow: number[];
  rowPtr?: number[];
  colIdx?: number[];
}

export interface GoldenFrame {
  dtype: "f32" | "f16" | "int8";
  kind: "activation" | "logits" | "probabilities";
  shape: number[];
  splitId: number;
  modelHash: string;
  data: number[];
  scale: number;
  decoded: number[];
  hex: string;
}

export interface GoldenTensor {
  name: string;
  dtype: string;
  shape: number[];
  values: number[];
}

export interface Golden {
  patterns: GoldenPattern[];
  frames: GoldenFrame[];
  safetensors: {
    tensors: GoldenTensor[];
    metadata: Record<string, string>;
    hex: string;
    sha256: string;
    otherWriterHex: string;
    noMetadataHex: string;
  };
}

// ---- snapshots of the current code (no independent script computes He-normal weights or a training run) ----

/** The README's network for seed 0: model hash and file size (I32 indices). */
export const PAPER_MODEL = { hash: "2a40942c60eed000", bytes: 21520, parameters: 2860 };

/** One epoch on the embedded digits: the data it trains on, its losses, and the trained model's hash. */
export const FIRST_EPOCH = {
  /** The training half of "mnist" (split seed 0, 2,000 held out), padded to 800 features. */
  data: {
    n: 8000,
    features: 800,
    classes: 10,
    xSha256: "5fe3e9b1f2a9ec0d4abf57e925a92c84ac2fdc39459d7804b8d9428c41575251",
    ySha256: "88e14f755e748e00b73ec01c71e284ff86eae3a5a9157811d6742aa0414f0516",
  },
  losses: [2.3653414114266633, 2.3167624903023243],
  loss: 3.0603701585173604,
  hash: "2a6a8ce4c8b171e4",
};

// ---- what a runner supplies ----

/** Throws unless `got` equals `want` (deeply, numbers by Object.is); `label` says which value. */
export type Equal = (label: string, got: unknown, want: unknown) => void;

export interface GoldenContext {
  equal: Equal;
  /** The engine the model checks build on. */
  engine: Engine;
  /**
   * The embedded digits' training half, padded to 800 features, as `loadData("mnist", { seed: 0, padTo: 800 })`
   * gives it in Node. src/data reads the digits with node:fs, so a page rebuilds them from the `mnist` package's
   * files as src/data/mnist.ts does; the check pins the result's bytes, so a page that rebuilt them differently fails.
   */
  digits: () => Dataset | Promise<Dataset>;
}

export type GoldenGroup = "patterns" | "model" | "frames" | "safetensors";

/** One golden check: its group (the Node test file that runs it) and name (the test's name in both suites). */
export interface GoldenCheck {
  group: GoldenGroup;
  name: string;
  run(ctx: GoldenContext): void | Promise<void>;
}

// ---- helpers shared by both runners ----

export const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** SHA-256 (hex) of an array's bytes; typed arrays are little-endian on every platform Node and Chromium run on. */
export async function sha256(a: ArrayBufferView): Promise<string> {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
  return toHex(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes)));
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x)) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
};

/** Where `got` first differs from `want`, or undefined: deep over arrays and plain objects, leaves by Object.is. */
function difference(got: unknown, want: unknown, path: string): string | undefined {
  if (Object.is(got, want)) return undefined;
  if (typeof got === "string" && typeof want === "string") {
    // long strings (hex bytes) differ somewhere in the middle: show where
    let i = 0;
    while (i < got.length && i < want.length && got[i] === want[i]) i++;
    const near = (s: string) => `${i > 16 ? "…" : ""}${show(s.slice(Math.max(0, i - 16), i + 48))}`;
    const where = `${path || "value"}: differs at character ${i} (length ${got.length}, want ${want.length})`;
    return `${where}: got ${near(got)}, want ${near(want)}`;
  }
  const here = `${path || "value"}: got ${show(got)}, want ${show(want)}`;
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) return here;
    if (got.length !== want.length) return `${path || "value"}: length ${got.length}, want ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const d = difference(got[i], want[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (want !== null && typeof want === "object" && Object.getPrototypeOf(want) === Object.prototype) {
    if (got === null || typeof got !== "object" || Object.getPrototypeOf(got) !== Object.prototype) return here;
    const keys = (o: object) => Object.keys(o).sort();
    const d = difference(keys(got), keys(want), `${path}{keys}`);
    if (d) return d;
    for (const k of keys(want)) {
      const e = difference((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
      if (e) return e;
    }
    return undefined;
  }
  return here;
}

/** An Equal for a runner without vitest (the page): throws an Error naming the label and the first difference. */
export const strictEqual: Equal = (label, got, want) => {
  const d = difference(got, want, "");
  if (d) throw new Error(`${label}: ${d}`);
};

// ---- patterns ----

function buildPattern(g: GoldenPattern): Pattern {
  if (g.fixedDegree) return Pattern.fixedDegree(...g.fixedDegree);
  if (g.random) return Pattern.random(...g.random);
  if (g.dense) return Pattern.dense(...g.dense);
  return Pattern.fromCsr(g.inputs, g.outputs, g.rowPtr!, g.colIdx!);
}

const patternLabel = (g: GoldenPattern) =>
  g.fixedDegree
    ? `fixedDegree(${g.fixedDegree.join(", ")})`
    : g.random
      ? `random(${g.random.join(", ")})`
      : g.dense
        ? `dense(${g.dense.join(", ")})`
        : `fromCsr(${g.inputs}, ${g.outputs}, [${g.rowPtr}], [${g.colIdx}])`;

function patternChecks(golden: Golden): GoldenCheck[] {
  const one = (g: GoldenPattern): GoldenCheck => ({
    group: "patterns",
    name: `${patternLabel(g)} has its golden index arrays, kind and hash ${g.hash}`,
    async run({ equal }) {
      const p = buildPattern(g);
      equal("inputs, outputs, kind", [p.inputs, p.outputs, p.kind], [g.inputs, g.outputs, g.kind]);
      equal("first row", Array.from(p.colIdx.subarray(p.rowPtr[0], p.rowPtr[1])), g.firstRow);
      if (g.rowPtr) equal("rowPtr", Array.from(p.rowPtr), g.rowPtr);
      if (g.colIdx) equal("colIdx", Array.from(p.colIdx), g.colIdx);
      equal("sha256(rowPtr)", await sha256(p.rowPtr), g.rowPtrSha256);
      equal("sha256(colIdx)", await sha256(p.colIdx), g.colIdxSha256);
      equal("hash", p.hash, g.hash);
      // the hash is a function of the sizes and arrays alone, whichever constructor built them
      equal("hash from fromCsr", Pattern.fromCsr(p.inputs, p.outputs, p.rowPtr, p.colIdx).hash, g.hash);
    },
  });
  return [
    ...golden.patterns.map(one),
    {
      group: "patterns",
      name: "the paper's first layer differs between seeds 0, 1 and 7, and seed 0 is the default",
      run({ equal }) {
        const hashes = golden.patterns.filter((g) => g.fixedDegree?.[0] === 800).map((g) => g.hash);
        equal("distinct hashes", new Set(hashes).size, 3);
        equal("default seed's hash", Pattern.fixedDegree(800, 40, 2).hash, hashes[0]);
      },
    },
  ];
}

// ---- the fixed model and its first epoch ----

const paper = (engine: Engine) =>
  Model.mlp(engine, {
    sizes: [800, 40, 40, 10],
    outDegrees: [2, 9, 10],
    seed: 0,
    exits: [{ after: 0, weight: 1 }],
    finalWeight: 0.3,
  });

function modelChecks(): GoldenCheck[] {
  return [
    {
      group: "model",
      name: `the README's network for seed 0 has model hash ${PAPER_MODEL.hash} and the documented tensors`,
      run({ equal, engine }) {
        const model = paper(engine);
        try {
          equal("parameterCount()", model.parameterCount(), PAPER_MODEL.parameters);
          const { bytes, hash } = encodeModel(model);
          equal("model hash", hash, PAPER_MODEL.hash);
          equal("file bytes", bytes.length, PAPER_MODEL.bytes);
          // U16 column indices on request: 2 bytes less per stored connection of the two sparse layers, the same hash
          const u16 = encodeModel(model, { indexDtype: "u16" });
          equal("u16 file bytes and hash", [u16.bytes.length, u16.hash], [PAPER_MODEL.bytes - 2 * (1600 + 360), hash]);
          const file = decodeSafetensors(bytes);
          equal("metadata.model_hash", file.metadata.model_hash, hash);
          // README: row_ptr and col_idx (I32), values and bias (F32) per layer; a dense layer only values and bias
          const layout = Object.fromEntries(
            [...file.tensors].map(([name, t]) => [name, `${t.dtype}[${t.shape.join(",")}]`]),
          );
          equal("tensor layout", layout, {
            "trunk.0.row_ptr": "I32[41]",
            "trunk.0.col_idx": "I32[1600]",
            "trunk.0.values": "F32[1600]",
            "trunk.0.bias": "F32[40]",
            "trunk.1.row_ptr": "I32[41]",
            "trunk.1.col_idx": "I32[360]",
            "trunk.1.values": "F32[360]",
            "trunk.1.bias": "F32[40]",
            "trunk.2.values": "F32[400]",
            "trunk.2.bias": "F32[10]",
            "exit.0.0.values": "F32[400]",
            "exit.0.0.bias": "F32[10]",
          });
        } finally {
          model.dispose();
        }
      },
    },
    {
      group: "model",
      name:
        "one epoch on the embedded digits (seed 0, Adam 1e-3, decay 1e-5, batch 256) " +
        "has the golden losses and hash",
      async run({ equal, engine, digits }) {
        const data = await digits();
        const { n, features, classes } = data;
        const want = FIRST_EPOCH.data;
        equal("digits: n, features, classes", [n, features, classes], [want.n, want.features, want.classes]);
        equal(
          "digits: sha256(x), sha256(y)",
          [await sha256(data.x), await sha256(data.y)],
          [want.xSha256, want.ySha256],
        );
        const model = paper(engine);
        try {
          const [r] = train(model, data, {
            epochs: 1,
            batchSize: 256,
            optimizer: new Adam({ lr: 1e-3, decay: 1e-5 }),
            seed: 0,
            trainAccuracy: false,
          });
          equal("losses", r!.losses, FIRST_EPOCH.losses);
          equal("loss", r!.loss, FIRST_EPOCH.loss);
          equal("trained model hash", encodeModel(model).hash, FIRST_EPOCH.hash);
        } finally {
          model.dispose();
        }
      },
    },
  ];
}

// ---- frames ----

function frameChecks(golden: Golden): GoldenCheck[] {
  const encode = (g: GoldenFrame, modelHash = g.modelHash) =>
    encodeFrame({
      data: Float32Array.from(g.data),
      shape: g.shape,
      dtype: g.dtype,
      kind: g.kind,
      splitId: g.splitId,
      modelHash,
    });
  const upper = golden.frames.find((f) => /[a-f]/.test(f.modelHash));
  return [
    ...golden.frames.flatMap((g): GoldenCheck[] => {
      const name = `${g.dtype} ${g.kind} [${g.shape.join(", ")}] split ${g.splitId}`;
      return [
        {
          group: "frames",
          name: `${name}: encodeFrame writes the golden bytes`,
          run: ({ equal }) => equal("frame bytes", toHex(encode(g)), g.hex),
        },
        {
          group: "frames",
          name: `${name}: decodeFrame reads the golden bytes back to the golden values`,
          run({ equal }) {
            const f = decodeFrame(fromHex(g.hex), {}, { modelHash: g.modelHash, splitId: g.splitId, kind: g.kind });
            const { shape, dtype, kind, splitId, modelHash, scale } = f;
            equal(
              "header",
              { shape, dtype, kind, splitId, modelHash, scale },
              {
                shape: g.shape,
                dtype: g.dtype,
                kind: g.kind,
                splitId: g.splitId,
                modelHash: g.modelHash,
                scale: g.scale,
              },
            );
            equal("decoded data", Array.from(f.data), g.decoded);
            const outside = g.data.flatMap((x, i) => {
              const bound = frameErrorBound(g.dtype, x, g.scale);
              return Math.abs(x - f.data[i]!) <= bound ? [] : [{ i, x, decoded: f.data[i], bound }];
            });
            equal("entries farther from the input than frameErrorBound", outside, []);
          },
        },
      ];
    }),
    {
      group: "frames",
      name: "an upper-case model hash writes the same bytes and decodes lower-case",
      run({ equal }) {
        if (!upper) throw new Error("no golden frame has a model hash with a letter");
        const bytes = encode(upper, upper.modelHash.toUpperCase());
        equal("frame bytes", toHex(bytes), upper.hex);
        equal("decoded model hash", decodeFrame(bytes).modelHash, upper.modelHash);
      },
    },
  ];
}

// ---- safetensors ----

const ARRAYS: Record<string, (v: number[]) => SafeTensor["data"]> = {
  BOOL: (v) => Uint8Array.from(v),
  U8: (v) => Uint8Array.from(v),
  I8: (v) => Int8Array.from(v),
  U16: (v) => Uint16Array.from(v),
  I16: (v) => Int16Array.from(v),
  F16: (v) => Uint16Array.from(v),
  BF16: (v) => Uint16Array.from(v),
  U32: (v) => Uint32Array.from(v),
  I32: (v) => Int32Array.from(v),
  F32: (v) => Float32Array.from(v),
  F64: (v) => Float64Array.from(v),
  U64: (v) => BigUint64Array.from(v, BigInt),
  I64: (v) => BigInt64Array.from(v, BigInt),
};

const tensor = (t: GoldenTensor): SafeTensor => ({
  dtype: t.dtype as Dtype,
  shape: t.shape,
  data: ARRAYS[t.dtype]!(t.values),
});

function safetensorsChecks(golden: Golden): GoldenCheck[] {
  const st = golden.safetensors;
  const expectGoldenTensors = (equal: Equal, bytes: Uint8Array) => {
    const file = decodeSafetensors(bytes);
    equal("metadata", file.metadata, st.metadata);
    equal("tensor names", [...file.tensors.keys()].sort(), st.tensors.map((t) => t.name).sort());
    for (const t of st.tensors) {
      const got = file.tensors.get(t.name)!;
      const want = tensor(t);
      equal(`${t.name}: dtype, shape`, [got.dtype, got.shape], [want.dtype, want.shape]);
      // the very class, not only its name
      const same = got.data.constructor === want.data.constructor;
      equal(
        `${t.name}: array class`,
        same ? want.data.constructor.name : `${got.data.constructor.name}`,
        want.data.constructor.name,
      );
      equal(
        `${t.name}: values`,
        Array.from(got.data as ArrayLike<number | bigint>),
        Array.from(want.data as ArrayLike<number | bigint>),
      );
    }
  };
  return [
    {
      group: "safetensors",
      name: "encodeSafetensors writes the golden bytes, whatever the order the tensors are given in",
      async run({ equal }) {
        const tensors = st.tensors.map((t) => [t.name, tensor(t)] as const);
        for (const [which, order] of [
          ["given", tensors],
          ["reversed", [...tensors].reverse()],
        ] as const) {
          const bytes = encodeSafetensors(Object.fromEntries(order), st.metadata);
          equal(`sha256 (${which} order)`, await sha256(bytes), st.sha256);
          equal(`bytes (${which} order)`, toHex(bytes), st.hex);
        }
      },
    },
    {
      group: "safetensors",
      name: "decodeSafetensors reads the golden file back to the golden tensors and metadata",
      run: ({ equal }) => expectGoldenTensors(equal, fromHex(st.hex)),
    },
    {
      group: "safetensors",
      name: "reads a file of another writer: unpadded, indented, escaped names, metadata last, data in another order",
      run({ equal }) {
        const other = fromHex(st.otherWriterHex);
        equal("the other writer's file differs from the golden file", toHex(other) !== st.hex, true);
        expectGoldenTensors(equal, other);
      },
    },
    {
      group: "safetensors",
      name: "a file without metadata has no __metadata__ entry at all",
      run({ equal }) {
        const bytes = encodeSafetensors({
          x: { dtype: "F32", shape: [2], data: Float32Array.of(1.5, -2) },
          i: { dtype: "I8", shape: [3], data: Int8Array.of(1, -1, 0) },
        });
        equal("bytes", toHex(bytes), st.noMetadataHex);
        equal("metadata", decodeSafetensors(bytes).metadata, {});
      },
    },
  ];
}

/** Every golden check, in order; names are unique. */
export function goldenChecks(golden: Golden): GoldenCheck[] {
  return [...patternChecks(golden), ...modelChecks(), ...frameChecks(golden), ...safetensorsChecks(golden)];
}

// ---- the embedded digits, from the `mnist` package's files (what src/data/mnist.ts reads with node:fs) ----

/**
 * The digits as loadMnist assembles them from the per-class pixel arrays of `0.json` … `9.json`: classes interleaved
 * round-robin in file order until a class runs out. For a runner without node:fs; FIRST_EPOCH.data pins the result.
 */
export function interleaveDigits(perClass: Float32Array[], pixels = 784): { x: Float32Array; y: Int32Array } {
  const n = perClass.reduce((a, d) => a + d.length / pixels, 0);
  const x = new Float32Array(n * pixels);
  const y = new Int32Array(n);
  let i = 0;
  for (let k = 0; i < n; k++) {
    perClass.forEach((d, c) => {
      if ((k + 1) * pixels > d.length) return;
      x.set(d.subarray(k * pixels, (k + 1) * pixels), i * pixels);
      y[i++] = c;
    });
  }
  return { x, y };
}
