// ReLU:  y = max(x, 0);  dX = dY ⊙ [y > 0]  (y is the layer's post-activation output).
import { inside, sameOrApart } from "./checks";

/** In place: y[i] = max(y[i], 0) for n floats. */
export function reluForward(n: i32, y: usize): void {
  if (!ASC_NO_ASSERT) assert(inside(y, n), "reluForward: Y outside memory");
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = y + (<usize>i << 2);
    v128.store(p, f32x4.max(v128.load(p), zero));
  }
  for (; i < n; i++) {
    const p = y + (<usize>i << 2);
    // f32.max like the vector lanes: NaN stays NaN
    store<f32>(p, max<f32>(load<f32>(p), 0));
  }
}

/** dx[i] = y[i] > 0 ? dy[i] : 0 for n floats (dx may alias dy). */
export function reluBackward(n: i32, y: usize, dy: usize, dx: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(inside(y, n), "reluBackward: Y outside memory");
    assert(inside(dy, n), "reluBackward: dY outside memory");
    assert(inside(dx, n), "reluBackward: dX outside memory");
    assert(sameOrApart(dx, n, dy, n), "reluBackward: dX overlaps dY without being it");
    assert(sameOrApart(dx, n, y, n), "reluBackward: dX overlaps Y without being it");
  }
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const mask = f32x4.gt(v128.load(y + off), zero);
    v128.store(dx + off, v128.and(v128.load(dy + off), mask));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(dx + off, load<f32>(y + off) > 0 ? load<f32>(dy + off) : 0);
  }
}
