// [C, H, W] per sample → C·H·W features: in the feature-major layout the rows already lie in that order, so
// forward and backward pass their matrix through unchanged. The layer records the shape change for
// architectures, files and split points (a cut after it sends [C·H·W, batch] frames).
import { ShapeError, ValidationError, checkInt } from "../../engine/errors.js";
import type { Matrix } from "../../engine/buffers.js";
import type { Layer, Param } from "./layer.js";

export class Flatten implements Layer {
  readonly kind = "flatten";
  readonly inputShape: readonly number[];
  readonly inputSize: number;

  constructor(inputShape: readonly number[]) {
    if (inputShape.length < 1 || inputShape.length > 3)
      throw new ValidationError(`Flatten: input shape must have 1–3 dimensions, got [${inputShape.join(", ")}]`);
    inputShape.forEach((d, i) => checkInt("Flatten", `inputShape[${i}]`, d, 1));
    this.inputShape = [...inputShape];
    this.inputSize = inputShape.reduce((a, b) => a * b, 1);
  }

  get outputSize(): number {
    return this.inputSize;
  }
  get outputShape(): number[] {
    return [this.inputSize];
  }

  forward(X: Matrix): Matrix {
    if (X.rows !== this.inputSize)
      throw new ShapeError(
        `Flatten.forward: X has ${X.rows} rows, expected ${this.inputSize} ([${this.inputShape.join(", ")}])`,
      );
    return X;
  }

  backward(dY: Matrix, needDx: boolean): Matrix | undefined {
    if (dY.rows !== this.inputSize)
      throw new ShapeError(`Flatten.backward: dY has ${dY.rows} rows, expected ${this.inputSize}`);
    return needDx ? dY : undefined;
  }

  params(): Param[] {
    return [];
  }
  macsPerSample(): number {
    return 0;
  }
  denseParameterCount(): number {
    return 0;
  }
  clone(): Flatten {
    return new Flatten(this.inputShape);
  }

  dispose(): void {}
}
