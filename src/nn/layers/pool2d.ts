// Y[C·OH·OW, B] = max | mean over k×k windows of X[C·H·W, B];  dX: dY to each window's first max | dY/k² to each tap
import type { Engine } from "../../engine/engine.js";
import { ShapeError, ValidationError } from "../../engine/errors.js";
import {
  avgPool2d,
  avgPool2dBackward,
  maxPool2d,
  maxPool2dBackward,
  pool2dShape,
  type Pool2dGeometry,
  type Pool2dShape,
} from "../../ops/pool2d.js";
import { Matrix } from "../../engine/buffers.js";
import type { Layer, Param } from "./layer.js";

// The two pooling layers differ only in their kernels; everything else (shapes, scratch) is shared.
abstract class Pool2dLayer implements Layer {
  abstract readonly kind: "maxpool2d" | "avgpool2d";
  readonly shape: Pool2dShape;
  // made at the first forward: a layer read from a file has no tensors to pay for its scratch, only numbers
  protected Y: Matrix | undefined;
  protected dX: Matrix | undefined;
  protected X: Matrix | undefined;

  constructor(
    readonly engine: Engine,
    geometry: Pool2dGeometry,
    // the class name for messages, spelled out: a minifier renames constructor.name
    private readonly op: string,
  ) {
    this.shape = pool2dShape(op, geometry);
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
    if (X.rows !== this.inputSize)
      throw new ShapeError(
        `${this.op}.forward: X has ${X.rows} rows, ` +
          `layer takes ${this.inputSize} (${this.shape.C}×${this.shape.H}×${this.shape.W})`,
      );
    this.X = X;
    this.Y ??= new Matrix(this.engine, this.outputSize, X.cols);
    return this.pool(X, this.Y.reshape(X.cols));
  }

  backward(dY: Matrix, needDx: boolean): Matrix | undefined {
    const X = this.X;
    if (!X) throw new ValidationError(`${this.op}.backward: called before forward`);
    if (dY.rows !== this.outputSize || dY.cols !== X.cols)
      throw new ShapeError(`${this.op}.backward: dY is ${dY.rows}×${dY.cols}, expected ${this.outputSize}×${X.cols}`);
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

  abstract clone(): Pool2dLayer;

  dispose(): void {
    for (const m of [this.Y, this.dX]) m?.dispose();
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
    return maxPool2dBackward(this.shape, X, this.Y!, dY, dX);
  }
  clone(): MaxPool2d {
    return new MaxPool2d(this.engine, this.shape);
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
  clone(): AvgPool2d {
    return new AvgPool2d(this.engine, this.shape);
  }
}
