// Model ⇄ safetensors: each layer's tensors under `trunk.<i>.` / `exit.<e>.<j>.`, the architecture as JSON in
// __metadata__.presparse, a hash of architecture + weights in __metadata__.model_hash. Layers know nothing of files:
// the codec table below turns each layer kind into its record and tensors and back, so a format change touches
// this file only. Either half of a split model is an ordinary model file whose `extra.split` says which.
import type { Engine } from "../engine/engine.js";
import { FormatError, HASH_FORMAT, ValidationError, checkInt, hashHex } from "../engine/errors.js";
import { buildOrRollBack } from "../engine/scope.js";
import { Pattern } from "../sparsity/pattern.js";
import { formatPolicy, parseExitPolicy } from "../exits/runner.js";
import type { Layer } from "../nn/layers/layer.js";
import { Flatten } from "../nn/layers/flatten.js";
import { AvgPool2d, MaxPool2d } from "../nn/layers/pool2d.js";
import { pool2dShape, type Pool2dGeometry } from "../ops/pool2d.js";
import { convOutputSize } from "../ops/sparse_conv2d.js";
import { SparseConv2d } from "../nn/layers/sparse_conv2d.js";
import { CONV_GEOMETRY_KEYS, type Conv2dGeometry } from "../ops/sparse_conv2d.js";
import { SparseLinear, type Activation } from "../nn/layers/sparse_linear.js";
import { Model, type ExitPolicy, type Head, type SplitRecord, type Tail } from "../nn/model.js";
import { crc32 } from "./crc32.js";
import {
  checkJsonDepth,
  decodeSafetensors,
  encodeSafetensors,
  type SafeTensor,
  type SafetensorsFile,
} from "./safetensors.js";

export const MODEL_FORMAT_VERSION = 1;

/** The safetensors dtypes a model file uses: F32 values and biases, I32 indices, U16 column indices. */
export const STORED_DTYPES = ["F32", "I32", "U16"] as const;

/** A tensor as stored in a model file. */
export interface StoredTensor {
  dtype: (typeof STORED_DTYPES)[number];
  shape: number[];
  data: Float32Array | Int32Array | Uint16Array;
}

/** JSON description of a layer, enough (with its tensors) to rebuild it. */
export interface LayerSpec {
  kind: string;
  [key: string]: unknown;
}

/** The architecture record stored in a model file. */
export interface ModelSpec {
  format: "presparse";
  version: number;
  classes: number;
  inputShape: number[];
  finalWeight: number;
  trunk: LayerSpec[];
  exits: { after: number; weight: number; layers: LayerSpec[] }[];
  /** Free-form extras (exit policy, split record, training record) kept with the model. */
  extra?: Record<string, unknown>;
}

/** A model with the extras its file carried. */
export interface LoadedModel<M extends Model = Model> {
  model: M;
  spec: ModelSpec;
  /** Hash of architecture and weights, 16 hex digits (split halves carry the full model's). */
  hash: string;
  metadata: Record<string, string>;
}

/**
 * Caps on the sizes a model file declares, checked before anything is built: a file's tensors pay for the memory
 * they fill, but widths, geometry and layer counts are numbers in its header that nothing else vouches for.
 */
export interface ModelLimits {
  /** Features per sample of the input, of every layer's input and output, of the cut, and classes. */
  maxFeatures?: number;
  /**
   * Features per sample summed over every layer's input: what a model costs that no tensor pays for (a sparse
   * layer's column pointers at load, 4 bytes per input; every layer's scratch once it runs).
   */
  maxTotalFeatures?: number;
  /** Layers in the trunk and the exit heads together (also the most exits a split record may count). */
  maxLayers?: number;
  /** Nesting depth of the safetensors header and of the architecture record. */
  maxJsonDepth?: number;
}

/**
 * Defaults sized to the largest real model with room to spare: 2^22 features per sample holds VGG-16's widest
 * activation at 224×224 (64×224×224 = 3,211,264), 2^25 in all twice its 15.2 million layer inputs; 4096 layers is
 * 27× ResNet-152's 152; 64 levels of JSON against the 5 a model file uses.
 */
export const DEFAULT_MODEL_LIMITS: Readonly<Required<ModelLimits>> = Object.freeze({
  maxFeatures: 2 ** 22,
  maxTotalFeatures: 2 ** 25,
  maxLayers: 4096,
  maxJsonDepth: 64,
});

/** Options of {@link decodeModel}. */
export interface DecodeModelOptions {
  /** Named in error messages (e.g. the file path). */
  source?: string;
  /** Accept only that half of a split model: another file is a FormatError on `extra.split.role` (or `extra.split`). */
  role?: SplitRecord["role"];
  /** Caps on declared sizes; each one given replaces its default in {@link DEFAULT_MODEL_LIMITS}. */
  limits?: ModelLimits;
}

// ---------------------------------------------------------------- one codec per layer kind

type Tensors = Record<string, StoredTensor | undefined>;

interface LayerCodec {
  encode(layer: Layer, o: EncodeLayerOptions): { spec: LayerSpec; tensors: Record<string, StoredTensor> };
  /** Features per sample in and out that the record declares, computed without building anything. */
  features(r: LayerReader): [number, number];
  /** Rebuilds the layer, checking every field and tensor; a rejection is a FormatError naming the layer and part. */
  decode(engine: Engine, r: LayerReader): Layer;
}

const CODECS: Record<string, LayerCodec> = {
  linear: {
    encode(layer, o) {
      const l = layer as SparseLinear,
        p = l.pattern;
      // a full pattern stores no index arrays: its values are the row-major dense matrix
      const full = p.nnz === p.inputs * p.outputs;
      const spec = {
        kind: l.kind,
        inputs: p.inputs,
        outputs: p.outputs,
        activation: l.activation,
        pattern: p.kind,
        patternHash: p.hash,
        // optional (older files have none): the reader checks the rows against it rather than trusting it
        ...(p.block > 1 ? { block: p.block } : {}),
        nnz: p.nnz,
        shape: [p.outputs, p.inputs],
        layout: (full ? "dense" : "csr") satisfies Layout,
      };
      const tensors: Record<string, StoredTensor> = {
        values: { dtype: "F32", shape: [p.nnz], data: l.weights.values.toArray() },
        bias: { dtype: "F32", shape: [p.outputs], data: l.bias.toArray() },
      };
      if (!full) {
        tensors.row_ptr = { dtype: "I32", shape: [p.outputs + 1], data: p.rowPtr };
        tensors.col_idx = colIdxTensor(p, o.indexDtype ?? "i32");
      }
      return { spec, tensors };
    },
    features: (r) => [r.int("inputs"), r.int("outputs")],
    decode(engine, r) {
      const inputs = r.spec.inputs as number,
        outputs = r.spec.outputs as number;
      const values = r.tensor("values", "F32").data,
        bias = r.tensor("bias", "F32").data;
      // a full pattern is stored without index arrays; its size comes from the metadata alone, so the stored values
      // must vouch for it before inputs·outputs indices are built
      const full = r.spec.nnz === inputs * outputs && !r.has("row_ptr") && !r.has("col_idx");
      if (full && values.length !== r.spec.nnz) {
        throw r.fail("values", `${values.length} values for ${inputs}×${outputs} connections`);
      }
      const d = full ? r.build("pattern", () => Pattern.dense(inputs, outputs)) : undefined;
      const rowPtr = d?.rowPtr ?? r.tensor("row_ptr", "I32").data;
      const colIdx = d?.colIdx ?? r.tensor("col_idx", "U16", "I32").data;
      const pattern = r.pattern(inputs, outputs, rowPtr, colIdx);
      if (values.length !== pattern.nnz) throw r.fail("values", `${values.length} values for nnz ${pattern.nnz}`);
      if (bias.length !== outputs) throw r.fail("bias", `${bias.length} entries for ${outputs} outputs`);
      checkReaderRecord(r, [outputs, inputs], full ? "dense" : "csr");
      return new SparseLinear(engine, pattern, { activation: r.activation(), values, bias });
    },
  },
  conv2d: {
    encode(layer) {
      const l = layer as SparseConv2d,
        p = l.pattern,
        w = l.weights;
      const spec = {
        kind: l.kind,
        ...w.geometry,
        outH: w.outH,
        outW: w.outW,
        inputs: l.inputSize,
        outputs: l.outputSize,
        activation: l.activation,
        pattern: p.kind,
        patternHash: p.hash,
        taps: w.tapMask ? "mask" : "all",
        nnz: w.nnz,
        shape: [w.outC, w.inC, w.kh, w.kw],
        layout: "csr-taps" satisfies Layout,
      };
      const tensors: Record<string, StoredTensor> = {
        row_ptr: { dtype: "I32", shape: [p.outputs + 1], data: p.rowPtr },
        col_idx: { dtype: "I32", shape: [p.nnz], data: p.colIdx },
        values: { dtype: "F32", shape: [w.nnz], data: w.values.toArray() },
        bias: { dtype: "F32", shape: [w.outC], data: l.bias.toArray() },
      };
      if (w.tapMask) tensors.tap_mask = { dtype: "I32", shape: [p.nnz, w.kh, w.kw], data: Int32Array.from(w.tapMask) };
      return { spec, tensors };
    },
    features(r) {
      const [H, W, stride, padding] = [r.int("H"), r.int("W"), r.int("stride"), r.int("padding")];
      const outH = convOutputSize(H, r.int("kh"), stride, padding),
        outW = convOutputSize(W, r.int("kw"), stride, padding);
      return [r.int("inC") * H * W, r.int("outC") * outH * outW];
    },
    decode(engine, r) {
      const g = Object.fromEntries(CONV_GEOMETRY_KEYS.map((k) => [k, r.int(k)])) as Required<Conv2dGeometry>;
      const pattern = r.pattern(g.inC, g.outC, r.tensor("row_ptr", "I32").data, r.tensor("col_idx", "I32").data);
      const activation = r.activation();
      const mask = r.has("tap_mask") ? r.tensor("tap_mask", "I32").data : undefined;
      const K = g.kh * g.kw;
      if (mask && mask.length !== pattern.nnz * K) {
        throw r.fail("tap_mask", `${mask.length} entries for ${pattern.nnz} connections × ${K} taps`);
      }
      const values = r.tensor("values", "F32").data,
        bias = r.tensor("bias", "F32").data;
      let stored = pattern.nnz * K;
      if (mask) {
        stored = 0;
        for (let i = 0; i < mask.length; i++) if (mask[i]) stored++;
      }
      if (values.length !== stored) throw r.fail("values", `${values.length} values for ${stored} stored taps`);
      if (bias.length !== g.outC) throw r.fail("bias", `${bias.length} entries for ${g.outC} output channels`);
      checkReaderRecord(r, [g.outC, g.inC, g.kh, g.kw], "csr-taps");
      const state = { pattern, taps: mask, activation, values, bias };
      return r.build(undefined, () => new SparseConv2d(engine, { ...g, ...state }));
    },
  },
  maxpool2d: pool((engine, g) => new MaxPool2d(engine, g)),
  avgpool2d: pool((engine, g) => new AvgPool2d(engine, g)),
  flatten: {
    encode(layer) {
      return { spec: { kind: layer.kind, inputShape: [...(layer as Flatten).inputShape] }, tensors: {} };
    },
    features(r) {
      const n = flattenShape(r).reduce((a, b) => a * b, 1);
      return [n, n];
    },
    decode(_engine, r) {
      const s = flattenShape(r);
      return r.build("inputShape", () => new Flatten(s));
    },
  },
};

function flattenShape(r: LayerReader): number[] {
  const s = r.spec.inputShape;
  if (!Array.isArray(s) || !s.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw r.fail("inputShape", `expected positive integers, got ${JSON.stringify(s)}`);
  }
  return s as number[];
}

// ---------------------------------------------------------------- what other readers need

/**
 * How linear layers store column indices: "i32" (the default), which every safetensors reader loads (torch before
 * 2.3 has no uint16), or "u16", 2 bytes less per stored connection in layers of at most 65,536 inputs (wider
 * layers keep I32). Files of format version 1 written before the default changed have U16 and still load.
 */
export const INDEX_DTYPES = ["i32", "u16"] as const;
export type IndexDtype = (typeof INDEX_DTYPES)[number];

/** Options of {@link encodeModel}. */
export interface EncodeModelOptions {
  /** Free-form extras kept in the architecture record (`extra`). */
  extra?: Record<string, unknown>;
  /** Overrides the model hash (e.g. to keep a loaded model's). */
  hash?: string;
  /** Column indices of linear layers (default "i32"); the hash does not depend on it. */
  indexDtype?: IndexDtype;
}

/** Options of {@link encodeLayer} and {@link modelTensors}. */
export interface EncodeLayerOptions {
  indexDtype?: IndexDtype;
}

/**
 * How a weighted layer's tensors make its weight W, for readers that know safetensors but not presparse.
 * "csr": W[outputs, inputs] (rows are outputs, y = W·x + b) is (values, col_idx, row_ptr) in CSR;
 * "dense": values is W[outputs, inputs] row-major, with no index tensors;
 * "csr-taps": a conv kernel W[outC, inC, kh, kw] whose (outC × inC) channel pattern is (row_ptr, col_idx) in CSR,
 * each connection's kh·kw taps row-major in values (only those set in tap_mask when there is one).
 */
type Layout = "csr" | "dense" | "csr-taps";

/** A file's shape and layout, when it has them (version-1 files written before them do not), must be the layer's. */
function checkReaderRecord(r: LayerReader, shape: number[], layout: Layout): void {
  const s = r.spec.shape,
    l = r.spec.layout;
  if (s !== undefined && (!Array.isArray(s) || s.length !== shape.length || s.some((d, i) => d !== shape[i]))) {
    throw r.fail("shape", `expected [${shape.join(", ")}], got ${JSON.stringify(s)}`);
  }
  if (l !== undefined && l !== layout) throw r.fail("layout", `expected ${layout}, got ${JSON.stringify(l)}`);
}

/** A linear layer's column indices as I32, or as U16 on request where they fit 16 bits. */
function colIdxTensor(p: Pattern, dtype: IndexDtype): StoredTensor {
  return dtype === "u16" && p.inputs <= 65536
    ? { dtype: "U16", shape: [p.nnz], data: Uint16Array.from(p.colIdx) }
    : { dtype: "I32", shape: [p.nnz], data: p.colIdx };
}

/** The two pooling kinds share a record (geometry, no tensors) and differ in the layer built. */
function pool(make: (engine: Engine, g: Required<Pool2dGeometry>) => MaxPool2d | AvgPool2d): LayerCodec {
  return {
    encode(layer) {
      const s = (layer as MaxPool2d | AvgPool2d).shape;
      const spec = {
        kind: layer.kind,
        C: s.C,
        H: s.H,
        W: s.W,
        k: s.k,
        stride: s.stride,
        outH: s.outH,
        outW: s.outW,
        inputs: layer.inputSize,
        outputs: layer.outputSize,
      };
      return { spec, tensors: {} };
    },
    features(r) {
      const geometry = { C: r.int("C"), H: r.int("H"), W: r.int("W"), k: r.int("k"), stride: r.int("stride") };
      const g = r.build(undefined, () => pool2dShape("pool2d", geometry));
      return [g.C * g.H * g.W, g.C * g.outH * g.outW];
    },
    decode(engine, r) {
      const g = { C: r.int("C"), H: r.int("H"), W: r.int("W"), k: r.int("k"), stride: r.int("stride") };
      return r.build(undefined, () => make(engine, g));
    },
  };
}

/** What a codec reads of one stored layer: its record and tensors, each rejection a FormatError at `where.<part>`. */
class LayerReader {
  constructor(
    readonly spec: LayerSpec,
    private readonly tensors: Tensors,
    private readonly where: string,
  ) {}

  fail(part: string, detail: string): FormatError {
    return new FormatError("model", `${this.where}.${part}`, detail);
  }
  has(name: string): boolean {
    return this.tensors[name] !== undefined;
  }
  tensor(name: string, ...dtypes: StoredTensor["dtype"][]): StoredTensor {
    const x = this.tensors[name];
    if (!x) throw this.fail(name, "tensor missing");
    if (!dtypes.includes(x.dtype)) throw this.fail(name, `dtype ${x.dtype}, expected ${dtypes.join(" or ")}`);
    if (x.data instanceof Float32Array) {
      // the checksum vouches for the bytes, not for what they mean: a NaN weight poisons every output it reaches
      const d = x.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i]!))
          throw this.fail(name, `element ${i} is ${d[i]}; weights and biases must be finite`);
      }
    }
    return x;
  }
  int(key: string): number {
    const v = this.spec[key];
    if (typeof v !== "number" || !Number.isInteger(v)) {
      throw this.fail(key, `expected an integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  activation(): Activation {
    const a = this.spec.activation;
    if (a !== "relu" && a !== "linear") throw this.fail("activation", `unknown activation ${String(a)}`);
    return a;
  }
  /** The pattern of stored CSR arrays, checked for every CSR invariant and against the hash in the record. */
  pattern(inputs: number, outputs: number, rowPtr: ArrayLike<number>, colIdx: ArrayLike<number>): Pattern {
    const kind = String(this.spec.pattern ?? "csr");
    const block = this.spec.block === undefined ? 1 : this.int("block");
    const pattern = this.build("pattern", () => Pattern.fromCsr(inputs, outputs, rowPtr, colIdx, kind, { block }));
    const want = this.spec.patternHash;
    if (want !== undefined && want !== pattern.hash) {
      throw this.fail("patternHash", `metadata says ${String(want)}, tensors hash to ${pattern.hash}`);
    }
    return pattern;
  }
  /** Runs build; whatever it rejects becomes a FormatError at the part (or the layer itself). */
  build<T>(part: string | undefined, build: () => T): T {
    return rejectedAt(part === undefined ? this.where : `${this.where}.${part}`, build);
  }
}

/** Runs build; whatever it rejects becomes a FormatError at `where` (its message prefixed by `source` when given). */
function rejectedAt<T>(where: string, build: () => T, source?: string): T {
  try {
    return build();
  } catch (e) {
    throw new FormatError("model", where, `${source === undefined ? "" : `${source}: `}${(e as Error).message}`);
  }
}

/** A layer's architecture record and named tensors (names relative to its prefix). */
export function encodeLayer(
  layer: Layer,
  opts: EncodeLayerOptions = {},
): { spec: LayerSpec; tensors: Record<string, StoredTensor> } {
  const codec = Object.hasOwn(CODECS, layer.kind) ? CODECS[layer.kind] : undefined;
  if (!codec) {
    const kinds = Object.keys(CODECS).join(", ");
    throw new ValidationError(`encodeLayer: kind must be one of ${kinds}, got ${JSON.stringify(layer.kind)}`);
  }
  if (opts.indexDtype !== undefined && !(INDEX_DTYPES as readonly string[]).includes(opts.indexDtype)) {
    throw new ValidationError(
      `encodeLayer: indexDtype must be ${INDEX_DTYPES.join(" or ")}, got ${JSON.stringify(opts.indexDtype)}`,
    );
  }
  return codec.encode(layer, opts);
}

/** Builds one layer from its record and tensors; every rejection is a FormatError naming `where` and the part. */
export function decodeLayer(engine: Engine, spec: LayerSpec, tensors: Tensors, where: string): Layer {
  const codec = Object.hasOwn(CODECS, spec.kind) ? CODECS[spec.kind] : undefined;
  if (!codec) throw new FormatError("model", `${where}.kind`, `unknown layer kind ${JSON.stringify(spec.kind)}`);
  return codec.decode(engine, new LayerReader(spec, tensors, where));
}

// ---------------------------------------------------------------- models

/** The split record as a file stores it: `after` and `splitId` are both the cut, `activationWidth` its size. */
function fileSplitRecord(r: SplitRecord): Record<string, unknown> {
  const activationWidth = r.activationShape.reduce((a, b) => a * b, 1);
  return {
    role: r.role,
    after: r.cut,
    splitId: r.cut,
    activationWidth,
    activationShape: r.activationShape,
    classes: r.classes,
    totalExits: r.totalExits,
    ...(r.dataSeed !== undefined ? { dataSeed: r.dataSeed } : {}),
  };
}

/** The architecture record of a model (a split half's record carries its split record and policy share). */
export function modelSpec(model: Model, extra?: Record<string, unknown>): ModelSpec {
  const r = model.split;
  const all = r ? { ...extra, split: fileSplitRecord(r), ...(r.policy && { policy: formatPolicy(r.policy) }) } : extra;
  return {
    format: "presparse",
    version: MODEL_FORMAT_VERSION,
    classes: model.classes,
    inputShape: model.inputShape,
    finalWeight: model.finalWeight,
    trunk: model.trunk.map((l) => encodeLayer(l).spec),
    exits: model.exits.map((e) => ({
      after: e.after,
      weight: e.weight,
      layers: e.layers.map((l) => encodeLayer(l).spec),
    })),
    ...(all ? { extra: all } : {}),
  };
}

/** All tensors of a model, named `trunk.<i>.<name>` and `exit.<e>.<j>.<name>`. */
export function modelTensors(model: Model, opts: EncodeLayerOptions = {}): Record<string, SafeTensor> {
  const out: Record<string, SafeTensor> = {};
  const add = (prefix: string, l: Layer) => {
    for (const [name, t] of Object.entries(encodeLayer(l, opts).tensors)) {
      out[`${prefix}.${name}`] = { ...t, data: t.data as SafeTensor["data"] };
    }
  };
  model.trunk.forEach((l, i) => add(`trunk.${i}`, l));
  model.exits.forEach((e, k) => e.layers.forEach((l, j) => add(`exit.${k}.${j}`, l)));
  return out;
}

/** 64-bit hash (16 hex digits) of the architecture JSON and every tensor's bytes in name order. */
export function hashModel(spec: ModelSpec, tensors: Record<string, SafeTensor>): string {
  let h1 = 0x811c9dc5,
    h2 = 0x2545f491;
  const byte = (b: number) => {
    h1 = Math.imul(h1 ^ b, 0x01000193);
    h2 = Math.imul(h2 ^ b, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  };
  const { extra: _extra, ...arch } = spec;
  for (const c of new TextEncoder().encode(JSON.stringify(arch))) byte(c);
  for (const name of Object.keys(tensors).sort()) {
    for (const c of new TextEncoder().encode(name)) byte(c);
    const d = tensors[name]!.data;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    for (let i = 0; i < bytes.length; i++) byte(bytes[i]!);
  }
  return hashHex(h1, h2);
}

/**
 * CRC-32 (8 hex digits) over every tensor's name and bytes in name order. The model hash identifies a model
 * (split halves carry their parent's), so it cannot vouch for a file's weights; this checksum does.
 */
export function tensorsChecksum(tensors: Iterable<[string, { data: ArrayBufferView }]>): string {
  const enc = new TextEncoder();
  let crc = 0;
  for (const [name, t] of [...tensors].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    crc = crc32(enc.encode(name), crc);
    crc = crc32(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), crc);
  }
  return crc.toString(16).padStart(8, "0");
}

/** Throws unless the file's `tensors_crc32` (when present) matches its tensors. */
function checkTensorsChecksum(file: SafetensorsFile, source: string): void {
  const want = file.metadata.tensors_crc32;
  if (want === undefined) return;
  const got = tensorsChecksum(file.tensors);
  if (want !== got)
    throw new FormatError(
      "model",
      "__metadata__.tensors_crc32",
      `${source}: tensors checksum ${got}, the file says ${want} (corrupted weights?)`,
    );
}

/**
 * Encodes a model as safetensors bytes. A split half is written with its split record and policy share and the
 * full model's hash; `hash` overrides the model hash (e.g. to keep a loaded model's).
 */
export function encodeModel(model: Model, opts: EncodeModelOptions = {}): { bytes: Uint8Array; hash: string } {
  const spec = modelSpec(model, opts.extra);
  const tensors = modelTensors(model, { indexDtype: opts.indexDtype });
  // the decoder refuses them, so a file holding them could never be read back
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t.data instanceof Float32Array)) continue;
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0)
      throw new ValidationError(
        `encodeModel: ${name}[${i}] is ${t.data[i]}; a model file holds finite weights and biases`,
      );
  }
  // the hash names the model, not how its indices are stored: it is taken over the default (I32) tensors
  const hash =
    opts.hash ?? model.split?.hash ?? hashModel(spec, opts.indexDtype === "u16" ? modelTensors(model) : tensors);
  const metadata = {
    presparse: JSON.stringify(spec),
    model_hash: hash,
    tensors_crc32: tensorsChecksum(Object.entries(tensors)),
  };
  return { bytes: encodeSafetensors(tensors, metadata), hash };
}

function checkSpec(x: unknown): ModelSpec {
  const f = (field: string, detail: string) => new FormatError("model", field, detail);
  if (typeof x !== "object" || x === null) throw f("presparse", "not a JSON object");
  const s = x as Partial<ModelSpec>;
  if (s.format !== "presparse") throw f("presparse.format", `expected "presparse", got ${JSON.stringify(s.format)}`);
  if (s.version !== MODEL_FORMAT_VERSION)
    throw f("presparse.version", `expected ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(s.version)}`);
  if (!Array.isArray(s.trunk) || s.trunk.length === 0)
    throw f("presparse.trunk", "expected a non-empty array of layers");
  if (!Array.isArray(s.exits)) throw f("presparse.exits", "expected an array");
  if (!Array.isArray(s.inputShape) || !s.inputShape.every((d) => Number.isSafeInteger(d) && d > 0))
    throw f("presparse.inputShape", "expected positive integers");
  for (const [i, l] of [
    ...s.trunk,
    ...s.exits.flatMap((e) => (Array.isArray(e?.layers) ? e.layers : [null])),
  ].entries()) {
    if (typeof l !== "object" || l === null || typeof l.kind !== "string")
      throw f(`presparse.layers[${i}]`, "expected an object with a kind");
  }
  return s as ModelSpec;
}

/**
 * The split record of a file, checked (undefined for a plain model unless a role is required). Old bundles lack
 * `activationShape`: their cut is flat.
 */
function splitRecordOf(
  spec: ModelSpec,
  hash: string | undefined,
  source: string,
  role?: SplitRecord["role"],
): SplitRecord | undefined {
  const f = (field: string, detail: string) => new FormatError("split", field, `${source}: ${detail}`);
  const x = typeof spec.extra === "object" && spec.extra !== null ? spec.extra.split : undefined;
  if (x === undefined && role === undefined) return undefined;
  if (typeof x !== "object" || x === null) {
    throw f("extra.split", "no split record: not a split bundle (use presparse split)");
  }
  const s = x as Record<string, unknown>;
  if (role ? s.role !== role : s.role !== "head" && s.role !== "tail") {
    throw f("extra.split.role", `expected a ${role ?? "head or tail"} bundle, got ${JSON.stringify(s.role)}`);
  }
  for (const key of ["after", "splitId", "activationWidth", "classes", "totalExits"]) {
    const v = s[key];
    const ok = typeof v === "number" && Number.isSafeInteger(v) && v >= (key === "totalExits" ? 0 : 1);
    if (!ok) throw f(`extra.split.${key}`, `expected a positive integer, got ${JSON.stringify(v)}`);
  }
  if (s.splitId !== s.after) throw f("extra.split.splitId", `expected ${s.after} (the cut), got ${s.splitId}`);
  const shape = s.activationShape ?? [s.activationWidth];
  const dims = Array.isArray(shape) && shape.length >= 1 && shape.length <= 3 ? (shape as unknown[]) : [];
  const ok = dims.length > 0 && dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 1);
  if (!ok || (dims as number[]).reduce((a, b) => a * b, 1) !== s.activationWidth) {
    const want = `1–3 positive integers whose product is the activation width ${s.activationWidth}`;
    throw f("extra.split.activationShape", `expected ${want}, got ${JSON.stringify(s.activationShape)}`);
  }
  const seed = s.dataSeed;
  if (seed !== undefined && !(Number.isSafeInteger(seed) && (seed as number) >= 0)) {
    throw f("extra.split.dataSeed", `expected a non-negative integer, got ${JSON.stringify(seed)}`);
  }
  if (hash === undefined || !HASH_FORMAT.test(hash)) {
    throw f("model_hash", `expected 16 lowercase hex digits, got ${JSON.stringify(hash)}`);
  }
  const cut = s.after as number,
    totalExits = s.totalExits as number,
    exits = spec.exits.length;
  if (s.role === "head" && spec.trunk.length !== cut) {
    throw f("presparse.trunk", `expected ${cut} layers (the cut), got ${spec.trunk.length}`);
  }
  if (totalExits < exits) {
    throw f("extra.split.totalExits", `${totalExits}, but the ${String(s.role)} alone has ${exits} exits`);
  }
  let policy: ExitPolicy | undefined;
  const p = spec.extra!.policy;
  if (p !== undefined) {
    if (typeof p !== "string") throw f("extra.policy", `expected a policy string, got ${JSON.stringify(p)}`);
    try {
      policy = parseExitPolicy(p, exits);
    } catch (e) {
      throw f("extra.policy", (e as Error).message);
    }
  }
  return {
    role: s.role as SplitRecord["role"],
    cut,
    activationShape: [...(shape as number[])],
    classes: s.classes as number,
    totalExits,
    hash,
    ...(policy && { policy }),
    ...(seed !== undefined && { dataSeed: seed as number }),
  };
}

/** A file's tensors grouped by layer: `<prefix>.<name>` under its prefix, in one pass over the file. */
function tensorsByLayer(file: SafetensorsFile): Map<string, Tensors> {
  const groups = new Map<string, Tensors>();
  for (const [name, t] of file.tensors) {
    const dot = name.lastIndexOf(".");
    if (dot <= 0) continue;
    const prefix = name.slice(0, dot);
    let g = groups.get(prefix);
    // no prototype: a tensor named `<prefix>.__proto__` must stay an ordinary (and unused) entry
    if (!g) groups.set(prefix, (g = Object.create(null) as Tensors));
    g[name.slice(dot + 1)] = t as StoredTensor;
  }
  return groups;
}

/**
 * Builds the layer stored under `<prefix>.` in a decoded file; marks in `used` exactly the tensors the layer
 * stores, so a foreign tensor in its namespace is caught by the caller's unused-tensor check.
 */
function layerFromFile(engine: Engine, given: Tensors, spec: LayerSpec, prefix: string, used: Set<string>): Layer {
  for (const [short, t] of Object.entries(given)) {
    if (!(STORED_DTYPES as readonly string[]).includes(t!.dtype)) {
      const want = `${STORED_DTYPES.slice(0, -1).join(", ")} or ${STORED_DTYPES.at(-1)}`;
      throw new FormatError("model", `${prefix}.${short}`, `dtype ${t!.dtype}, expected ${want}`);
    }
  }
  const layer = decodeLayer(engine, spec, given, prefix);
  const stored = encodeLayer(layer).tensors;
  for (const short of Object.keys(given)) if (Object.hasOwn(stored, short)) used.add(`${prefix}.${short}`);
  return layer;
}

/**
 * Every size the architecture declares against the limits, before anything is built: the input, each layer's
 * features in and out (from its record alone), the number of layers, and the split record's widths and counts.
 */
function checkDeclaredSizes(
  spec: ModelSpec,
  layers: [LayerSpec, string][],
  limits: Required<ModelLimits>,
  source: string,
): void {
  const over = (field: string, what: string, n: number, limit: number, name: string) =>
    new FormatError("model", field, `${source}: ${what} ${n}, the limit is ${limit} (limits.${name})`);
  if (layers.length > limits.maxLayers)
    throw over("presparse.trunk", "layers (trunk and exits)", layers.length, limits.maxLayers, "maxLayers");
  const input = spec.inputShape.reduce((a, b) => a * b, 1);
  if (input > limits.maxFeatures)
    throw over("presparse.inputShape", "features per sample", input, limits.maxFeatures, "maxFeatures");
  if (typeof spec.classes === "number" && spec.classes > limits.maxFeatures) {
    throw over("presparse.classes", "classes", spec.classes, limits.maxFeatures, "maxFeatures");
  }
  let total = 0;
  for (const [l, where] of layers) {
    const codec = Object.hasOwn(CODECS, l.kind) ? CODECS[l.kind]! : undefined;
    if (!codec) throw new FormatError("model", `${where}.kind`, `unknown layer kind ${JSON.stringify(l.kind)}`);
    const [inputs, outputs] = codec.features(new LayerReader(l, {}, where));
    const widest = Math.max(inputs, outputs);
    // Infinity is a zero stride, which the layer itself names when it is built
    if (!Number.isFinite(widest)) continue;
    if (widest > limits.maxFeatures)
      throw over(where, "declares features per sample:", widest, limits.maxFeatures, "maxFeatures");
    if ((total += Math.max(0, inputs)) > limits.maxTotalFeatures) {
      throw over(
        where,
        "brings the layers' input features per sample to",
        total,
        limits.maxTotalFeatures,
        "maxTotalFeatures",
      );
    }
  }
  const split =
    typeof spec.extra === "object" && spec.extra !== null
      ? (spec.extra.split as Record<string, unknown> | undefined)
      : undefined;
  if (typeof split !== "object" || split === null) return;
  for (const [key, limit, name] of [
    ["activationWidth", limits.maxFeatures, "maxFeatures"],
    ["classes", limits.maxFeatures, "maxFeatures"],
    ["totalExits", limits.maxLayers, "maxLayers"],
  ] as const) {
    const v = split[key];
    if (typeof v === "number" && v > limit) throw over(`extra.split.${key}`, key, v, limit, name);
  }
}

function resolveModelLimits(l: ModelLimits = {}): Required<ModelLimits> {
  const r = { ...DEFAULT_MODEL_LIMITS, ...l };
  checkInt("decodeModel", "limits.maxFeatures", r.maxFeatures, 1, 2 ** 31 - 1);
  checkInt("decodeModel", "limits.maxTotalFeatures", r.maxTotalFeatures, 1, Number.MAX_SAFE_INTEGER);
  checkInt("decodeModel", "limits.maxLayers", r.maxLayers, 1, 2 ** 31 - 1);
  checkInt("decodeModel", "limits.maxJsonDepth", r.maxJsonDepth, 3, 10_000);
  return r;
}

/**
 * Decodes and validates a model file: safetensors rules, the declared sizes against `limits`, the architecture,
 * every CSR invariant and pattern hash, finite weights, unused tensors, the checksum — and for a split half its
 * split record and policy share (the model it gives is a Head or a Tail). Every rejection is a FormatError naming
 * the field; a rejected file leaves no engine memory behind, and validation is linear in the file's size.
 */
export function decodeModel(
  engine: Engine,
  bytes: Uint8Array,
  o: { source?: string; role: "head"; limits?: ModelLimits },
): LoadedModel<Head>;
export function decodeModel(
  engine: Engine,
  bytes: Uint8Array,
  o: { source?: string; role: "tail"; limits?: ModelLimits },
): LoadedModel<Tail>;
export function decodeModel(engine: Engine, bytes: Uint8Array, o?: DecodeModelOptions): LoadedModel;
export function decodeModel(engine: Engine, bytes: Uint8Array, o: DecodeModelOptions = {}): LoadedModel {
  const source = o.source ?? "model";
  const limits = resolveModelLimits(o.limits);
  // views, not copies: every layer copies what it keeps into engine memory, and nothing else outlives this call
  const file = decodeSafetensors(bytes, { source, maxJsonDepth: limits.maxJsonDepth });
  const raw = file.metadata.presparse;
  if (raw === undefined)
    throw new FormatError(
      "model",
      "__metadata__.presparse",
      `${source}: not a presparse model (no architecture record)`,
    );
  checkJsonDepth(
    raw,
    limits.maxJsonDepth,
    (detail) => new FormatError("model", "__metadata__.presparse", `${source}: ${detail}`),
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new FormatError("model", "__metadata__.presparse", `${source}: invalid JSON: ${(e as Error).message}`);
  }
  const spec = checkSpec(parsed);
  const layers: [LayerSpec, string][] = [
    ...spec.trunk.map((l, i): [LayerSpec, string] => [l, `trunk.${i}`]),
    ...spec.exits.flatMap((e, k) => e.layers.map((l, j): [LayerSpec, string] => [l, `exit.${k}.${j}`])),
  ];
  checkDeclaredSizes(spec, layers, limits, source);
  // the split record first, so the other half or a plain model is named as such rather than as a broken model
  const split = splitRecordOf(spec, file.metadata.model_hash, source, o.role);
  const used = new Set<string>();
  const groups = tensorsByLayer(file);
  return buildOrRollBack(engine, (s) => {
    const build = (l: LayerSpec, prefix: string) =>
      s.keep(layerFromFile(engine, groups.get(prefix) ?? {}, l, prefix, used));
    const trunk = spec.trunk.map((l, i) => build(l, `trunk.${i}`));
    const exits = spec.exits.map((e, k) => ({
      after: e.after,
      weight: e.weight,
      layers: e.layers.map((l, j) => build(l, `exit.${k}.${j}`)),
    }));
    for (const name of file.tensors.keys()) {
      if (!used.has(name)) throw new FormatError("model", name, "tensor not used by the architecture");
    }
    const opts = { finalWeight: spec.finalWeight, inputShape: spec.inputShape, ...(split ? { split } : {}) };
    // the layers are kept in the scope: a check below that throws frees them (the model owns nothing else yet)
    const model = rejectedAt("presparse", () => new Model(engine, trunk, exits, opts), source);
    if (model.classes !== spec.classes) {
      throw new FormatError("model", "presparse.classes", `says ${spec.classes}, layers give ${model.classes}`);
    }
    const hash = split?.hash ?? file.metadata.model_hash ?? hashModel(spec, Object.fromEntries(file.tensors));
    if (!HASH_FORMAT.test(hash)) {
      const detail = `${source}: expected 16 lowercase hex digits, got ${JSON.stringify(hash)}`;
      throw new FormatError("model", "__metadata__.model_hash", detail);
    }
    // last: every structural check above names its field; what they cannot see is a changed weight
    checkTensorsChecksum(file, source);
    return { model, spec, hash, metadata: file.metadata };
  });
}
