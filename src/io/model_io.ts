// Model ⇄ safetensors: each layer's tensors under `trunk.<i>.` / `exit.<e>.<j>.`, the architecture as JSON in
// __metadata__.presparse, a hash of architecture + weights in __metadata__.model_hash.
import type { Engine } from "../engine/engine.js";
import { FormatError } from "../engine/errors.js";
import type { Layer, LayerSpec, StoredTensor } from "../nn/layers/layer.js";
import { Flatten } from "../nn/layers/flatten.js";
import { AvgPool2d, MaxPool2d } from "../nn/layers/pool2d.js";
import { SparseConv2d } from "../nn/layers/sparse_conv2d.js";
import { SparseLinear } from "../nn/layers/sparse_linear.js";
import { crc32 } from "./crc32.js";
import { Model } from "../nn/model.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor, type SafetensorsFile } from "./safetensors.js";

export const MODEL_FORMAT_VERSION = 1;

/** The architecture record stored in a model file. */
export interface ModelSpec {
  format: "presparse";
  version: number;
  classes: number;
  inputShape: number[];
  finalWeight: number;
  trunk: LayerSpec[];
  exits: { after: number; weight: number; layers: LayerSpec[] }[];
  /** Free-form extras (exit policy, split point, training record) kept with the model. */
  extra?: Record<string, unknown>;
}

/** A model with the extras its file carried. */
export interface LoadedModel {
  model: Model;
  spec: ModelSpec;
  /** Hash of architecture and weights, 16 hex digits (carried unchanged by split halves). */
  hash: string;
  metadata: Record<string, string>;
}

/** What a file stores of a model: a split head, whose trunk ends at the cut, is written through the same code. */
export type ModelParts = Pick<Model, "trunk" | "exits" | "classes" | "inputShape" | "finalWeight">;

/** The architecture record of a model. */
export function modelSpec(model: ModelParts, extra?: Record<string, unknown>): ModelSpec {
  return {
    format: "presparse",
    version: MODEL_FORMAT_VERSION,
    classes: model.classes,
    inputShape: model.inputShape,
    finalWeight: model.finalWeight,
    trunk: model.trunk.map((l) => l.spec()),
    exits: model.exits.map((e) => ({ after: e.after, weight: e.weight, layers: e.layers.map((l) => l.spec()) })),
    ...(extra ? { extra } : {}),
  };
}

function layerTensors(out: Record<string, SafeTensor>, prefix: string, layer: Layer): void {
  for (const [name, t] of Object.entries(layer.tensors())) out[`${prefix}.${name}`] = { dtype: t.dtype, shape: t.shape, data: t.data as SafeTensor["data"] };
}

/** All tensors of a model, named `trunk.<i>.<name>` and `exit.<e>.<j>.<name>`. */
export function modelTensors(model: ModelParts): Record<string, SafeTensor> {
  const out: Record<string, SafeTensor> = {};
  model.trunk.forEach((l, i) => layerTensors(out, `trunk.${i}`, l));
  model.exits.forEach((e, k) => e.layers.forEach((l, j) => layerTensors(out, `exit.${k}.${j}`, l)));
  return out;
}

/** 64-bit hash (16 hex digits) of the architecture JSON and every tensor's bytes in name order. */
export function hashModel(spec: ModelSpec, tensors: Record<string, SafeTensor>): string {
  let h1 = 0x811c9dc5, h2 = 0x2545f491;
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
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
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
export function checkTensorsChecksum(file: SafetensorsFile, source: string): void {
  const want = file.metadata.tensors_crc32;
  if (want === undefined) return;
  const got = tensorsChecksum(file.tensors);
  if (want !== got) throw new FormatError("model", "__metadata__.tensors_crc32", `${source}: tensors checksum ${got}, the file says ${want} (corrupted weights?)`);
}

/** Encodes a model as safetensors bytes; `hash` overrides the computed model hash (split halves keep the parent's). */
export function encodeModel(model: ModelParts, opts: { extra?: Record<string, unknown>; hash?: string } = {}): { bytes: Uint8Array; hash: string } {
  const spec = modelSpec(model, opts.extra);
  const tensors = modelTensors(model);
  const hash = opts.hash ?? hashModel(spec, tensors);
  const bytes = encodeSafetensors(tensors, { presparse: JSON.stringify(spec), model_hash: hash, tensors_crc32: tensorsChecksum(Object.entries(tensors)) });
  return { bytes, hash };
}

/** Builds one layer from its spec and tensors. */
export function layerFromTensors(engine: Engine, spec: LayerSpec, tensors: Record<string, StoredTensor | undefined>, where: string): Layer {
  switch (spec.kind) {
    case "linear":
      return SparseLinear.fromTensors(engine, spec, tensors, where);
    case "conv2d":
      return SparseConv2d.fromTensors(engine, spec, tensors, where);
    case "maxpool2d":
      return MaxPool2d.fromTensors(engine, spec, tensors, where);
    case "avgpool2d":
      return AvgPool2d.fromTensors(engine, spec, tensors, where);
    case "flatten":
      return Flatten.fromTensors(spec, where);
    default:
      throw new FormatError("model", `${where}.kind`, `unknown layer kind ${JSON.stringify(spec.kind)}`);
  }
}

function checkSpec(x: unknown): ModelSpec {
  const f = (field: string, detail: string) => new FormatError("model", field, detail);
  if (typeof x !== "object" || x === null) throw f("presparse", "not a JSON object");
  const s = x as Partial<ModelSpec>;
  if (s.format !== "presparse") throw f("presparse.format", `expected "presparse", got ${JSON.stringify(s.format)}`);
  if (s.version !== MODEL_FORMAT_VERSION) throw f("presparse.version", `expected ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(s.version)}`);
  if (!Array.isArray(s.trunk) || s.trunk.length === 0) throw f("presparse.trunk", "expected a non-empty array of layers");
  if (!Array.isArray(s.exits)) throw f("presparse.exits", "expected an array");
  if (!Array.isArray(s.inputShape) || !s.inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) throw f("presparse.inputShape", "expected positive integers");
  for (const [i, l] of [...s.trunk, ...s.exits.flatMap((e) => (Array.isArray(e?.layers) ? e.layers : [null]))].entries()) {
    if (typeof l !== "object" || l === null || typeof l.kind !== "string") throw f(`presparse.layers[${i}]`, "expected an object with a kind");
  }
  return s as ModelSpec;
}

/**
 * Builds the layer stored under `<prefix>.` in a decoded file; marks in `used` exactly the tensors the layer
 * stores, so a foreign tensor in its namespace is caught by the caller's unused-tensor check.
 */
export function layerFromFile(engine: Engine, file: SafetensorsFile, spec: LayerSpec, prefix: string, used: Set<string>): Layer {
  // no prototype: a tensor named `<prefix>.__proto__` must stay an ordinary (and unused) entry
  const given = Object.create(null) as Record<string, StoredTensor | undefined>;
  for (const [name, t] of file.tensors) {
    if (!name.startsWith(prefix + ".")) continue;
    const short = name.slice(prefix.length + 1);
    if (short.includes(".")) continue;
    if (t.dtype !== "F32" && t.dtype !== "I32" && t.dtype !== "U16") throw new FormatError("model", name, `dtype ${t.dtype}, expected F32, I32 or U16`);
    given[short] = { dtype: t.dtype, shape: t.shape, data: t.data as StoredTensor["data"] };
  }
  const layer = layerFromTensors(engine, spec, given, prefix);
  const stored = layer.tensors();
  for (const short of Object.keys(given)) if (Object.hasOwn(stored, short)) used.add(`${prefix}.${short}`);
  return layer;
}

/** Decodes and validates a model file (safetensors rules, architecture, CSR invariants, pattern hashes). */
export function decodeModel(engine: Engine, bytes: Uint8Array, source = "model"): LoadedModel {
  const file = decodeSafetensors(bytes, { source, copy: true });
  const raw = file.metadata.presparse;
  if (raw === undefined) throw new FormatError("model", "__metadata__.presparse", `${source}: not a presparse model (no architecture record)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new FormatError("model", "__metadata__.presparse", `${source}: invalid JSON: ${(e as Error).message}`);
  }
  const spec = checkSpec(parsed);
  const used = new Set<string>();
  const built: Layer[] = [];
  const build = (l: LayerSpec, prefix: string): Layer => {
    const layer = layerFromFile(engine, file, l, prefix, used);
    built.push(layer);
    return layer;
  };
  try {
    const trunk = spec.trunk.map((l, i) => build(l, `trunk.${i}`));
    const exits = spec.exits.map((e, k) => ({ after: e.after, weight: e.weight, layers: e.layers.map((l, j) => build(l, `exit.${k}.${j}`)) }));
    for (const name of file.tensors.keys()) if (!used.has(name)) throw new FormatError("model", name, "tensor not used by the architecture");
    let model: Model;
    try {
      model = new Model(engine, trunk, exits, { finalWeight: spec.finalWeight, inputShape: spec.inputShape });
    } catch (e) {
      throw new FormatError("model", "presparse", `${source}: ${(e as Error).message}`);
    }
    if (model.classes !== spec.classes) throw new FormatError("model", "presparse.classes", `says ${spec.classes}, layers give ${model.classes}`);
    const hash = file.metadata.model_hash ?? hashModel(spec, Object.fromEntries(file.tensors));
    if (!/^[0-9a-f]{16}$/.test(hash)) throw new FormatError("model", "__metadata__.model_hash", `${source}: expected 16 lowercase hex digits, got ${JSON.stringify(hash)}`);
    // last: every structural check above names its field; what they cannot see is a changed weight
    checkTensorsChecksum(file, source);
    return { model, spec, hash, metadata: file.metadata };
  } catch (e) {
    for (const l of built) l.dispose();
    throw e;
  }
}
