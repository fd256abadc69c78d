// P = softmax(Z) per column;  loss = −mean_b log P[label_b, b];  dZ = (P − onehot)/B;  argmax, max P, entropy of P
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { checkOperands, type I32Buffer, type Matrix } from "../engine/buffers.js";

/** P = softmax(Z) over the rows of each column (P may be Z). */
export function softmax(Z: Matrix, P: Matrix): Matrix {
  checkOperands("softmax", Z, P);
  if (P.rows !== Z.rows || P.cols !== Z.cols)
    throw new ShapeError(`softmax: P is ${P.rows}×${P.cols}, Z is ${Z.rows}×${Z.cols}`);
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
  if (dZ && (dZ.rows !== Z.rows || dZ.cols !== Z.cols))
    throw new ShapeError(`${op}: dZ is ${dZ.rows}×${dZ.cols}, Z is ${Z.rows}×${Z.cols}`);
  const l = labels.view();
  for (let b = 0; b < Z.cols; b++) {
    if (!(l[b]! >= 0 && l[b]! < Z.rows))
      throw new ValidationError(`${op}: label ${l[b]} of sample ${b} outside [0, ${Z.rows})`);
  }
  return Z.engine.kernels.softmaxCrossEntropy(Z.rows, Z.cols, Z.ptr, labels.ptr, dZ?.ptr ?? 0);
}

/** Per column of a batch of logits: the class, its softmax probability and the softmax entropy. */
export interface SoftmaxStats {
  label: Int32Array;
  confidence: Float64Array;
  /** In nats. */
  entropy: Float64Array;
}

/**
 * Softmax statistics of each column of logits z [C, n] (feature-major: WASM memory, or a logits frame as it arrives):
 * argmax (the first of ties), max probability 1/S and entropy log S − Σ e·d / S (d = z − max, e = exp(d), S = Σ e)
 * in float64 — one exp per class. Every decision on logits (exit runner, calibration, evaluate, the split client)
 * comes from this function, so they agree exactly. The NaN rule: argmax skips NaN unless class 0 is NaN (then 0); a
 * NaN or +∞ logit makes confidence and entropy NaN; −∞ is a class of probability 0, but its entropy term 0·∞ is NaN.
 * A NaN statistic passes no exit threshold, so such a sample goes on to the final classifier.
 */
export function softmaxStats(z: Float32Array, C: number, n: number): SoftmaxStats {
  checkInt("softmaxStats", "classes", C, 1);
  checkInt("softmaxStats", "columns", n);
  if (z.length !== C * n) throw new ShapeError(`softmaxStats: ${z.length} logits, expected ${C}×${n} = ${C * n}`);
  const label = new Int32Array(n),
    mx = z.slice(0, n),
    S = new Float64Array(n),
    T = new Float64Array(n);
  // class by class over contiguous rows (the batch runs fastest)
  for (let c = 1; c < C; c++) {
    for (let j = 0, o = c * n; j < n; j++) {
      const v = z[o + j]!;
      if (v > mx[j]!) {
        mx[j] = v;
        label[j] = c;
      }
    }
  }
  for (let c = 0; c < C; c++) {
    for (let j = 0, o = c * n; j < n; j++) {
      const d = z[o + j]! - mx[j]!;
      const e = Math.exp(d);
      S[j]! += e;
      T[j]! += e * d;
    }
  }
  const confidence = new Float64Array(n),
    entropy = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    confidence[j] = 1 / S[j]!;
    entropy[j] = Math.max(0, Math.log(S[j]!) - T[j]! / S[j]!);
  }
  return { label, confidence, entropy };
}
