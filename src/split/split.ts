// Split computing: a model cut after hidden layer k (1-based, trunk index k−1) into a head that runs on the edge
// (trunk layers 0…k−1 with the exits that branch off them) and a tail that runs on a server (the remaining trunk
// layers with the later exits, re-indexed). Both are Models carrying the full model's hash in their split record,
// so a frame says which model and which cut it belongs to. No Node modules: the head runs in browsers.
import { ValidationError, checkInt, HASH_FORMAT } from "../engine/errors.js";
import { buildOrRollBack } from "../engine/scope.js";
import { checkPolicy, parseExitPolicy, type ExitPolicy } from "../exits/runner.js";
import { Model, type Exit, type Head, type SplitRecord, type Tail } from "../nn/model.js";
import type { Layer } from "../nn/layers/layer.js";
import { hashModel, modelSpec, modelTensors } from "../io/model_io.js";

export type { Head, SplitRecord, Tail } from "../nn/model.js";

/** Options of {@link split}. */
export interface SplitModelOptions {
  /** Cut after hidden layer k, 1-based: trunk layers 0…k−1 go to the edge. 1 ≤ k ≤ trunk length − 1. */
  cut: number;
  /** The full model's hash (default: computed from its architecture and weights, as a saved file has it). */
  hash?: string;
  /** An exit policy for the full model (one threshold per exit); each half keeps its own share. */
  policy?: ExitPolicy | string;
  /** Seed of the embedded data split the model was trained on, recorded in both halves. */
  dataSeed?: number;
}

/**
 * Cuts a model after hidden layer `cut`. The halves hold clones of the layers (the model is left untouched and may
 * be disposed separately); run head then tail and a sample gets bit-for-bit the model's output. Encode each half
 * with encodeModel; decodeModel reads it back.
 */
export function split(model: Model, opts: SplitModelOptions): { head: Head; tail: Tail } {
  const L = model.trunk.length;
  if (model.split) throw new ValidationError(`split: the model is already the ${model.split.role} of a split model`);
  if (L < 2) throw new ValidationError(`split: a model with ${L} trunk layer cannot be split; it needs at least 2`);
  const k = checkInt("split", "cut", opts.cut, 1, L - 1);
  const hash = opts.hash?.toLowerCase() ?? hashModel(modelSpec(model), modelTensors(model));
  if (!HASH_FORMAT.test(hash)) {
    throw new ValidationError(`split: hash must be 16 hex digits, got ${JSON.stringify(opts.hash)}`);
  }
  const E = model.exits.length;
  const p = opts.policy;
  const policy = typeof p === "string" ? parseExitPolicy(p, E) : p && checkPolicy(p, E);
  const edge = model.exits.filter((e) => e.after <= k - 1).length;
  // each half keeps the thresholds of its own exits
  const share = (from: number, to: number) =>
    policy && to > from ? { policy: { kind: policy.kind, thresholds: policy.thresholds.slice(from, to) } } : {};
  const cutLayer = model.trunk[k - 1]!;
  const seed = opts.dataSeed;
  const dataSeed = seed === undefined ? undefined : checkInt("split", "dataSeed", seed, 0, 2 ** 32 - 1);
  const record = {
    cut: k,
    activationShape: [...(cutLayer.outputShape ?? [cutLayer.outputSize])],
    classes: model.classes,
    totalExits: E,
    hash,
    ...(dataSeed !== undefined && { dataSeed }),
  };
  return buildOrRollBack(model.engine, (s) => {
    const layers = (ls: Layer[]) => ls.map((l) => s.keep(l.clone()));
    const exits = (es: Exit[], shift: number) =>
      es.map((e) => ({ after: e.after - shift, weight: e.weight, layers: layers(e.layers) }));
    const headSplit: SplitRecord = { role: "head", ...record, ...share(0, edge) };
    const tailSplit: SplitRecord = { role: "tail", ...record, ...share(edge, E) };
    const head = new Model(model.engine, layers(model.trunk.slice(0, k)), exits(model.exits.slice(0, edge), 0), {
      inputShape: model.inputShape,
      split: headSplit,
    });
    const tail = new Model(model.engine, layers(model.trunk.slice(k)), exits(model.exits.slice(edge), k), {
      finalWeight: model.finalWeight,
      inputShape: [cutLayer.outputSize],
      split: tailSplit,
    });
    return { head: head as Head, tail: tail as Tail };
  });
}
