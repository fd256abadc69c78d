// y += x;  x *= s;  dst[r, j] = src[r, cols[j]] (column gather: compacts the samples that continue past an exit)
import { apart, indices, inside, reach, sameOrApart } from "./checks";

/** y[i] += x[i] for n floats. */
export function addInPlace(n: i32, y: usize, x: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(inside(y, n), "addInPlace: y outside memory");
    assert(inside(x, n), "addInPlace: x outside memory");
    assert(sameOrApart(y, n, x, n), "addInPlace: y overlaps x without being it");
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.add(v128.load(y + off), v128.load(x + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + load<f32>(x + off));
  }
}

/** x[i] *= s for n floats. */
export function scaleInPlace(n: i32, x: usize, s: f32): void {
  if (!ASC_NO_ASSERT) assert(inside(x, n), "scaleInPlace: x outside memory");
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(x + off, f32x4.mul(v128.load(x + off), vs));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, load<f32>(x + off) * s);
  }
}

/** dst[rows, n] = src[rows, B] restricted to the n columns listed in cols (i32, each < B). */
export function gatherColumns(rows: i32, B: i32, src: usize, cols: usize, n: i32, dst: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(rows >= 0 && B >= 0 && n >= 0, "gatherColumns: rows, B and n must be ≥ 0");
    assert(inside(src, <i64>rows * B), "gatherColumns: src outside memory");
    assert(indices(cols, n, B), "gatherColumns: cols must lie in memory and hold columns in [0, B)");
    assert(inside(dst, <i64>rows * n), "gatherColumns: dst outside memory");
    assert(apart(dst, <i64>rows * n, src, <i64>rows * B), "gatherColumns: dst overlaps src");
  }
  for (let r = 0; r < rows; r++) {
    const s = src + <usize>r * (<usize>B << 2);
    const d = dst + <usize>r * (<usize>n << 2);
    for (let j = 0; j < n; j++) {
      store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>load<i32>(cols + (<usize>j << 2)) << 2)));
    }
  }
}

/** dst[f, j] = src[idx[j]·F + f] for j < B: sample-major rows (a dataset) → a feature-major batch [F, B]. */
export function gatherSamples(F: i32, src: usize, idx: usize, B: i32, dst: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(F >= 0 && B >= 0, "gatherSamples: F and B must be ≥ 0");
    assert(indices(idx, B, -1), "gatherSamples: idx must lie in memory and hold sample indices ≥ 0");
    const n = reach(idx, B);
    assert(inside(src, <i64>n * F), "gatherSamples: src (as many samples as idx reaches) outside memory");
    assert(inside(dst, <i64>F * B), "gatherSamples: dst outside memory");
    assert(apart(dst, <i64>F * B, src, <i64>n * F), "gatherSamples: dst overlaps src");
  }
  const rowBytes = <usize>F << 2;
  const stride = <usize>B << 2;
  let j = 0;
  for (; j + 4 <= B; j += 4) {
    const s0 = src + <usize>load<i32>(idx + (<usize>j << 2)) * rowBytes;
    const s1 = src + <usize>load<i32>(idx + (<usize>j << 2), 4) * rowBytes;
    const s2 = src + <usize>load<i32>(idx + (<usize>j << 2), 8) * rowBytes;
    const s3 = src + <usize>load<i32>(idx + (<usize>j << 2), 12) * rowBytes;
    let d = dst + (<usize>j << 2);
    for (let f: usize = 0; f < rowBytes; f += 4) {
      let v = f32x4.splat(load<f32>(s0 + f));
      v = f32x4.replace_lane(v, 1, load<f32>(s1 + f));
      v = f32x4.replace_lane(v, 2, load<f32>(s2 + f));
      v = f32x4.replace_lane(v, 3, load<f32>(s3 + f));
      v128.store(d, v);
      d += stride;
    }
  }
  for (; j < B; j++) {
    const s = src + <usize>load<i32>(idx + (<usize>j << 2)) * rowBytes;
    let d = dst + (<usize>j << 2);
    for (let f: usize = 0; f < rowBytes; f += 4) {
      store<f32>(d, load<f32>(s + f));
      d += stride;
    }
  }
}
