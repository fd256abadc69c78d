// Y[m,B] = A[m,k] (CSR) · X[k,B] (+bias, ReLU);  dX[k,B] = Aᵀ·dY via CSC;  dA.values = (dY·Xᵀ) on A's pattern
// Activations are feature-major: row r of a [rows, B] matrix starts at ptr + r·B·4, batch contiguous.
import { apart, indices, inside, insideIf, offsets, reach } from "./checks";

// Compile-time switches for the inlined passes below (type arguments, so no branch is left in an inner loop).
type Yes = u8;
type No = u16;
@inline function on<T>(): bool {
  return sizeof<T>() == 1;
}

// Weight of entry p: values[p] (CSR order), or values[perm[p]] when walking the CSC view (T = i32).
@inline function weight<T>(values: usize, perm: usize, p: i32): f32 {
  const q = sizeof<T>() == 4 ? load<i32>(perm + (<usize>p << 2)) : p;
  return load<f32>(values + (<usize>q << 2));
}

// Start of the input row that entry p reads.
@inline function rowAt(input: usize, idx: usize, p: i32, stride: usize): usize {
  return input + <usize>load<i32>(idx + (<usize>p << 2)) * stride;
}

// One pass over an output row: y = (First ? init : y) + Σ_{t<G} w_t·x_t (ReLU if Relu), for the G = sizeof<G>() ∈
// {1, 2, 4} entries starting at p. The output row stays in L1 and is read and written once per 4 entries while the
// input rows stream through contiguously (prefetch-friendly); the first pass writes the bias in directly and the last
// applies the ReLU, so a row of 2 entries costs one pass, not three. (8 entries per pass measured slower: with 8 row
// pointers live, V8 spills registers in the inner loop. Tiling the batch to keep input slices in L2 was slower too:
// short strided segments defeat the hardware prefetcher. Register tiling over the batch (XNNPACK's sparse GEMM: a
// 16-column tile of the row kept in 4 v128 sums across all its entries, stored once, same association) measured
// 0.54–0.70× this for csrSpmm and 0.50–0.60× for csrSpmmT at batch 256 on 1024×1024 at 5–50% density, one thread,
// AMD EPYC 2-core VM, bench/tiling.mjs against commit 3621388: each tile re-walks the row's entries 64 bytes at a
// time, 1 KiB apart, reloading their weights and indices, where the passes stream.)
@inline function pass<T, G, First, Relu>(
  y: usize, B: i32, stride: usize, input: usize, idx: usize, perm: usize, values: usize, p: i32, init: f32,
): void {
  const g = sizeof<G>();
  const s0 = weight<T>(values, perm, p);
  const s1: f32 = g >= 2 ? weight<T>(values, perm, p + 1) : 0;
  const s2: f32 = g >= 4 ? weight<T>(values, perm, p + 2) : 0, s3: f32 = g >= 4 ? weight<T>(values, perm, p + 3) : 0;
  const x0 = rowAt(input, idx, p, stride);
  const x1: usize = g >= 2 ? rowAt(input, idx, p + 1, stride) : 0;
  const x2: usize = g >= 4 ? rowAt(input, idx, p + 2, stride) : 0;
  const x3: usize = g >= 4 ? rowAt(input, idx, p + 3, stride) : 0;
  const w0 = f32x4.splat(s0), w1 = f32x4.splat(s1), w2 = f32x4.splat(s2), w3 = f32x4.splat(s3);
  const base = f32x4.splat(init), zero = f32x4.splat(0);
  const end8 = <usize>(B & ~7) << 2, end4 = <usize>(B & ~3) << 2, endB = <usize>B << 2;
  let o: usize = 0;
  for (; o < end8; o += 32) {
    let a = f32x4.mul(w0, v128.load(x0 + o)), c = f32x4.mul(w0, v128.load(x0 + o, 16));
    if (g >= 2) {
      a = f32x4.add(a, f32x4.mul(w1, v128.load(x1 + o)));
      c = f32x4.add(c, f32x4.mul(w1, v128.load(x1 + o, 16)));
    }
    if (g >= 4) {
      a = f32x4.add(a, f32x4.add(f32x4.mul(w2, v128.load(x2 + o)), f32x4.mul(w3, v128.load(x3 + o))));
      c = f32x4.add(c, f32x4.add(f32x4.mul(w2, v128.load(x2 + o, 16)), f32x4.mul(w3, v128.load(x3 + o, 16))));
    }
    a = f32x4.add(on<First>() ? base : v128.load(y + o), a);
    c = f32x4.add(on<First>() ? base : v128.load(y + o, 16), c);
    if (on<Relu>()) {
      a = f32x4.max(a, zero);
      c = f32x4.max(c, zero);
    }
    v128.store(y + o, a);
    v128.store(y + o, c, 16);
  }
  for (; o < end4; o += 16) {
    let a = f32x4.mul(w0, v128.load(x0 + o));
    if (g >= 2) a = f32x4.add(a, f32x4.mul(w1, v128.load(x1 + o)));
    if (g >= 4) a = f32x4.add(a, f32x4.add(f32x4.mul(w2, v128.load(x2 + o)), f32x4.mul(w3, v128.load(x3 + o))));
    a = f32x4.add(on<First>() ? base : v128.load(y + o), a);
    if (on<Relu>()) a = f32x4.max(a, zero);
    v128.store(y + o, a);
  }
  for (; o < endB; o += 4) {
    let a = s0 * load<f32>(x0 + o);
    if (g >= 2) a += s1 * load<f32>(x1 + o);
    if (g >= 4) a += s2 * load<f32>(x2 + o) + s3 * load<f32>(x3 + o);
    a += on<First>() ? init : load<f32>(y + o);
    store<f32>(y + o, on<Relu>() ? max<f32>(a, 0) : a);
  }
}

@inline function passFlags<T, G>(
  first: bool, relu: bool, y: usize, B: i32, stride: usize, input: usize, idx: usize, perm: usize, values: usize,
  p: i32, init: f32,
): void {
  if (first) {
    if (relu) pass<T, G, Yes, Yes>(y, B, stride, input, idx, perm, values, p, init);
    else pass<T, G, Yes, No>(y, B, stride, input, idx, perm, values, p, init);
  } else {
    if (relu) pass<T, G, No, Yes>(y, B, stride, input, idx, perm, values, p, init);
    else pass<T, G, No, No>(y, B, stride, input, idx, perm, values, p, init);
  }
}

// Rows of the output are sums of scaled input rows: out[r,:] = init_r + Σ_{p∈[ptr[r],ptr[r+1])} val(p)·in[idx[p],:].
// Direct: val(p) = values[p]. Indirect (sizeof<T>() == 4): val(p) = values[perm[p]] (CSC view of CSR values).
@inline function rowCombine<T>(
  rows: i32, B: i32, ptr: usize, idx: usize, perm: usize, values: usize,
  input: usize, bias: usize, out: usize, relu: bool,
): void {
  if (B == 1) {
    rowDot<T>(rows, ptr, idx, perm, values, input, bias, out, relu);
    return;
  }
  const stride = <usize>B << 2;
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(ptr + (<usize>r << 2));
    const end = load<i32>(ptr + (<usize>(r + 1) << 2));
    const init: f32 = bias != 0 ? load<f32>(bias + (<usize>r << 2)) : 0;
    const y = out + <usize>r * stride;
    if (start == end) {
      fillRow(y, B, relu ? max<f32>(init, 0) : init);
      continue;
    }
    let p = start;
    let first = true;
    while (p < end) {
      const left = end - p;
      const g = left >= 4 ? 4 : left >= 2 ? 2 : 1;
      const last = relu && left == g;
      if (g == 4) passFlags<T, u32>(first, last, y, B, stride, input, idx, perm, values, p, init);
      else if (g == 2) passFlags<T, u16>(first, last, y, B, stride, input, idx, perm, values, p, init);
      else passFlags<T, u8>(first, last, y, B, stride, input, idx, perm, values, p, init);
      p += g;
      first = false;
    }
  }
}

// Batch 1: each output is a sparse dot product, summed in exactly the association of the batched passes above
// (y + ((w0·x0 + w1·x1) + (w2·x2 + w3·x3)) per 4 entries, then 2, then 1), so a sample's output is bit-for-bit the
// same at any batch size — a server that batches requests gives each one what it would get alone.
@inline function rowDot<T>(
  rows: i32, ptr: usize, idx: usize, perm: usize, values: usize, input: usize, bias: usize, out: usize, relu: bool,
): void {
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(ptr + (<usize>r << 2));
    const end = load<i32>(ptr + (<usize>(r + 1) << 2));
    let y: f32 = bias != 0 ? load<f32>(bias + (<usize>r << 2)) : 0;
    let p = start;
    for (; p + 4 <= end; p += 4) {
      const a = weight<T>(values, perm, p) * load<f32>(rowAt(input, idx, p, 4))
        + weight<T>(values, perm, p + 1) * load<f32>(rowAt(input, idx, p + 1, 4));
      const c = weight<T>(values, perm, p + 2) * load<f32>(rowAt(input, idx, p + 2, 4))
        + weight<T>(values, perm, p + 3) * load<f32>(rowAt(input, idx, p + 3, 4));
      y = y + (a + c);
    }
    if (p + 2 <= end) {
      y = y + (weight<T>(values, perm, p) * load<f32>(rowAt(input, idx, p, 4))
        + weight<T>(values, perm, p + 1) * load<f32>(rowAt(input, idx, p + 1, 4)));
      p += 2;
    }
    if (p < end) y = y + weight<T>(values, perm, p) * load<f32>(rowAt(input, idx, p, 4));
    store<f32>(out + (<usize>r << 2), relu ? max<f32>(y, 0) : y);
  }
}

@inline function fillRow(y: usize, B: i32, v: f32): void {
  const s = f32x4.splat(v);
  let b = 0;
  for (; b + 4 <= B; b += 4) v128.store(y + (<usize>b << 2), s);
  for (; b < B; b++) store<f32>(y + (<usize>b << 2), v);
}

/** Y[m,B] = A·X (+ bias[m] if bias ≠ 0) (ReLU if relu ≠ 0). A is CSR (rowPtr[m+1], colIdx[nnz], values[nnz]). */
export function csrSpmm(
  m: i32, B: i32, rowPtr: usize, colIdx: usize, values: usize,
  x: usize, bias: usize, y: usize, relu: i32,
): void {
  if (!ASC_NO_ASSERT) {
    assert(m >= 0 && B >= 0, "csrSpmm: m and B must be ≥ 0");
    assert(offsets(rowPtr, m), "csrSpmm: rowPtr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(rowPtr + (<usize>m << 2));
    assert(indices(colIdx, nnz, -1), "csrSpmm: colIdx must lie in memory and hold column indices ≥ 0");
    const k = reach(colIdx, nnz);
    assert(inside(values, nnz), "csrSpmm: values outside memory");
    assert(inside(x, <i64>k * B), "csrSpmm: X (as many rows as colIdx reaches) outside memory");
    assert(insideIf(bias, m), "csrSpmm: bias outside memory");
    assert(inside(y, <i64>m * B), "csrSpmm: Y outside memory");
    assert(apart(y, <i64>m * B, x, <i64>k * B), "csrSpmm: Y overlaps X");
  }
  rowCombine<u8>(m, B, rowPtr, colIdx, 0, values, x, bias, y, relu != 0);
}

// A block of R = sizeof<R>() ∈ {2, 4} consecutive rows with the same n columns (row i's weights at start + i·n + t)
// over V = sizeof<V>() ∈ {1, 2, 4} vectors of the batch: each input vector is loaded once for the R rows, and the R·V
// sums stay in registers across the block's entries (R·V ≤ 8: with 16 live sums V8 spills). A blocked row sums in
// order, y = init + w0·x0 + w1·x1 + …, in vector lanes and in the scalar tail alike, so its bits do not depend on
// the batch either (they may differ from csrSpmm's in the last place). Measured (bench/tiling.mjs, batch 256,
// 1024×1024, 5–50% density, one thread, AMD EPYC 2-core VM): 1.11–1.35× today's unblocked csrSpmm for blocks of 2,
// 1.17–1.28× for 4; rowCombine's passes run two rows at a time (each input vector loaded once for both, csrSpmm's
// bits) measured only 1.00–1.10×, so the blocked path keeps its sums in registers instead; summing two entries
// before each add (y + (w0·x0 + w1·x1), half the dependent adds) measured 0.67–0.82× this: more live registers;
// a copy of a block-4's weights transposed to [entry][row] (one load and four lane splats per entry instead of four
// loads) measured 0.97–1.00×: the loads do not bound this loop; the adds' latency (8 sums, one add each per entry)
// likely does.
// acc + w·x lane by lane: two rounded operations in the fixed-SIMD build; one fused multiply-add where the
// hardware has one in the relaxed-SIMD build (presparse.relaxed.wasm), whose blocked sums may then differ in the last
// place. 1.09–1.26× the blocked rate measured on Node 24.22.3 (bench/tiling.mjs --relaxed; AMD EPYC 2-core VM).
@inline function madd(acc: v128, w: v128, x: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(w, x, acc);
  return f32x4.add(acc, f32x4.mul(w, x));
}

@inline function tileBlock<R, V>(
  yo: usize, xo: usize, stride: usize, idx: usize, values: usize, start: i32, n: i32, init: usize, relu: bool,
): void {
  const r = sizeof<R>(), v = sizeof<V>();
  const i0 = f32x4.splat(load<f32>(init)), i1 = f32x4.splat(load<f32>(init, 4));
  const i2 = r >= 4 ? f32x4.splat(load<f32>(init, 8)) : i0, i3 = r >= 4 ? f32x4.splat(load<f32>(init, 12)) : i0;
  let a0 = i0, a1 = i1, a2 = i2, a3 = i3; // vector 0 of rows 0..3
  let b0 = i0, b1 = i1, b2 = i2, b3 = i3; // vector 1
  let c0 = i0, c1 = i1, d0 = i0, d1 = i1; // vectors 2, 3 of rows 0, 1 (R = 2, V = 4)
  const wn = <usize>n << 2;
  for (let p = start; p < start + n; p++) {
    const x = rowAt(xo, idx, p, stride);
    const wp = values + (<usize>p << 2);
    const w0 = v128.load32_splat(wp), w1 = v128.load32_splat(wp + wn);
    const w2 = r >= 4 ? v128.load32_splat(wp + 2 * wn) : w0, w3 = r >= 4 ? v128.load32_splat(wp + 3 * wn) : w0;
    const xa = v128.load(x);
    a0 = madd(a0, w0, xa);
    a1 = madd(a1, w1, xa);
    if (r >= 4) {
      a2 = madd(a2, w2, xa);
      a3 = madd(a3, w3, xa);
    }
    if (v >= 2) {
      const xb = v128.load(x, 16);
      b0 = madd(b0, w0, xb);
      b1 = madd(b1, w1, xb);
      if (r >= 4) {
        b2 = madd(b2, w2, xb);
        b3 = madd(b3, w3, xb);
      }
    }
    if (v >= 4) {
      const xc = v128.load(x, 32), xd = v128.load(x, 48);
      c0 = madd(c0, w0, xc);
      c1 = madd(c1, w1, xc);
      d0 = madd(d0, w0, xd);
      d1 = madd(d1, w1, xd);
    }
  }
  if (relu) {
    const z = f32x4.splat(0);
    a0 = f32x4.max(a0, z); a1 = f32x4.max(a1, z); a2 = f32x4.max(a2, z); a3 = f32x4.max(a3, z);
    b0 = f32x4.max(b0, z); b1 = f32x4.max(b1, z); b2 = f32x4.max(b2, z); b3 = f32x4.max(b3, z);
    c0 = f32x4.max(c0, z); c1 = f32x4.max(c1, z); d0 = f32x4.max(d0, z); d1 = f32x4.max(d1, z);
  }
  v128.store(yo, a0);
  v128.store(yo + stride, a1);
  if (r >= 4) {
    v128.store(yo + 2 * stride, a2);
    v128.store(yo + 3 * stride, a3);
  }
  if (v >= 2) {
    v128.store(yo, b0, 16);
    v128.store(yo + stride, b1, 16);
    if (r >= 4) {
      v128.store(yo + 2 * stride, b2, 16);
      v128.store(yo + 3 * stride, b3, 16);
    }
  }
  if (v >= 4) {
    v128.store(yo, c0, 32);
    v128.store(yo + stride, c1, 32);
    v128.store(yo, d0, 48);
    v128.store(yo + stride, d1, 48);
  }
}

// The bias of a call without one (read-only static data: threads may share it).
const ZEROS = memory.data(16);

/**
 * Y = A·X (+ bias) (ReLU) for A whose rows come in blocks of r ∈ {2, 4} consecutive rows with the same columns
 * (m a multiple of r); arguments otherwise those of csrSpmm.
 */
export function csrSpmmBlock(
  m: i32, B: i32, r: i32, rowPtr: usize, colIdx: usize, values: usize,
  x: usize, bias: usize, y: usize, relu: i32,
): void {
  if (!ASC_NO_ASSERT) {
    assert(m >= 0 && B >= 0 && (r == 2 || r == 4) && m % r == 0, "csrSpmmBlock: m, B ≥ 0, r 2 or 4 dividing m");
    assert(offsets(rowPtr, m), "csrSpmmBlock: rowPtr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(rowPtr + (<usize>m << 2));
    assert(indices(colIdx, nnz, -1), "csrSpmmBlock: colIdx must lie in memory and hold column indices ≥ 0");
    const k = reach(colIdx, nnz);
    assert(inside(values, nnz), "csrSpmmBlock: values outside memory");
    assert(inside(x, <i64>k * B), "csrSpmmBlock: X (as many rows as colIdx reaches) outside memory");
    assert(insideIf(bias, m), "csrSpmmBlock: bias outside memory");
    assert(inside(y, <i64>m * B), "csrSpmmBlock: Y outside memory");
    assert(apart(y, <i64>m * B, x, <i64>k * B), "csrSpmmBlock: Y overlaps X");
  }
  if (r == 4) blockRows<u32>(m, B, rowPtr, colIdx, values, x, bias, y, relu != 0);
  else blockRows<u16>(m, B, rowPtr, colIdx, values, x, bias, y, relu != 0);
}

@inline function blockRows<R>(
  m: i32, B: i32, rowPtr: usize, colIdx: usize, values: usize, x: usize, bias: usize, out: usize, relu: bool,
): void {
  const r = <i32>sizeof<R>();
  const stride = <usize>B << 2;
  const end16 = <usize>(B & ~15) << 2, end8 = <usize>(B & ~7) << 2, end4 = <usize>(B & ~3) << 2;
  const endB = <usize>B << 2;
  for (let g = 0; g < m; g += r) {
    const start = load<i32>(rowPtr + (<usize>g << 2));
    const n = load<i32>(rowPtr + (<usize>(g + 1) << 2)) - start;
    const init = bias != 0 ? bias + (<usize>g << 2) : ZEROS;
    const y = out + <usize>g * stride;
    let o: usize = 0;
    if (r == 2) {
      for (; o < end16; o += 64) tileBlock<R, u32>(y + o, x + o, stride, colIdx, values, start, n, init, relu);
    }
    for (; o < end8; o += 32) tileBlock<R, u16>(y + o, x + o, stride, colIdx, values, start, n, init, relu);
    for (; o < end4; o += 16) tileBlock<R, u8>(y + o, x + o, stride, colIdx, values, start, n, init, relu);
    for (; o < endB; o += 4) {
      for (let i = 0; i < r; i++) {
        let s = load<f32>(init + (<usize>i << 2));
        const w = values + (<usize>(start + i * n) << 2);
        for (let t = 0; t < n; t++) {
          const wt = load<f32>(w + (<usize>t << 2)), xt = load<f32>(rowAt(x + o, colIdx, start + t, stride));
          // the relaxed build sums the tail as its lanes do, so a sample's bits still do not depend on the batch
          if (ASC_FEATURE_RELAXED_SIMD) {
            s = f32x4.extract_lane(madd(f32x4.splat(s), f32x4.splat(wt), f32x4.splat(xt)), 0);
          } else s = s + wt * xt;
        }
        store<f32>(y + <usize>i * stride + o, relu ? max<f32>(s, 0) : s);
      }
    }
  }
}

/** dX[k,B] = Aᵀ·dY through the CSC view (colPtr[k+1], rowIdx[nnz], perm[nnz] → position in CSR values). */
export function csrSpmmT(
  k: i32, B: i32, colPtr: usize, rowIdx: usize, perm: usize, values: usize,
  dy: usize, dx: usize,
): void {
  if (!ASC_NO_ASSERT) {
    assert(k >= 0 && B >= 0, "csrSpmmT: k and B must be ≥ 0");
    assert(offsets(colPtr, k), "csrSpmmT: colPtr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(colPtr + (<usize>k << 2));
    assert(indices(rowIdx, nnz, -1), "csrSpmmT: rowIdx must lie in memory and hold row indices ≥ 0");
    const m = reach(rowIdx, nnz);
    // a slice of the columns (a thread's share) reads values anywhere in the matrix: values must hold what perm reaches
    assert(indices(perm, nnz, -1), "csrSpmmT: perm must lie in memory and hold positions ≥ 0");
    assert(inside(values, reach(perm, nnz)), "csrSpmmT: values (as many as perm reaches) outside memory");
    assert(inside(dy, <i64>m * B), "csrSpmmT: dY (as many rows as rowIdx reaches) outside memory");
    assert(inside(dx, <i64>k * B), "csrSpmmT: dX outside memory");
    assert(apart(dx, <i64>k * B, dy, <i64>m * B), "csrSpmmT: dX overlaps dY");
  }
  rowCombine<i32>(k, B, colPtr, rowIdx, perm, values, dy, 0, dx, false);
}

// Σ of the four lanes (shared with dense_matmul).
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// Σ_b d[b]·x_t[b] for the G = sizeof<G>() ∈ {1, 2} rows x_t of entries sharing the dY row d: each d vector is
// loaded once for both (sharing among 4 measured no faster: the extra row pointers cost what the loads saved).
@inline function dots<G>(d: usize, x0: usize, x1: usize, B: i32, out: usize): void {
  const two = sizeof<G>() == 2;
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, c0 = zero, c1 = zero;
  const end8 = <usize>(B & ~7) << 2, end4 = <usize>(B & ~3) << 2, endB = <usize>B << 2;
  let o: usize = 0;
  for (; o < end8; o += 32) {
    const da = v128.load(d + o), dc = v128.load(d + o, 16);
    a0 = f32x4.add(a0, f32x4.mul(da, v128.load(x0 + o)));
    c0 = f32x4.add(c0, f32x4.mul(dc, v128.load(x0 + o, 16)));
    if (two) {
      a1 = f32x4.add(a1, f32x4.mul(da, v128.load(x1 + o)));
      c1 = f32x4.add(c1, f32x4.mul(dc, v128.load(x1 + o, 16)));
    }
  }
  for (; o < end4; o += 16) {
    const da = v128.load(d + o);
    a0 = f32x4.add(a0, f32x4.mul(da, v128.load(x0 + o)));
    if (two) a1 = f32x4.add(a1, f32x4.mul(da, v128.load(x1 + o)));
  }
  let t0 = hsum(f32x4.add(a0, c0));
  let t1: f32 = two ? hsum(f32x4.add(a1, c1)) : 0;
  for (; o < endB; o += 4) {
    const dv = load<f32>(d + o);
    t0 += dv * load<f32>(x0 + o);
    if (two) t1 += dv * load<f32>(x1 + o);
  }
  store<f32>(out, t0);
  if (two) store<f32>(out, t1, 4);
}

/** dValues[j] = Σ_b dY[row(j),b]·X[col(j),b] at stored positions only; dBias[r] = Σ_b dY[r,b] if dBias ≠ 0. */
export function csrSddmm(
  m: i32, B: i32, rowPtr: usize, colIdx: usize,
  dy: usize, x: usize, dValues: usize, dBias: usize,
): void {
  if (!ASC_NO_ASSERT) {
    assert(m >= 0 && B >= 0, "csrSddmm: m and B must be ≥ 0");
    assert(offsets(rowPtr, m), "csrSddmm: rowPtr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(rowPtr + (<usize>m << 2));
    assert(indices(colIdx, nnz, -1), "csrSddmm: colIdx must lie in memory and hold column indices ≥ 0");
    const k = reach(colIdx, nnz);
    assert(inside(dy, <i64>m * B), "csrSddmm: dY outside memory");
    assert(inside(x, <i64>k * B), "csrSddmm: X (as many rows as colIdx reaches) outside memory");
    assert(inside(dValues, nnz), "csrSddmm: dValues outside memory");
    assert(apart(dValues, nnz, dy, <i64>m * B), "csrSddmm: dValues overlaps dY");
    assert(apart(dValues, nnz, x, <i64>k * B), "csrSddmm: dValues overlaps X");
  }
  const stride = <usize>B << 2;
  for (let r = 0; r < m; r++) {
    const start = load<i32>(rowPtr + (<usize>r << 2));
    const end = load<i32>(rowPtr + (<usize>(r + 1) << 2));
    const d = dy + <usize>r * stride;
    let p = start;
    if (B == 1) {
      const dv = load<f32>(d);
      for (; p < end; p++) store<f32>(dValues + (<usize>p << 2), dv * load<f32>(rowAt(x, colIdx, p, 4)));
      continue;
    }
    for (; p + 2 <= end; p += 2) {
      dots<u16>(d, rowAt(x, colIdx, p, stride), rowAt(x, colIdx, p + 1, stride), B, dValues + (<usize>p << 2));
    }
    if (p < end) dots<u8>(d, rowAt(x, colIdx, p, stride), 0, B, dValues + (<usize>p << 2));
  }
  if (dBias != 0) rowSums(m, B, dy, dBias);
}

/** out[r] = Σ_b Y[r,b]  (bias gradient). */
export function rowSums(m: i32, B: i32, y: usize, out: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(m >= 0 && B >= 0, "rowSums: m and B must be ≥ 0");
    assert(inside(y, <i64>m * B), "rowSums: Y outside memory");
    assert(inside(out, m), "rowSums: out outside memory");
    assert(apart(out, m, y, <i64>m * B), "rowSums: out overlaps Y");
  }
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
    let t = hsum(f32x4.add(s0, s1));
    for (; b < B; b++) t += load<f32>(row + (<usize>b << 2));
    store<f32>(out + (<usize>r << 2), t);
  }
}
