// The spec, for pages: plain dense float64 versions of the kernels, written for obviousness, not speed.
// Matrices are row-major; activations feature-major [features, batch] like the engine's. No imports, no build step.

/** W[outputs, inputs] with `values` at the CSR pattern's stored positions and zeros elsewhere. */
export function maskedDense(p, values) {
  const W = new Float64Array(p.outputs * p.inputs);
  for (let r = 0; r < p.outputs; r++) {
    for (let q = p.rowPtr[r]; q < p.rowPtr[r + 1]; q++) W[r * p.inputs + p.colIdx[q]] = values[q];
  }
  return W;
}

/** The entries of a dense [outputs, inputs] matrix at the pattern's stored positions, in CSR order. */
export function gatherPattern(p, M) {
  const out = new Float64Array(p.nnz);
  for (let r = 0; r < p.outputs; r++) {
    for (let q = p.rowPtr[r]; q < p.rowPtr[r + 1]; q++) out[q] = M[r * p.inputs + p.colIdx[q]];
  }
  return out;
}

/** Y[m,B] = W[m,k]·X[k,B] (+ bias[m]) (ReLU). */
export function matmul(W, m, k, X, B, bias, relu = false) {
  const Y = new Float64Array(m * B);
  for (let r = 0; r < m; r++) {
    for (let b = 0; b < B; b++) {
      let s = bias ? bias[r] : 0;
      for (let c = 0; c < k; c++) s += W[r * k + c] * X[c * B + b];
      Y[r * B + b] = relu ? Math.max(s, 0) : s;
    }
  }
  return Y;
}

/** What a float32 sum of matmul's terms is accurate to: Σ_c |W[r,c]·X[c,b]| + |bias[r]|. */
export function matmulScale(W, m, k, X, B, bias) {
  return matmul(W.map(Math.abs), m, k, Float64Array.from(X, Math.abs), B, bias ? Float64Array.from(bias, Math.abs) : undefined);
}

/** Aᵀ for row-major A[rows, cols]. */
export function transpose(A, rows, cols) {
  const T = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) T[c * rows + r] = A[r * cols + c];
  return T;
}

/** dW[m,k] = dY[m,B]·X[k,B]ᵀ. */
export function gradW(dY, m, X, k, B) {
  const dW = new Float64Array(m * k);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += dY[r * B + b] * X[c * B + b];
      dW[r * k + c] = s;
    }
  }
  return dW;
}

/** dBias[r] = Σ_b dY[r,b]. */
export function rowSums(dY, m, B) {
  const s = new Float64Array(m);
  for (let r = 0; r < m; r++) for (let b = 0; b < B; b++) s[r] += dY[r * B + b];
  return s;
}

/** loss = −(1/B) Σ_b log softmax(Z)[label_b, b];  dZ = (softmax(Z) − onehot(labels)) / B, for Z[C,B]. */
export function softmaxCrossEntropy(Z, C, B, labels) {
  const dZ = new Float64Array(C * B);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, Z[c * B + b]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(Z[c * B + b] - mx);
    for (let c = 0; c < C; c++) dZ[c * B + b] = Math.exp(Z[c * B + b] - mx) / sum / B;
    dZ[labels[b] * B + b] -= 1 / B;
    loss += Math.log(sum) - (Z[labels[b] * B + b] - mx);
  }
  return { loss: loss / B, dZ };
}

/**
 * Throws unless |got − want| ≤ atol + rtol·scale elementwise (scale: the sum of absolute terms behind each entry,
 * which bounds float32 accumulation error; default |want|); names the first offending index.
 */
export function expectClose(what, got, want, scale, rtol = 1e-4, atol = 1e-5) {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const s = scale === undefined ? Math.abs(want[i]) : typeof scale === "number" ? scale : scale[i];
    const tol = atol + rtol * s;
    if (!(Math.abs(got[i] - want[i]) <= tol)) throw new Error(`${what}[${i}] = ${got[i]}, expected ${want[i]} (tolerance ${tol.toExponential(2)})`);
  }
}

/** Throws unless the arrays hold exactly the same numbers (NaN equal to NaN). */
export function expectEqual(what, got, want) {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}[${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

/** A seeded stream of uniforms in [0, 1) (mulberry32), so the page's data does not depend on the library's Rng. */
export function uniforms(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * n float32 test values from a seed: about 1 in 8 exactly zero, 1 in 8 small integers (exact sums catch indexing
 * bugs sharply), the rest uniform in [−scale, scale].
 */
export function values(seed, n, scale = 2) {
  const u = uniforms(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = u();
    out[i] = v < 0.125 ? 0 : v < 0.25 ? Math.floor(u() * 7) - 3 : (u() * 2 - 1) * scale;
  }
  return out;
}
