// Models whose files other readers are tested on: every layer kind and tensor a model file can hold.
import { I32Buffer, Matrix } from "../../src/engine/buffers.js";
import type { Engine } from "../../src/engine/engine.js";
import { Rng } from "../../src/engine/random.js";
import { Flatten } from "../../src/nn/layers/flatten.js";
import { AvgPool2d, MaxPool2d } from "../../src/nn/layers/pool2d.js";
import { SparseConv2d } from "../../src/nn/layers/sparse_conv2d.js";
import { SparseLinear } from "../../src/nn/layers/sparse_linear.js";
import { Model } from "../../src/nn/model.js";
import { Sgd } from "../../src/nn/optimizers.js";
import { Pattern } from "../../src/sparsity/pattern.js";

/** x[features, batch] in [0, 1), the same for the same seed. */
export function sampleInputs(features: number, batch: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: features * batch }, () => rng.next());
}

/** A few SGD steps, so that no bias is still its initial 0.1. */
export function trainABit(model: Model, seed = 1): Model {
  const B = 16;
  const X = Matrix.from(model.engine, model.inputSize, B, sampleInputs(model.inputSize, B, seed));
  const labels = I32Buffer.from(
    model.engine,
    Array.from({ length: B }, (_, i) => i % model.classes),
  );
  const opt = new Sgd({ lr: 0.05 });
  try {
    for (let s = 0; s < 3; s++) model.trainStep(X, labels, opt);
  } finally {
    X.dispose();
    labels.dispose();
    opt.dispose();
  }
  return model;
}

/** The paper's [800, 40, 40, 10] (2, 9, 10) with a sparse exit head (out-degree 5) after the first hidden layer. */
export function paperModel(engine: Engine): Model {
  const exits = [{ after: 0, weight: 1, outDegree: 5 }];
  return trainABit(
    Model.mlp(engine, { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10], seed: 4, exits, finalWeight: 0.3 }),
  );
}

/**
 * A sparse CNN on 1×14×14: conv 1→4 3×3 p1 with one tap mask for every connection, maxpool 2, conv 4→6 3×3 s2 p1
 * at out-degree 3 with a mask per connection, avgpool 2, flatten, fc 24→8 at out-degree 2, fc 8→3; an exit after
 * the maxpool.
 */
export function cnnModel(engine: Engine): Model {
  const rng = new Rng(9);
  const p2 = Pattern.fixedDegree(4, 6, 3, 2);
  const trunk = [
    new SparseConv2d(engine, {
      inC: 1,
      outC: 4,
      H: 14,
      W: 14,
      kh: 3,
      kw: 3,
      padding: 1,
      taps: [0, 1, 0, 1, 1, 1, 0, 1, 0],
      seed: 1,
    }),
    new MaxPool2d(engine, { C: 4, H: 14, W: 14, k: 2 }),
    new SparseConv2d(engine, {
      inC: 4,
      outC: 6,
      H: 7,
      W: 7,
      kh: 3,
      kw: 3,
      stride: 2,
      padding: 1,
      pattern: p2,
      seed: 2,
      taps: Array.from({ length: p2.nnz * 9 }, () => (rng.next() < 0.6 ? 1 : 0)),
    }),
    new AvgPool2d(engine, { C: 6, H: 4, W: 4, k: 2 }),
    new Flatten([6, 2, 2]),
    new SparseLinear(engine, Pattern.fixedDegree(24, 8, 2, 3), { activation: "relu", seed: 3 }),
    new SparseLinear(engine, Pattern.dense(8, 3), { activation: "linear", seed: 4 }),
  ];
  const exits = [
    {
      after: 1,
      weight: 0.5,
      layers: [new SparseLinear(engine, Pattern.dense(196, 3), { activation: "linear", seed: 5 })],
    },
  ];
  return trainABit(new Model(engine, trunk, exits, { inputShape: [1, 14, 14] }));
}

/** Every classifier's logits (exits first), each as [sample][class] rows, on x[features, batch]. */
export function logitsBySample(model: Model, x: Float32Array, batch: number): number[][][] {
  const X = Matrix.from(model.engine, model.inputSize, batch, x);
  try {
    return model.forwardAll(X).map((z) => {
      const a = z.toArray();
      return Array.from({ length: batch }, (_, b) => Array.from({ length: z.rows }, (_, c) => a[c * batch + b]!));
    });
  } finally {
    X.dispose();
  }
}

/** x[features, batch] as [sample][feature] rows. */
export function bySample(x: Float32Array, features: number, batch: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: features }, (_, f) => x[f * batch + b]!));
}
