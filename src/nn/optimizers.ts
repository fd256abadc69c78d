// Adam (Keras legacy): lr_t = lr/(1+decay·t) · √(1−β2ᵗ)/(1−β1ᵗ); m,v nnz-long; SGD with momentum: u = μu − lr·g; w += u
import { ShapeError, ValidationError } from "../engine/errors.js";
import type { Param } from "./layers/layer.js";
import { F32Buffer, checkOperands } from "../engine/buffers.js";

/** Updates parameters from their gradients; its state arrays are as long as the parameters (nnz for weights). */
export interface Optimizer {
  readonly name: string;
  /** Steps taken so far. */
  readonly t: number;
  step(params: Param[]): void;
  /** Total floats of optimizer state (Σ over params of state arrays). */
  stateSize(): number;
  /** The state arrays of one parameter (for tests and checkpoints). */
  state(p: Param): F32Buffer[];
  dispose(): void;
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Keras-legacy per-step learning-rate decay: lr / (1 + decay·t). */
  decay?: number;
  /** L2 penalty coefficient added to the gradient of weights (not biases). */
  weightDecay?: number;
}

/** A parameter's gradient must match its values, in one live engine, before a step writes through them. */
function checkParam(op: string, p: Param): void {
  checkOperands(op, p.values, p.grad);
  if (p.grad.length !== p.values.length)
    throw new ShapeError(`${op}: ${p.name} has ${p.values.length} values but ${p.grad.length} gradients`);
}

function positive(op: string, name: string, v: number, allowZero = true): number {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0))
    throw new ValidationError(`${op}: ${name} must be ${allowZero ? "≥ 0" : "> 0"} and finite, got ${v}`);
  return v;
}

/** Adam as in Keras 2 (legacy), so the paper's `Adam(lr=1e-3, decay=1e-5)` with ε = 1e-7 is reproduced. */
export class Adam implements Optimizer {
  readonly name = "adam";
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly decay: number;
  readonly weightDecay: number;
  private t_ = 0;
  private readonly moments = new Map<F32Buffer, [F32Buffer, F32Buffer]>();

  constructor(o: AdamOptions = {}) {
    this.lr = positive("Adam", "lr", o.lr ?? 1e-3, false);
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    if (!(this.beta1 >= 0 && this.beta1 < 1) || !(this.beta2 >= 0 && this.beta2 < 1))
      throw new ValidationError(`Adam: betas must be in [0, 1), got ${this.beta1}, ${this.beta2}`);
    this.eps = positive("Adam", "eps", o.eps ?? 1e-7, false);
    this.decay = positive("Adam", "decay", o.decay ?? 0);
    this.weightDecay = positive("Adam", "weightDecay", o.weightDecay ?? 0);
  }

  get t(): number {
    return this.t_;
  }

  /** The learning rate the next step will use before bias correction. */
  currentLr(): number {
    return this.lr / (1 + this.decay * this.t_);
  }

  step(params: Param[]): void {
    for (const p of params) checkParam("Adam.step", p);
    const lr = this.currentLr();
    this.t_++;
    const t = this.t_;
    const lrT = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    for (const p of params) {
      const [m, v] = this.slots(p);
      p.values.engine.kernels.adamStep(
        p.values.length,
        p.values.ptr,
        p.grad.ptr,
        m.ptr,
        v.ptr,
        lrT,
        this.beta1,
        this.beta2,
        this.eps,
        p.decay ? this.weightDecay : 0,
      );
    }
  }

  stateSize(): number {
    let n = 0;
    for (const [m, v] of this.moments.values()) n += m.length + v.length;
    return n;
  }

  state(p: Param): F32Buffer[] {
    return this.moments.get(p.values) ?? [];
  }

  dispose(): void {
    for (const [m, v] of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }

  private slots(p: Param): [F32Buffer, F32Buffer] {
    let s = this.moments.get(p.values);
    if (!s) {
      s = [new F32Buffer(p.values.engine, p.values.length), new F32Buffer(p.values.engine, p.values.length)];
      this.moments.set(p.values, s);
    }
    return s;
  }
}

export interface SgdOptions {
  lr?: number;
  momentum?: number;
  decay?: number;
  weightDecay?: number;
}

/** SGD with (heavy-ball) momentum and Keras-legacy learning-rate decay. */
export class Sgd implements Optimizer {
  readonly name = "sgd";
  readonly lr: number;
  readonly momentum: number;
  readonly decay: number;
  readonly weightDecay: number;
  private t_ = 0;
  private readonly velocity = new Map<F32Buffer, F32Buffer>();

  constructor(o: SgdOptions = {}) {
    this.lr = positive("Sgd", "lr", o.lr ?? 0.01, false);
    this.momentum = o.momentum ?? 0.9;
    if (!(this.momentum >= 0 && this.momentum < 1))
      throw new ValidationError(`Sgd: momentum must be in [0, 1), got ${this.momentum}`);
    this.decay = positive("Sgd", "decay", o.decay ?? 0);
    this.weightDecay = positive("Sgd", "weightDecay", o.weightDecay ?? 0);
  }

  get t(): number {
    return this.t_;
  }

  step(params: Param[]): void {
    for (const p of params) checkParam("Sgd.step", p);
    const lr = this.lr / (1 + this.decay * this.t_);
    this.t_++;
    for (const p of params) {
      let u = this.velocity.get(p.values);
      if (!u) this.velocity.set(p.values, (u = new F32Buffer(p.values.engine, p.values.length)));
      p.values.engine.kernels.sgdStep(
        p.values.length,
        p.values.ptr,
        p.grad.ptr,
        u.ptr,
        lr,
        this.momentum,
        p.decay ? this.weightDecay : 0,
      );
    }
  }

  stateSize(): number {
    let n = 0;
    for (const u of this.velocity.values()) n += u.length;
    return n;
  }

  state(p: Param): F32Buffer[] {
    const u = this.velocity.get(p.values);
    return u ? [u] : [];
  }

  dispose(): void {
    for (const u of this.velocity.values()) u.dispose();
    this.velocity.clear();
  }
}
