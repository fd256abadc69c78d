// Y[C·OH·OW, B] = max | mean over k×k windows of X[C·H·W, B];  dX: dY to each window's first max | dY/k² to each tap
import type { Engine } from "../../engine/engine.js";
import { FormatError, ShapeError, ValidationError } from "../../engine/errors.js";
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, pool2dShape, type Pool2dGeometry, type Pool2dShape } from "../../ops/pool2d.js";
import { Matrix } from "../../engine/buffers.js";
import type { Layer, LayerSpec, Param, StoredTensor } from "./layer.js";

// The two pooling layers differ only in their kernels; everything else (shapes, scratch, spec) is shared.
abstract class Pool2dLayer implements Layer {
  abstract readonly kind: "maxpool2d" | "avgpool2d";
  readonly shape: Pool2dShape;
  protected readonly Y: Matrix;
  protected dX: Matrix | undefined;
  protected X: Matrix | undefined;

  constructor(
    readonly engine: Engine,
    geometry: Pool2dGeometry,
    // the class name for messages, spelled out: a minifier renames constructor.name
    private readonly op: string,
  ) {
    this.shape = pool2dShape(op, geometry);
    this.Y = new Matrix(engine, this.outputSize, 1);
  }

  get inputSize(): number {
    return this.shape.C * this.shape.H * this.shape.W;
  }
  get outputSize(): number {
    return this.shape.C * this.shape.outH * this.shape.outW;
  }
  /** Per-sample output shape [C, outH, outW]. */
  get outputShape(): [number, number, number] {
    return [this.shape.C, this.shape.outH, this.shape.outW];
  }

  forward(X: Matrix): Matrix {
    if (X.rows !== this.inputSize) throw new ShapeError(`${this.op}.forward: X has ${X.rows} rows, layer takes ${this.inputSize} (${this.shape.C}×${this.shape.H}×${this.shape.W})`);
    this.X = X;
    return this.pool(X, this.Y.reshape(X.cols));
  }

  backward(dY: Matrix, needDx: boolean): Matrix | undefined {
    const X = this.X;
    if (!X) throw new ValidationError(`${this.op}.backward: called before forward`);
    if (dY.rows !== this.outputSize || dY.cols !== X.cols) throw new ShapeError(`${this.op}.backward: dY is ${dY.rows}×${dY.cols}, expected ${this.outputSize}×${X.cols}`);
    if (!needDx) return undefined;
    this.dX ??= new Matrix(this.engine, this.inputSize, dY.cols);
    return this.unpool(X, dY, this.dX.reshape(dY.cols));
  }

  protected abstract pool(X: Matrix, Y: Matrix): Matrix;
  protected abstract unpool(X: Matrix, dY: Matrix, dX: Matrix): Matrix;

  params(): Param[] {
    return [];
  }

  /** Pooling multiplies nothing by a weight. */
  macsPerSample(): number {
    return 0;
  }

  spec(): LayerSpec {
    const s = this.shape;
    return { kind: this.kind, C: s.C, H: s.H, W: s.W, k: s.k, stride: s.stride, outH: s.outH, outW: s.outW, inputs: this.inputSize, outputs: this.outputSize };
  }

  tensors(): Record<string, StoredTensor> {
    return {};
  }

  dispose(): void {
    for (const m of [this.Y, this.dX]) m?.dispose();
  }
}

/** A pooling layer from its spec in a model file; any geometry it rejects is a FormatError at `where`. */
function fromSpec<L>(make: (g: Pool2dGeometry) => L, spec: LayerSpec, where: string): L {
  const num = (k: string): number => {
    const v = spec[k];
    if (typeof v !== "number" || !Number.isInteger(v)) throw new FormatError("model", `${where}.${k}`, `expected an integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const g = { C: num("C"), H: num("H"), W: num("W"), k: num("k"), stride: num("stride") };
  try {
    return make(g);
  } catch (e) {
    throw new FormatError("model", where, (e as Error).message);
  }
}

/** Max over k×k windows at stride s (default k), no padding; the gradient goes to the first maximum of each window. */
export class MaxPool2d extends Pool2dLayer {
  readonly kind = "maxpool2d";
  constructor(engine: Engine, geometry: Pool2dGeometry) {
    super(engine, geometry, "MaxPool2d");
  }
  protected pool(X: Matrix, Y: Matrix): Matrix {
    return maxPool2d(this.shape, X, Y);
  }
  protected unpool(X: Matrix, dY: Matrix, dX: Matrix): Matrix {
    return maxPool2dBackward(this.shape, X, this.Y, dY, dX);
  }
  /** Rebuilds the layer from its spec (it has no tensors). */
  static fromTensors(engine: Engine, spec: LayerSpec, _t: Record<string, StoredTensor | undefined>, where: string): MaxPool2d {
    return fromSpec((g) => new MaxPool2d(engine, g), spec, where);
  }
}

/** Mean over k×k windows at stride s (default k), no padding. */
export class AvgPool2d extends Pool2dLayer {
  readonly kind = "avgpool2d";
  constructor(engine: Engine, geometry: Pool2dGeometry) {
    super(engine, geometry, "AvgPool2d");
  }
  protected pool(X: Matrix, Y: Matrix): Matrix {
    return avgPool2d(this.shape, X, Y);
  }
  protected unpool(_X: Matrix, dY: Matrix, dX: Matrix): Matrix {
    return avgPool2dBackward(this.shape, dY, dX);
  }
  /** Rebuilds the layer from its spec (it has no tensors). */
  static fromTensors(engine: Engine, spec: LayerSpec, _t: Record<string, StoredTensor | undefined>, where: string): AvgPool2d {
    return fromSpec((g) => new AvgPool2d(engine, g), spec, where);
  }
}
