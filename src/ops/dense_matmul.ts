// Y[m,B] = W[m,k]·X[k,B] (+bias, ReLU);  dX[k,B] = Wᵀ·dY;  dW[m,k] = dY·Xᵀ — W row-major, activations feature-major.
import type { Engine } from "../engine/engine.js";
import { ShapeError, checkInt } from "../engine/errors.js";
import { checkOperands, type F32Buffer, type Matrix } from "../engine/buffers.js";

/**
 * A dense weight matrix [outputs, inputs], row-major, in WASM memory (a full pattern's CSR values are exactly
 * this).
 */
export interface DenseWeights {
  engine: Engine;
  outputs: number;
  inputs: number;
  values: F32Buffer;
}

function check(op: string, W: DenseWeights, ...operands: (F32Buffer | Matrix | undefined)[]): void {
  if (W.values.engine !== W.engine) throw new ShapeError(`${op}: W's values live in another engine`);
  checkOperands(op, W.values, ...operands);
  checkInt(op, "outputs", W.outputs);
  checkInt(op, "inputs", W.inputs);
  if (W.values.length !== W.outputs * W.inputs)
    throw new ShapeError(`${op}: W has ${W.values.length} values, expected ${W.outputs}×${W.inputs}`);
}

/** Y = W·X (+ bias) (ReLU). Shapes: W [m,k], X [k,B], Y [m,B]. */
export function denseMatmul(
  W: DenseWeights,
  X: Matrix,
  Y: Matrix,
  opts: { bias?: F32Buffer; relu?: boolean } = {},
): Matrix {
  const op = "denseMatmul";
  check(op, W, X, Y, opts.bias);
  if (X.rows !== W.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, W has ${W.inputs} columns`);
  if (Y.rows !== W.outputs) throw new ShapeError(`${op}: Y has ${Y.rows} rows, W has ${W.outputs} rows`);
  if (Y.cols !== X.cols) throw new ShapeError(`${op}: Y has ${Y.cols} columns (batch), X has ${X.cols}`);
  if (opts.bias && opts.bias.length !== W.outputs)
    throw new ShapeError(`${op}: bias has ${opts.bias.length} entries, W has ${W.outputs} rows`);
  W.engine.kernels.denseMatmul(
    W.outputs,
    W.inputs,
    X.cols,
    W.values.ptr,
    W.inputs,
    1,
    X.ptr,
    opts.bias?.ptr ?? 0,
    Y.ptr,
    opts.relu ? 1 : 0,
  );
  return Y;
}

/** dX = Wᵀ·dY. Shapes: W [m,k], dY [m,B], dX [k,B]. */
export function denseMatmulBackward(W: DenseWeights, dY: Matrix, dX: Matrix): Matrix {
  const op = "denseMatmulBackward";
  check(op, W, dY, dX);
  if (dY.rows !== W.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, W has ${W.outputs} rows`);
  if (dX.rows !== W.inputs) throw new ShapeError(`${op}: dX has ${dX.rows} rows, W has ${W.inputs} columns`);
  if (dX.cols !== dY.cols) throw new ShapeError(`${op}: dX has ${dX.cols} columns (batch), dY has ${dY.cols}`);
  W.engine.kernels.denseMatmul(W.inputs, W.outputs, dY.cols, W.values.ptr, 1, W.inputs, dY.ptr, 0, dX.ptr, 0);
  return dX;
}

/** dW = dY·Xᵀ (row-major [m,k]); dBias = row sums of dY. */
export function denseMatmulBackwardWeights(
  W: DenseWeights,
  dY: Matrix,
  X: Matrix,
  dW: F32Buffer,
  dBias?: F32Buffer,
): F32Buffer {
  const op = "denseMatmulBackwardWeights";
  check(op, W, dY, X, dW, dBias);
  if (dY.rows !== W.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, W has ${W.outputs} rows`);
  if (X.rows !== W.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, W has ${W.inputs} columns`);
  if (X.cols !== dY.cols) throw new ShapeError(`${op}: X has ${X.cols} columns (batch), dY has ${dY.cols}`);
  if (dW.length !== W.outputs * W.inputs)
    throw new ShapeError(`${op}: dW has ${dW.length} entries, expected ${W.outputs}×${W.inputs}`);
  if (dBias && dBias.length !== W.outputs)
    throw new ShapeError(`${op}: dBias has ${dBias.length} entries, W has ${W.outputs} rows`);
  W.engine.kernels.denseGradW(W.outputs, W.inputs, X.cols, dY.ptr, X.ptr, dW.ptr, dBias?.ptr ?? 0);
  return dW;
}
