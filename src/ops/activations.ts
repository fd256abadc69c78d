// ReLU: y = max(x, 0);  dX = dY ⊙ [y > 0]
import { ShapeError } from "../engine/errors.js";
import { checkOperands, type Matrix } from "../engine/buffers.js";

/** In place: Y = max(Y, 0). */
export function reluForward(Y: Matrix): Matrix {
  checkOperands("reluForward", Y);
  Y.engine.kernels.reluForward(Y.size, Y.ptr);
  return Y;
}

/** dX = dY ⊙ [Y > 0], where Y is the ReLU's output; dX may be dY. */
export function reluBackward(Y: Matrix, dY: Matrix, dX: Matrix): Matrix {
  checkOperands("reluBackward", Y, dY, dX);
  for (const [n, m] of [
    ["dY", dY],
    ["dX", dX],
  ] as const) {
    if (m.rows !== Y.rows || m.cols !== Y.cols)
      throw new ShapeError(`reluBackward: ${n} is ${m.rows}×${m.cols}, Y is ${Y.rows}×${Y.cols}`);
  }
  Y.engine.kernels.reluBackward(Y.size, Y.ptr, dY.ptr, dX.ptr);
  return dX;
}
