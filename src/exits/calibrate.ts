// Threshold calibration for early exits: every classifier's softmax statistics are computed once per sample,
// then each candidate threshold is simulated exactly (a sample's outputs do not depend on its batch).
import { Batcher } from "../nn/batcher.js";
import type { Dataset } from "../nn/dataset.js";
import { ValidationError } from "../engine/errors.js";
import { ExitRunner, exitMacs, formatPolicy, passes, type ExitPolicy } from "./runner.js";
import type { Model } from "../nn/model.js";
import { softmaxStats } from "../ops/softmax_xent.js";
import { Scope } from "../engine/scope.js";

/**
 * Per classifier (exits first, final last) and sample: predicted class, max probability, entropy — in float64, the
 * values the early-exit runner decides on, so a simulated decision is the real one.
 */
export interface ClassifierStats {
  n: number;
  labels: Int32Array;
  pred: Int32Array[];
  confidence: Float64Array[];
  entropy: Float64Array[];
}

/** One point of a sweep. */
export interface SweepPoint {
  threshold: number;
  policy: string;
  accuracy: number;
  /** Fraction answered by each classifier, exits first, final last. */
  exitRates: number[];
  /** Fraction answered before the final classifier. */
  earlyRate: number;
  meanMacs: number;
  /** Simulated points: samples the final classifier gets right and the early-exit system wrong, and the reverse. */
  lost?: number;
  gained?: number;
  n: number;
}

export interface Calibration {
  kind: ExitPolicy["kind"];
  finalAccuracy: number;
  fullMacs: number;
  points: SweepPoint[];
}

/** Runs every classifier on every sample of `data` once. */
export function classifierStats(model: Model, data: Dataset, batchSize = 1024): ClassifierStats {
  const K = model.exits.length + 1;
  const st: ClassifierStats = {
    n: data.n,
    labels: data.y.slice(0, data.n),
    pred: Array.from({ length: K }, () => new Int32Array(data.n)),
    confidence: Array.from({ length: K }, () => new Float64Array(data.n)),
    entropy: Array.from({ length: K }, () => new Float64Array(data.n)),
  };
  const batcher = new Batcher(model.engine, data, Math.min(batchSize, Math.max(1, data.n)));
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  try {
    for (let s = 0; s < data.n; s += batcher.maxBatch) {
      const size = Math.min(batcher.maxBatch, data.n - s);
      // the statistics the early-exit runner decides on, so simulated and real decisions agree exactly
      model.forwardAll(batcher.load(order, s, size)).forEach((z, k) => {
        const c = softmaxStats(z.view(), z.rows, z.cols);
        st.pred[k]!.set(c.label, s);
        st.confidence[k]!.set(c.confidence, s);
        st.entropy[k]!.set(c.entropy, s);
      });
    }
  } finally {
    batcher.dispose();
  }
  return st;
}

/** Per-sample counting shared by the simulation and the real run: who answered, at what cost, and was it right. */
function tally(model: Model) {
  const macs = exitMacs(model);
  const cost = [...macs.perExit, macs.final];
  const answered = new Array<number>(cost.length).fill(0);
  let right = 0,
    spent = 0;
  return {
    add(k: number, ok: boolean): void {
      answered[k]!++;
      spent += cost[k]!;
      if (ok) right++;
    },
    point(policy: ExitPolicy, count: number): SweepPoint {
      const n = Math.max(1, count);
      const exitRates = answered.map((a) => a / n);
      return {
        threshold: policy.thresholds[0] ?? NaN,
        policy: formatPolicy(policy),
        accuracy: right / n,
        exitRates,
        earlyRate: 1 - exitRates[exitRates.length - 1]!,
        meanMacs: spent / n,
        n: count,
      };
    },
  };
}

/** The early-exit system's outcome under a policy, from precomputed statistics. */
export function simulatePolicy(model: Model, st: ClassifierStats, policy: ExitPolicy): SweepPoint {
  const E = model.exits.length;
  const t = tally(model);
  let lost = 0,
    gained = 0;
  for (let i = 0; i < st.n; i++) {
    let k = 0;
    while (k < E && !passes(policy, k, st.confidence[k]![i]!, st.entropy[k]![i]!)) k++;
    const ok = st.pred[k]![i] === st.labels[i],
      finalOk = st.pred[E]![i] === st.labels[i];
    t.add(k, ok);
    if (finalOk && !ok) lost++;
    if (ok && !finalOk) gained++;
  }
  return { ...t.point(policy, st.n), lost, gained };
}

/** Default threshold grids: Shallow-Deep's max-softmax q from 0.1 to 0.9999, BranchyNet's entropy T log-spaced. */
export function defaultGrid(kind: ExitPolicy["kind"]): number[] {
  if (kind === "maxprob") {
    const g = [
      0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.995, 0.998,
      0.999, 0.9995, 0.9999,
    ];
    return g;
  }
  const g: number[] = [];
  // an integer counter: e += 0.2 from −4 overshoots 0.4 by 1e-15 and drops the last point, 10^0.4 > ln 10
  for (let i = -20; i <= 2; i++) g.push(Number((10 ** (i / 5)).toPrecision(3)));
  return g;
}

/** Sweeps one shared threshold over all exits. */
export function sweep(
  model: Model,
  st: ClassifierStats,
  kind: ExitPolicy["kind"],
  grid = defaultGrid(kind),
): Calibration {
  if (model.exits.length === 0) throw new ValidationError("calibrate: the model has no exits");
  const E = model.exits.length;
  const finalAccuracy = accuracyOf(st, E);
  const points = grid.map((t) => simulatePolicy(model, st, { kind, thresholds: new Array(E).fill(t) }));
  return { kind, finalAccuracy, fullMacs: exitMacs(model).trunk, points };
}

/** Every classifier run once over `data`, then one shared threshold swept over all exits (see {@link sweep}). */
export function calibrate(
  model: Model,
  data: Dataset,
  kind: ExitPolicy["kind"] = "maxprob",
  grid?: number[],
): Calibration {
  return sweep(model, classifierStats(model, data), kind, grid);
}

function accuracyOf(st: ClassifierStats, k: number): number {
  let r = 0;
  for (let i = 0; i < st.n; i++) if (st.pred[k]![i] === st.labels[i]) r++;
  return r / Math.max(1, st.n);
}

/**
 * The point with the lowest mean MACs whose accuracy loss against the final exit, plus `z` standard errors of that
 * paired difference (√(lost + gained)/n, as in McNemar's test), is at most `maxLossPoints` percentage points —
 * so a threshold picked on a small calibration set still holds on new data. z = 0 trusts the sample as it is.
 */
export function pickForAccuracy(c: Calibration, maxLossPoints: number, z = 1): SweepPoint | undefined {
  const ok = c.points.filter((p) => {
    const n = Math.max(1, p.n),
      lost = p.lost ?? 0,
      gained = p.gained ?? 0;
    return (lost - gained) / n + (z * Math.sqrt(lost + gained)) / n <= maxLossPoints / 100 + 1e-12;
  });
  return ok.sort((a, b) => a.meanMacs - b.meanMacs || b.accuracy - a.accuracy)[0];
}

/**
 * The knee of accuracy vs mean MACs: in coordinates scaled to [0, 1], the point farthest above the chord from the
 * cheapest to the costliest point.
 */
export function pickKnee(c: Calibration): SweepPoint {
  const pts = [...c.points].sort((a, b) => a.meanMacs - b.meanMacs);
  const m0 = pts[0]!.meanMacs,
    m1 = pts[pts.length - 1]!.meanMacs;
  const accs = pts.map((p) => p.accuracy);
  const a0 = Math.min(...accs),
    a1 = Math.max(...accs);
  const x = (p: SweepPoint) => (m1 > m0 ? (p.meanMacs - m0) / (m1 - m0) : 0);
  const y = (p: SweepPoint) => (a1 > a0 ? (p.accuracy - a0) / (a1 - a0) : 0);
  const ya = y(pts[0]!),
    yb = y(pts[pts.length - 1]!);
  let best = pts[0]!,
    bestD = -Infinity;
  for (const p of pts) {
    const d = y(p) - (ya + (yb - ya) * x(p));
    if (d > bestD) {
      bestD = d;
      best = p;
    }
  }
  return best;
}

/** Runs the real early-exit system (with compaction) and reports the same figures as a sweep point. */
export function measurePolicy(model: Model, data: Dataset, policy: ExitPolicy, batchSize = 1024): SweepPoint {
  const t = tally(model);
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  Scope.run(model.engine, (scope) => {
    const runner = scope.keep(new ExitRunner(model, policy));
    const batcher = scope.keep(new Batcher(model.engine, data, Math.min(batchSize, Math.max(1, data.n))));
    for (let s = 0; s < data.n; s += batcher.maxBatch) {
      const size = Math.min(batcher.maxBatch, data.n - s);
      const r = runner.run(batcher.load(order, s, size));
      for (let j = 0; j < size; j++) t.add(r.exit[j]!, r.label[j] === data.y[s + j]);
    }
  });
  return t.point(policy, data.n);
}
