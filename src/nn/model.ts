// A trunk of layers with exit heads branching off it; backward walks the trunk in reverse and adds each exit
// head's input gradient into the trunk's gradient at its branch point. Either half of a split model is a Model too,
// carrying a split record: a head's trunk ends at the cut (no final classifier), a tail's starts there.
import { addInPlace, scaleInPlace } from "../ops/elementwise.js";
import type { Engine } from "../engine/engine.js";
import { HASH_FORMAT, ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { buildOrRollBack } from "../engine/scope.js";
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

/** Max-softmax ≥ q (Shallow-Deep Networks) or softmax entropy ≤ T in nats (BranchyNet); one threshold per exit. */
export interface ExitPolicy {
  kind: "maxprob" | "entropy";
  thresholds: number[];
}

/** Throws unless the policy has one finite threshold per exit in the kind's range. */
export function checkPolicy(p: ExitPolicy, exits: number): ExitPolicy {
  const bad = (detail: string) => new ValidationError(`exit policy: ${detail}`);
  if (p.kind !== "maxprob" && p.kind !== "entropy") throw bad(`kind must be maxprob or entropy, got ${String(p.kind)}`);
  if (p.thresholds.length !== exits) throw bad(`${p.thresholds.length} thresholds for ${exits} exits`);
  for (const t of p.thresholds) {
    if (!Number.isFinite(t) || t < 0 || (p.kind === "maxprob" && t > 1)) {
      throw bad(`${p.kind} threshold must be ${p.kind === "maxprob" ? "in [0, 1]" : "≥ 0"}, got ${t}`);
    }
  }
  return p;
}

/** What each half of a split model carries (a model file keeps it in `extra.split`, the policy in `extra.policy`). */
export interface SplitRecord {
  role: "head" | "tail";
  /** The cut k, 1-based: it follows hidden layer k, the head holds trunk layers 0…k−1, every frame across it says k. */
  cut: number;
  /** Per-sample shape at the cut ([C, H, W] after a convolution or pooling); frames carry it plus the batch. */
  activationShape: number[];
  /** Classes of the full model. */
  classes: number;
  /** Exits of the full model, the edge's first; its final classifier is number `totalExits` (see ExitResult.exit). */
  totalExits: number;
  /** The full model's hash: frames carry it, so a server refuses the head of another model. */
  hash: string;
  /** This half's share of the full model's exit policy. */
  policy?: ExitPolicy;
  /** Seed of the embedded train/test split the model was trained on, when known (so tools evaluate on unseen data). */
  dataSeed?: number;
}

/** The edge half of a split model: trunk layers 0…k−1 and the exits on them; its trunk ends in the cut's activation. */
export type Head = Model & { readonly split: SplitRecord & { readonly role: "head" } };
/** The server half: the other trunk layers (input: the activation at the cut) and the later exits, re-indexed. */
export type Tail = Model & { readonly split: SplitRecord & { readonly role: "tail" } };

export interface ModelOptions {
  /** Loss weight of the final classifier (default 1; a split head has none: 0). */
  finalWeight?: number;
  /** Per-sample input shape, e.g. [800] or [1, 28, 28]; default [trunk[0].inputSize]. */
  inputShape?: number[];
  /** Makes the model one half of a split model. */
  split?: SplitRecord;
}

/**
 * Losses of one training step: the weighted total and each classifier's mean cross-entropy (exits first, final
 * last).
 */
export interface StepLoss {
  total: number;
  perExit: number[];
  final: number;
}

/** What a layer draws its pattern and its initial weights from. */
export interface Seeds {
  pattern: number;
  weights: number;
}

/**
 * The seeds of a layer's pattern and weights, one rule for every builder (Model.mlp, buildModel), so the same seed
 * builds the same network: trunk layer i draws from seed·1000 + i and seed·1000 + 100 + i; layer i of exit head k
 * from seed·1000 + 500 + 10·i + k and seed·1000 + 600 + 10·i + k (distinct for up to 10 exits of up to 10 layers).
 */
export function layerSeeds(seed: number, i: number, exit?: number): Seeds {
  const at = exit === undefined ? i : 500 + 10 * i + exit;
  return { pattern: seed * 1000 + at, weights: seed * 1000 + 100 + at };
}

export class Model {
  readonly classes: number;
  readonly finalWeight: number;
  readonly inputShape: number[];
  readonly split: SplitRecord | undefined;
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
        throw new ShapeError(
          `Model: trunk layer ${i} takes ${trunk[i]!.inputSize} features, ` +
            `layer ${i - 1} gives ${trunk[i - 1]!.outputSize}`,
        );
      }
    }
    const head = opts.split?.role === "head";
    // a head's trunk ends at the cut, not in a classifier: its classes are the full model's, an exit may sit at the end
    this.classes = head ? checkInt("Model", "split.classes", opts.split!.classes, 1) : trunk.at(-1)!.outputSize;
    for (const [e, ex] of exits.entries()) {
      checkInt("Model", `exits[${e}].after`, ex.after, 0, trunk.length - (head ? 1 : 2));
      if (ex.layers.length === 0) throw new ValidationError(`Model: exit ${e} has no layers`);
      let width = trunk[ex.after]!.outputSize;
      for (const l of ex.layers) {
        if (l.inputSize !== width)
          throw new ShapeError(`Model: exit ${e} layer takes ${l.inputSize} features, gets ${width}`);
        width = l.outputSize;
      }
      if (width !== this.classes)
        throw new ShapeError(`Model: exit ${e} gives ${width} classes, the trunk gives ${this.classes}`);
      if (!(ex.weight >= 0 && Number.isFinite(ex.weight)))
        throw new ValidationError(`Model: exit ${e} weight must be ≥ 0, got ${ex.weight}`);
    }
    const sorted = exits.every((x, i) => i === 0 || exits[i - 1]!.after < x.after);
    if (!sorted) throw new ValidationError("Model: exits must be in increasing trunk order, at most one per layer");
    this.finalWeight = opts.finalWeight ?? (head ? 0 : 1);
    if (!(this.finalWeight >= 0 && Number.isFinite(this.finalWeight)))
      throw new ValidationError(`Model: finalWeight must be ≥ 0, got ${String(this.finalWeight)}`);
    if (head && this.finalWeight !== 0) {
      throw new ValidationError(`Model: a head (no final classifier): finalWeight must be 0, got ${this.finalWeight}`);
    }
    this.inputShape = opts.inputShape ?? [trunk[0]!.inputSize];
    const inSize = this.inputShape.reduce((a, b) => a * b, 1);
    if (inSize !== trunk[0]!.inputSize)
      throw new ShapeError(
        `Model: input shape [${this.inputShape}] has ${inSize} features, trunk takes ${trunk[0]!.inputSize}`,
      );
    this.split = opts.split && checkSplit(opts.split, this);
  }

  /** The paper's MLP: sizes [in, h1, …, classes] with a fixed-degree pattern per layer; exits are linear heads. */
  static mlp(engine: Engine, o: MlpOptions): Model {
    const { sizes, outDegrees } = o;
    if (sizes.length < 2) throw new ValidationError(`Model.mlp: need at least 2 sizes, got [${sizes}]`);
    if (outDegrees.length !== sizes.length - 1)
      throw new ValidationError(
        `Model.mlp: ${sizes.length - 1} layers need ${sizes.length - 1} out-degrees, got ${outDegrees.length}`,
      );
    const blocks = o.blocks ?? outDegrees.map(() => 1);
    if (blocks.length !== outDegrees.length)
      throw new ValidationError(
        `Model.mlp: ${outDegrees.length} layers need ${outDegrees.length} blocks, got ${blocks.length}`,
      );
    const seed = o.seed ?? 0;
    const classes = sizes[sizes.length - 1]!;
    const linear = (inputs: number, outputs: number, d: number, seeds: Seeds, last: boolean, block = 1) => {
      const pattern =
        d >= outputs && block === 1
          ? Pattern.dense(inputs, outputs)
          : Pattern.fixedDegree(inputs, outputs, Math.min(d, outputs), seeds.pattern, { block });
      const activation = last ? "linear" : "relu";
      return new SparseLinear(engine, pattern, { activation, biasInit: o.biasInit, seed: seeds.weights });
    };
    return buildOrRollBack(engine, (s) => {
      const L = outDegrees.length;
      const trunk = outDegrees.map((d, i) => {
        return s.keep(linear(sizes[i]!, sizes[i + 1]!, d, layerSeeds(seed, i), i === L - 1, blocks[i]));
      });
      const exits = (o.exits ?? []).map((e, k) => {
        const head = linear(sizes[e.after + 1]!, classes, e.outDegree ?? classes, layerSeeds(seed, 0, k), true);
        return { after: e.after, weight: e.weight ?? 1, layers: [s.keep(head)] };
      });
      return new Model(engine, trunk, exits, { finalWeight: o.finalWeight });
    });
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

  /** Runs the trunk and every exit head; exit logits first, final last. Training and evaluation go through here. */
  forwardAll(X: Matrix): Matrix[] {
    // a head ends at the cut, not in logits: an ExitRunner runs it there
    if (this.split?.role === "head")
      throw new ValidationError("Model: a split head has no final classifier; use the full model");
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
  /** Per trunk layer, groups of this many consecutive outputs that read the same inputs (default all 1). */
  blocks?: number[];
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

/** The split record, checked against the model that carries it (shapes, classes, exits, the hash's form). */
function checkSplit(r: SplitRecord, m: Model): SplitRecord {
  const bad = (detail: string) => new ValidationError(`Model: split.${detail}`);
  if (r.role !== "head" && r.role !== "tail") throw bad(`role must be head or tail, got ${String(r.role)}`);
  const cut = checkInt("Model", "split.cut", r.cut, 1);
  const shape = r.activationShape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3) {
    throw bad(`activationShape must have 1–3 dimensions, got ${JSON.stringify(shape)}`);
  }
  shape.forEach((d, i) => checkInt("Model", `split.activationShape[${i}]`, d, 1));
  const width = shape.reduce((a, b) => a * b, 1);
  const L = m.trunk.length,
    gives = m.trunk[L - 1]!.outputSize;
  if (r.role === "head") {
    if (L !== cut) throw bad(`cut: a head cut after layer ${cut} holds ${cut} trunk layers, got ${L}`);
    if (gives !== width) throw new ShapeError(`Model: the head's last layer gives ${gives} features, the cut ${width}`);
  } else {
    if (m.inputSize !== width) throw new ShapeError(`Model: the tail takes ${m.inputSize} features, the cut ${width}`);
    if (m.classes !== r.classes) throw new ShapeError(`Model: the tail gives ${m.classes} classes, split ${r.classes}`);
  }
  checkInt("Model", "split.totalExits", r.totalExits, m.exits.length);
  if (typeof r.hash !== "string" || !HASH_FORMAT.test(r.hash)) {
    throw bad(`hash must be 16 lowercase hex digits, got ${JSON.stringify(r.hash)}`);
  }
  if (r.policy) checkPolicy(r.policy, m.exits.length);
  if (r.dataSeed !== undefined) checkInt("Model", "split.dataSeed", r.dataSeed, 0, 2 ** 32 - 1);
  return r;
}
