// Split computing: a model cut after hidden layer k (1-based, trunk index k−1) into a head that runs on the edge
// (trunk layers 0…k−1 with the exits that branch off them) and a tail that runs on a server (the remaining trunk
// layers with the later exits, re-indexed). Both halves keep the full model's hash, so a frame says which model
// and which cut it belongs to. No Node modules: the head runs in browsers.
import type { Engine } from "../engine/engine.js";
import { FormatError, ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { ExitGate, checkPolicy, formatPolicy, parseExitPolicy, type ExitPolicy } from "../exits/runner.js";
import type { Layer, LayerSpec } from "../nn/layers/layer.js";
import { Model, runLayers, type Exit } from "../nn/model.js";
import { MODEL_FORMAT_VERSION, checkTensorsChecksum, layerFromFile, decodeModel, encodeModel, hashModel, layerFromTensors, modelSpec, modelTensors, type ModelSpec } from "../io/model_io.js";
import { decodeSafetensors } from "../io/safetensors.js";
import type { Matrix } from "../engine/buffers.js";

const HASH_RE = /^[0-9a-f]{16}$/;

/** Which half of a split model a bundle holds. */
export type SplitRole = "head" | "tail";

/**
 * The split record both bundles carry in their architecture's `extra.split`. `after` is k, the 1-based hidden
 * layer the cut follows, which is also the number of trunk layers on the edge and the `splitId` of every frame
 * that crosses this cut.
 */
export interface SplitInfo {
  role: SplitRole;
  after: number;
  splitId: number;
  /** Features per sample at the cut: what the head sends and the tail takes. */
  activationWidth: number;
  /** Per-sample shape at the cut ([C, H, W] after a convolution or pooling); frames carry it plus the batch. */
  activationShape: number[];
  /** Seed of the embedded train/test split the model was trained on, when known (so tools evaluate on unseen data). */
  dataSeed?: number;
  classes: number;
  /** Exits of the full model: those on the edge come first. */
  totalExits: number;
}

/** Options of {@link split}. */
export interface SplitModelOptions {
  /** Cut after hidden layer k, 1-based: trunk layers 0…k−1 go to the edge. 1 ≤ k ≤ trunk length − 1. */
  after: number;
  /** The full model's hash (default: computed from its architecture and weights, as a saved file has it). */
  hash?: string;
  /** An exit policy for the full model (one threshold per exit); each half stores its own share. */
  policy?: ExitPolicy | string;
  /** Seed of the embedded data split the model was trained on, recorded in both bundles. */
  dataSeed?: number;
}

/** What {@link Head.run} returns: the answers of edge exits and the activation of every other sample. */
export interface HeadResult {
  /** Samples in the batch. */
  n: number;
  /** Per sample: the edge exit that answered it (0-based), or −1 when it goes on to the server. */
  exit: Int32Array;
  /** Per exited sample: argmax class, max softmax probability and entropy (nats) of its exit; 0 for the others. */
  label: Int32Array;
  confidence: Float32Array;
  entropy: Float32Array;
  /** Positions in the batch of the samples that did not exit, increasing. */
  indices: Int32Array;
  /** Their activation at the cut, feature-major [activationWidth, indices.length] (a copy out of WASM memory). */
  activation: Float32Array;
}

/** What both halves answer from their split record. */
abstract class SplitHalf {
  abstract readonly info: SplitInfo & { hash: string };
  /** The full model's hash (frames carry it). */
  get hash(): string {
    return this.info.hash;
  }
  /** The cut (frames carry it as their split id). */
  get splitId(): number {
    return this.info.splitId;
  }
  /** Features per sample at the cut. */
  get activationWidth(): number {
    return this.info.activationWidth;
  }
  get classes(): number {
    return this.info.classes;
  }
}

/**
 * The edge half: trunk layers 0…k−1 and the exits that branch off them (their `after` unchanged). Its output is
 * the activation at the cut, not logits; samples an exit answers under a policy never reach it.
 */
export class Head extends SplitHalf {
  private readonly gate: ExitGate;

  constructor(
    readonly engine: Engine,
    readonly layers: Layer[],
    readonly exits: Exit[],
    readonly info: SplitInfo & { hash: string; inputShape: number[]; policy?: ExitPolicy },
  ) {
    super();
    if (layers.length === 0) throw new ValidationError("Head: needs at least one trunk layer");
    for (let i = 1; i < layers.length; i++) {
      if (layers[i]!.inputSize !== layers[i - 1]!.outputSize) throw new ShapeError(`Head: layer ${i} takes ${layers[i]!.inputSize} features, layer ${i - 1} gives ${layers[i - 1]!.outputSize}`);
    }
    if (info.after !== layers.length || info.splitId !== info.after) throw new ValidationError(`Head: split after ${info.after} (splitId ${info.splitId}) with ${layers.length} edge layers`);
    if (info.activationWidth !== layers[layers.length - 1]!.outputSize) throw new ShapeError(`Head: activation width ${info.activationWidth}, last layer gives ${layers[layers.length - 1]!.outputSize}`);
    const inSize = info.inputShape.reduce((a, b) => a * b, 1);
    if (inSize !== layers[0]!.inputSize) throw new ShapeError(`Head: input shape [${info.inputShape}] has ${inSize} features, layer 0 takes ${layers[0]!.inputSize}`);
    exits.forEach((e, k) => {
      checkInt("Head", `exits[${k}].after`, e.after, k === 0 ? 0 : exits[k - 1]!.after + 1, layers.length - 1);
      let w = layers[e.after]!.outputSize;
      for (const l of e.layers) {
        if (l.inputSize !== w) throw new ShapeError(`Head: exit ${k} layer takes ${l.inputSize} features, gets ${w}`);
        w = l.outputSize;
      }
      if (w !== info.classes) throw new ShapeError(`Head: exit ${k} gives ${w} classes, the model has ${info.classes}`);
    });
    if (info.policy) checkPolicy(info.policy, exits.length);
    this.gate = new ExitGate(engine);
  }

  get inputSize(): number {
    return this.layers[0]!.inputSize;
  }
  /** The exit policy stored with the head (its share of the full model's), if any. */
  get policy(): ExitPolicy | undefined {
    return this.info.policy;
  }

  /**
   * Runs X [inputSize, B]. With a policy (one threshold per edge exit), a sample stops at the first exit that
   * passes it and later layers run only on the rest (compacted); without one no exit head runs at all.
   */
  run(X: Matrix, policy?: ExitPolicy): HeadResult {
    if (X.rows !== this.inputSize) throw new ShapeError(`Head.run: X has ${X.rows} rows, the head takes ${this.inputSize} features`);
    if (policy) checkPolicy(policy, this.exits.length);
    const B = X.cols;
    const exit = new Int32Array(B).fill(-1), label = new Int32Array(B);
    const confidence = new Float32Array(B), entropy = new Float32Array(B);
    let alive = Int32Array.from({ length: B }, (_, i) => i);
    let h = X;
    let next = 0;
    for (let i = 0; i < this.layers.length && alive.length > 0; i++) {
      h = this.layers[i]!.forward(h);
      const ex = this.exits[next];
      if (!ex || ex.after !== i) continue;
      const e = next++;
      if (!policy) continue;
      const s = this.gate.statsOf(runLayers(ex.layers, h));
      const stay = this.gate.decide(s, policy, e);
      for (let j = 0, k = 0; j < s.label.length; j++) {
        if (k < stay.length && stay[k] === j) { k++; continue; }
        const b = alive[j]!;
        exit[b] = e; label[b] = s.label[j]!; confidence[b] = s.confidence[j]!; entropy[b] = s.entropy[j]!;
      }
      if (stay.length === alive.length) continue;
      if (stay.length > 0) h = this.gate.gather(e, h, stay);
      alive = Int32Array.from(stay, (j) => alive[j]!);
    }
    // h holds the cut's activation for exactly the samples in `alive` (or nothing when every sample exited)
    const activation = alive.length > 0 ? h.toArray() : new Float32Array(0);
    return { n: B, exit, label, confidence, entropy, indices: alive, activation };
  }

  /** MACs per sample (stored connections only) under a policy: answered at edge exit k, and sent to the server. */
  macs(): { perExit: number[]; sent: number } {
    const trunk: number[] = [];
    let s = 0;
    for (const l of this.layers) trunk.push((s += l.macsPerSample()));
    const heads = this.exits.map((e) => e.layers.reduce((a, l) => a + l.macsPerSample(), 0));
    const upTo = (k: number) => heads.slice(0, k + 1).reduce((a, b) => a + b, 0);
    return { perExit: this.exits.map((e, k) => trunk[e.after]! + upTo(k)), sent: s + upTo(heads.length - 1) };
  }

  dispose(): void {
    for (const l of [...this.layers, ...this.exits.flatMap((e) => e.layers)]) l.dispose();
    this.gate.dispose();
  }
}

/**
 * The server half: a Model over the remaining trunk layers (input = the activation at the cut) with the later
 * exits re-indexed. The server runs it to the final logits; its exits are kept in the bundle (and usable with
 * ExitRunner) but not applied when serving, so a server answer is always the final classifier's.
 */
export class Tail extends SplitHalf {
  constructor(
    readonly model: Model,
    readonly info: SplitInfo & { hash: string; policy?: ExitPolicy },
  ) {
    super();
    if (model.inputSize !== info.activationWidth) throw new ShapeError(`Tail: the model takes ${model.inputSize} features, the cut carries ${info.activationWidth}`);
    if (model.classes !== info.classes) throw new ShapeError(`Tail: the model gives ${model.classes} classes, the split says ${info.classes}`);
    if (info.splitId !== info.after) throw new ValidationError(`Tail: splitId ${info.splitId} differs from the cut ${info.after}`);
    if (info.policy) checkPolicy(info.policy, model.exits.length);
  }
  /** Final logits [classes, B] of an activation X [activationWidth, B] (owned by the last layer). */
  forward(X: Matrix): Matrix {
    return this.model.forward(X);
  }
  dispose(): void {
    this.model.dispose();
  }
}

function copyLayer(engine: Engine, l: Layer, where: string): Layer {
  return layerFromTensors(engine, l.spec(), l.tensors(), where);
}

/**
 * Cuts a model after hidden layer `after` (1-based). The halves hold copies of the layers (the model is left
 * untouched and may be disposed separately); run head then tail and a sample gets bit-for-bit the model's output.
 */
export function split(model: Model, opts: SplitModelOptions): { head: Head; tail: Tail } {
  const L = model.trunk.length;
  if (L < 2) throw new ValidationError(`split: a model with ${L} trunk layer cannot be split; it needs at least 2`);
  const k = checkInt("split", "after", opts.after, 1, L - 1);
  const hash = (opts.hash ?? hashModel(modelSpec(model), modelTensors(model))).toLowerCase();
  if (!HASH_RE.test(hash)) throw new ValidationError(`split: hash must be 16 hex digits, got ${JSON.stringify(opts.hash)}`);
  const E = model.exits.length;
  const policy = typeof opts.policy === "string" ? parseExitPolicy(opts.policy, E) : opts.policy ? checkPolicy(opts.policy, E) : undefined;
  const edgeExits = model.exits.filter((e) => e.after <= k - 1).length;
  const engine = model.engine;
  const width = model.trunk[k - 1]!.outputSize;
  const activationShape = [...(model.trunk[k - 1]!.outputShape ?? [width])];
  const base = { after: k, splitId: k, activationWidth: width, activationShape, classes: model.classes, totalExits: E, hash, ...(opts.dataSeed !== undefined ? { dataSeed: checkInt("split", "dataSeed", opts.dataSeed, 0, 2 ** 32 - 1) } : {}) };
  const built: Layer[] = [];
  const keep = (l: Layer) => (built.push(l), l);
  try {
    const headLayers = model.trunk.slice(0, k).map((l, i) => keep(copyLayer(engine, l, `trunk.${i}`)));
    const headExits = model.exits.slice(0, edgeExits).map((e, x) => ({ after: e.after, weight: e.weight, layers: e.layers.map((l, j) => keep(copyLayer(engine, l, `exit.${x}.${j}`))) }));
    const tailLayers = model.trunk.slice(k).map((l, i) => keep(copyLayer(engine, l, `trunk.${k + i}`)));
    const tailExits = model.exits.slice(edgeExits).map((e, x) => ({ after: e.after - k, weight: e.weight, layers: e.layers.map((l, j) => keep(copyLayer(engine, l, `exit.${edgeExits + x}.${j}`))) }));
    const headPolicy = policy && edgeExits > 0 ? { kind: policy.kind, thresholds: policy.thresholds.slice(0, edgeExits) } : undefined;
    const tailPolicy = policy && E - edgeExits > 0 ? { kind: policy.kind, thresholds: policy.thresholds.slice(edgeExits) } : undefined;
    const head = new Head(engine, headLayers, headExits, { ...base, role: "head", inputShape: model.inputShape, policy: headPolicy });
    const tailModel = new Model(engine, tailLayers, tailExits, { finalWeight: model.finalWeight, inputShape: [width] });
    return { head, tail: new Tail(tailModel, { ...base, role: "tail", policy: tailPolicy }) };
  } catch (e) {
    for (const l of built) l.dispose();
    throw e;
  }
}

function splitRecord(info: SplitInfo, role: SplitRole): SplitInfo {
  return {
    role, after: info.after, splitId: info.splitId, activationWidth: info.activationWidth, activationShape: info.activationShape,
    classes: info.classes, totalExits: info.totalExits, ...(info.dataSeed !== undefined ? { dataSeed: info.dataSeed } : {}),
  };
}

/**
 * The edge bundle: safetensors with tensors `trunk.<i>.*` / `exit.<e>.<j>.*`, the architecture (a model record
 * whose trunk ends at the cut) in `__metadata__.presparse` with `extra.split` (role "head") and `extra.policy`,
 * and the full model's hash in `__metadata__.model_hash`.
 */
export function encodeHead(head: Head): Uint8Array {
  const extra: Record<string, unknown> = { split: splitRecord(head.info, "head") };
  if (head.policy) extra.policy = formatPolicy(head.policy);
  // a model record whose trunk ends at the cut; no final classifier, so its loss weight is 0
  const parts = { trunk: head.layers, exits: head.exits, classes: head.classes, inputShape: head.info.inputShape, finalWeight: 0 };
  return encodeModel(parts, { extra, hash: head.hash }).bytes;
}

/** The server bundle: an ordinary presparse model file (decodeModel reads it) with `extra.split` role "tail". */
export function encodeTail(tail: Tail): Uint8Array {
  const extra: Record<string, unknown> = { split: splitRecord(tail.info, "tail") };
  if (tail.info.policy) extra.policy = formatPolicy(tail.info.policy);
  return encodeModel(tail.model, { extra, hash: tail.hash }).bytes;
}

function checkSplitRecord(x: unknown, role: SplitRole, source: string, hash: string | undefined): SplitInfo & { hash: string } {
  const f = (field: string, detail: string) => new FormatError("split", field, `${source}: ${detail}`);
  if (typeof x !== "object" || x === null) throw f("extra.split", "no split record: not a split bundle (use presparse split)");
  const s = x as Partial<SplitInfo>;
  if (s.role !== role) throw f("extra.split.role", `expected a ${role} bundle, got ${JSON.stringify(s.role)}`);
  for (const key of ["after", "splitId", "activationWidth", "classes", "totalExits"] as const) {
    const v = s[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < (key === "totalExits" ? 0 : 1)) throw f(`extra.split.${key}`, `expected a positive integer, got ${JSON.stringify(v)}`);
  }
  if (s.splitId !== s.after) throw f("extra.split.splitId", `expected ${s.after} (the cut), got ${s.splitId}`);
  const shape = s.activationShape ?? [s.activationWidth!];
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3 || !shape.every((d) => Number.isSafeInteger(d) && d >= 1) || shape.reduce((a, b) => a * b, 1) !== s.activationWidth) {
    throw f("extra.split.activationShape", `expected 1–3 positive integers whose product is the activation width ${s.activationWidth}, got ${JSON.stringify(s.activationShape)}`);
  }
  if (s.dataSeed !== undefined && !(Number.isSafeInteger(s.dataSeed) && s.dataSeed >= 0)) throw f("extra.split.dataSeed", `expected a non-negative integer, got ${JSON.stringify(s.dataSeed)}`);
  if (hash === undefined || !HASH_RE.test(hash)) throw f("model_hash", `expected 16 lowercase hex digits, got ${JSON.stringify(hash)}`);
  return { ...(s as SplitInfo), activationShape: [...shape], hash };
}

function storedPolicy(extra: Record<string, unknown> | undefined, exits: number, source: string): ExitPolicy | undefined {
  const p = extra?.policy;
  if (p === undefined) return undefined;
  if (typeof p !== "string") throw new FormatError("split", "extra.policy", `${source}: expected a policy string, got ${JSON.stringify(p)}`);
  try {
    return parseExitPolicy(p, exits);
  } catch (e) {
    throw new FormatError("split", "extra.policy", `${source}: ${(e as Error).message}`);
  }
}

/** Reads an edge bundle, checking safetensors rules, the split record, layer widths and that every tensor is used. */
export function loadHead(engine: Engine, bytes: Uint8Array, source = "head"): Head {
  const file = decodeSafetensors(bytes, { source, copy: true });
  const f = (field: string, detail: string) => new FormatError("split", field, `${source}: ${detail}`);
  const raw = file.metadata.presparse;
  if (raw === undefined) throw f("__metadata__.presparse", "not a presparse file (no architecture record)");
  let spec: ModelSpec;
  try {
    spec = JSON.parse(raw) as ModelSpec;
  } catch (e) {
    throw f("__metadata__.presparse", `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof spec !== "object" || spec === null || spec.format !== "presparse") throw f("presparse.format", `expected "presparse", got ${JSON.stringify((spec as Partial<ModelSpec> | null)?.format)}`);
  if (spec.version !== MODEL_FORMAT_VERSION) throw f("presparse.version", `expected ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(spec.version)}`);
  const info = checkSplitRecord(spec.extra?.split, "head", source, file.metadata.model_hash);
  if (!Array.isArray(spec.trunk) || spec.trunk.length !== info.after) throw f("presparse.trunk", `expected ${info.after} layers (the cut), got ${Array.isArray(spec.trunk) ? spec.trunk.length : JSON.stringify(spec.trunk)}`);
  if (!Array.isArray(spec.exits)) throw f("presparse.exits", "expected an array");
  if (!Array.isArray(spec.inputShape) || !spec.inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) throw f("presparse.inputShape", "expected positive integers");
  const used = new Set<string>();
  const layerSpec = (l: unknown, where: string): LayerSpec => {
    if (typeof l !== "object" || l === null || typeof (l as LayerSpec).kind !== "string") throw f(where, "expected a layer object with a kind");
    return l as LayerSpec;
  };
  const built: Layer[] = [];
  const keep = (l: Layer) => (built.push(l), l);
  try {
    const layers = spec.trunk.map((l, i) => keep(layerFromFile(engine, file, layerSpec(l, `presparse.trunk[${i}]`), `trunk.${i}`, used)));
    const exits = spec.exits.map((e, x) => {
      if (typeof e !== "object" || e === null || !Array.isArray(e.layers) || typeof e.after !== "number") throw f(`presparse.exits[${x}]`, "expected { after, weight, layers }");
      return { after: e.after, weight: e.weight, layers: e.layers.map((l, j) => keep(layerFromFile(engine, file, layerSpec(l, `presparse.exits[${x}].layers[${j}]`), `exit.${x}.${j}`, used))) };
    });
    for (const name of file.tensors.keys()) if (!used.has(name)) throw new FormatError("model", name, "tensor not used by the architecture");
    checkTensorsChecksum(file, source);
    if (exits.length > info.totalExits) throw f("extra.split.totalExits", `${info.totalExits}, but the head alone has ${exits.length} exits`);
    const policy = storedPolicy(spec.extra, exits.length, source);
    try {
      return new Head(engine, layers, exits, { ...info, inputShape: spec.inputShape, policy });
    } catch (e) {
      throw f("presparse", (e as Error).message);
    }
  } catch (e) {
    for (const l of built) l.dispose();
    throw e;
  }
}

/** Reads a server bundle (a model file with a tail split record); the model's input must be the cut's width. */
export function loadTail(engine: Engine, bytes: Uint8Array, source = "tail"): Tail {
  // the split record first, so a head bundle or a plain model is named as such rather than as a broken model
  const { record, hash } = splitRecordOf(bytes, source);
  const info = checkSplitRecord(record, "tail", source, hash);
  const loaded = decodeModel(engine, bytes, source);
  try {
    const policy = storedPolicy(loaded.spec.extra, loaded.model.exits.length, source);
    if (info.totalExits < loaded.model.exits.length) throw new FormatError("split", "extra.split.totalExits", `${source}: ${info.totalExits}, but the tail alone has ${loaded.model.exits.length} exits`);
    try {
      return new Tail(loaded.model, { ...info, policy });
    } catch (e) {
      throw new FormatError("split", "presparse", `${source}: ${(e as Error).message}`);
    }
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}

/** The bundle's split record (unchecked) and model hash, from one read of its header. */
function splitRecordOf(bytes: Uint8Array, source: string): { record: unknown; hash: string | undefined } {
  const file = decodeSafetensors(bytes, { source });
  let spec: Partial<ModelSpec> | null;
  try {
    spec = JSON.parse(file.metadata.presparse ?? "null") as Partial<ModelSpec> | null;
  } catch (e) {
    throw new FormatError("split", "__metadata__.presparse", `${source}: invalid JSON: ${(e as Error).message}`);
  }
  const record = typeof spec === "object" && spec !== null && typeof spec.extra === "object" && spec.extra !== null ? spec.extra.split : undefined;
  return { record, hash: file.metadata.model_hash };
}

/** Reads the split record of a bundle without building it (which half, where the cut is, which model). */
export function readSplitInfo(bytes: Uint8Array, source = "bundle"): SplitInfo & { hash: string } {
  const { record, hash } = splitRecordOf(bytes, source);
  const role = (record as Partial<SplitInfo> | undefined)?.role === "tail" ? "tail" : "head";
  return checkSplitRecord(record, role, source, hash);
}
