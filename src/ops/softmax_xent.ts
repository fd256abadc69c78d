// P = softmax(Z) per column;  loss = −mean_b log P[label_b, b];  dZ = (P − onehot)/B
import { ShapeError, ValidationError } from "../engine/errors.js";
import { checkOperands, type I32Buffer, type Matrix } from "../engine/buffers.js";

/** P = softmax(Z) over the rows of each column (P may be Z). */
export function softmax(Z: Matrix, P: Matrix): Matrix {
  checkOperands("softmax", Z, P);
  if (P.rows !== Z.rows || P.cols !== Z.cols) throw new ShapeError(`softmax: P is ${P.rows}×${P.cols}, Z is ${Z.rows}×${Z.cols}`);
  Z.engine.kernels.softmax(Z.rows, Z.cols, Z.ptr, P.ptr);
  return P;
}

/**
 * Mean softmax cross-entropy of logits Z [C,B] against labels (B class indices in WASM memory);
 * writes dZ = (softmax(Z) − onehot)/B when dZ is given. Labels are range-checked here, not in the kernel.
 */
export function softmaxCrossEntropy(Z: Matrix, labels: I32Buffer, dZ?: Matrix): number {
  const op = "softmaxCrossEntropy";
  checkOperands(op, Z, labels, dZ);
  if (labels.length < Z.cols) throw new ShapeError(`${op}: ${labels.length} labels for a batch of ${Z.cols}`);
  if (dZ && (dZ.rows !== Z.rows || dZ.cols !== Z.cols)) throw new ShapeError(`${op}: dZ is ${dZ.rows}×${dZ.cols}, Z is ${Z.rows}×${Z.cols}`);
  const l = labels.view();
  for (let b = 0; b < Z.cols; b++) {
    if (!(l[b]! >= 0 && l[b]! < Z.rows)) throw new ValidationError(`${op}: label ${l[b]} of sample ${b} outside [0, ${Z.rows})`);
  }
  return Z.engine.kernels.softmaxCrossEntropy(Z.rows, Z.cols, Z.ptr, labels.ptr, dZ?.ptr ?? 0);
}

