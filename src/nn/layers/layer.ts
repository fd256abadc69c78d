import type { F32Buffer, Matrix } from "../../engine/buffers.js";

/**
 * A trainable array and its gradient, both nnz-long for sparse layers. `decay` marks weights (L2 applies), not
 * biases.
 */
export interface Param {
  readonly name: string;
  readonly values: F32Buffer;
  readonly grad: F32Buffer;
  readonly decay: boolean;
}

/**
 * One step of a network over feature-major activations [features, batch]. `forward` returns a matrix the
 * layer owns (valid until its next forward) and remembers its input for `backward`, which fills the
 * parameter gradients and returns dX (owned by the layer) unless `needDx` is false (first layer).
 */
export interface Layer {
  readonly kind: string;
  /** Features per sample in and out (for images: channels·height·width). */
  readonly inputSize: number;
  readonly outputSize: number;
  /** Per-sample output shape when it has structure, e.g. [C, H, W] for images (default [outputSize]). */
  readonly outputShape?: readonly number[];
  forward(X: Matrix): Matrix;
  backward(dY: Matrix, needDx: boolean): Matrix | undefined;
  params(): Param[];
  /** Multiply-accumulates per sample, stored connections only. */
  macsPerSample(): number;
  /** Weights + biases the same layer would have at 100% density (for size comparisons). */
  denseParameterCount?(): number;
  /** An independent copy: the same state (pattern, geometry, weights, bias) in new memory, sharing only the pattern. */
  clone(): Layer;
  dispose(): void;
}
