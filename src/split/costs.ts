// What the planner needs of a model, measured on this machine: each trunk layer's and exit head's compute at batch 1
// (the fastest of timed blocks), MACs and bytes moved; each cut's frame per dtype; and, given held-out data, the
// accuracy of every cut per frame dtype and each candidate policy's exit rate and accuracy — the system's answers
// simulated exactly as the wire makes them (one-sample frames, rounded by the codec, the tail run on what decodes).
// Browser-safe: performance.now and WASM only.
import { ValidationError, checkInt } from "../engine/errors.js";
import { Matrix } from "../engine/buffers.js";
import { ExitRunner, checkPolicy, formatPolicy, parseExitPolicy, type ExitPolicy } from "../exits/runner.js";
import { Batcher } from "../nn/batcher.js";
import type { Dataset } from "../nn/dataset.js";
import type { Layer } from "../nn/layers/layer.js";
import { runLayers, type Model } from "../nn/model.js";
import { softmaxStats } from "../ops/softmax_xent.js";
import { csrBytesMoved } from "./energy.js";
import { FRAME_DTYPES, decodeFrame, encodeFrame, frameBytes, type FrameDtype } from "./frame.js";
import type { CutCost, ExitOption, PlanInput } from "./plan.js";

/**
 * Protocol bytes per request of SplitClient's HTTP/1.1 POST (Node's fetch, to 127.0.0.1 on a 5-digit port) and of
 * the tail server's 200 answer: their headers, counted by the link emulator. `presparse experiment` counts its own.
 */
export const HTTP_OVERHEAD_BYTES = { up: 244, down: 254 } as const;

/** One measured piece of the model at batch 1. */
export interface LayerCost {
  /** `trunk.<i>` or `exit.<e>`. */
  name: string;
  kind: string;
  ms: number;
  macs: number;
  bytesMoved: number;
  /** Weights, indices and biases stored, bytes. */
  storedBytes: number;
}

/** Options of {@link measureCosts}. */
export interface CostOptions {
  /** Held-out samples: accuracies and exit rates are measured on them. Without, `known` supplies them. */
  data?: Dataset;
  /** Figures measured earlier (a model file's training record and stored calibration), used without `data`. */
  known?: { accuracy: number; exits?: { policy: string; exitRate: number; accuracy: number }[] };
  /** Candidate exit policies (one threshold per exit of the model, or one for all), planned at every cut. */
  policies?: (ExitPolicy | string)[];
  /** Frame dtypes planned for the split (default all three). */
  dtypes?: FrameDtype[];
  /** The cuts planned, 1-based (default every one). */
  cuts?: number[];
  /** Dtype of full offload's input frame (default int8: an 8-bit image's size). */
  offloadDtype?: FrameDtype;
  /** Added to every server time: the request's handling on the server and the network stack (default 0). */
  protocolMs?: number;
  /** Length of one timed block, ms (default 2); the fastest of `blocks` (default 7) is taken. */
  blockMs?: number;
  blocks?: number;
}

/** The planner's input without the link, and what it was measured from. */
export interface MeasuredCosts {
  input: Omit<PlanInput, "link">;
  layers: LayerCost[];
  /** Held-out samples the accuracies come from (0: from `known`). */
  samples: number;
}

/** Per sample: who answered it (an exit k on the edge, or E, the final classifier) and its class. */
export interface SystemAnswers {
  exit: Int32Array;
  label: Int32Array;
  accuracy: number;
  /** Share answered on the edge. */
  exitRate: number;
}

/** Loads and stores of a layer at batch 1 (energy): exact for linear layers, 12 B per MAC plus in/out otherwise. */
export function layerBytesMoved(l: Layer): number {
  const macs = l.macsPerSample();
  if (l.kind === "linear") return csrBytesMoved(l.outputSize, macs, macs === l.inputSize * l.outputSize);
  return 12 * macs + 4 * (l.inputSize + l.outputSize);
}

/** Weights, biases and (for a sparse layer) its column indices and row pointers, bytes. */
export function layerStoredBytes(l: Layer): number {
  const values = l.params().reduce((s, p) => s + p.values.length, 0);
  const macs = l.macsPerSample();
  const sparse = l.kind === "linear" ? macs < l.inputSize * l.outputSize : macs > 0;
  return 4 * values + (sparse ? 4 * (macs + l.outputSize + 1) : 0);
}

/**
 * Ms of one call of `fn`: the fastest of `blocks` timed blocks of at least `blockMs` each (another process on the
 * machine can only make a block slower).
 */
export function timeMs(fn: () => void, blockMs = 2, blocks = 7): number {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    if (performance.now() - t0 >= blockMs || reps >= 1 << 20) break;
    reps *= 2;
  }
  const times: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    times.push((performance.now() - t0) / reps);
  }
  return Math.min(...times);
}

const NO_MODEL = "0000000000000000";

/** Values as a one-sample frame of this dtype carries them (f32: as they are). */
function wire(x: Float32Array, dtype: FrameDtype): Float32Array {
  if (dtype === "f32") return x;
  if (dtype === "f16" && x.some((v) => Math.abs(v) >= 65520)) return x; // f16 cannot carry it: the server answers f32
  const f = encodeFrame({ data: x, shape: [x.length, 1], dtype, kind: "activation", splitId: 0, modelHash: NO_MODEL });
  return decodeFrame(f).data;
}

/** Columns [w, m] each rounded as its own one-sample frame, in place. */
function wireColumns(a: Float32Array, w: number, m: number, dtype: FrameDtype): void {
  if (dtype === "f32") return;
  const col = new Float32Array(w);
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < w; i++) col[i] = a[i * m + j]!;
    const r = wire(col, dtype);
    for (let i = 0; i < w; i++) a[i * m + j] = r[i]!;
  }
}

/**
 * The deployed system's answer for every sample of `data`, one sample per frame: cut 0 is full offload (the input
 * through a frame, the whole model on the server); cut k runs trunk layers 1…k and their exits under `policy` on the
 * edge, sends the rest's activation through a frame of `dtype`, and the final classifier answers it, its logits back
 * through a frame of the same dtype (as the tail server answers).
 */
export function systemAnswers(
  model: Model,
  data: Dataset,
  o: { cut: number; dtype: FrameDtype; policy?: ExitPolicy },
): SystemAnswers {
  const L = model.trunk.length,
    E = model.exits.length,
    C = model.classes;
  const cut = checkInt("systemAnswers", "cut", o.cut, 0, L - 1);
  if (model.split) throw new ValidationError("systemAnswers: needs the whole model, not a half of a split");
  if (data.features !== model.inputSize)
    throw new ValidationError(`systemAnswers: data has ${data.features} features, the model takes ${model.inputSize}`);
  const out = { exit: new Int32Array(data.n), label: new Int32Array(data.n) };
  const batcher = new Batcher(model.engine, data, Math.min(256, Math.max(1, data.n)));
  const runner = cut > 0 ? new ExitRunner(model, o.policy, { until: cut, logits: false }) : undefined;
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  try {
    for (let s = 0; s < data.n; s += batcher.maxBatch) {
      const size = Math.min(batcher.maxBatch, data.n - s);
      const X = batcher.load(order, s, size);
      let rest: Int32Array, act: Float32Array;
      if (runner) {
        const r = runner.run(X);
        for (let j = 0; j < size; j++) [out.exit[s + j], out.label[s + j]] = [r.exit[j]!, r.label[j]!];
        [rest, act] = [r.indices, r.activation];
      } else [rest, act] = [order.subarray(0, size), X.toArray()];
      const m = rest.length;
      if (m === 0) continue;
      const w = act.length / m;
      wireColumns(act, w, m, o.dtype);
      const A = Matrix.from(model.engine, w, m, act);
      const z = runLayers(model.trunk.slice(cut), A).toArray();
      A.dispose();
      // the server answers in the request's dtype: the client's class comes from the logits as they arrive
      wireColumns(z, C, m, o.dtype);
      const st = softmaxStats(z, C, m);
      for (let j = 0; j < m; j++) [out.exit[s + rest[j]!], out.label[s + rest[j]!]] = [E, st.label[j]!];
    }
  } finally {
    runner?.dispose();
    batcher.dispose();
  }
  let right = 0,
    edge = 0;
  for (let i = 0; i < data.n; i++) {
    if (out.label[i] === data.y[i]) right++;
    if (out.exit[i]! < E) edge++;
  }
  const n = Math.max(1, data.n);
  return { ...out, accuracy: right / n, exitRate: edge / n };
}

/**
 * Measures what {@link plan} needs of `model`: per-layer compute at batch 1 on this machine (the sum up to a cut is
 * the edge's, the rest the server's), MACs, bytes moved and stored, frame sizes, and accuracies and exit rates on
 * `data` (or the `known` figures). Add a link and call `plan({ ...costs.input, link })`.
 */
export function measureCosts(model: Model, o: CostOptions = {}): MeasuredCosts {
  if (model.split) throw new ValidationError("measureCosts: needs the whole model, not a half of a split");
  const L = model.trunk.length,
    E = model.exits.length,
    C = model.classes;
  if (!o.data && !o.known) throw new ValidationError("measureCosts: give held-out data or known accuracies");
  const dtypes = o.dtypes ?? [...FRAME_DTYPES];
  for (const d of [...dtypes, o.offloadDtype ?? "int8"])
    if (!FRAME_DTYPES.includes(d)) throw new ValidationError(`measureCosts: no frame dtype ${JSON.stringify(d)}`);
  const cuts = o.cuts ?? Array.from({ length: L - 1 }, (_, i) => i + 1);
  cuts.forEach((k) => checkInt("measureCosts", "cut", k, 1, L - 1));
  const policies = (o.policies ?? []).map((p) => (typeof p === "string" ? parseExitPolicy(p, E) : checkPolicy(p, E)));
  const protocolMs = o.protocolMs ?? 0;
  if (!(protocolMs >= 0 && Number.isFinite(protocolMs)))
    throw new ValidationError(`measureCosts: protocolMs must be ≥ 0, got ${String(protocolMs)}`);
  const time = (fn: () => void) => timeMs(fn, o.blockMs, o.blocks);

  // one real sample's activations feed the timed layers (the first held-out sample, else zeros)
  const x0 = o.data ? o.data.x.subarray(0, model.inputSize) : new Float32Array(model.inputSize);
  const X = Matrix.from(model.engine, model.inputSize, 1, x0);
  const layers: LayerCost[] = [];
  const acts: Matrix[] = [];
  try {
    let h = X;
    model.trunk.forEach((l, i) => {
      const input = h;
      layers.push(
        piece(
          `trunk.${i}`,
          l,
          [l],
          time(() => l.forward(input)),
        ),
      );
      acts.push((h = l.forward(input)));
    });
    model.exits.forEach((e, k) => {
      const input = acts[e.after]!;
      const ms = time(() => softmaxStats(runLayers(e.layers, input).view(), C, 1));
      layers.push(piece(`exit.${k}`, e.layers[0]!, e.layers, ms));
    });
  } finally {
    X.dispose();
  }
  const trunk = layers.slice(0, L),
    heads = layers.slice(L);
  const sum = (ls: LayerCost[], k: keyof LayerCost) => ls.reduce((s, l) => s + (l[k] as number), 0);
  const act = (k: number) => 4 * Math.max(model.inputSize, ...model.trunk.slice(0, k).map((l) => l.outputSize));
  const workingSet = (ls: LayerCost[], k: number) => sum(ls, "storedBytes") + 2 * act(k);

  const answers = (cut: number, dtype: FrameDtype, policy?: ExitPolicy) =>
    systemAnswers(model, o.data!, { cut, dtype, ...(policy && { policy }) });
  const finalAccuracy = o.data ? answers(0, "f32").accuracy : o.known!.accuracy;
  const offloadDtype = o.offloadDtype ?? "int8";
  const cutCosts: CutCost[] = cuts.map((k) => {
    const edge = trunk.slice(0, k),
      edgeExits = model.exits.flatMap((e, i) => (e.after <= k - 1 ? [heads[i]!] : []));
    const w = model.trunk[k - 1]!.outputSize;
    const exits: ExitOption[] = [];
    if (edgeExits.length > 0) {
      const known = o.data ? [] : (o.known!.exits ?? []);
      const candidates = o.data ? policies.map(formatPolicy) : known.map((e) => e.policy);
      candidates.forEach((policy, i) => {
        const measured = o.data
          ? Object.fromEntries(dtypes.map((d) => [d, answers(k, d, policies[i])] as const))
          : undefined;
        exits.push({
          policy,
          exitRate: measured ? measured[dtypes[0]!]!.exitRate : known[i]!.exitRate,
          accuracy: measured ? Object.fromEntries(dtypes.map((d) => [d, measured[d]!.accuracy])) : known[i]!.accuracy,
          ms: sum(edgeExits, "ms"),
          macs: sum(edgeExits, "macs"),
          bytesMoved: sum(edgeExits, "bytesMoved"),
        });
      });
    }
    return {
      cut: k,
      edgeMs: sum(edge, "ms"),
      serverMs: sum(trunk.slice(k), "ms") + protocolMs,
      edgeMacs: sum(edge, "macs"),
      serverMacs: sum(trunk.slice(k), "macs"),
      edgeBytesMoved: sum(edge, "bytesMoved"),
      edgeWorkingSetBytes: workingSet([...edge, ...edgeExits], k),
      frameBytes: Object.fromEntries(dtypes.map((d) => [d, frameBytes([w, 1], d)])),
      accuracy: Object.fromEntries(dtypes.map((d) => [d, o.data ? answers(k, d).accuracy : finalAccuracy])),
      exits,
    };
  });
  const input: Omit<PlanInput, "link"> = {
    full: {
      edgeMs: sum(trunk, "ms"),
      serverMs: sum(trunk, "ms") + protocolMs,
      macs: sum(trunk, "macs"),
      bytesMoved: sum(trunk, "bytesMoved"),
      workingSetBytes: workingSet(trunk, L),
      accuracy: finalAccuracy,
    },
    offloadAccuracy: o.data ? answers(0, offloadDtype).accuracy : finalAccuracy,
    offloadDtype,
    inputBytes: frameBytes([model.inputSize, 1], offloadDtype),
    answerBytes: Object.fromEntries(
      ["f32", offloadDtype, ...dtypes].map((d) => [d, frameBytes([C, 1], d as FrameDtype)]),
    ),
    cuts: cutCosts,
  };
  return { input, layers, samples: o.data?.n ?? 0 };
}

function piece(name: string, first: Layer, ls: Layer[], ms: number): LayerCost {
  const add = (f: (l: Layer) => number) => ls.reduce((s, l) => s + f(l), 0);
  return {
    name,
    kind: first.kind,
    ms,
    macs: add((l) => l.macsPerSample()),
    bytesMoved: add(layerBytesMoved),
    storedBytes: add(layerStoredBytes),
  };
}
