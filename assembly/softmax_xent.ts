// P[c,b] = exp(Z[c,b] − max_c Z) / Σ_c exp(·);  loss = −(1/B) Σ_b log P[label_b, b];  dZ = (P − onehot)/B.
import { indices, inside, sameOrApart } from "./checks";

/** Softmax over the C classes of each of B columns of Z[C,B]; writes P[C,B] (P may alias Z). */
export function softmax(C: i32, B: i32, z: usize, p: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(C >= 0 && B >= 0, "softmax: C and B must be ≥ 0");
    assert(inside(z, <i64>C * B), "softmax: Z outside memory");
    assert(inside(p, <i64>C * B), "softmax: P outside memory");
    assert(sameOrApart(p, <i64>C * B, z, <i64>C * B), "softmax: P overlaps Z without being it");
  }
  const stride = <usize>B << 2;
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

/** Mean cross-entropy of softmax(Z) against labels[B] (i32); writes dZ[C,B] = (softmax(Z) − onehot)/B if dz ≠ 0. */
export function softmaxCrossEntropy(C: i32, B: i32, z: usize, labels: usize, dz: usize): f64 {
  if (!ASC_NO_ASSERT) {
    assert(C >= 0 && B >= 0, "softmaxCrossEntropy: C and B must be ≥ 0");
    assert(inside(z, <i64>C * B), "softmaxCrossEntropy: Z outside memory");
    assert(indices(labels, B, C), "softmaxCrossEntropy: labels must lie in memory and hold classes in [0, C)");
    if (dz != 0) {
      assert(inside(dz, <i64>C * B), "softmaxCrossEntropy: dZ outside memory");
      assert(sameOrApart(dz, <i64>C * B, z, <i64>C * B), "softmaxCrossEntropy: dZ overlaps Z without being it");
    }
  }
  const stride = <usize>B << 2;
  const invB: f32 = 1 / <f32>B;
  let total: f64 = 0;
  for (let b = 0; b < B; b++) {
    const col = <usize>b << 2;
    const label = load<i32>(labels + col);
    let mx: f32 = -Infinity;
    for (let c = 0; c < C; c++) mx = max(mx, load<f32>(z + <usize>c * stride + col));
    let sum: f32 = 0;
    for (let c = 0; c < C; c++) sum += Mathf.exp(load<f32>(z + <usize>c * stride + col) - mx);
    const logSum = Mathf.log(sum);
    total += <f64>(logSum - (load<f32>(z + <usize>label * stride + col) - mx));
    if (dz != 0) {
      const inv: f32 = 1 / sum;
      for (let c = 0; c < C; c++) {
        const pc = Mathf.exp(load<f32>(z + <usize>c * stride + col) - mx) * inv;
        store<f32>(dz + <usize>c * stride + col, (pc - (c == label ? <f32>1 : <f32>0)) * invB);
      }
    }
  }
  return total / <f64>B;
}

