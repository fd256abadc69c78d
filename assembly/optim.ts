// Adam (Keras legacy form): m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w −= lrT · m / (√v + ε),
// lrT = lr_t·√(1−β2ᵗ)/(1−β1ᵗ) computed by the caller;  g includes l2·w.   SGD: u = μ·u − lr·g;  w += u.
// All arrays are nnz-long (stored connections only).
import { apart, inside } from "./checks";

/** One Adam step over n parameters. */
export function adamStep(
  n: i32, w: usize, g: usize, m: usize, v: usize, lrT: f32, b1: f32, b2: f32, eps: f32, l2: f32,
): void {
  if (!ASC_NO_ASSERT) {
    assert(inside(w, n), "adamStep: w outside memory");
    assert(inside(g, n), "adamStep: g outside memory");
    assert(inside(m, n), "adamStep: m outside memory");
    assert(inside(v, n), "adamStep: v outside memory");
    assert(apart(w, n, g, n), "adamStep: w overlaps g");
    assert(apart(m, n, w, n), "adamStep: m overlaps w");
    assert(apart(m, n, g, n), "adamStep: m overlaps g");
    assert(apart(v, n, w, n), "adamStep: v overlaps w");
    assert(apart(v, n, g, n), "adamStep: v overlaps g");
    assert(apart(v, n, m, n), "adamStep: v overlaps m");
  }
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), va1 = f32x4.splat(1 - b1), va2 = f32x4.splat(1 - b2);
  const vlr = f32x4.splat(lrT), veps = f32x4.splat(eps), vl2 = f32x4.splat(l2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const wv = v128.load(w + off);
    const gv = f32x4.add(v128.load(g + off), f32x4.mul(vl2, wv));
    const mv = f32x4.add(f32x4.mul(vb1, v128.load(m + off)), f32x4.mul(va1, gv));
    const vv = f32x4.add(f32x4.mul(vb2, v128.load(v + off)), f32x4.mul(va2, f32x4.mul(gv, gv)));
    v128.store(m + off, mv);
    v128.store(v + off, vv);
    v128.store(w + off, f32x4.sub(wv, f32x4.div(f32x4.mul(vlr, mv), f32x4.add(f32x4.sqrt(vv), veps))));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const wv = load<f32>(w + off);
    const gv = load<f32>(g + off) + l2 * wv;
    const mv = b1 * load<f32>(m + off) + (1 - b1) * gv;
    const vv = b2 * load<f32>(v + off) + (1 - b2) * gv * gv;
    store<f32>(m + off, mv);
    store<f32>(v + off, vv);
    store<f32>(w + off, wv - (lrT * mv) / (Mathf.sqrt(vv) + eps));
  }
}

/** One SGD step with momentum μ (μ = 0: plain SGD) over n parameters. */
export function sgdStep(n: i32, w: usize, g: usize, u: usize, lr: f32, mu: f32, l2: f32): void {
  if (!ASC_NO_ASSERT) {
    assert(inside(w, n), "sgdStep: w outside memory");
    assert(inside(g, n), "sgdStep: g outside memory");
    assert(inside(u, n), "sgdStep: u outside memory");
    assert(apart(w, n, g, n), "sgdStep: w overlaps g");
    assert(apart(u, n, w, n), "sgdStep: u overlaps w");
    assert(apart(u, n, g, n), "sgdStep: u overlaps g");
  }
  const vmu = f32x4.splat(mu), vlr = f32x4.splat(lr), vl2 = f32x4.splat(l2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const wv = v128.load(w + off);
    const gv = f32x4.add(v128.load(g + off), f32x4.mul(vl2, wv));
    const uv = f32x4.sub(f32x4.mul(vmu, v128.load(u + off)), f32x4.mul(vlr, gv));
    v128.store(u + off, uv);
    v128.store(w + off, f32x4.add(wv, uv));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const wv = load<f32>(w + off);
    const uv = mu * load<f32>(u + off) - lr * (load<f32>(g + off) + l2 * wv);
    store<f32>(u + off, uv);
    store<f32>(w + off, wv + uv);
  }
}
