// Y[c,oy,ox,:] = max | mean of X[c, oy·s+ky, ox·s+kx, :] over a k×k window;
// dX: dY to the first max | dY/k² to each tap
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { checkActs, checkOperands, type Matrix } from "../engine/buffers.js";

/** A k×k pooling window at stride s over [C, H, W] images, no padding: out = ⌊(n − k)/s⌋ + 1 per side. */
export interface Pool2dGeometry {
  C: number;
  H: number;
  W: number;
  k: number;
  /** Default k (non-overlapping windows). */
  stride?: number;
}

/** A checked pooling geometry with its output sizes. */
export interface Pool2dShape extends Required<Pool2dGeometry> {
  outH: number;
  outW: number;
}

/** Validates a pooling geometry and derives the output size (ValidationError / ShapeError naming `op`). */
export function pool2dShape(op: string, g: Pool2dGeometry): Pool2dShape {
  const stride = g.stride ?? g.k;
  checkInt(op, "C", g.C, 1, 1 << 20);
  checkInt(op, "H", g.H, 1, 1 << 16);
  checkInt(op, "W", g.W, 1, 1 << 16);
  checkInt(op, "k", g.k, 1, 1 << 16);
  checkInt(op, "stride", stride, 1, 1 << 16);
  if (g.k > g.H || g.k > g.W)
    throw new ShapeError(`${op}: window ${g.k}×${g.k} is larger than the input ${g.H}×${g.W}`);
  if (g.C * g.H * g.W > 2 ** 31 - 1) throw new ValidationError(`${op}: ${g.C}×${g.H}×${g.W} features exceed 2^31 − 1`);
  return {
    C: g.C,
    H: g.H,
    W: g.W,
    k: g.k,
    stride,
    outH: Math.floor((g.H - g.k) / stride) + 1,
    outW: Math.floor((g.W - g.k) / stride) + 1,
  };
}

function check(
  op: string,
  g: Pool2dShape,
  inName: string,
  In: Matrix,
  outName: string,
  Out: Matrix,
  inRows: number,
  outRows: number,
): void {
  checkOperands(op, In, Out);
  checkActs(op, inName, In, outName, Out, inRows, outRows, ` (${g.C}×${g.H}×${g.W} or ${g.C}×${g.outH}×${g.outW})`);
}

// The kernels walk every window the shape names, so a shape not made by pool2dShape (a literal, an edited field)
// is re-derived here: an output size too large for the input would send the windows past the end of X and dX.
function sizes(op: string, g: Pool2dShape): readonly [number, number] {
  const d = pool2dShape(op, g);
  if (d.outH !== g.outH || d.outW !== g.outW) {
    throw new ShapeError(
      `${op}: output ${g.outH}×${g.outW} does not follow from ${g.H}×${g.W}, window ${g.k}, stride ${g.stride} ` +
        `(expected ${d.outH}×${d.outW})`,
    );
  }
  return [g.C * g.H * g.W, g.C * g.outH * g.outW];
}

/** Y = window max of X. Shapes: X [C·H·W, B], Y [C·outH·outW, B]. NaN in a window gives NaN. */
export function maxPool2d(g: Pool2dShape, X: Matrix, Y: Matrix): Matrix {
  const [inRows, outRows] = sizes("maxPool2d", g);
  check("maxPool2d", g, "X", X, "Y", Y, inRows, outRows);
  X.engine.kernels.maxPool2d(g.C, g.H, g.W, g.outH, g.outW, g.k, g.stride, X.cols, X.ptr, Y.ptr);
  return Y;
}

/**
 * dX = dY routed to the first position (row-major within the window) where X equals the window max Y; windows
 * that overlap add up. Y must be maxPool2d(X). A window whose max is NaN passes no gradient.
 */
export function maxPool2dBackward(g: Pool2dShape, X: Matrix, Y: Matrix, dY: Matrix, dX: Matrix): Matrix {
  const [inRows, outRows] = sizes("maxPool2dBackward", g);
  check("maxPool2dBackward", g, "X", X, "Y", Y, inRows, outRows);
  check("maxPool2dBackward", g, "dX", dX, "dY", dY, inRows, outRows);
  checkOperands("maxPool2dBackward", X, dX);
  if (dY.cols !== X.cols) throw new ShapeError(`maxPool2dBackward: dY has ${dY.cols} columns (batch), X has ${X.cols}`);
  X.engine.kernels.maxPool2dBackward(
    g.C,
    g.H,
    g.W,
    g.outH,
    g.outW,
    g.k,
    g.stride,
    X.cols,
    X.ptr,
    Y.ptr,
    dY.ptr,
    dX.ptr,
  );
  return dX;
}

/** Y = window mean of X. Shapes: X [C·H·W, B], Y [C·outH·outW, B]. */
export function avgPool2d(g: Pool2dShape, X: Matrix, Y: Matrix): Matrix {
  const [inRows, outRows] = sizes("avgPool2d", g);
  check("avgPool2d", g, "X", X, "Y", Y, inRows, outRows);
  X.engine.kernels.avgPool2d(g.C, g.H, g.W, g.outH, g.outW, g.k, g.stride, X.cols, X.ptr, Y.ptr);
  return Y;
}

/** dX = dY/k² spread over each window (overlapping windows add up). */
export function avgPool2dBackward(g: Pool2dShape, dY: Matrix, dX: Matrix): Matrix {
  const [inRows, outRows] = sizes("avgPool2dBackward", g);
  check("avgPool2dBackward", g, "dX", dX, "dY", dY, inRows, outRows);
  dY.engine.kernels.avgPool2dBackward(g.C, g.H, g.W, g.outH, g.outW, g.k, g.stride, dY.cols, dY.ptr, dX.ptr);
  return dX;
}
