// P[c,b] = exp(Z[c,b] − max_c Z) / Σ_c exp(·);  loss = −(1/B) Σ_b log P[label_b, b];  dZ = (P − onehot)/B.
// Each column is independent: ld (≥ B) is the row stride of Z, P and dZ in floats, so a thread may take columns
// [b0, b1) of a wider matrix as the B = b1 − b0 columns starting at z + 4·b0.
import { indices, inside, sameOrApart } from "./checks";

// Floats a [C, B] matrix of row stride ld spans.
@inline function span(C: i32, B: i32, ld: i32): i64 {
  return C == 0 || B == 0 ? 0 : <i64>(C - 1) * ld + B;
}

/** Softmax over the C classes of each of B columns of Z[C, ld]; writes P[C, ld] (P may alias Z). */
export function softmax(C: i32, B: i32, z: usize, p: usize, ld: i32): void {
  if (!ASC_NO_ASSERT) {
    assert(C >= 0 && B >= 0 && ld >= B, "softmax: C and B must be ≥ 0, ld ≥ B");
    assert(inside(z, span(C, B, ld)), "softmax: Z outside memory");
    assert(inside(p, span(C, B, ld)), "softmax: P outside memory");
    assert(sameOrApart(p, span(C, B, ld), z, span(C, B, ld)), "softmax: P overlaps Z without being it");
  }
  const stride = <usize>ld << 2;
  for (let b = 0; b < B; b++) {
    const col = <usize>b << 2;
    let mx: f32 = -Infinity;
    for (let c = 0; c < C; c++) mx = max(mx, load<f32>(z + <usize>c * stride + col));
    let sum: f32 = 0;
    for (let c = 0; c < C; c++) {
      const e = Mathf.exp(load<f32>(z + <usize>c * stride + col) - mx);
      store<f32>(p + <usize>c * stride + col, e);
      sum += e;
    }
    const inv: f32 = 1 / sum;
    for (let c = 0; c < C; c++) {
      const q = p + <usize>c * stride + col;
      store<f32>(q, load<f32>(q) * inv);
    }
  }
}

/**
 * Mean cross-entropy of softmax(Z) against labels[B] (i32); writes dZ = (softmax(Z) − onehot)/n if dz ≠ 0, where n is
 * the whole batch (n = B for one call; a thread's columns of a batch pass the batch's n). If losses ≠ 0, each column's
 * term (f64) is also stored there: summed in column order and divided by n, they give the mean this call returns.
 */
export function softmaxCrossEntropy(
  C: i32, B: i32, z: usize, labels: usize, dz: usize, ld: i32, n: i32, losses: usize,
): f64 {
  if (!ASC_NO_ASSERT) {
    assert(C >= 0 && B >= 0 && ld >= B && n >= B, "softmaxCrossEntropy: C and B must be ≥ 0, ld and n ≥ B");
    assert(inside(z, span(C, B, ld)), "softmaxCrossEntropy: Z outside memory");
    assert(indices(labels, B, C), "softmaxCrossEntropy: labels must lie in memory and hold classes in [0, C)");
    if (dz != 0) {
      assert(inside(dz, span(C, B, ld)), "softmaxCrossEntropy: dZ outside memory");
      assert(sameOrApart(dz, span(C, B, ld), z, span(C, B, ld)), "softmaxCrossEntropy: dZ overlaps Z without being it");
    }
    if (losses != 0) {
      assert((losses & 7) == 0 && inside(losses, <i64>B * 2),
        "softmaxCrossEntropy: losses (B f64) outside memory or unaligned");
    }
  }
  const stride = <usize>ld << 2;
  const invB: f32 = 1 / <f32>n;
  let total: f64 = 0;
  for (let b = 0; b < B; b++) {
    const col = <usize>b << 2;
    const label = load<i32>(labels + col);
    let mx: f32 = -Infinity;
    for (let c = 0; c < C; c++) mx = max(mx, load<f32>(z + <usize>c * stride + col));
    let sum: f32 = 0;
    for (let c = 0; c < C; c++) sum += Mathf.exp(load<f32>(z + <usize>c * stride + col) - mx);
    const logSum = Mathf.log(sum);
    const term = <f64>(logSum - (load<f32>(z + <usize>label * stride + col) - mx));
    if (losses != 0) store<f64>(losses + (<usize>b << 3), term);
    total += term;
    if (dz != 0) {
      const inv: f32 = 1 / sum;
      for (let c = 0; c < C; c++) {
        const pc = Mathf.exp(load<f32>(z + <usize>c * stride + col) - mx) * inv;
        store<f32>(dz + <usize>c * stride + col, (pc - (c == label ? <f32>1 : <f32>0)) * invB);
      }
    }
  }
  return total / <f64>n;
}

