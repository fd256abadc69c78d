// The paper's method as the spec for training: full dense float64 weight matrices, multiplied by a 0/1 mask
// after every batch (as its Keras code does), trained by plain dense Adam (Keras legacy, with decay) or SGD
// with momentum. Every weight, gradient and moment exists densely here, on and off the pattern.
//
// Alongside every value it carries a first-order bound on how far a float32 engine's copy of that value may
// be from it: each float32 result is taken to be off by ROUNDING times its magnitude (the sum of absolute terms
// behind it), and that error, plus the drift of the parameters from earlier steps, is propagated through the
// forward pass, the loss, the backward pass and the optimizer. Adam divides by √v + ε, so where gradients cancel
// to ~0 a rounding-level gradient error moves a weight by a real part of a step, and that drift then reaches
// every later step; the bounds say how much, so the comparison can stay tight everywhere else.
import type { Pattern } from "../../src/sparsity/pattern.js";
import {
  adamStep,
  gradW,
  kerasAdamLr,
  maskedDense,
  matmul,
  matmulT,
  rowSums,
  sgdStep,
  softmax,
  softmaxCrossEntropy,
} from "./reference.js";

/**
 * Relative error assumed of every float32 result against its magnitude: float32 rounds to 6e-8 per operation, so
 * a sum of n terms in any order is off by at most n·6e-8 of its magnitude — under 1e-5 for the sums of at most
 * 160 terms the tests build (in practice far less).
 */
export const ROUNDING = 1e-5;

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
  return {
    inputs: p.inputs,
    outputs: p.outputs,
    W: maskedDense(p, values),
    mask: p.toMask(),
    b: Float64Array.from(bias),
    relu,
  };
}

/** Per-parameter arrays as long as the dense parameter: Adam's [m, v] or SGD's [velocity]. */
type Slots = Float64Array[];

/** What one step saw. */
export interface RefStepResult {
  /** Mean cross-entropy of each classifier (exits first, final last), and the weighted total. */
  losses: number[];
  total: number;
  /** How far a float32 engine's losses may be from these. */
  lossError: number[];
  totalError: number;
  /**
   * min over ReLU units of |z| / (error bound of z). Below 1 a float32 engine may take the other side of the
   * ReLU, after which the two runs differ by design: such a step says nothing.
   */
  reluMargin: number;
}

/** A value and the bound on a float32 engine's error in it. */
interface Val {
  v: Float64Array;
  e: Float64Array;
}

const abs = (a: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>, Math.abs);
const plus = (...xs: Float64Array[]): Float64Array =>
  xs.reduce((s, x) => (x.forEach((v, i) => (s[i]! += v)), s), new Float64Array(xs[0]!.length));
const scaled = (x: Float64Array, k: number): Float64Array => Float64Array.from(x, (v) => v * k);

/** The masked dense network and its optimizer. */
export class MaskedReference {
  private t = 0;
  private readonly slots = new Map<Float64Array, Slots>();
  private readonly slotErrors = new Map<Float64Array, Slots>();
  private readonly drift = new Map<Float64Array, Float64Array>();

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
    return this.slotsOf(this.slots, param);
  }

  /** How far a float32 engine's optimizer state for `param` may be from {@link state}. */
  stateError(param: Float64Array): Slots {
    return this.slotsOf(this.slotErrors, param);
  }

  /** How far a float32 engine's copy of a parameter may be from this one (0 off the pattern). */
  weightError(param: Float64Array): Float64Array {
    let d = this.drift.get(param);
    if (!d) this.drift.set(param, (d = new Float64Array(param.length)));
    return d;
  }

  /** One batch: X [inputs, B] feature-major, labels [B]; forward, weighted loss, dense backward, update, mask. */
  step(X: ArrayLike<number>, B: number, labels: ArrayLike<number>): RefStepResult {
    let margin = Infinity;
    // z = W·x + b: rounding of the sum, plus the input's error through |W|, plus the parameters' drift through |x|
    const forward = (l: DenseLayer, x: Val): Val => {
      const z = matmul(l.W, l.outputs, l.inputs, x.v, B, l.b);
      const e = plus(
        scaled(matmul(abs(l.W), l.outputs, l.inputs, abs(x.v), B, abs(l.b)), ROUNDING),
        matmul(abs(l.W), l.outputs, l.inputs, x.e, B),
        matmul(this.weightError(l.W), l.outputs, l.inputs, abs(x.v), B, this.weightError(l.b)),
      );
      if (!l.relu) return { v: z, e };
      // e = 0 only for z = 0 from no terms at all, which every engine computes exactly
      for (let i = 0; i < z.length; i++) if (e[i]! > 0) margin = Math.min(margin, Math.abs(z[i]!) / e[i]!);
      // beyond the margin a unit that is off is exactly 0 in any engine
      return { v: Float64Array.from(z, (v) => Math.max(v, 0)), e: e.map((x, i) => (z[i]! > 0 ? x : 0)) };
    };
    // trunk activations: acts[0] = X, acts[i+1] = output of trunk layer i
    const acts: Val[] = [{ v: Float64Array.from(X as ArrayLike<number>), e: new Float64Array(X.length) }];
    for (const l of this.trunk) acts.push(forward(l, acts[acts.length - 1]!));
    const exitActs = this.exits.map((e) => {
      const a: Val[] = [acts[e.after + 1]!];
      for (const l of e.layers) a.push(forward(l, a[a.length - 1]!));
      return a;
    });

    const classes = this.trunk[this.trunk.length - 1]!.outputs;
    // loss and dZ = w·(softmax(Z) − onehot)/B; a logit error δ moves each log-softmax and each softmax
    // probability by at most 2·max|δ| of its column
    const head = (logits: Val, weight: number): { loss: number; lossError: number; dZ: Val } => {
      const { loss, dZ } = softmaxCrossEntropy(logits.v, classes, B, labels);
      const P = softmax(logits.v, classes, B);
      const e = new Float64Array(dZ.length);
      let lossError = ROUNDING * (1 + loss);
      for (let b = 0; b < B; b++) {
        let col = 0;
        for (let c = 0; c < classes; c++) col = Math.max(col, logits.e[c * B + b]!);
        lossError += (2 * col) / B;
        for (let c = 0; c < classes; c++) {
          const i = c * B + b;
          e[i] = (Math.abs(weight) * (2 * col + ROUNDING * (P[i]! + (labels[b] === c ? 1 : 0)))) / B;
        }
      }
      for (let i = 0; i < dZ.length; i++) dZ[i]! *= weight;
      return { loss, lossError, dZ: { v: dZ, e } };
    };
    const exitHeads = this.exits.map((e, k) => head(exitActs[k]![e.layers.length]!, e.weight));
    const final = head(acts[this.trunk.length]!, this.finalWeight);

    const grads = new Map<Float64Array, Val>();
    // backward through one layer given dY of its output y and its input x; returns dX
    const backward = (l: DenseLayer, x: Val, y: Val, dY: Val): Val => {
      const dZ: Val = l.relu
        ? { v: dY.v.map((d, i) => (y.v[i]! > 0 ? d : 0)), e: dY.e.map((d, i) => (y.v[i]! > 0 ? d : 0)) }
        : dY;
      const adZ = abs(dZ.v);
      grads.set(l.W, {
        v: gradW(dZ.v, l.outputs, x.v, l.inputs, B),
        e: plus(
          scaled(gradW(adZ, l.outputs, abs(x.v), l.inputs, B), ROUNDING),
          gradW(dZ.e, l.outputs, abs(x.v), l.inputs, B),
          gradW(adZ, l.outputs, x.e, l.inputs, B),
        ),
      });
      grads.set(l.b, {
        v: rowSums(dZ.v, l.outputs, B),
        e: plus(scaled(rowSums(adZ, l.outputs, B), ROUNDING), rowSums(dZ.e, l.outputs, B)),
      });
      return {
        v: matmulT(l.W, l.outputs, l.inputs, dZ.v, B),
        e: plus(
          scaled(matmulT(abs(l.W), l.outputs, l.inputs, adZ, B), ROUNDING),
          matmulT(abs(l.W), l.outputs, l.inputs, dZ.e, B),
          matmulT(this.weightError(l.W), l.outputs, l.inputs, adZ, B),
        ),
      };
    };
    const exitInputGrads = this.exits.map((e, k) => {
      let g: Val = exitHeads[k]!.dZ;
      for (let j = e.layers.length - 1; j >= 0; j--)
        g = backward(e.layers[j]!, exitActs[k]![j]!, exitActs[k]![j + 1]!, g);
      return g;
    });
    let g: Val = final.dZ;
    for (let i = this.trunk.length - 1; i >= 0; i--) {
      this.exits.forEach((e, k) => {
        if (e.after === i) g = { v: plus(g.v, exitInputGrads[k]!.v), e: plus(g.e, exitInputGrads[k]!.e) };
      });
      g = backward(this.trunk[i]!, acts[i]!, acts[i + 1]!, g);
    }

    this.update(grads);
    for (const l of this.layers()) {
      const d = this.weightError(l.W);
      for (let q = 0; q < l.W.length; q++) {
        l.W[q]! *= l.mask[q]!;
        d[q]! *= l.mask[q]!;
      }
    }

    const heads = [...exitHeads, final];
    const weights = [...this.exits.map((e) => e.weight), this.finalWeight];
    return {
      losses: heads.map((h) => h.loss),
      total: heads.reduce((s, h, k) => s + weights[k]! * h.loss, 0),
      lossError: heads.map((h) => h.lossError),
      totalError: heads.reduce((s, h, k) => s + Math.abs(weights[k]!) * h.lossError, 0),
      reluMargin: margin,
    };
  }

  private slotsOf(map: Map<Float64Array, Slots>, param: Float64Array): Slots {
    let s = map.get(param);
    if (!s)
      map.set(
        param,
        (s = Array.from({ length: this.opt.kind === "adam" ? 2 : 1 }, () => new Float64Array(param.length))),
      );
    return s;
  }

  private update(grads: Map<Float64Array, Val>): void {
    const o = this.opt;
    this.t++;
    for (const l of this.layers()) {
      for (const [param, isWeight] of [
        [l.W, true],
        [l.b, false],
      ] as const) {
        const g = grads.get(param)!;
        const l2 = isWeight ? o.weightDecay : 0;
        const s = this.state(param),
          se = this.stateError(param),
          d = this.weightError(param);
        // the gradient the optimizer sees includes l2·w, so the weight's own drift enters too
        const ge = Float64Array.from(g.e, (e, i) => e + l2 * (d[i]! + ROUNDING * Math.abs(param[i]!)));
        const gAbs = Float64Array.from(g.v, (v, i) => Math.abs(v + l2 * param[i]!));
        if (o.kind === "adam") {
          const lrT = kerasAdamLr(o.lr, o.decay, this.t, o.beta1, o.beta2);
          adamStep(param, g.v, s[0]!, s[1]!, lrT, o.beta1, o.beta2, o.eps, l2);
          for (let i = 0; i < param.length; i++) {
            se[0]![i] = o.beta1 * se[0]![i]! + (1 - o.beta1) * ge[i]! + ROUNDING * Math.abs(s[0]![i]!);
            se[1]![i] =
              o.beta2 * se[1]![i]! + (1 - o.beta2) * (2 * gAbs[i]! * ge[i]! + ge[i]! ** 2) + ROUNDING * s[1]![i]!;
            // w −= lrT·m/(√v + ε) moves by lrT·(Δm/(√v + ε) + |m|·Δ√v/(√v + ε)²) when m and v are off by Δm, Δv
            const m = Math.abs(s[0]![i]!),
              sv = Math.sqrt(s[1]![i]!),
              dm = se[0]![i]!,
              dv = se[1]![i]!;
            const dsv = sv > 0 ? Math.min(Math.sqrt(dv), dv / (2 * sv)) : Math.sqrt(dv);
            d[i]! += lrT * (dm / (sv + o.eps) + (m * dsv) / (sv + o.eps) ** 2) + ROUNDING * Math.abs(param[i]!);
          }
        } else {
          const lr = o.lr / (1 + o.decay * (this.t - 1));
          sgdStep(param, g.v, s[0]!, lr, o.momentum, l2);
          for (let i = 0; i < param.length; i++) {
            se[0]![i] = o.momentum * se[0]![i]! + lr * ge[i]! + ROUNDING * Math.abs(s[0]![i]!);
            d[i]! += se[0]![i]! + ROUNDING * Math.abs(param[i]!);
          }
        }
      }
    }
  }
}
