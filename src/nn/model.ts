// A trunk of layers with exit heads branching off it; backward walks the trunk in reverse and adds each
// exit head's input gradient into the trunk's gradient at its branch point.
import { addInPlace, scaleInPlace } from "../ops/elementwise.js";
import type { Engine } from "../engine/engine.js";
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import type { Layer, Param } from "./layers/layer.js";
import { SparseLinear } from "./layers/sparse_linear.js";
import type { Optimizer } from "./optimizers.js";
import { Pattern } from "../sparsity/pattern.js";
import { softmaxCrossEntropy } from "../ops/softmax_xent.js";
import { type I32Buffer, Matrix } from "../engine/buffers.js";

/** A classifier head after trunk layer `after` (0-based), trained with loss weight `weight`. */
export interface Exit {
  after: number;
  layers: Layer[];
  weight: number;
}

export interface ModelOptions {
  /** Loss weight of the final classifier (default 1). */
  finalWeight?: number;
  /** Per-sample input shape, e.g. [800] or [1, 28, 28]; default [trunk[0].inputSize]. */
  inputShape?: number[];
}

/** Losses of one training step: the weighted total and each classifier's mean cross-entropy (exits first, final last). */
export interface StepLoss {
  total: number;
  perExit: number[];
  final: number;
}

export class Model {
  readonly classes: number;
  readonly finalWeight: number;
  readonly inputShape: number[];
  private readonly dLogits: Matrix[] = [];
  private readonly acts: Matrix[] = [];

  constructor(
    readonly engine: Engine,
    readonly trunk: Layer[],
    readonly exits: Exit[] = [],
    opts: ModelOptions = {},
  ) {
    if (trunk.length === 0) throw new ValidationError("Model: the trunk needs at least one layer");
    for (let i = 1; i < trunk.length; i++) {
      if (trunk[i]!.inputSize !== trunk[i - 1]!.outputSize) {
        throw new ShapeError(`Model: trunk layer ${i} takes ${trunk[i]!.inputSize} features, layer ${i - 1} gives ${trunk[i - 1]!.outputSize}`);
      }
    }
    this.classes = trunk[trunk.length - 1]!.outputSize;
    for (const [e, ex] of exits.entries()) {
      checkInt("Model", `exits[${e}].after`, ex.after, 0, trunk.length - 2);
      if (ex.layers.length === 0) throw new ValidationError(`Model: exit ${e} has no layers`);
      let width = trunk[ex.after]!.outputSize;
      for (const l of ex.layers) {
        if (l.inputSize !== width) throw new ShapeError(`Model: exit ${e} layer takes ${l.inputSize} features, gets ${width}`);
        width = l.outputSize;
      }
      if (width !== this.classes) throw new ShapeError(`Model: exit ${e} gives ${width} classes, the trunk gives ${this.classes}`);
      if (!(ex.weight >= 0 && Number.isFinite(ex.weight))) throw new ValidationError(`Model: exit ${e} weight must be ≥ 0, got ${ex.weight}`);
    }
    const sorted = exits.every((x, i) => i === 0 || exits[i - 1]!.after < x.after);
    if (!sorted) throw new ValidationError("Model: exits must be in increasing trunk order, at most one per layer");
    this.finalWeight = opts.finalWeight ?? 1;
    if (!(this.finalWeight >= 0 && Number.isFinite(this.finalWeight))) throw new ValidationError(`Model: finalWeight must be ≥ 0, got ${String(this.finalWeight)}`);
    this.inputShape = opts.inputShape ?? [trunk[0]!.inputSize];
    const inSize = this.inputShape.reduce((a, b) => a * b, 1);
    if (inSize !== trunk[0]!.inputSize) throw new ShapeError(`Model: input shape [${this.inputShape}] has ${inSize} features, trunk takes ${trunk[0]!.inputSize}`);
  }

  /** The paper's MLP: sizes [in, h1, …, classes] with a fixed-degree pattern per layer; exits are linear heads. */
  static mlp(engine: Engine, o: MlpOptions): Model {
    const { sizes, outDegrees } = o;
    if (sizes.length < 2) throw new ValidationError(`Model.mlp: need at least 2 sizes, got [${sizes}]`);
    if (outDegrees.length !== sizes.length - 1) throw new ValidationError(`Model.mlp: ${sizes.length - 1} layers need ${sizes.length - 1} out-degrees, got ${outDegrees.length}`);
    const seed = o.seed ?? 0;
    const trunk = outDegrees.map((d, i) => {
      const pattern = d >= sizes[i + 1]! ? Pattern.dense(sizes[i]!, sizes[i + 1]!) : Pattern.fixedDegree(sizes[i]!, sizes[i + 1]!, d, seed * 1000 + i);
      return new SparseLinear(engine, pattern, { activation: i === outDegrees.length - 1 ? "linear" : "relu", biasInit: o.biasInit, seed: seed * 1000 + 100 + i });
    });
    const classes = sizes[sizes.length - 1]!;
    const exits = (o.exits ?? []).map((e, k) => {
      const width = sizes[e.after + 1]!;
      const d = e.outDegree ?? classes;
      const pattern = d >= classes ? Pattern.dense(width, classes) : Pattern.fixedDegree(width, classes, d, seed * 1000 + 500 + k);
      return { after: e.after, weight: e.weight ?? 1, layers: [new SparseLinear(engine, pattern, { activation: "linear", biasInit: o.biasInit, seed: seed * 1000 + 600 + k })] };
    });
    return new Model(engine, trunk, exits, { finalWeight: o.finalWeight });
  }

  get inputSize(): number {
    return this.trunk[0]!.inputSize;
  }

  /** Every trainable parameter: trunk first, then exit heads. */
  params(): Param[] {
    return [...this.trunk, ...this.exits.flatMap((e) => e.layers)].flatMap((l) => l.params());
  }

  /** Number of stored weights and biases. */
  parameterCount(): number {
    return this.params().reduce((n, p) => n + p.values.length, 0);
  }

  /** Runs the trunk; returns the final logits [classes, B] (owned by the last layer). */
  forward(X: Matrix): Matrix {
    let h = X;
    for (let i = 0; i < this.trunk.length; i++) this.acts[i] = h = this.trunk[i]!.forward(h);
    return h;
  }

  /** Runs the trunk and every exit head; exit logits first, final last. */
  forwardAll(X: Matrix): Matrix[] {
    const final = this.forward(X);
    return [...this.exits.map((e) => runLayers(e.layers, this.acts[e.after]!)), final];
  }

  /** One training step (forward, weighted cross-entropy over all classifiers, backward, optimizer update). */
  trainStep(X: Matrix, labels: I32Buffer, optimizer: Optimizer): StepLoss {
    const logits = this.forwardAll(X);
    const B = X.cols;
    const weights = [...this.exits.map((e) => e.weight), this.finalWeight];
    const losses = logits.map((z, k) => {
      this.dLogits[k] ??= new Matrix(this.engine, this.classes, B);
      const dz = this.dLogits[k]!.reshape(B);
      const l = softmaxCrossEntropy(z, labels, dz);
      if (weights[k] !== 1) scaleInPlace(dz, weights[k]!);
      return l;
    });
    let g: Matrix = this.dLogits[this.exits.length]!;
    for (let i = this.trunk.length - 1; i >= 0; i--) {
      for (const [k, e] of this.exits.entries()) {
        if (e.after === i) addInPlace(g, backLayers(e.layers, this.dLogits[k]!, true)!);
      }
      g = this.trunk[i]!.backward(g, i > 0)!;
    }
    optimizer.step(this.params());
    const perExit = losses.slice(0, -1);
    const final = losses[losses.length - 1]!;
    return { total: perExit.reduce((s, l, k) => s + weights[k]! * l, this.finalWeight * final), perExit, final };
  }

  /** Multiply-accumulates per sample through trunk layer i (inclusive), stored connections only. */
  trunkMacs(): number[] {
    let s = 0;
    return this.trunk.map((l) => (s += l.macsPerSample()));
  }

  /** MACs per sample of each exit head alone. */
  exitHeadMacs(): number[] {
    return this.exits.map((e) => e.layers.reduce((s, l) => s + l.macsPerSample(), 0));
  }

  dispose(): void {
    for (const l of [...this.trunk, ...this.exits.flatMap((e) => e.layers)]) l.dispose();
    for (const m of this.dLogits) m.dispose();
  }
}

export interface MlpOptions {
  sizes: number[];
  outDegrees: number[];
  seed?: number;
  biasInit?: number;
  exits?: { after: number; weight?: number; outDegree?: number }[];
  finalWeight?: number;
}

/** Forward through a chain of layers. */
export function runLayers(layers: Layer[], X: Matrix): Matrix {
  let h = X;
  for (const l of layers) h = l.forward(h);
  return h;
}

/** Backward through a chain of layers; returns dX of the first unless needDx is false. */
export function backLayers(layers: Layer[], dY: Matrix, needDx: boolean): Matrix | undefined {
  let g: Matrix | undefined = dY;
  for (let i = layers.length - 1; i >= 0; i--) g = layers[i]!.backward(g!, i > 0 || needDx);
  return g;
}
