// Epochs of seeded mini-batches over a Dataset: batches are copied straight into WASM memory, feature-major.
import { Batcher } from "./batcher.js";
import type { Dataset } from "./dataset.js";
import { shuffledIndices } from "./dataset.js";
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import type { Model } from "./model.js";
import type { Optimizer } from "./optimizers.js";
import { Rng } from "../engine/random.js";
import { softmaxCrossEntropy, softmaxStats } from "../ops/softmax_xent.js";

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: Optimizer;
  seed?: number;
  /** Evaluated after every epoch when given. */
  test?: Dataset;
  /** Also measure accuracy on the training set after each epoch (a full extra pass; default true). */
  trainAccuracy?: boolean;
  onEpoch?: (r: EpochReport) => void;
  /** Called after each batch with (epoch, batch index, batches per epoch), both 1-based. */
  onBatch?: (epoch: number, batch: number, batches: number) => void;
}

export interface EpochReport {
  epoch: number;
  loss: number;
  /** Mean cross-entropy per classifier over the epoch: exits first, final last. */
  losses: number[];
  trainAccuracy?: number[];
  testAccuracy?: number[];
  seconds: number;
  samplesPerSecond: number;
}

export interface EvalReport {
  /** Accuracy per classifier: exits first, final last. */
  accuracy: number[];
  loss: number[];
  n: number;
}

function checkData(model: Model, ds: Dataset, op: string): void {
  if (ds.features !== model.inputSize)
    throw new ShapeError(`${op}: data has ${ds.features} features, model takes ${model.inputSize}`);
  if (ds.classes > model.classes)
    throw new ShapeError(`${op}: data has ${ds.classes} classes, model outputs ${model.classes}`);
}

/** Trains in place; returns one report per epoch. Time excludes the evaluation passes. */
export function train(model: Model, data: Dataset, o: TrainOptions): EpochReport[] {
  checkData(model, data, "train");
  checkInt("train", "epochs", o.epochs, 1);
  checkInt("train", "batchSize", o.batchSize, 1, 1 << 16);
  if (data.n === 0) throw new ValidationError("train: the training set is empty");
  const engine = model.engine;
  const rng = new Rng(o.seed ?? 0);
  const batcher = new Batcher(engine, data, o.batchSize);
  const batches = Math.ceil(data.n / o.batchSize);
  const reports: EpochReport[] = [];
  let testBatcher: Batcher | undefined;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order = shuffledIndices(data.n, rng);
      const t0 = performance.now();
      let total = 0;
      const sums = new Array<number>(model.exits.length + 1).fill(0);
      for (let b = 0; b < batches; b++) {
        const start = b * o.batchSize;
        const size = Math.min(o.batchSize, data.n - start);
        const l = model.trainStep(batcher.load(order, start, size), batcher.labels, o.optimizer);
        total += l.total * size;
        [...l.perExit, l.final].forEach((v, k) => (sums[k]! += v * size));
        o.onBatch?.(epoch, b + 1, batches);
      }
      const seconds = (performance.now() - t0) / 1000;
      const r: EpochReport = {
        epoch,
        loss: total / data.n,
        losses: sums.map((s) => s / data.n),
        seconds,
        samplesPerSecond: data.n / seconds,
      };
      if (o.trainAccuracy ?? true) r.trainAccuracy = evaluate(model, data, { batcher }).accuracy;
      if (o.test)
        r.testAccuracy = evaluate(model, o.test, {
          batcher: (testBatcher ??= new Batcher(engine, o.test, o.batchSize)),
        }).accuracy;
      reports.push(r);
      o.onEpoch?.(r);
    }
  } finally {
    batcher.dispose();
    testBatcher?.dispose();
  }
  return reports;
}

/**
 * Accuracy and mean loss of every classifier (exits first, final last) over a dataset, in batches; pass a
 * Batcher already holding `data` to avoid copying it into WASM memory again.
 */
export function evaluate(model: Model, data: Dataset, o: { batchSize?: number; batcher?: Batcher } = {}): EvalReport {
  checkData(model, data, "evaluate");
  if (o.batcher && o.batcher.dataset !== data) throw new ValidationError("evaluate: the batcher holds another dataset");
  const batcher = o.batcher ?? new Batcher(model.engine, data, Math.min(o.batchSize ?? 1024, Math.max(1, data.n)));
  const labels = batcher.labels;
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  const k = model.exits.length + 1;
  const correct = new Array<number>(k).fill(0);
  const loss = new Array<number>(k).fill(0);
  try {
    for (let start = 0; start < data.n; start += batcher.maxBatch) {
      const size = Math.min(batcher.maxBatch, data.n - start);
      const outs = model.forwardAll(batcher.load(order, start, size));
      const y = labels.view();
      outs.forEach((z, c) => {
        loss[c]! += softmaxCrossEntropy(z, labels) * size;
        const pred = softmaxStats(z.view(), z.rows, z.cols).label;
        for (let b = 0; b < size; b++) if (pred[b] === y[b]) correct[c]!++;
      });
    }
  } finally {
    if (!o.batcher) batcher.dispose();
  }
  return {
    accuracy: correct.map((c) => c / Math.max(1, data.n)),
    loss: loss.map((l) => l / Math.max(1, data.n)),
    n: data.n,
  };
}
