// Y += X;  X *= s;  Dst = Src[:, cols]
import { ShapeError, ValidationError } from "../engine/errors.js";
import { checkOperands, type I32Buffer, type Matrix } from "../engine/buffers.js";

/** Y += X elementwise (same shape). */
export function addInPlace(Y: Matrix, X: Matrix): Matrix {
  checkOperands("addInPlace", Y, X);
  if (Y.rows !== X.rows || Y.cols !== X.cols)
    throw new ShapeError(`addInPlace: Y is ${Y.rows}×${Y.cols}, X is ${X.rows}×${X.cols}`);
  Y.engine.kernels.addInPlace(Y.size, Y.ptr, X.ptr);
  return Y;
}

/** X *= s. */
export function scaleInPlace(X: Matrix, s: number): Matrix {
  checkOperands("scaleInPlace", X);
  X.engine.kernels.scaleInPlace(X.size, X.ptr, s);
  return X;
}

/** Dst[rows, n] = Src[:, cols[0..n)]; Dst is reshaped to n columns. Column indices are range-checked. */
export function gatherColumns(Src: Matrix, cols: I32Buffer, n: number, Dst: Matrix): Matrix {
  checkOperands("gatherColumns", Src, cols, Dst);
  if (Dst === Src) throw new ValidationError("gatherColumns: Dst must not be Src");
  if (Dst.rows !== Src.rows) throw new ShapeError(`gatherColumns: Dst has ${Dst.rows} rows, Src has ${Src.rows}`);
  if (n > cols.length) throw new ShapeError(`gatherColumns: ${n} columns requested, index buffer holds ${cols.length}`);
  const c = cols.view();
  for (let j = 0; j < n; j++)
    if (!(c[j]! >= 0 && c[j]! < Src.cols))
      throw new ValidationError(`gatherColumns: column ${c[j]} outside [0, ${Src.cols})`);
  Dst.reshape(n);
  Src.engine.kernels.gatherColumns(Src.rows, Src.cols, Src.ptr, cols.ptr, n, Dst.ptr);
  return Dst;
}
