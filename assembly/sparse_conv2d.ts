// Y[o,oy,ox,:] = b[o] + Σ_{(c,ky,kx) stored in row o} W·X[c, oy·s−py+ky, ox·s−px+kx, :];
// dX = the transposed gather;  dW on stored taps
// Activations are feature-major with the batch innermost: image position (c, y, x) of a [C, H, W] activation is
// row c·H·W + y·W + x of a [C·H·W, B] matrix, so every position is B contiguous floats and one weight tap
// scales whole vectors of the batch. Weights are CSR over destination channels; each entry j carries a row
// offset off[j] (source plane + tap shift), its tap packed as ky<<16 | kx (for bounds checks), and a value.
// Loops run position → batch tile → channel → entries: the accumulators of one tile stay in registers over all
// entries and one position's input window (C·kh·kw rows of one tile) stays in L1 across output channels.
import { apart, indices, inside, insideIf, offsets, reach } from "./checks";
import { rowSums } from "./csr_spmm";

// Debug-build predicates (checks.ts). The geometry: OH×OW is what kh×kw windows at stride s leave of padded H×W.
@inline function geometry(H: i32, W: i32, OH: i32, OW: i32, kh: i32, kw: i32, s: i32, py: i32, px: i32, B: i32): bool {
  return H >= 1 && W >= 1 && kh >= 1 && kw >= 1 && s >= 1 && py >= 0 && px >= 0 && B >= 0 && H + 2 * py >= kh &&
    W + 2 * px >= kw && OH == (H + 2 * py - kh) / s + 1 && OW == (W + 2 * px - kw) / s + 1;
}

// Entry j's offset less its tap's shift, off[j] − sign·(ky·rowW + kx): whole planes, up to the channel it reaches.
@inline function planeStart(off: usize, tap: usize, j: i32, rowW: i32, sign: i64): i64 {
  const t = load<i32>(tap + (<usize>j << 2));
  return <i64>load<i32>(off + (<usize>j << 2)) - sign * (<i64>(t >>> 16) * rowW + (t & 0xffff));
}

// The entry arrays lie in memory, each tap inside kh×kw (kh = 0: not known) and each offset a plane q ≥ 0 plus the
// tap's shift, as the kernels assume.
@inline function entries(nnz: i32, off: usize, tap: usize, kh: i32, kw: i32, rowW: i32, sign: i64, plane: i32): bool {
  if (!inside(off, nnz) || !inside(tap, nnz) || plane <= 0) return false;
  for (let j = 0; j < nnz; j++) {
    const t = load<i32>(tap + (<usize>j << 2));
    const q = planeStart(off, tap, j, rowW, sign);
    if ((kh != 0 && ((t >>> 16) >= kh || (t & 0xffff) >= kw)) || q < 0 || q % plane != 0) return false;
  }
  return true;
}

// How many planes the entries reach (1 + the largest q / plane).
@inline function planes(nnz: i32, off: usize, tap: usize, rowW: i32, sign: i64, plane: i32): i64 {
  let top: i64 = 0;
  for (let j = 0; j < nnz; j++) top = max(top, planeStart(off, tap, j, rowW, sign) / plane + 1);
  return top;
}

// Accumulates Σ_j values[val(j)]·src[off[j] + rel] into V vectors (sizeof<V>() ∈ {1, 4}, 8 meaning 6) at dst, starting
// from init (or from 0 when the entry list is empty). CHECK (sizeof == 2) skips entries whose source position leaves
// the plane: forward (MODE u8): iy = qy + ky ∈ [0, lim0), ix = qx + kx ∈ [0, lim1); input gradient at stride 1
// (MODE u16): qy − ky ∈ [0, lim0), likewise x; at stride s > 1 (MODE u32): ny = qy − ky ≥ 0 divisible by s with
// ny/s < lim0, likewise x (the division only where it is needed). PERM (sizeof == 4) reads values through perm.
@inline
function gatherTile<V, CHECK, MODE, PERM>(
  start: i32, end: i32, off: usize, tap: usize, perm: usize, values: usize,
  src: usize, strideB: usize, rel: i32, qy: i32, qx: i32, lim0: i32, lim1: i32, s: i32, dstRowW: i32,
  dst: usize, init: f32, relu: bool,
): void {
  // at most 6 accumulators: V8 loads all of an entry's vectors before using them, and with 8 accumulators, 8 loads
  // and the weight (17 > the 15 usable xmm registers) it spilled an accumulator, putting a store-to-load round
  // trip on the loop-carried chain (measured: 32-float tiles 18 GF/s, 24-float tiles 21 GF/s)
  let a0 = f32x4.splat(init), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  for (let j = start; j < end; j++) {
    let row = load<i32>(off + (<usize>j << 2));
    if (sizeof<CHECK>() == 2) {
      const t = load<i32>(tap + (<usize>j << 2));
      const ky = t >>> 16, kx = t & 0xffff;
      if (sizeof<MODE>() == 1) {
        if (<u32>(qy + ky) >= <u32>lim0 || <u32>(qx + kx) >= <u32>lim1) continue;
        row += rel;
      } else if (sizeof<MODE>() == 2) {
        if (<u32>(qy - ky) >= <u32>lim0 || <u32>(qx - kx) >= <u32>lim1) continue;
        row += rel;
      } else {
        const ny = qy - ky, nx = qx - kx;
        if (ny < 0 || nx < 0) continue;
        const my = ny / s, mx = nx / s;
        if (my >= lim0 || mx >= lim1 || my * s != ny || mx * s != nx) continue;
        row += ky * dstRowW + kx + my * dstRowW + mx;
      }
    } else {
      row += rel;
    }
    const q = sizeof<PERM>() == 4 ? load<i32>(perm + (<usize>j << 2)) : j;
    const w = f32x4.splat(load<f32>(values + (<usize>q << 2)));
    const x = src + <usize>row * strideB;
    a0 = f32x4.add(a0, f32x4.mul(w, v128.load(x)));
    if (sizeof<V>() >= 2) a1 = f32x4.add(a1, f32x4.mul(w, v128.load(x, 16)));
    if (sizeof<V>() >= 4) {
      a2 = f32x4.add(a2, f32x4.mul(w, v128.load(x, 32)));
      a3 = f32x4.add(a3, f32x4.mul(w, v128.load(x, 48)));
    }
    if (sizeof<V>() >= 8) {
      a4 = f32x4.add(a4, f32x4.mul(w, v128.load(x, 64)));
      a5 = f32x4.add(a5, f32x4.mul(w, v128.load(x, 80)));
    }
  }
  if (relu) {
    const z = f32x4.splat(0);
    a0 = f32x4.max(a0, z); a1 = f32x4.max(a1, z); a2 = f32x4.max(a2, z); a3 = f32x4.max(a3, z);
    a4 = f32x4.max(a4, z); a5 = f32x4.max(a5, z);
  }
  v128.store(dst, a0);
  if (sizeof<V>() >= 2) v128.store(dst, a1, 16);
  if (sizeof<V>() >= 4) { v128.store(dst, a2, 32); v128.store(dst, a3, 48); }
  if (sizeof<V>() >= 8) { v128.store(dst, a4, 64); v128.store(dst, a5, 80); }
}

// The same sum for one batch element (the tail when B is not a multiple of 4).
@inline
function gatherScalar<CHECK, MODE, PERM>(
  start: i32, end: i32, off: usize, tap: usize, perm: usize, values: usize,
  src: usize, strideB: usize, rel: i32, qy: i32, qx: i32, lim0: i32, lim1: i32, s: i32, dstRowW: i32,
  dst: usize, init: f32, relu: bool,
): void {
  let a: f32 = init;
  for (let j = start; j < end; j++) {
    let row = load<i32>(off + (<usize>j << 2));
    if (sizeof<CHECK>() == 2) {
      const t = load<i32>(tap + (<usize>j << 2));
      const ky = t >>> 16, kx = t & 0xffff;
      if (sizeof<MODE>() == 1) {
        if (<u32>(qy + ky) >= <u32>lim0 || <u32>(qx + kx) >= <u32>lim1) continue;
        row += rel;
      } else if (sizeof<MODE>() == 2) {
        if (<u32>(qy - ky) >= <u32>lim0 || <u32>(qx - kx) >= <u32>lim1) continue;
        row += rel;
      } else {
        const ny = qy - ky, nx = qx - kx;
        if (ny < 0 || nx < 0) continue;
        const my = ny / s, mx = nx / s;
        if (my >= lim0 || mx >= lim1 || my * s != ny || mx * s != nx) continue;
        row += ky * dstRowW + kx + my * dstRowW + mx;
      }
    } else {
      row += rel;
    }
    const q = sizeof<PERM>() == 4 ? load<i32>(perm + (<usize>j << 2)) : j;
    a += load<f32>(values + (<usize>q << 2)) * load<f32>(src + <usize>row * strideB);
  }
  store<f32>(dst, relu ? max<f32>(a, 0) : a); // f32.max like f32x4.max: NaN propagates at every batch width
}

// One destination position: every batch tile, every destination channel. Tiles of 24, 16, 4 and 1 floats.
@inline
function gatherPosition<CHECK, MODE, PERM>(
  D: i32, planeD: i32, pos: i32, B: i32, ptr: usize, off: usize, tap: usize, perm: usize, values: usize,
  src: usize, rel: i32, qy: i32, qx: i32, lim0: i32, lim1: i32, s: i32, dstRowW: i32,
  bias: usize, dst: usize, relu: bool,
): void {
  const strideB = <usize>B << 2;
  let b = 0;
  for (; b + 24 <= B; b += 24) {
    const bo = <usize>b << 2;
    for (let d = 0; d < D; d++) {
      const init: f32 = bias != 0 ? load<f32>(bias + (<usize>d << 2)) : 0;
      gatherTile<u64, CHECK, MODE, PERM>(load<i32>(ptr + (<usize>d << 2)), load<i32>(ptr + (<usize>(d + 1) << 2)),
        off, tap, perm, values, src + bo, strideB, rel, qy, qx, lim0, lim1, s, dstRowW,
        dst + <usize>(d * planeD + pos) * strideB + bo, init, relu);
    }
  }
  for (; b + 16 <= B; b += 16) {
    const bo = <usize>b << 2;
    for (let d = 0; d < D; d++) {
      const init: f32 = bias != 0 ? load<f32>(bias + (<usize>d << 2)) : 0;
      gatherTile<u32, CHECK, MODE, PERM>(load<i32>(ptr + (<usize>d << 2)), load<i32>(ptr + (<usize>(d + 1) << 2)),
        off, tap, perm, values, src + bo, strideB, rel, qy, qx, lim0, lim1, s, dstRowW,
        dst + <usize>(d * planeD + pos) * strideB + bo, init, relu);
    }
  }
  for (; b + 4 <= B; b += 4) {
    const bo = <usize>b << 2;
    for (let d = 0; d < D; d++) {
      const init: f32 = bias != 0 ? load<f32>(bias + (<usize>d << 2)) : 0;
      gatherTile<u8, CHECK, MODE, PERM>(load<i32>(ptr + (<usize>d << 2)), load<i32>(ptr + (<usize>(d + 1) << 2)),
        off, tap, perm, values, src + bo, strideB, rel, qy, qx, lim0, lim1, s, dstRowW,
        dst + <usize>(d * planeD + pos) * strideB + bo, init, relu);
    }
  }
  for (; b < B; b++) {
    const bo = <usize>b << 2;
    for (let d = 0; d < D; d++) {
      const init: f32 = bias != 0 ? load<f32>(bias + (<usize>d << 2)) : 0;
      gatherScalar<CHECK, MODE, PERM>(load<i32>(ptr + (<usize>d << 2)), load<i32>(ptr + (<usize>(d + 1) << 2)),
        off, tap, perm, values, src + bo, strideB, rel, qy, qx, lim0, lim1, s, dstRowW,
        dst + <usize>(d * planeD + pos) * strideB + bo, init, relu);
    }
  }
}

/**
 * Y[O·OH·OW, B] = conv(X[C·H·W, B]) (+ bias[O] if bias ≠ 0) (ReLU if relu ≠ 0): stride s, zero padding (py, px).
 * Entries of output channel o are ptr[o]..ptr[o+1]: off[j] = c·H·W + ky·W + kx, tap[j] = ky<<16 | kx, values[j].
 * kh, kw bound the taps (positions whose whole window is inside the image skip the bounds checks).
 */
export function sparseConv2d(
  O: i32, OH: i32, OW: i32, H: i32, W: i32, kh: i32, kw: i32, s: i32, py: i32, px: i32, B: i32,
  ptr: usize, off: usize, tap: usize, values: usize, x: usize, bias: usize, y: usize, relu: i32,
): void {
  if (!ASC_NO_ASSERT) {
    assert(geometry(H, W, OH, OW, kh, kw, s, py, px, B), "sparseConv2d: OH×OW must follow from H×W, kh×kw, s, py, px");
    assert(offsets(ptr, O), "sparseConv2d: ptr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(ptr + (<usize>O << 2));
    assert(entries(nnz, off, tap, kh, kw, W, 1, H * W),
      "sparseConv2d: off and tap must lie in memory, taps in kh×kw, off[j] = c·H·W + ky·W + kx");
    const C = planes(nnz, off, tap, W, 1, H * W);
    assert(inside(values, nnz), "sparseConv2d: values outside memory");
    assert(inside(x, C * H * W * B), "sparseConv2d: X (as many channels as off reaches) outside memory");
    assert(insideIf(bias, O), "sparseConv2d: bias outside memory");
    assert(inside(y, <i64>O * OH * OW * B), "sparseConv2d: Y outside memory");
    assert(apart(y, <i64>O * OH * OW * B, x, C * H * W * B), "sparseConv2d: Y overlaps X");
  }
  const planeO = OH * OW;
  for (let oy = 0; oy < OH; oy++) {
    const iy0 = oy * s - py;
    const rowInside = iy0 >= 0 && iy0 + kh <= H;
    for (let ox = 0; ox < OW; ox++) {
      const ix0 = ox * s - px;
      const rel = iy0 * W + ix0;
      const pos = oy * OW + ox;
      if (rowInside && ix0 >= 0 && ix0 + kw <= W) {
        gatherPosition<u8, u8, u8>(O, planeO, pos, B, ptr, off, tap, 0, values,
          x, rel, iy0, ix0, H, W, s, 0, bias, y, relu != 0);
      } else {
        gatherPosition<u16, u8, u8>(O, planeO, pos, B, ptr, off, tap, 0, values,
          x, rel, iy0, ix0, H, W, s, 0, bias, y, relu != 0);
      }
    }
  }
}

/**
 * dX[C·H·W, B] = convᵀ(dY[O·OH·OW, B]): dX[c,iy,ix] = Σ W[o,c,ky,kx]·dY[o,(iy+py−ky)/s,(ix+px−kx)/s] over the stored
 * taps where the division is exact and in range. Entries of input channel c are ptr[c]..ptr[c+1] (the CSC view):
 * off[j] = o·OH·OW − ky·OW − kx, tap[j] = ky<<16 | kx, perm[j] = position of the weight in values.
 */
export function sparseConv2dBackwardInput(
  C: i32, H: i32, W: i32, OH: i32, OW: i32, kh: i32, kw: i32, s: i32, py: i32, px: i32, B: i32,
  ptr: usize, off: usize, tap: usize, perm: usize, values: usize, dy: usize, dx: usize,
): void {
  if (!ASC_NO_ASSERT) {
    assert(geometry(H, W, OH, OW, kh, kw, s, py, px, B),
      "sparseConv2dBackwardInput: OH×OW must follow from H×W, kh×kw, s, py, px");
    assert(offsets(ptr, C), "sparseConv2dBackwardInput: ptr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(ptr + (<usize>C << 2));
    assert(entries(nnz, off, tap, kh, kw, OW, -1, OH * OW),
      "sparseConv2dBackwardInput: off and tap must lie in memory, taps in kh×kw, off[j] = o·OH·OW − ky·OW − kx");
    const O = planes(nnz, off, tap, OW, -1, OH * OW);
    assert(indices(perm, nnz, -1), "sparseConv2dBackwardInput: perm must lie in memory, its entries ≥ 0");
    assert(inside(values, reach(perm, nnz)),
      "sparseConv2dBackwardInput: values (as many as perm reaches) outside memory");
    assert(inside(dy, O * OH * OW * B), "sparseConv2dBackwardInput: dY (the channels off reaches) outside memory");
    assert(inside(dx, <i64>C * H * W * B), "sparseConv2dBackwardInput: dX outside memory");
    assert(apart(dx, <i64>C * H * W * B, dy, O * OH * OW * B), "sparseConv2dBackwardInput: dX overlaps dY");
  }
  const planeI = H * W;
  for (let iy = 0; iy < H; iy++) {
    const qy = iy + py;
    const rowInside = s == 1 && qy - kh + 1 >= 0 && qy < OH;
    for (let ix = 0; ix < W; ix++) {
      const qx = ix + px;
      const rel = qy * OW + qx;
      const pos = iy * W + ix;
      if (rowInside && qx - kw + 1 >= 0 && qx < OW) {
        gatherPosition<u8, u16, u32>(C, planeI, pos, B, ptr, off, tap, perm, values,
          dy, rel, qy, qx, OH, OW, s, OW, 0, dx, false);
      } else if (s == 1) {
        gatherPosition<u16, u16, u32>(C, planeI, pos, B, ptr, off, tap, perm, values,
          dy, rel, qy, qx, OH, OW, s, OW, 0, dx, false);
      } else {
        gatherPosition<u16, u32, u32>(C, planeI, pos, B, ptr, off, tap, perm, values,
          dy, rel, qy, qx, OH, OW, s, OW, 0, dx, false);
      }
    }
  }
}

// Σ_i a[i]·c[i] over n contiguous floats.
@inline
function dot(a: usize, c: usize, n: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(c + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(c + o, 16)));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(a + o, 32), v128.load(c + o, 32)));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(a + o, 48), v128.load(c + o, 48)));
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(c + o)));
  }
  const t = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
  let r = f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) + f32x4.extract_lane(t, 3);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    r += load<f32>(a + o) * load<f32>(c + o);
  }
  return r;
}

// ⌊a / s⌋ for s > 0 and any sign of a.
@inline
function floorDiv(a: i32, s: i32): i32 {
  return a >= 0 ? a / s : -((s - 1 - a) / s);
}

// out[t] += Σ_i a[i]·c[i + t·d/4] for t < G over n contiguous floats, G = 3 if sizeof<G3>() == 2 else 2: taps kx,
// kx+1, kx+2 of one kernel row read X shifted by one position (d bytes), so one load of dY serves every tap of the
// group.
@inline
function dotShared<G3>(a: usize, c: usize, d: usize, n: i32, out: usize): void {
  let p0 = f32x4.splat(0), p1 = p0, p2 = p0, q0 = p0, q1 = p0, q2 = p0;
  const c1 = c + d, c2 = c + 2 * d;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const a0 = v128.load(a + o), a1 = v128.load(a + o, 16);
    p0 = f32x4.add(p0, f32x4.mul(a0, v128.load(c + o)));
    q0 = f32x4.add(q0, f32x4.mul(a1, v128.load(c + o, 16)));
    p1 = f32x4.add(p1, f32x4.mul(a0, v128.load(c1 + o)));
    q1 = f32x4.add(q1, f32x4.mul(a1, v128.load(c1 + o, 16)));
    if (sizeof<G3>() == 2) {
      p2 = f32x4.add(p2, f32x4.mul(a0, v128.load(c2 + o)));
      q2 = f32x4.add(q2, f32x4.mul(a1, v128.load(c2 + o, 16)));
    }
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const a0 = v128.load(a + o);
    p0 = f32x4.add(p0, f32x4.mul(a0, v128.load(c + o)));
    p1 = f32x4.add(p1, f32x4.mul(a0, v128.load(c1 + o)));
    if (sizeof<G3>() == 2) p2 = f32x4.add(p2, f32x4.mul(a0, v128.load(c2 + o)));
  }
  p0 = f32x4.add(p0, q0);
  p1 = f32x4.add(p1, q1);
  p2 = f32x4.add(p2, q2);
  let r0 = f32x4.extract_lane(p0, 0) + f32x4.extract_lane(p0, 1) + f32x4.extract_lane(p0, 2) +
    f32x4.extract_lane(p0, 3);
  let r1 = f32x4.extract_lane(p1, 0) + f32x4.extract_lane(p1, 1) + f32x4.extract_lane(p1, 2) +
    f32x4.extract_lane(p1, 3);
  let r2 = f32x4.extract_lane(p2, 0) + f32x4.extract_lane(p2, 1) + f32x4.extract_lane(p2, 2) +
    f32x4.extract_lane(p2, 3);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const av = load<f32>(a + o);
    r0 += av * load<f32>(c + o);
    r1 += av * load<f32>(c1 + o);
    if (sizeof<G3>() == 2) r2 += av * load<f32>(c2 + o);
  }
  store<f32>(out, load<f32>(out) + r0);
  store<f32>(out, load<f32>(out, 4) + r1, 4);
  if (sizeof<G3>() == 2) store<f32>(out, load<f32>(out, 8) + r2, 8);
}

/**
 * dValues[j] = Σ_{oy,ox,b} dY[o,oy,ox,b]·X[c, oy·s−py+ky, ox·s−px+kx, b] for every stored entry j (same entry arrays as
 * sparseConv2d); dBias[o] = Σ_{oy,ox,b} dY[o,oy,ox,b] if dBias ≠ 0. Only positions inside the image contribute.
 * At stride 1, runs of up to 3 entries with consecutive taps in one kernel row share their dY loads.
 */
export function sparseConv2dBackwardWeights(
  O: i32, OH: i32, OW: i32, H: i32, W: i32, s: i32, py: i32, px: i32, B: i32,
  ptr: usize, off: usize, tap: usize, dy: usize, x: usize, dValues: usize, dBias: usize,
): void {
  if (!ASC_NO_ASSERT) {
    assert(O >= 0 && OH >= 0 && OW >= 0 && H >= 1 && W >= 1 && s >= 1 && py >= 0 && px >= 0 && B >= 0,
      "sparseConv2dBackwardWeights: sizes must be ≥ 0, H, W and s ≥ 1");
    assert(offsets(ptr, O), "sparseConv2dBackwardWeights: ptr must lie in memory, hold offsets ≥ 0 and never decrease");
    const nnz = load<i32>(ptr + (<usize>O << 2));
    assert(entries(nnz, off, tap, 0, 0, W, 1, H * W),
      "sparseConv2dBackwardWeights: off and tap must lie in memory, off[j] = c·H·W + ky·W + kx");
    const C = planes(nnz, off, tap, W, 1, H * W);
    assert(inside(dy, <i64>O * OH * OW * B), "sparseConv2dBackwardWeights: dY outside memory");
    assert(inside(x, C * H * W * B), "sparseConv2dBackwardWeights: X (the channels off reaches) outside memory");
    assert(inside(dValues, nnz), "sparseConv2dBackwardWeights: dValues outside memory");
    assert(apart(dValues, nnz, dy, <i64>O * OH * OW * B), "sparseConv2dBackwardWeights: dValues overlaps dY");
    assert(apart(dValues, nnz, x, C * H * W * B), "sparseConv2dBackwardWeights: dValues overlaps X");
  }
  const strideB = <usize>B << 2;
  for (let o = 0; o < O; o++) {
    const end = load<i32>(ptr + (<usize>(o + 1) << 2));
    for (let j = load<i32>(ptr + (<usize>o << 2)); j < end;) {
      const t = load<i32>(tap + (<usize>j << 2));
      const ky = t >>> 16, kx = t & 0xffff;
      const base = load<i32>(off + (<usize>j << 2));
      // equal offset and tap steps of 1 mean the same input channel and kernel row, kx + 1
      let g = 1;
      if (s == 1) {
        while (g < 3 && j + g < end && load<i32>(off + (<usize>(j + g) << 2)) == base + g &&
          load<i32>(tap + (<usize>(j + g) << 2)) == t + g) g++;
      }
      // oy·s − py + ky ∈ [0, H)  ⇔  oy ∈ [⌈(py − ky)/s⌉, ⌊(H − 1 + py − ky)/s⌋]; likewise ox for each tap
      const oyLo = max(0, -floorDiv(ky - py, s)), oyHi = min(OH, floorDiv(H - 1 + py - ky, s) + 1);
      const out = dValues + (<usize>j << 2);
      if (g == 1) {
        const oxLo = max(0, -floorDiv(kx - px, s)), oxHi = min(OW, floorDiv(W - 1 + px - kx, s) + 1);
        let acc: f32 = 0;
        for (let oy = oyLo; oy < oyHi; oy++) {
          const dyRow = (o * OH + oy) * OW;
          const xRow = base + (oy * s - py) * W - px;
          if (s == 1) {
            if (oxHi > oxLo) acc += dot(dy + <usize>(dyRow + oxLo) * strideB, x + <usize>(xRow + oxLo) * strideB,
              (oxHi - oxLo) * B);
          } else {
            for (let ox = oxLo; ox < oxHi; ox++) acc += dot(dy + <usize>(dyRow + ox) * strideB,
              x + <usize>(xRow + ox * s) * strideB, B);
          }
        }
        store<f32>(out, acc);
        j++;
        continue;
      }
      // stride 1: tap kx + m is inside for ox ∈ [px − kx − m, W + px − kx − m) ∩ [0, OW); all taps for [lo, hi)
      const lo = max(0, px - kx), hi = min(OW, W + px - kx - g + 1);
      for (let m = 0; m < g; m++) store<f32>(out + (<usize>m << 2), 0);
      for (let oy = oyLo; oy < oyHi; oy++) {
        const dyRow = (o * OH + oy) * OW;
        const xRow = base + (oy - py) * W - px;
        if (hi > lo) {
          const a = dy + <usize>(dyRow + lo) * strideB, c = x + <usize>(xRow + lo) * strideB;
          if (g == 3) dotShared<u16>(a, c, strideB, (hi - lo) * B, out);
          else dotShared<u8>(a, c, strideB, (hi - lo) * B, out);
        }
        for (let m = 0; m < g; m++) {
          const mLo = max(0, px - kx - m), mHi = min(OW, W + px - kx - m);
          const split = hi > lo;
          const leftHi = split ? lo : mHi;
          let acc: f32 = 0;
          if (leftHi > mLo) acc += dot(dy + <usize>(dyRow + mLo) * strideB, x + <usize>(xRow + m + mLo) * strideB,
            (leftHi - mLo) * B);
          if (split && mHi > hi) acc += dot(dy + <usize>(dyRow + hi) * strideB, x + <usize>(xRow + m + hi) * strideB,
            (mHi - hi) * B);
          const q = out + (<usize>m << 2);
          store<f32>(q, load<f32>(q) + acc);
        }
      }
      j += g;
    }
  }
  if (dBias != 0) rowSums(O, OH * OW * B, dy, dBias);
}
