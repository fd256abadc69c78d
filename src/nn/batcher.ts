// A dataset resident in WASM memory (sample-major) and a gather kernel that builds feature-major batches.
import type { Dataset } from "./dataset.js";
import type { Engine } from "../engine/engine.js";
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { F32Buffer, I32Buffer, Matrix, checkOperands } from "../engine/buffers.js";

/**
 * Copies a dataset into WASM memory once; `load` then fills X [features, B] and labels for any list of
 * sample indices with one kernel call — no per-batch JS copy loop, no allocation after the first batch.
 */
export class Batcher {
  readonly X: Matrix;
  readonly labels: I32Buffer;
  private readonly data: F32Buffer;
  private readonly idx: I32Buffer;

  constructor(
    readonly engine: Engine,
    readonly dataset: Dataset,
    readonly maxBatch: number,
  ) {
    checkInt("Batcher", "maxBatch", maxBatch, 1, 1 << 20);
    // the gather kernel reads features floats at every index < n: the arrays must hold them all
    checkInt("Batcher", "features", dataset.features, 1);
    if (dataset.x.length !== dataset.n * dataset.features || dataset.y.length !== dataset.n) {
      throw new ShapeError(
        `Batcher: ${dataset.name} has ${dataset.x.length} values and ${dataset.y.length} labels, ` +
          `expected ${dataset.n}×${dataset.features} and ${dataset.n}`,
      );
    }
    this.data = F32Buffer.from(engine, dataset.x);
    this.idx = new I32Buffer(engine, maxBatch);
    this.labels = new I32Buffer(engine, maxBatch);
    this.X = new Matrix(engine, dataset.features, maxBatch);
  }

  /** Loads samples order[start .. start+size) into X (reshaped to size columns) and labels; returns X. */
  load(order: ArrayLike<number>, start: number, size: number): Matrix {
    checkOperands("Batcher.load", this.X, this.data);
    checkInt("Batcher.load", "size", size, 1, this.maxBatch);
    if (start < 0 || start + size > order.length)
      throw new ShapeError(`Batcher.load: samples [${start}, ${start + size}) outside an order of ${order.length}`);
    const n = this.dataset.n;
    const idx = this.idx.view(),
      lab = this.labels.view(),
      y = this.dataset.y;
    for (let j = 0; j < size; j++) {
      const s = order[start + j]!;
      if (!(Number.isInteger(s) && s >= 0 && s < n))
        throw new ValidationError(`Batcher.load: sample index ${s} outside [0, ${n})`);
      idx[j] = s;
      lab[j] = y[s]!;
    }
    this.X.reshape(size);
    this.engine.kernels.gatherSamples(this.dataset.features, this.data.ptr, this.idx.ptr, size, this.X.ptr, size);
    return this.X;
  }

  dispose(): void {
    this.data.dispose();
    this.idx.dispose();
    this.labels.dispose();
    this.X.dispose();
  }
}
