// Y[c,oy,ox,:] = max | mean over X[c, oy·s+ky, ox·s+kx, :] (ky, kx < k);  dX: dY to the first max | dY/k² to every tap
// Feature-major activations, batch innermost: position (c, y, x) is row c·H·W + y·W + x of [C·H·W, B].
import { apart, inside } from "./checks";

// Debug-build predicate (checks.ts): OH×OW are the k×k windows at stride s that fit in H×W, as the kernels walk them.
@inline function geometry(C: i32, H: i32, W: i32, OH: i32, OW: i32, k: i32, s: i32, B: i32): bool {
  return C >= 0 && B >= 0 && k >= 1 && s >= 1 && k <= H && k <= W && OH == (H - k) / s + 1 && OW == (W - k) / s + 1;
}

/** Y[C·OH·OW, B] = max over each k×k window of X[C·H·W, B] at stride s (no padding; wasm max: NaN propagates). */
export function maxPool2d(C: i32, H: i32, W: i32, OH: i32, OW: i32, k: i32, s: i32, B: i32, x: usize, y: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(geometry(C, H, W, OH, OW, k, s, B), "maxPool2d: OH×OW must be the k×k windows at stride s in H×W");
    assert(inside(x, <i64>C * H * W * B), "maxPool2d: X outside memory");
    assert(inside(y, <i64>C * OH * OW * B), "maxPool2d: Y outside memory");
    assert(apart(y, <i64>C * OH * OW * B, x, <i64>C * H * W * B), "maxPool2d: Y overlaps X");
  }
  const strideB = <usize>B << 2;
  const B4 = B & ~3;
  for (let c = 0; c < C; c++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const first = x + <usize>((c * H + oy * s) * W + ox * s) * strideB;
        const out = y + <usize>((c * OH + oy) * OW + ox) * strideB;
        for (let b = 0; b < B4; b += 4) {
          const bo = <usize>b << 2;
          let m = v128.load(first + bo);
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) m = f32x4.max(m, v128.load(r + <usize>kx * strideB));
          }
          v128.store(out + bo, m);
        }
        for (let b = B4; b < B; b++) {
          const bo = <usize>b << 2;
          let m = load<f32>(first + bo);
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) m = max<f32>(m, load<f32>(r + <usize>kx * strideB));
          }
          store<f32>(out + bo, m);
        }
      }
    }
  }
}

/**
 * dX[C·H·W, B] = Σ over windows of dY routed to the first tap (row-major in the window) where X equals the
 * window's max Y; overlapping windows (s < k) add up. Recomputes the argmax from X and Y, so no index buffer.
 */
export function maxPool2dBackward(
  C: i32, H: i32, W: i32, OH: i32, OW: i32, k: i32, s: i32, B: i32, x: usize, y: usize, dy: usize, dx: usize,
): void {
  if (!ASC_NO_ASSERT) {
    assert(geometry(C, H, W, OH, OW, k, s, B), "maxPool2dBackward: OH×OW must be the k×k windows at stride s in H×W");
    const n = <i64>C * H * W * B, m = <i64>C * OH * OW * B;
    assert(inside(x, n), "maxPool2dBackward: X outside memory");
    assert(inside(y, m), "maxPool2dBackward: Y outside memory");
    assert(inside(dy, m), "maxPool2dBackward: dY outside memory");
    assert(inside(dx, n), "maxPool2dBackward: dX outside memory");
    assert(apart(dx, n, x, n), "maxPool2dBackward: dX overlaps X");
    assert(apart(dx, n, y, m), "maxPool2dBackward: dX overlaps Y");
    assert(apart(dx, n, dy, m), "maxPool2dBackward: dX overlaps dY");
  }
  const strideB = <usize>B << 2;
  const B4 = B & ~3;
  memory.fill(dx, 0, <usize>(C * H * W) * strideB);
  for (let c = 0; c < C; c++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const first = <usize>((c * H + oy * s) * W + ox * s) * strideB;
        const o = <usize>((c * OH + oy) * OW + ox) * strideB;
        for (let b = 0; b < B4; b += 4) {
          const bo = <usize>b << 2;
          const m = v128.load(y + o + bo), g = v128.load(dy + o + bo);
          let taken = i32x4.splat(0);
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) {
              const p = r + <usize>kx * strideB;
              const hit = v128.andnot(f32x4.eq(v128.load(x + p), m), taken);
              v128.store(dx + p, f32x4.add(v128.load(dx + p), v128.and(g, hit)));
              taken = v128.or(taken, hit);
            }
          }
        }
        for (let b = B4; b < B; b++) {
          const bo = <usize>b << 2;
          const m = load<f32>(y + o + bo), g = load<f32>(dy + o + bo);
          let done = false;
          for (let ky = 0; ky < k && !done; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) {
              const p = r + <usize>kx * strideB;
              if (load<f32>(x + p) == m) {
                store<f32>(dx + p, load<f32>(dx + p) + g);
                done = true;
                break;
              }
            }
          }
        }
      }
    }
  }
}

/** Y[C·OH·OW, B] = mean over each k×k window of X[C·H·W, B] at stride s (no padding). */
export function avgPool2d(C: i32, H: i32, W: i32, OH: i32, OW: i32, k: i32, s: i32, B: i32, x: usize, y: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(geometry(C, H, W, OH, OW, k, s, B), "avgPool2d: OH×OW must be the k×k windows at stride s in H×W");
    assert(inside(x, <i64>C * H * W * B), "avgPool2d: X outside memory");
    assert(inside(y, <i64>C * OH * OW * B), "avgPool2d: Y outside memory");
    assert(apart(y, <i64>C * OH * OW * B, x, <i64>C * H * W * B), "avgPool2d: Y overlaps X");
  }
  const strideB = <usize>B << 2;
  const B4 = B & ~3;
  const inv: f32 = <f32>1 / <f32>(k * k);
  const vinv = f32x4.splat(inv);
  for (let c = 0; c < C; c++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const first = x + <usize>((c * H + oy * s) * W + ox * s) * strideB;
        const out = y + <usize>((c * OH + oy) * OW + ox) * strideB;
        for (let b = 0; b < B4; b += 4) {
          const bo = <usize>b << 2;
          let a = f32x4.splat(0);
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) a = f32x4.add(a, v128.load(r + <usize>kx * strideB));
          }
          v128.store(out + bo, f32x4.mul(a, vinv));
        }
        for (let b = B4; b < B; b++) {
          const bo = <usize>b << 2;
          let a: f32 = 0;
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) a += load<f32>(r + <usize>kx * strideB);
          }
          store<f32>(out + bo, a * inv);
        }
      }
    }
  }
}

/** dX[C·H·W, B] = Σ over windows of dY/k² at every tap of the window (overlapping windows add up). */
export function avgPool2dBackward(
  C: i32, H: i32, W: i32, OH: i32, OW: i32, k: i32, s: i32, B: i32, dy: usize, dx: usize,
): void {
  if (!ASC_NO_ASSERT) {
    assert(geometry(C, H, W, OH, OW, k, s, B), "avgPool2dBackward: OH×OW must be the k×k windows at stride s in H×W");
    assert(inside(dy, <i64>C * OH * OW * B), "avgPool2dBackward: dY outside memory");
    assert(inside(dx, <i64>C * H * W * B), "avgPool2dBackward: dX outside memory");
    assert(apart(dx, <i64>C * H * W * B, dy, <i64>C * OH * OW * B), "avgPool2dBackward: dX overlaps dY");
  }
  const strideB = <usize>B << 2;
  const B4 = B & ~3;
  const inv: f32 = <f32>1 / <f32>(k * k);
  const vinv = f32x4.splat(inv);
  memory.fill(dx, 0, <usize>(C * H * W) * strideB);
  for (let c = 0; c < C; c++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const first = dx + <usize>((c * H + oy * s) * W + ox * s) * strideB;
        const o = dy + <usize>((c * OH + oy) * OW + ox) * strideB;
        for (let b = 0; b < B4; b += 4) {
          const bo = <usize>b << 2;
          const g = f32x4.mul(v128.load(o + bo), vinv);
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) {
              const p = r + <usize>kx * strideB;
              v128.store(p, f32x4.add(v128.load(p), g));
            }
          }
        }
        for (let b = B4; b < B; b++) {
          const bo = <usize>b << 2;
          const g = load<f32>(o + bo) * inv;
          for (let ky = 0; ky < k; ky++) {
            const r = first + <usize>(ky * W) * strideB + bo;
            for (let kx = 0; kx < k; kx++) {
              const p = r + <usize>kx * strideB;
              store<f32>(p, load<f32>(p) + g);
            }
          }
        }
      }
    }
  }
}
