// Y[m,B] = L[m,k] · X[k,B] (+bias, ReLU) with L(r,c) at a + r·rs + c·cs floats  (forward: L = W, rs = k, cs = 1;
// backward: L = Wᵀ, rs = 1, cs = m_W);  dW[m,k] = dY[m,B] · X[k,B]ᵀ;  same feature-major layout as the CSR kernels.
import { apart, inside, insideIf } from "./checks";
import { hsum, rowSums } from "./csr_spmm";

@inline
function f(a: usize, i: usize): f32 {
  return load<f32>(a + (i << 2));
}

/** Y = L·X (+ bias if bias ≠ 0) (ReLU if relu ≠ 0); L is strided dense, blocked 4 rows × 8 batch in registers. */
export function denseMatmul(
  m: i32, k: i32, B: i32, a: usize, rs: i32, cs: i32,
  x: usize, bias: usize, y: usize, relu: i32,
): void {
  if (!ASC_NO_ASSERT) {
    assert(m >= 0 && k >= 0 && B >= 0 && rs >= 0 && cs >= 0, "denseMatmul: sizes and strides must be ≥ 0");
    assert(inside(a, m > 0 && k > 0 ? <i64>(m - 1) * rs + <i64>(k - 1) * cs + 1 : 0), "denseMatmul: L outside memory");
    assert(inside(x, <i64>k * B), "denseMatmul: X outside memory");
    assert(insideIf(bias, m), "denseMatmul: bias outside memory");
    assert(inside(y, <i64>m * B), "denseMatmul: Y outside memory");
    assert(apart(y, <i64>m * B, x, <i64>k * B), "denseMatmul: Y overlaps X");
  }
  const stride = <usize>B << 2;
  const zero = f32x4.splat(0);
  const rsz = <usize>rs, csz = <usize>cs;
  let r = 0;
  for (; r + 4 <= m; r += 4) {
    const bi0: f32 = bias != 0 ? f(bias, r) : 0, bi1: f32 = bias != 0 ? f(bias, r + 1) : 0;
    const bi2: f32 = bias != 0 ? f(bias, r + 2) : 0, bi3: f32 = bias != 0 ? f(bias, r + 3) : 0;
    const l0 = a + (<usize>r * rsz << 2), l1 = l0 + (rsz << 2), l2 = l1 + (rsz << 2), l3 = l2 + (rsz << 2);
    const y0 = y + <usize>r * stride, y1 = y0 + stride, y2 = y1 + stride, y3 = y2 + stride;
    let b = 0;
    for (; b + 8 <= B; b += 8) {
      const off = <usize>b << 2;
      let c00 = f32x4.splat(bi0), c01 = c00, c10 = f32x4.splat(bi1), c11 = c10;
      let c20 = f32x4.splat(bi2), c21 = c20, c30 = f32x4.splat(bi3), c31 = c30;
      let xp = x + off;
      let lo: usize = 0;
      for (let c = 0; c < k; c++) {
        const x0 = v128.load(xp), x1 = v128.load(xp, 16);
        const w0 = f32x4.splat(load<f32>(l0 + lo)), w1 = f32x4.splat(load<f32>(l1 + lo));
        const w2 = f32x4.splat(load<f32>(l2 + lo)), w3 = f32x4.splat(load<f32>(l3 + lo));
        c00 = f32x4.add(c00, f32x4.mul(w0, x0)); c01 = f32x4.add(c01, f32x4.mul(w0, x1));
        c10 = f32x4.add(c10, f32x4.mul(w1, x0)); c11 = f32x4.add(c11, f32x4.mul(w1, x1));
        c20 = f32x4.add(c20, f32x4.mul(w2, x0)); c21 = f32x4.add(c21, f32x4.mul(w2, x1));
        c30 = f32x4.add(c30, f32x4.mul(w3, x0)); c31 = f32x4.add(c31, f32x4.mul(w3, x1));
        xp += stride;
        lo += csz << 2;
      }
      if (relu) {
        c00 = f32x4.max(c00, zero); c01 = f32x4.max(c01, zero); c10 = f32x4.max(c10, zero); c11 = f32x4.max(c11, zero);
        c20 = f32x4.max(c20, zero); c21 = f32x4.max(c21, zero); c30 = f32x4.max(c30, zero); c31 = f32x4.max(c31, zero);
      }
      v128.store(y0 + off, c00); v128.store(y0 + off, c01, 16);
      v128.store(y1 + off, c10); v128.store(y1 + off, c11, 16);
      v128.store(y2 + off, c20); v128.store(y2 + off, c21, 16);
      v128.store(y3 + off, c30); v128.store(y3 + off, c31, 16);
    }
    for (; b < B; b++) {
      const off = <usize>b << 2;
      let s0 = bi0, s1 = bi1, s2 = bi2, s3 = bi3;
      let xp = x + off;
      let lo: usize = 0;
      for (let c = 0; c < k; c++) {
        const xv = load<f32>(xp);
        s0 += load<f32>(l0 + lo) * xv; s1 += load<f32>(l1 + lo) * xv;
        s2 += load<f32>(l2 + lo) * xv; s3 += load<f32>(l3 + lo) * xv;
        xp += stride;
        lo += csz << 2;
      }
      if (relu) { s0 = max(s0, 0); s1 = max(s1, 0); s2 = max(s2, 0); s3 = max(s3, 0); }
      store<f32>(y0 + off, s0); store<f32>(y1 + off, s1); store<f32>(y2 + off, s2); store<f32>(y3 + off, s3);
    }
  }
  for (; r < m; r++) {
    const bi: f32 = bias != 0 ? f(bias, r) : 0;
    const l0 = a + (<usize>r * rsz << 2);
    const y0 = y + <usize>r * stride;
    let b = 0;
    for (; b + 8 <= B; b += 8) {
      const off = <usize>b << 2;
      let c0 = f32x4.splat(bi), c1 = c0;
      let xp = x + off;
      let lo: usize = 0;
      for (let c = 0; c < k; c++) {
        const w = f32x4.splat(load<f32>(l0 + lo));
        c0 = f32x4.add(c0, f32x4.mul(w, v128.load(xp)));
        c1 = f32x4.add(c1, f32x4.mul(w, v128.load(xp, 16)));
        xp += stride;
        lo += csz << 2;
      }
      if (relu) { c0 = f32x4.max(c0, zero); c1 = f32x4.max(c1, zero); }
      v128.store(y0 + off, c0); v128.store(y0 + off, c1, 16);
    }
    for (; b < B; b++) {
      const off = <usize>b << 2;
      let s = bi;
      let xp = x + off;
      let lo: usize = 0;
      for (let c = 0; c < k; c++) {
        s += load<f32>(l0 + lo) * load<f32>(xp);
        xp += stride;
        lo += csz << 2;
      }
      if (relu) s = max(s, 0);
      store<f32>(y0 + off, s);
    }
  }
}

/** dW[m,k] = dY[m,B]·X[k,B]ᵀ (row-major dW), blocked 2×2; dBias[r] = Σ_b dY[r,b] if dBias ≠ 0. */
export function denseGradW(m: i32, k: i32, B: i32, dy: usize, x: usize, dw: usize, dBias: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(m >= 0 && k >= 0 && B >= 0, "denseGradW: m, k and B must be ≥ 0");
    assert(inside(dy, <i64>m * B), "denseGradW: dY outside memory");
    assert(inside(x, <i64>k * B), "denseGradW: X outside memory");
    assert(inside(dw, <i64>m * k), "denseGradW: dW outside memory");
    assert(apart(dw, <i64>m * k, dy, <i64>m * B), "denseGradW: dW overlaps dY");
    assert(apart(dw, <i64>m * k, x, <i64>k * B), "denseGradW: dW overlaps X");
  }
  // the bias gradient is the same row sum as the sparse layers' (csrSddmm), so a dense layer and its
  // Pattern.dense twin get bit-identical bias gradients
  if (dBias != 0) rowSums(m, B, dy, dBias);
  if (B == 1) {
    outerProduct(m, k, dy, x, dw);
    return;
  }
  const stride = <usize>B << 2;
  for (let r = 0; r < m; r += 2) {
    const two = r + 1 < m;
    const d0 = dy + <usize>r * stride, d1 = two ? d0 + stride : d0;
    for (let c = 0; c < k; c += 2) {
      const twoC = c + 1 < k;
      const x0 = x + <usize>c * stride, x1 = twoC ? x0 + stride : x0;
      let s00 = f32x4.splat(0), s01 = s00, s10 = s00, s11 = s00;
      let b = 0;
      for (; b + 4 <= B; b += 4) {
        const off = <usize>b << 2;
        const a0 = v128.load(d0 + off), a1 = v128.load(d1 + off);
        const e0 = v128.load(x0 + off), e1 = v128.load(x1 + off);
        s00 = f32x4.add(s00, f32x4.mul(a0, e0)); s01 = f32x4.add(s01, f32x4.mul(a0, e1));
        s10 = f32x4.add(s10, f32x4.mul(a1, e0)); s11 = f32x4.add(s11, f32x4.mul(a1, e1));
      }
      let t00 = hsum(s00), t01 = hsum(s01), t10 = hsum(s10), t11 = hsum(s11);
      for (; b < B; b++) {
        const off = <usize>b << 2;
        const a0 = load<f32>(d0 + off), a1 = load<f32>(d1 + off);
        const e0 = load<f32>(x0 + off), e1 = load<f32>(x1 + off);
        t00 += a0 * e0; t01 += a0 * e1; t10 += a1 * e0; t11 += a1 * e1;
      }
      const o = dw + ((<usize>r * <usize>k + <usize>c) << 2);
      store<f32>(o, t00);
      if (twoC) store<f32>(o, t01, 4);
      if (two) {
        store<f32>(o + (<usize>k << 2), t10);
        if (twoC) store<f32>(o + (<usize>k << 2), t11, 4);
      }
    }
  }
}

// Batch 1: dW[r,:] = dy[r]·x, with x contiguous; the blocked dot products above would each sum a single product.
function outerProduct(m: i32, k: i32, dy: usize, x: usize, dw: usize): void {
  for (let r = 0; r < m; r++) {
    const s = load<f32>(dy + (<usize>r << 2));
    const sv = f32x4.splat(s);
    const row = dw + (<usize>r * <usize>k << 2);
    let c = 0;
    for (; c + 4 <= k; c += 4) v128.store(row + (<usize>c << 2), f32x4.mul(sv, v128.load(x + (<usize>c << 2))));
    for (; c < k; c++) store<f32>(row + (<usize>c << 2), s * load<f32>(x + (<usize>c << 2)));
  }
}
