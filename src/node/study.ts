// One network trained under one seed, the way the study measures it, and the intervals over seeds: a seed
// draws the pattern, the initial weights and the batch order (the data split stays the experiment's own).
import { calibrate, pickForAccuracy, type Calibration, type SweepPoint } from "../exits/calibrate.js";
import { subset, type Dataset } from "../nn/dataset.js";
import type { Engine } from "../engine/engine.js";
import { Model } from "../nn/model.js";
import { Adam } from "../nn/optimizers.js";
import { evaluate, train, type EpochReport } from "../nn/train.js";
import type { SparseLinear } from "../nn/layers/sparse_linear.js";
import type { Pattern } from "../sparsity/pattern.js";
import { frameBytes } from "../split/frame.js";
import { interval, type Interval } from "../report/stats.js";

/** The network's shape: sizes and out-degrees (an out-degree ≥ the next width is a dense layer). */
export interface Shape {
  sizes: number[];
  outDegrees: number[];
  /** Per layer, groups of this many outputs that read the same inputs (default unblocked). */
  blocks?: number[];
}

/** How every network of the study is trained and its exit calibrated. */
export interface Recipe {
  epochs: number;
  batch: number;
  lr: number;
  decay: number;
  /** Early exit and split after this hidden layer (1-based). */
  exitAfter: number;
  /** Loss weights: exit, final. */
  exitWeights: [number, number];
  /** Largest accuracy loss (points) the calibrated policy may cost vs the final exit. */
  targetLoss: number;
}

/** What one seed gave: accuracies on the whole test set, the calibrated exit's rate, cost and bytes on the wire. */
export interface SeedRun {
  seed: number;
  accuracyFinal: number;
  accuracyExit: number;
  /** The early-exit system under the calibrated policy (simulated exactly in float32, the test set whole). */
  accuracySystem: number;
  /** Share of test samples the calibrated exit answers on the edge. */
  exitRate: number;
  /** Mean MACs per sample under the policy. */
  meanMacs: number;
  /** Mean int8 frame bytes sent per sample under the policy (exited samples send nothing). */
  bytesSent: number;
  policy: string | undefined;
  /** Mean training time per epoch, evaluation excluded. */
  secondsPerEpoch: number;
}

/** The intervals of a network over its seeds. */
export interface SeedStats {
  seeds: number[];
  accuracyFinal: Interval;
  accuracyExit: Interval;
  accuracySystem: Interval;
  exitRate: Interval;
  meanMacs: Interval;
  bytesSent: Interval;
  secondsPerEpoch: Interval;
}

/** A trained model with the curves of its seed run (the caller disposes the model). */
export interface Trained {
  model: Model;
  epochs: EpochReport[];
  /** Threshold sweep on the whole test set. */
  calibration: Calibration;
  /** The policy picked on the even half of the test set. */
  chosen: SweepPoint | undefined;
  run: SeedRun;
}

/** The even-indexed half of a test set, on which exit thresholds are picked. */
export function evenHalf(test: Dataset, name = test.name): Dataset {
  return subset(
    test,
    Int32Array.from({ length: Math.ceil(test.n / 2) }, (_, i) => 2 * i),
    name,
  );
}

/**
 * Trains `shape` with one exit under `seed`, calibrates the exit on `even` and measures on `test`. With `curve`,
 * the test set is evaluated after every epoch (the training chart); else once, at the end.
 */
export function trainSeed(
  engine: Engine,
  shape: Shape,
  r: Recipe,
  data: { train: Dataset; test: Dataset; even: Dataset },
  seed: number,
  o: { curve?: boolean; onEpoch?: (e: EpochReport) => void } = {},
): Trained {
  const model = Model.mlp(engine, {
    sizes: shape.sizes,
    outDegrees: shape.outDegrees,
    ...(shape.blocks && { blocks: shape.blocks }),
    seed,
    exits: [{ after: r.exitAfter - 1, weight: r.exitWeights[0] }],
    finalWeight: r.exitWeights[1],
  });
  const optimizer = new Adam({ lr: r.lr, decay: r.decay });
  try {
    const epochs = train(model, data.train, {
      epochs: r.epochs,
      batchSize: r.batch,
      optimizer,
      seed,
      ...(o.curve && { test: data.test }),
      trainAccuracy: false,
      ...(o.curve && o.onEpoch && { onEpoch: o.onEpoch }),
    });
    const chosen = pickForAccuracy(calibrate(model, data.even), r.targetLoss);
    const calibration = calibrate(model, data.test);
    const at = chosen ? calibration.points.find((p) => p.policy === chosen.policy) : undefined;
    const width = shape.sizes[r.exitAfter]!;
    const earlyRate = at?.earlyRate ?? 0;
    const run: SeedRun = {
      seed,
      accuracyFinal: calibration.finalAccuracy,
      accuracyExit: evaluate(model, data.test).accuracy[0]!,
      accuracySystem: at?.accuracy ?? calibration.finalAccuracy,
      exitRate: earlyRate,
      meanMacs: at?.meanMacs ?? calibration.fullMacs,
      bytesSent: (1 - earlyRate) * frameBytes([1, width], "int8"),
      policy: chosen?.policy,
      secondsPerEpoch: epochs.reduce((s, e) => s + e.seconds, 0) / epochs.length,
    };
    return { model, epochs, calibration, chosen, run };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }
}

/** Intervals over the seed runs of one network. */
export function seedStats(runs: SeedRun[]): SeedStats {
  const of = (k: keyof Omit<SeedRun, "seed" | "policy">) => interval(runs.map((r) => r[k]));
  return {
    seeds: runs.map((r) => r.seed),
    accuracyFinal: of("accuracyFinal"),
    accuracyExit: of("accuracyExit"),
    accuracySystem: of("accuracySystem"),
    exitRate: of("exitRate"),
    meanMacs: of("meanMacs"),
    bytesSent: of("bytesSent"),
    secondsPerEpoch: of("secondsPerEpoch"),
  };
}

/** The seeds of a study: `count` consecutive seeds from `first`. */
export function seedList(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Seconds per epoch, three ways, measured back to back in one process on the same data and seed. */
export interface TrainingCost {
  epochs: number;
  /** Median seconds per epoch over the stored connections (the sparse network). */
  sparse: number;
  /** The dense twin in this engine. */
  dense: number;
  /** The seed paper's method: the dense twin's layers, W ← W ⊙ M after every batch for each sparse layer's mask. */
  maskedDense: number;
}

/** A pattern's 0/1 mask over the dense row-major weights [outputs, inputs]; undefined for a full pattern. */
export function denseMask(p: Pattern): Float32Array | undefined {
  if (p.nnz === p.inputs * p.outputs) return undefined;
  const m = new Float32Array(p.inputs * p.outputs);
  for (let row = 0; row < p.outputs; row++)
    for (let q = p.rowPtr[row]!; q < p.rowPtr[row + 1]!; q++) m[row * p.inputs + p.colIdx[q]!] = 1;
  return m;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Times `epochs` epochs of `shape` trained over its stored connections, of its dense twin, and of the twin masked
 * after every batch to `shape`'s patterns (the masked product is dense: nothing is saved but the zeros).
 */
export function trainingCost(
  engine: Engine,
  shape: Shape,
  r: Recipe,
  data: Dataset,
  seed: number,
  epochs: number,
): TrainingCost {
  const dense = { sizes: shape.sizes, outDegrees: shape.sizes.slice(1) };
  const build = (s: Shape) =>
    Model.mlp(engine, {
      sizes: s.sizes,
      outDegrees: s.outDegrees,
      ...(s.blocks && { blocks: s.blocks }),
      seed,
      exits: [{ after: r.exitAfter - 1, weight: r.exitWeights[0] }],
      finalWeight: r.exitWeights[1],
    });
  const time = (model: Model, afterBatch?: () => void) => {
    const optimizer = new Adam({ lr: r.lr, decay: r.decay });
    try {
      const reports = train(model, data, {
        epochs,
        batchSize: r.batch,
        optimizer,
        seed,
        trainAccuracy: false,
        ...(afterBatch && { onBatch: afterBatch }),
      });
      return median(reports.map((e) => e.seconds));
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  };
  const sparse = build(shape);
  const masks = sparse.trunk.map((l) => denseMask((l as SparseLinear).pattern));
  const sparseSeconds = time(sparse);
  const denseSeconds = time(build(dense));
  const masked = build(dense);
  const applyMasks = () => {
    masked.trunk.forEach((l, k) => {
      const m = masks[k];
      if (!m) return;
      // a fresh view each time: growing WASM memory detaches the old one
      const v = (l as SparseLinear).weights.values.view();
      for (let j = 0; j < m.length; j++) v[j]! *= m[j]!;
    });
  };
  applyMasks();
  const maskedSeconds = time(masked, applyMasks);
  return { epochs, sparse: sparseSeconds, dense: denseSeconds, maskedDense: maskedSeconds };
}
