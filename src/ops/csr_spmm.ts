// Y[m,B] = A[m,k] (CSR) · X[k,B] (+bias, ReLU);  dX = Aᵀ·dY (CSC view);  dA.values = (dY·Xᵀ) on A's pattern
import type { Engine } from "../engine/engine.js";
import { ShapeError } from "../engine/errors.js";
import type { Pattern } from "../sparsity/pattern.js";
import { F32Buffer, I32Buffer, checkOperands, type Matrix } from "../engine/buffers.js";

/** A pattern's index arrays and its nnz-long values, copied once into WASM memory. */
export class CsrWeights {
  readonly rowPtr: I32Buffer;
  readonly colIdx: I32Buffer;
  readonly colPtr: I32Buffer;
  readonly rowIdx: I32Buffer;
  readonly perm: I32Buffer;
  readonly values: F32Buffer;
  /** Rows per block of the forward kernel: 4 or 2 when the pattern's blocks are multiples of them, else 1. */
  readonly block: number;

  constructor(
    readonly engine: Engine,
    readonly pattern: Pattern,
    values?: ArrayLike<number>,
  ) {
    if (values && values.length !== pattern.nnz)
      throw new ShapeError(`CsrWeights: ${values.length} values for a pattern with nnz = ${pattern.nnz}`);
    this.rowPtr = I32Buffer.from(engine, pattern.rowPtr);
    this.colIdx = I32Buffer.from(engine, pattern.colIdx);
    this.colPtr = I32Buffer.from(engine, pattern.colPtr);
    this.rowIdx = I32Buffer.from(engine, pattern.rowIdx);
    this.perm = I32Buffer.from(engine, pattern.perm);
    this.values = new F32Buffer(engine, pattern.nnz);
    this.block = pattern.block % 4 === 0 ? 4 : pattern.block % 2 === 0 ? 2 : 1;
    if (values) this.values.view().set(values);
  }

  get inputs(): number {
    return this.pattern.inputs;
  }
  get outputs(): number {
    return this.pattern.outputs;
  }

  /** True after dispose(). */
  get disposed(): boolean {
    return this.values.disposed;
  }

  dispose(): void {
    for (const b of [this.rowPtr, this.colIdx, this.colPtr, this.rowIdx, this.perm, this.values]) b.dispose();
  }
}

/** Y = A·X (+ bias) (ReLU). Shapes: A [m,k], X [k,B], Y [m,B], bias [m]. */
export function csrSpmm(A: CsrWeights, X: Matrix, Y: Matrix, opts: { bias?: F32Buffer; relu?: boolean } = {}): Matrix {
  const op = "csrSpmm";
  checkOperands(op, A, X, Y, opts.bias);
  if (X.rows !== A.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, A has ${A.inputs} columns`);
  if (Y.rows !== A.outputs) throw new ShapeError(`${op}: Y has ${Y.rows} rows, A has ${A.outputs} rows`);
  if (Y.cols !== X.cols) throw new ShapeError(`${op}: Y has ${Y.cols} columns (batch), X has ${X.cols}`);
  if (opts.bias && opts.bias.length !== A.outputs)
    throw new ShapeError(`${op}: bias has ${opts.bias.length} entries, A has ${A.outputs} rows`);
  const k = A.engine.kernels;
  const m = A.outputs,
    B = X.cols,
    bias = opts.bias?.ptr ?? 0,
    relu = opts.relu ? 1 : 0;
  // a blocked pattern's rows sum in another order (last-place differences from csrSpmm), the same at any batch
  if (A.block > 1) k.csrSpmmBlock(m, B, A.block, A.rowPtr.ptr, A.colIdx.ptr, A.values.ptr, X.ptr, bias, Y.ptr, relu);
  else k.csrSpmm(m, B, A.rowPtr.ptr, A.colIdx.ptr, A.values.ptr, X.ptr, bias, Y.ptr, relu);
  return Y;
}

/** dX = Aᵀ·dY. Shapes: A [m,k], dY [m,B], dX [k,B]. */
export function csrSpmmBackward(A: CsrWeights, dY: Matrix, dX: Matrix): Matrix {
  const op = "csrSpmmBackward";
  checkOperands(op, A, dY, dX);
  if (dY.rows !== A.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, A has ${A.outputs} rows`);
  if (dX.rows !== A.inputs) throw new ShapeError(`${op}: dX has ${dX.rows} rows, A has ${A.inputs} columns`);
  if (dX.cols !== dY.cols) throw new ShapeError(`${op}: dX has ${dX.cols} columns (batch), dY has ${dY.cols}`);
  A.engine.kernels.csrSpmmT(A.inputs, dY.cols, A.colPtr.ptr, A.rowIdx.ptr, A.perm.ptr, A.values.ptr, dY.ptr, dX.ptr);
  return dX;
}

/** dValues[j] = Σ_b dY[row(j),b]·X[col(j),b] at A's stored positions; dBias = row sums of dY. */
export function csrSpmmBackwardWeights(
  A: CsrWeights,
  dY: Matrix,
  X: Matrix,
  dValues: F32Buffer,
  dBias?: F32Buffer,
): F32Buffer {
  const op = "csrSpmmBackwardWeights";
  checkOperands(op, A, dY, X, dValues, dBias);
  if (dY.rows !== A.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, A has ${A.outputs} rows`);
  if (X.rows !== A.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, A has ${A.inputs} columns`);
  if (X.cols !== dY.cols) throw new ShapeError(`${op}: X has ${X.cols} columns (batch), dY has ${dY.cols}`);
  if (dValues.length !== A.pattern.nnz)
    throw new ShapeError(`${op}: dValues has ${dValues.length} entries, A has nnz = ${A.pattern.nnz}`);
  if (dBias && dBias.length !== A.outputs)
    throw new ShapeError(`${op}: dBias has ${dBias.length} entries, A has ${A.outputs} rows`);
  A.engine.kernels.csrSddmm(A.outputs, X.cols, A.rowPtr.ptr, A.colIdx.ptr, dY.ptr, X.ptr, dValues.ptr, dBias?.ptr ?? 0);
  return dValues;
}
