// Y[outC·OH·OW, B] = conv(X[inC·H·W, B]) over a channel pattern (+ b) (ReLU);
// dX = convᵀ(dZ);  dW = dZ ⋆ X on stored taps;  db = Σ dZ
import { reluBackward } from "../../ops/activations.js";
import type { Engine } from "../../engine/engine.js";
import { ShapeError, ValidationError } from "../../engine/errors.js";
import { Pattern } from "../../sparsity/pattern.js";
import {
  ConvWeights,
  sparseConv2d,
  sparseConv2dBackward,
  sparseConv2dBackwardWeights,
  type Conv2dGeometry,
} from "../../ops/sparse_conv2d.js";
import { F32Buffer, Matrix } from "../../engine/buffers.js";
import type { Layer, Param } from "./layer.js";
import { heNormalRows, type Activation, type WeightedLayerOptions } from "./sparse_linear.js";

export interface SparseConv2dOptions extends Conv2dGeometry, WeightedLayerOptions {
  /** Which input channels feed each output channel (inputs = inC, outputs = outC); default every one. */
  pattern?: Pattern;
  /** Kernel-tap mask, kh·kw or pattern.nnz·kh·kw entries (see ConvWeights); default every tap. */
  taps?: ArrayLike<number | boolean>;
}

/**
 * A 2-D convolution with predefined channel sparsity: output channel o sees only the input channels its pattern
 * row lists, each through a full kh×kw kernel (or the taps of a mask). Only stored taps have weights, gradients
 * and optimizer state. Activations are [C·H·W, B] feature-major, so the input is [inC·H·W, B] and the output
 * [outC·outH·outW, B] with outH = ⌊(H + 2p − kh)/s⌋ + 1 (likewise outW). He-normal init over each output
 * channel's stored fan-in, truncated at 2σ.
 */
export class SparseConv2d implements Layer {
  readonly kind = "conv2d";
  readonly weights: ConvWeights;
  readonly bias: F32Buffer;
  readonly activation: Activation;
  readonly pattern: Pattern;
  private readonly dValues: F32Buffer;
  private readonly dBias: F32Buffer;
  // made at the first forward: its size (outC·outH·outW) comes from the geometry, which no tensor pays for
  private Y: Matrix | undefined;
  private dZ: Matrix | undefined;
  private dX: Matrix | undefined;
  private X: Matrix | undefined;

  constructor(
    readonly engine: Engine,
    opts: SparseConv2dOptions,
  ) {
    this.activation = opts.activation ?? "relu";
    if (this.activation !== "relu" && this.activation !== "linear")
      throw new ValidationError(`SparseConv2d: activation must be relu or linear, got ${String(this.activation)}`);
    // checked before anything is allocated in WASM memory: a refused layer leaves nothing behind
    if (opts.bias && opts.bias.length !== opts.outC) {
      throw new ShapeError(
        `SparseConv2d: bias has ${opts.bias.length} entries, layer has ${opts.outC} output channels`,
      );
    }
    this.pattern = opts.pattern ?? Pattern.dense(opts.inC, opts.outC);
    this.weights = new ConvWeights(engine, opts, this.pattern, { taps: opts.taps, values: opts.values });
    if (!opts.values) this.weights.values.view().set(heNormalConv(this.weights, opts.seed ?? 0));
    this.bias = F32Buffer.from(engine, opts.bias ?? new Float32Array(opts.outC).fill(opts.biasInit ?? 0.1));
    this.dValues = new F32Buffer(engine, this.weights.nnz);
    this.dBias = new F32Buffer(engine, opts.outC);
  }

  get inputSize(): number {
    return this.weights.inputSize;
  }
  get outputSize(): number {
    return this.weights.outputSize;
  }
  /** Per-sample output shape [outC, outH, outW]. */
  get outputShape(): [number, number, number] {
    return [this.weights.outC, this.weights.outH, this.weights.outW];
  }

  forward(X: Matrix): Matrix {
    if (X.rows !== this.inputSize)
      throw new ShapeError(
        `SparseConv2d.forward: X has ${X.rows} rows, ` +
          `layer takes ${this.inputSize} (${this.weights.inC}×${this.weights.H}×${this.weights.W})`,
      );
    this.X = X;
    this.Y ??= new Matrix(this.engine, this.outputSize, X.cols);
    return sparseConv2d(this.weights, X, this.Y.reshape(X.cols), { bias: this.bias, relu: this.activation === "relu" });
  }

  backward(dY: Matrix, needDx: boolean): Matrix | undefined {
    const X = this.X;
    if (!X) throw new ValidationError("SparseConv2d.backward: called before forward");
    if (dY.rows !== this.outputSize || dY.cols !== X.cols)
      throw new ShapeError(`SparseConv2d.backward: dY is ${dY.rows}×${dY.cols}, expected ${this.outputSize}×${X.cols}`);
    let dZ = dY;
    if (this.activation === "relu") {
      this.dZ ??= new Matrix(this.engine, this.outputSize, dY.cols);
      dZ = reluBackward(this.Y!, dY, this.dZ.reshape(dY.cols));
    }
    sparseConv2dBackwardWeights(this.weights, dZ, X, this.dValues, this.dBias);
    if (!needDx) return undefined;
    this.dX ??= new Matrix(this.engine, this.inputSize, dY.cols);
    return sparseConv2dBackward(this.weights, dZ, this.dX.reshape(dY.cols));
  }

  params(): Param[] {
    return [
      { name: "values", values: this.weights.values, grad: this.dValues, decay: true },
      { name: "bias", values: this.bias, grad: this.dBias, decay: false },
    ];
  }

  macsPerSample(): number {
    return this.weights.macsPerSample();
  }

  clone(): SparseConv2d {
    const w = this.weights;
    return new SparseConv2d(this.engine, {
      ...w.geometry,
      pattern: this.pattern,
      taps: w.tapMask,
      activation: this.activation,
      values: w.values.toArray(),
      bias: this.bias.toArray(),
    });
  }

  dispose(): void {
    this.weights.dispose();
    for (const b of [this.bias, this.dValues, this.dBias]) b.dispose();
    for (const m of [this.Y, this.dZ, this.dX]) m?.dispose();
  }
}

/** He-normal over each output channel's stored fan-in (connections × taps), truncated at 2σ like Keras he_normal. */
export function heNormalConv(w: ConvWeights, seed: number): Float32Array {
  return heNormalRows(w.rowPtr, seed);
}
