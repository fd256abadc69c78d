// The spec: plain dense float64 implementations of every kernel, written for obviousness, not speed.
// Matrices are row-major Float64Arrays; activations are feature-major [features, batch] like the engine's.
import type { Pattern } from "../../src/sparsity/pattern.js";

/** W[outputs, inputs] with values at the pattern's stored positions and zeros elsewhere. */
export function maskedDense(p: Pattern, values: ArrayLike<number>): Float64Array {
  const W = new Float64Array(p.outputs * p.inputs);
  for (let r = 0; r < p.outputs; r++) {
    for (let q = p.rowPtr[r]!; q < p.rowPtr[r + 1]!; q++) W[r * p.inputs + p.colIdx[q]!] = values[q]!;
  }
  return W;
}

/** The stored positions of a dense [outputs, inputs] matrix, in CSR order. */
export function gatherPattern(p: Pattern, M: ArrayLike<number>): Float64Array {
  const out = new Float64Array(p.nnz);
  for (let r = 0; r < p.outputs; r++) {
    for (let q = p.rowPtr[r]!; q < p.rowPtr[r + 1]!; q++) out[q] = M[r * p.inputs + p.colIdx[q]!]!;
  }
  return out;
}

/** Y[m,B] = W[m,k]·X[k,B] (+ bias[m]) (ReLU). */
export function matmul(
  W: ArrayLike<number>,
  m: number,
  k: number,
  X: ArrayLike<number>,
  B: number,
  bias?: ArrayLike<number>,
  relu = false,
): Float64Array {
  const Y = new Float64Array(m * B);
  for (let r = 0; r < m; r++) {
    for (let b = 0; b < B; b++) {
      let s = bias ? bias[r]! : 0;
      for (let c = 0; c < k; c++) s += W[r * k + c]! * X[c * B + b]!;
      Y[r * B + b] = relu ? Math.max(s, 0) : s;
    }
  }
  return Y;
}

/** The magnitude a float32 sum of matmul's terms is accurate to: Σ_c |W[r,c]·X[c,b]| + |bias[r]|. */
export function matmulScale(
  W: ArrayLike<number>,
  m: number,
  k: number,
  X: ArrayLike<number>,
  B: number,
  bias?: ArrayLike<number>,
): Float64Array {
  const absW = Float64Array.from(W as ArrayLike<number>, Math.abs);
  const absX = Float64Array.from(X as ArrayLike<number>, Math.abs);
  const absBias = bias ? Float64Array.from(bias as ArrayLike<number>, Math.abs) : undefined;
  return matmul(absW, m, k, absX, B, absBias);
}

/** dX[k,B] = Wᵀ·dY for W[m,k], dY[m,B]. */
export function matmulT(W: ArrayLike<number>, m: number, k: number, dY: ArrayLike<number>, B: number): Float64Array {
  return matmul(transpose(W, m, k), k, m, dY, B);
}

/** Aᵀ for row-major A[rows, cols]. */
export function transpose(A: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) T[c * rows + r] = A[r * cols + c]!;
  return T;
}

/** dW[m,k] = dY[m,B]·X[k,B]ᵀ. */
export function gradW(dY: ArrayLike<number>, m: number, X: ArrayLike<number>, k: number, B: number): Float64Array {
  const dW = new Float64Array(m * k);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += dY[r * B + b]! * X[c * B + b]!;
      dW[r * k + c] = s;
    }
  }
  return dW;
}

/** dBias[r] = Σ_b dY[r,b]. */
export function rowSums(dY: ArrayLike<number>, m: number, B: number): Float64Array {
  const s = new Float64Array(m);
  for (let r = 0; r < m; r++) for (let b = 0; b < B; b++) s[r]! += dY[r * B + b]!;
  return s;
}

/** y = max(x, 0). */
export function relu(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x as ArrayLike<number>, (v) => Math.max(v, 0));
}

/** dX = dY ⊙ [Y > 0], Y the ReLU output. */
export function reluBackward(Y: ArrayLike<number>, dY: ArrayLike<number>): Float64Array {
  return Float64Array.from(dY as ArrayLike<number>, (d, i) => (Y[i]! > 0 ? d : 0));
}

/** Softmax over the C rows of each of the B columns of Z[C,B]. */
export function softmax(Z: ArrayLike<number>, C: number, B: number): Float64Array {
  const P = new Float64Array(C * B);
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, Z[c * B + b]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(Z[c * B + b]! - mx);
    for (let c = 0; c < C; c++) P[c * B + b] = Math.exp(Z[c * B + b]! - mx) / sum;
  }
  return P;
}

/** loss = −(1/B) Σ_b log softmax(Z)[label_b, b];  dZ = (softmax(Z) − onehot(labels)) / B. */
export function softmaxCrossEntropy(
  Z: ArrayLike<number>,
  C: number,
  B: number,
  labels: ArrayLike<number>,
): { loss: number; dZ: Float64Array } {
  let loss = 0;
  const dZ = softmax(Z, C, B);
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, Z[c * B + b]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(Z[c * B + b]! - mx);
    loss += Math.log(sum) - (Z[labels[b]! * B + b]! - mx);
    dZ[labels[b]! * B + b]! -= 1;
  }
  for (let i = 0; i < dZ.length; i++) dZ[i]! /= B;
  return { loss: loss / B, dZ };
}

/** Keras' legacy Adam step size at step t ≥ 1: lr/(1 + decay·(t−1)) · √(1−β2ᵗ)/(1−β1ᵗ). */
export function kerasAdamLr(lr: number, decay: number, t: number, b1 = 0.9, b2 = 0.999): number {
  const lrT = lr / (1 + decay * (t - 1));
  return (lrT * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
}

/** One Adam step in place: g ← g + l2·w;  m ← β1m + (1−β1)g;  v ← β2v + (1−β2)g²;  w ← w − lrT·m/(√v + ε). */
export function adamStep(
  w: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  lrT: number,
  b1: number,
  b2: number,
  eps: number,
  l2: number,
): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]! + l2 * w[i]!;
    m[i] = b1 * m[i]! + (1 - b1) * gi;
    v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
    w[i] = w[i]! - (lrT * m[i]!) / (Math.sqrt(v[i]!) + eps);
  }
}

/** One SGD-with-momentum step in place: u ← μu − lr·(g + l2·w);  w ← w + u. */
export function sgdStep(
  w: Float64Array,
  g: ArrayLike<number>,
  u: Float64Array,
  lr: number,
  mu: number,
  l2: number,
): void {
  for (let i = 0; i < w.length; i++) {
    u[i] = mu * u[i]! - lr * (g[i]! + l2 * w[i]!);
    w[i] = w[i]! + u[i]!;
  }
}
