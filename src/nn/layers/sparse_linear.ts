// Y[out,B] = W (pattern, CSR) · X[in,B] + b, optionally ReLU;  dX = Wᵀ·dZ;  dW = dZ·Xᵀ on the pattern;  db = Σ_b dZ
import { CsrWeights, csrSpmmBackwardWeights, csrSpmm, csrSpmmBackward } from "../../ops/csr_spmm.js";
import { denseMatmulBackwardWeights, denseMatmul, denseMatmulBackward } from "../../ops/dense_matmul.js";
import { reluBackward } from "../../ops/activations.js";
import type { Engine } from "../../engine/engine.js";
import { ShapeError, ValidationError } from "../../engine/errors.js";
import type { Pattern } from "../../sparsity/pattern.js";
import { Rng } from "../../engine/random.js";
import { F32Buffer, Matrix } from "../../engine/buffers.js";
import type { Layer, Param } from "./layer.js";

export type Activation = "relu" | "linear";

/** How a weighted layer starts: its activation, and He-normal weights from a seed or given values. */
export interface WeightedLayerOptions {
  activation?: Activation;
  /** Initial bias (default 0.1, as the paper). */
  biasInit?: number;
  /** Seed for the He-normal weights. */
  seed?: number;
  /** Initial weights in storage order (CSR order; for a convolution see ConvWeights) instead of He-normal. */
  values?: ArrayLike<number>;
  bias?: ArrayLike<number>;
}

export type SparseLinearOptions = WeightedLayerOptions;

/**
 * A linear layer over a fixed pattern: only the pattern's nnz weights exist. He-normal init over each
 * output's real fan-in (its in-degree), truncated at 2σ as Keras does. A full (100%) pattern runs on the
 * dense kernel, which is faster there; its CSR values are exactly the row-major dense matrix.
 */
export class SparseLinear implements Layer {
  readonly kind = "linear";
  readonly weights: CsrWeights;
  readonly bias: F32Buffer;
  readonly activation: Activation;
  private readonly dValues: F32Buffer;
  private readonly dBias: F32Buffer;
  private readonly dense: boolean;
  private readonly Y: Matrix;
  private dZ: Matrix | undefined;
  private dX: Matrix | undefined;
  private X: Matrix | undefined;

  constructor(
    readonly engine: Engine,
    readonly pattern: Pattern,
    opts: SparseLinearOptions = {},
  ) {
    this.activation = opts.activation ?? "relu";
    if (this.activation !== "relu" && this.activation !== "linear")
      throw new ValidationError(`SparseLinear: activation must be relu or linear, got ${String(this.activation)}`);
    // checked before anything is allocated in WASM memory: a refused layer leaves nothing behind
    if (opts.bias && opts.bias.length !== pattern.outputs)
      throw new ShapeError(`SparseLinear: bias has ${opts.bias.length} entries, layer has ${pattern.outputs} outputs`);
    const values = opts.values ?? heNormal(pattern, opts.seed ?? 0);
    this.weights = new CsrWeights(engine, pattern, values);
    this.bias = F32Buffer.from(engine, opts.bias ?? new Float32Array(pattern.outputs).fill(opts.biasInit ?? 0.1));
    this.dValues = new F32Buffer(engine, pattern.nnz);
    this.dBias = new F32Buffer(engine, pattern.outputs);
    this.dense = pattern.nnz === pattern.inputs * pattern.outputs;
    this.Y = new Matrix(engine, pattern.outputs, 1);
  }

  get inputSize(): number {
    return this.pattern.inputs;
  }
  get outputSize(): number {
    return this.pattern.outputs;
  }

  forward(X: Matrix): Matrix {
    if (X.rows !== this.inputSize)
      throw new ShapeError(`SparseLinear.forward: X has ${X.rows} rows, layer has ${this.inputSize} inputs`);
    this.X = X;
    const Y = this.Y.reshape(X.cols);
    const opts = { bias: this.bias, relu: this.activation === "relu" };
    if (this.dense) denseMatmul(this.denseView(), X, Y, opts);
    else csrSpmm(this.weights, X, Y, opts);
    return Y;
  }

  backward(dY: Matrix, needDx: boolean): Matrix | undefined {
    const X = this.X;
    if (!X) throw new ValidationError("SparseLinear.backward: called before forward");
    if (dY.rows !== this.outputSize || dY.cols !== X.cols)
      throw new ShapeError(`SparseLinear.backward: dY is ${dY.rows}×${dY.cols}, expected ${this.outputSize}×${X.cols}`);
    let dZ = dY;
    if (this.activation === "relu") {
      this.dZ ??= new Matrix(this.engine, this.outputSize, dY.cols);
      dZ = reluBackward(this.Y, dY, this.dZ.reshape(dY.cols));
    }
    if (this.dense) denseMatmulBackwardWeights(this.denseView(), dZ, X, this.dValues, this.dBias);
    else csrSpmmBackwardWeights(this.weights, dZ, X, this.dValues, this.dBias);
    if (!needDx) return undefined;
    this.dX ??= new Matrix(this.engine, this.inputSize, dY.cols);
    const dX = this.dX.reshape(dY.cols);
    if (this.dense) denseMatmulBackward(this.denseView(), dZ, dX);
    else csrSpmmBackward(this.weights, dZ, dX);
    return dX;
  }

  params(): Param[] {
    return [
      { name: "values", values: this.weights.values, grad: this.dValues, decay: true },
      { name: "bias", values: this.bias, grad: this.dBias, decay: false },
    ];
  }

  macsPerSample(): number {
    return this.pattern.nnz;
  }

  denseParameterCount(): number {
    return this.pattern.inputs * this.pattern.outputs + this.pattern.outputs;
  }

  clone(): SparseLinear {
    const state = { activation: this.activation, values: this.weights.values.toArray(), bias: this.bias.toArray() };
    return new SparseLinear(this.engine, this.pattern, state);
  }

  dispose(): void {
    this.weights.dispose();
    for (const b of [this.bias, this.dValues, this.dBias]) b.dispose();
    for (const m of [this.Y, this.dZ, this.dX]) m?.dispose();
  }

  private denseView() {
    return {
      engine: this.engine,
      outputs: this.pattern.outputs,
      inputs: this.pattern.inputs,
      values: this.weights.values,
    };
  }
}

/** He-normal over each output's in-degree, truncated at 2σ (Keras he_normal: σ = √(2/fanIn)/0.8796). */
export function heNormal(pattern: Pattern, seed: number): Float32Array {
  return heNormalRows(pattern.rowPtr, seed);
}

/** Truncated He-normal for values laid out by row pointers: row r's fan-in is rowPtr[r+1] − rowPtr[r]. */
export function heNormalRows(rowPtr: Int32Array, seed: number): Float32Array {
  const rng = new Rng(seed);
  const rows = rowPtr.length - 1;
  const out = new Float32Array(rowPtr[rows]!);
  for (let r = 0; r < rows; r++) {
    const a = rowPtr[r]!,
      b = rowPtr[r + 1]!;
    const sigma = Math.sqrt(2 / Math.max(1, b - a)) / 0.87962566103423978;
    for (let p = a; p < b; p++) {
      let z: number;
      do z = rng.normal();
      while (Math.abs(z) > 2);
      out[p] = z * sigma;
    }
  }
  return out;
}
