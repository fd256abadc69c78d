// The paper's method as the spec for training: full dense float64 weight matrices, multiplied by a 0/1 mask
// after every batch (as its Keras code does), trained by plain dense Adam (Keras legacy, with decay) or SGD
// with momentum. Every weight, gradient and moment exists densely here, on and off the pattern.
import type { Pattern } from "../../src/index.js";
import {
  adamStep, gradW, kerasAdamLr, maskedDense, matmul, matmulScale, matmulT, reluBackward, rowSums, sgdStep,
  softmaxCrossEntropy,
} from "./reference.js";

/** One dense layer: W [outputs, inputs] row-major, its 0/1 mask, bias, and whether a ReLU follows. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  W: Float64Array;
  mask: Uint8Array;
  b: Float64Array;
  relu: boolean;
}

/** An exit head branching off the output of trunk layer `after`. */
export interface DenseExit {
  after: number;
  layers: DenseLayer[];
  weight: number;
}

export type OptimizerSpec =
  | { kind: "adam"; lr: number; beta1: number; beta2: number; eps: number; decay: number; weightDecay: number }
  | { kind: "sgd"; lr: number; momentum: number; decay: number; weightDecay: number };

/** A dense layer holding a pattern's values at their positions, zeros elsewhere, and the pattern's mask. */
export function denseLayer(p: Pattern, values: ArrayLike<number>, bias: ArrayLike<number>, relu: boolean): DenseLayer {
  return { inputs: p.inputs, outputs: p.outputs, W: maskedDense(p, values), mask: p.toMask(), b: Float64Array.from(bias), relu };
}

/** Per-parameter optimizer state: Adam's [m, v] or SGD's [velocity], each as long as the dense parameter. */
type Slots = Float64Array[];

/** What one step saw: the loss of each classifier (exits first, final last), and the smallest pre-activation margin. */
export interface RefStepResult {
  losses: number[];
  total: number;
  /**
   * min over ReLU units of |z| / (Σ|terms of z|): how close a unit came to switching. A float32 engine may
   * take the other side of a ReLU whose margin is at rounding level, after which the two runs differ by design.
   */
  reluMargin: number;
}

/** The masked dense network and its optimizer. */
export class MaskedReference {
  private t = 0;
  private readonly slots = new Map<Float64Array, Slots>();

  constructor(
    readonly trunk: DenseLayer[],
    readonly exits: DenseExit[],
    readonly finalWeight: number,
    readonly opt: OptimizerSpec,
  ) {}

  /** Every layer, trunk first then exit heads (the sparse Model's params() order). */
  layers(): DenseLayer[] {
    return [...this.trunk, ...this.exits.flatMap((e) => e.layers)];
  }

  /** Optimizer state of a parameter array (W or b of some layer); zeros before its first step. */
  state(param: Float64Array): Slots {
    let s = this.slots.get(param);
    if (!s) {
      s = this.opt.kind === "adam" ? [new Float64Array(param.length), new Float64Array(param.length)] : [new Float64Array(param.length)];
      this.slots.set(param, s);
    }
    return s;
  }

  /** One batch: X [inputs, B] feature-major, labels [B]; forward, weighted loss, dense backward, update, mask. */
  step(X: ArrayLike<number>, B: number, labels: ArrayLike<number>): RefStepResult {
    let margin = Infinity;
    const forward = (l: DenseLayer, x: ArrayLike<number>): Float64Array => {
      const z = matmul(l.W, l.outputs, l.inputs, x, B, l.b);
      if (!l.relu) return z;
      const scale = matmulScale(l.W, l.outputs, l.inputs, x, B, l.b);
      for (let i = 0; i < z.length; i++) if (scale[i]! > 0) margin = Math.min(margin, Math.abs(z[i]!) / scale[i]!);
      return Float64Array.from(z, (v) => Math.max(v, 0));
    };
    // trunk activations: acts[0] = X, acts[i+1] = output of trunk layer i
    const acts: ArrayLike<number>[] = [X];
    for (const l of this.trunk) acts.push(forward(l, acts[acts.length - 1]!));
    const exitActs = this.exits.map((e) => {
      const a: ArrayLike<number>[] = [acts[e.after + 1]!];
      for (const l of e.layers) a.push(forward(l, a[a.length - 1]!));
      return a;
    });

    const classes = this.trunk[this.trunk.length - 1]!.outputs;
    const head = (logits: ArrayLike<number>, weight: number) => {
      const { loss, dZ } = softmaxCrossEntropy(logits, classes, B, labels);
      for (let i = 0; i < dZ.length; i++) dZ[i]! *= weight;
      return { loss, dZ };
    };
    const exitHeads = this.exits.map((e, k) => head(exitActs[k]![e.layers.length]!, e.weight));
    const final = head(acts[this.trunk.length]!, this.finalWeight);

    const grads = new Map<Float64Array, Float64Array>();
    // backward through one layer given dY of its output y and its input x; returns dX
    const backward = (l: DenseLayer, x: ArrayLike<number>, y: ArrayLike<number>, dY: Float64Array): Float64Array => {
      const dZ = l.relu ? reluBackward(y, dY) : dY;
      grads.set(l.W, gradW(dZ, l.outputs, x, l.inputs, B));
      grads.set(l.b, rowSums(dZ, l.outputs, B));
      return matmulT(l.W, l.outputs, l.inputs, dZ, B);
    };
    const exitInputGrads = this.exits.map((e, k) => {
      let g = exitHeads[k]!.dZ;
      for (let j = e.layers.length - 1; j >= 0; j--) g = backward(e.layers[j]!, exitActs[k]![j]!, exitActs[k]![j + 1]!, g);
      return g;
    });
    let g = final.dZ;
    for (let i = this.trunk.length - 1; i >= 0; i--) {
      this.exits.forEach((e, k) => {
        if (e.after === i) for (let q = 0; q < g.length; q++) g[q]! += exitInputGrads[k]![q]!;
      });
      g = backward(this.trunk[i]!, acts[i]!, acts[i + 1]!, g);
    }

    this.update(grads);
    for (const l of this.layers()) for (let q = 0; q < l.W.length; q++) l.W[q]! *= l.mask[q]!;

    const losses = [...exitHeads.map((h) => h.loss), final.loss];
    const total = exitHeads.reduce((s, h, k) => s + this.exits[k]!.weight * h.loss, this.finalWeight * final.loss);
    return { losses, total, reluMargin: margin };
  }

  private update(grads: Map<Float64Array, Float64Array>): void {
    const o = this.opt;
    this.t++;
    for (const l of this.layers()) {
      for (const [param, isWeight] of [[l.W, true], [l.b, false]] as const) {
        const g = grads.get(param)!;
        const l2 = isWeight ? o.weightDecay : 0;
        const s = this.state(param);
        if (o.kind === "adam") adamStep(param, g, s[0]!, s[1]!, kerasAdamLr(o.lr, o.decay, this.t, o.beta1, o.beta2), o.beta1, o.beta2, o.eps, l2);
        else sgdStep(param, g, s[0]!, o.lr / (1 + o.decay * (this.t - 1)), o.momentum, l2);
      }
    }
  }
}
