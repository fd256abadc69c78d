// Y[m,B] = A[m,k] (CSR) · X[k,B] (+bias, ReLU);  dX[k,B] = Aᵀ·dY via CSC;  dA.values = (dY·Xᵀ) on A's pattern
// Activations are feature-major: row r of a [rows, B] matrix starts at ptr + r·B·4, batch contiguous.

// Rows of the output are sums of scaled input rows: out[r,:] = Σ_{p∈[ptr[r],ptr[r+1])} val(p)·in[idx[p],:].
// Direct: val(p) = values[p]. Indirect (sizeof<T>() == 4): val(p) = values[perm[p]] (CSC view of CSR values).
// The output row stays in L1 while four input rows at a time stream through contiguously (prefetch-friendly);
// holding a batch tile in registers instead made every (entry, tile) a cache miss on a random input row.
@inline
function rowCombine<T>(
  rows: i32, B: i32, ptr: usize, idx: usize, perm: usize, values: usize,
  input: usize, bias: usize, out: usize, relu: bool,
): void {
  const stride = <usize>B << 2;
  const B4 = B & ~3;
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(ptr + (<usize>r << 2));
    const end = load<i32>(ptr + (<usize>(r + 1) << 2));
    const b0: f32 = bias != 0 ? load<f32>(bias + (<usize>r << 2)) : 0;
    const y = out + <usize>r * stride;
    const init = f32x4.splat(b0);
    let b = 0;
    for (; b < B4; b += 4) v128.store(y + (<usize>b << 2), init);
    for (; b < B; b++) store<f32>(y + (<usize>b << 2), b0);
    let p = start;
    for (; p + 4 <= end; p += 4) {
      const q0 = sizeof<T>() == 4 ? load<i32>(perm + (<usize>p << 2)) : p;
      const q1 = sizeof<T>() == 4 ? load<i32>(perm + (<usize>p << 2), 4) : p + 1;
      const q2 = sizeof<T>() == 4 ? load<i32>(perm + (<usize>p << 2), 8) : p + 2;
      const q3 = sizeof<T>() == 4 ? load<i32>(perm + (<usize>p << 2), 12) : p + 3;
      const s0 = load<f32>(values + (<usize>q0 << 2)), s1 = load<f32>(values + (<usize>q1 << 2));
      const s2 = load<f32>(values + (<usize>q2 << 2)), s3 = load<f32>(values + (<usize>q3 << 2));
      const w0 = f32x4.splat(s0), w1 = f32x4.splat(s1), w2 = f32x4.splat(s2), w3 = f32x4.splat(s3);
      const x0 = input + <usize>load<i32>(idx + (<usize>p << 2)) * stride;
      const x1 = input + <usize>load<i32>(idx + (<usize>p << 2), 4) * stride;
      const x2 = input + <usize>load<i32>(idx + (<usize>p << 2), 8) * stride;
      const x3 = input + <usize>load<i32>(idx + (<usize>p << 2), 12) * stride;
      let o: usize = 0;
      const end4 = <usize>B4 << 2;
      const end8 = <usize>(B & ~7) << 2;
      for (; o < end8; o += 32) {
        const a = f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(x0 + o)), f32x4.mul(w1, v128.load(x1 + o))),
                            f32x4.add(f32x4.mul(w2, v128.load(x2 + o)), f32x4.mul(w3, v128.load(x3 + o))));
        const c = f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(x0 + o, 16)), f32x4.mul(w1, v128.load(x1 + o, 16))),
                            f32x4.add(f32x4.mul(w2, v128.load(x2 + o, 16)), f32x4.mul(w3, v128.load(x3 + o, 16))));
        v128.store(y + o, f32x4.add(v128.load(y + o), a));
        v128.store(y + o, f32x4.add(v128.load(y + o, 16), c), 16);
      }
      for (; o < end4; o += 16) {
        let a = v128.load(y + o);
        a = f32x4.add(a, f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(x0 + o)), f32x4.mul(w1, v128.load(x1 + o))),
                                   f32x4.add(f32x4.mul(w2, v128.load(x2 + o)), f32x4.mul(w3, v128.load(x3 + o)))));
        v128.store(y + o, a);
      }
      for (let bb = B4; bb < B; bb++) {
        const ob = <usize>bb << 2;
        // same association as the vector lanes, so a sample's result does not depend on its column
        store<f32>(y + ob, load<f32>(y + ob) + ((s0 * load<f32>(x0 + ob) + s1 * load<f32>(x1 + ob)) + (s2 * load<f32>(x2 + ob) + s3 * load<f32>(x3 + ob))));
      }
    }
    for (; p < end; p++) {
      const q = sizeof<T>() == 4 ? load<i32>(perm + (<usize>p << 2)) : p;
      const s = load<f32>(values + (<usize>q << 2));
      const w = f32x4.splat(s);
      const x0 = input + <usize>load<i32>(idx + (<usize>p << 2)) * stride;
      let o: usize = 0;
      const end4 = <usize>B4 << 2;
      for (; o < end4; o += 16) v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(w, v128.load(x0 + o))));
      for (let bb = B4; bb < B; bb++) {
        const ob = <usize>bb << 2;
        store<f32>(y + ob, load<f32>(y + ob) + s * load<f32>(x0 + ob));
      }
    }
    if (relu) {
      const zero = f32x4.splat(0);
      b = 0;
      for (; b < B4; b += 4) { const o = y + (<usize>b << 2); v128.store(o, f32x4.max(v128.load(o), zero)); }
      for (; b < B; b++) { const o = y + (<usize>b << 2); const v = load<f32>(o); store<f32>(o, v > 0 ? v : 0); }
    }
  }
}
/** Y[m,B] = A·X (+ bias[m] if bias ≠ 0) (ReLU if relu ≠ 0). A is CSR (rowPtr[m+1], colIdx[nnz], values[nnz]). */
export function csrSpmm(
  m: i32, B: i32, rowPtr: usize, colIdx: usize, values: usize,
  x: usize, bias: usize, y: usize, relu: i32,
): void {
  rowCombine<u8>(m, B, rowPtr, colIdx, 0, values, x, bias, y, relu != 0);
}

/** dX[k,B] = Aᵀ·dY through the CSC view (colPtr[k+1], rowIdx[nnz], perm[nnz] → position in CSR values). */
export function csrSpmmT(
  k: i32, B: i32, colPtr: usize, rowIdx: usize, perm: usize, values: usize,
  dy: usize, dx: usize,
): void {
  rowCombine<i32>(k, B, colPtr, rowIdx, perm, values, dy, 0, dx, false);
}

// Σ_b a[b]·c[b] over B contiguous floats.
@inline
function dot(a: usize, c: usize, B: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
  let b = 0;
  for (; b + 16 <= B; b += 16) {
    const off = <usize>b << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + off), v128.load(c + off)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + off, 16), v128.load(c + off, 16)));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(a + off, 32), v128.load(c + off, 32)));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(a + off, 48), v128.load(c + off, 48)));
  }
  for (; b + 4 <= B; b += 4) {
    const off = <usize>b << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + off), v128.load(c + off)));
  }
  const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
  let r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (; b < B; b++) {
    const off = <usize>b << 2;
    r += load<f32>(a + off) * load<f32>(c + off);
  }
  return r;
}

/** dValues[j] = Σ_b dY[row(j),b]·X[col(j),b] at stored positions only; dBias[r] = Σ_b dY[r,b] if dBias ≠ 0. */
export function csrSddmm(
  m: i32, B: i32, rowPtr: usize, colIdx: usize,
  dy: usize, x: usize, dValues: usize, dBias: usize,
): void {
  const stride = <usize>B << 2;
  for (let r = 0; r < m; r++) {
    const start = load<i32>(rowPtr + (<usize>r << 2));
    const end = load<i32>(rowPtr + (<usize>(r + 1) << 2));
    const dyRow = dy + <usize>r * stride;
    for (let p = start; p < end; p++) {
      const xRow = x + <usize>load<i32>(colIdx + (<usize>p << 2)) * stride;
      store<f32>(dValues + (<usize>p << 2), dot(dyRow, xRow, B));
    }
  }
  if (dBias != 0) rowSums(m, B, dy, dBias);
}

/** out[r] = Σ_b Y[r,b]  (bias gradient). */
export function rowSums(m: i32, B: i32, y: usize, out: usize): void {
  const stride = <usize>B << 2;
  for (let r = 0; r < m; r++) {
    const row = y + <usize>r * stride;
    let s0 = f32x4.splat(0), s1 = s0;
    let b = 0;
    for (; b + 8 <= B; b += 8) {
      const off = <usize>b << 2;
      s0 = f32x4.add(s0, v128.load(row + off));
      s1 = f32x4.add(s1, v128.load(row + off, 16));
    }
    for (; b + 4 <= B; b += 4) s0 = f32x4.add(s0, v128.load(row + (<usize>b << 2)));
    const s = f32x4.add(s0, s1);
    let t = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    for (; b < B; b++) t += load<f32>(row + (<usize>b << 2));
    store<f32>(out + (<usize>r << 2), t);
  }
}
