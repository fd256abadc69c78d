// In-memory labelled datasets: checked construction, padding, seeded splits. Pure: no file system here, so the same
// code runs in Node and in a browser; the loaders that read files live in mnist.ts and idx.ts, and batches reach
// WASM memory through src/nn/batcher.ts.
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { Rng } from "../engine/random.js";

/** n labelled samples, sample-major: sample i is x[i·features .. (i+1)·features), its class y[i] ∈ [0, classes). */
export interface Dataset {
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly n: number;
  readonly features: number;
  readonly classes: number;
  readonly name: string;
}

/** A Dataset over the given arrays, after checking that their sizes agree and every label is a class. */
export function makeDataset(name: string, x: Float32Array, y: Int32Array, features: number, classes: number): Dataset {
  const op = `dataset ${name}`;
  checkInt(op, "features", features, 1);
  checkInt(op, "classes", classes, 1);
  const n = y.length;
  if (x.length !== n * features)
    throw new ShapeError(`${op}: ${n} labels need ${n * features} values of ${features} features, got ${x.length}`);
  for (let i = 0; i < n; i++) {
    const c = y[i]!;
    if (c < 0 || c >= classes)
      throw new ValidationError(`${op}: label ${i} is ${c}, expected a class in [0, ${classes})`);
  }
  return { x, y, n, features, classes, name };
}

/** The samples at `indices`, in that order. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const f = ds.features;
  const x = new Float32Array(indices.length * f);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const s = checkIndex(ds, indices[i]!, "subset");
    x.set(ds.x.subarray(s * f, s * f + f), i * f);
    y[i] = ds.y[s]!;
  }
  return { x, y, n: indices.length, features: f, classes: ds.classes, name };
}

/** Zero-pads every sample to `target` features (MNIST's 784 → 800 for the paper's first layer). */
export function padFeatures(ds: Dataset, target: number): Dataset {
  checkInt("padFeatures", "target", target, 1);
  if (target < ds.features)
    throw new ShapeError(`padFeatures: ${ds.name} has ${ds.features} features, cannot pad to fewer (${target})`);
  if (target === ds.features) return ds;
  const x = new Float32Array(ds.n * target);
  for (let i = 0; i < ds.n; i++) x.set(ds.x.subarray(i * ds.features, (i + 1) * ds.features), i * target);
  return { ...ds, x, features: target };
}

/** A seeded permutation of 0..n-1. */
export function shuffledIndices(n: number, rng: Rng): Int32Array {
  checkInt("shuffledIndices", "n", n);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return rng.shuffle(idx);
}

/** Options of {@link splitDataset}. */
export interface SplitOptions {
  /** Number of test samples. */
  test: number;
  seed: number;
}

/**
 * A deterministic stratified split: each class gives the test set its share of `test` (largest remainders
 * settle the rounding, so the total is exact and class proportions match to within one sample), chosen by
 * a seeded shuffle; both halves are then shuffled with the same generator. Same dataset and seed, same split.
 */
export function splitDataset(ds: Dataset, opts: SplitOptions): { train: Dataset; test: Dataset } {
  checkInt("splitDataset", "test", opts.test, 0, ds.n);
  const rng = new Rng(opts.seed);
  const byClass: number[][] = Array.from({ length: ds.classes }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.y[i]!]!.push(i);

  const quota = byClass.map((m) => (ds.n === 0 ? 0 : (opts.test * m.length) / ds.n));
  const take = quota.map(Math.floor);
  let left = opts.test - take.reduce((a, b) => a + b, 0);
  const order = Array.from(quota.keys()).sort((a, b) => quota[b]! - take[b]! - (quota[a]! - take[a]!) || a - b);
  for (const c of order)
    if (left > 0 && take[c]! < byClass[c]!.length) {
      take[c]!++;
      left--;
    }

  const train: number[] = [];
  const test: number[] = [];
  byClass.forEach((members, c) => {
    rng.shuffle(members);
    test.push(...members.slice(0, take[c]));
    train.push(...members.slice(take[c]));
  });
  return {
    train: subset(ds, rng.shuffle(train), `${ds.name}/train`),
    test: subset(ds, rng.shuffle(test), `${ds.name}/test`),
  };
}

function checkIndex(ds: Dataset, s: number, op: string): number {
  if (!Number.isInteger(s) || s < 0 || s >= ds.n)
    throw new ValidationError(`${op}: sample index ${s} outside [0, ${ds.n}) of ${ds.name}`);
  return s;
}
