// Cases of maxPool2d / avgPool2d and their backward passes against the float64 reference (ties: first maximum wins).
import fc from "fast-check";
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, pool2dShape } from "../../src/ops/pool2d.js";
import * as ref from "../helpers/conv_reference.js";
import { abs, expectClose, expectEqual, values, type KernelCase, type Scope } from "./case.js";

export interface PoolParams {
  C: number;
  H: number;
  W: number;
  k: number;
  stride: number;
  B: number;
  seed: number;
}

// Windows 1–3 at strides 1–3 (overlapping, tiling and gapped), images 3–8, batches across the SIMD tail.
export const poolArb: fc.Arbitrary<PoolParams> = fc.record({
  C: fc.integer({ min: 1, max: 6 }),
  H: fc.integer({ min: 3, max: 8 }),
  W: fc.integer({ min: 3, max: 8 }),
  k: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 3 }),
  B: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(15, 16, 17, 33)),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

// The first pooling of the sparse CNN the README trains, at batch 64.
const cnnPool: PoolParams = { C: 16, H: 28, W: 28, k: 2, stride: 2, B: 64, seed: 1 };

// The geometry, X and dY (values() repeats small integers and zeros, so windows with tied maxima are common), Y, dX.
function operands(s: Scope, { B, seed, ...geo }: PoolParams) {
  const g = pool2dShape("test", geo);
  const x = values(seed, g.C * g.H * g.W * B),
    dy = values(seed + 1, g.C * g.outH * g.outW * B);
  const X = s.matrix(g.C * g.H * g.W, B, x),
    Y = s.matrix(g.C * g.outH * g.outW, B);
  const dY = s.matrix(Y.rows, B, dy),
    dX = s.matrix(X.rows, B);
  Y.view().fill(NaN);
  dX.view().fill(NaN);
  return { g, r: { ...g }, x, dy, X, Y, dY, dX, B };
}

export const maxPool2dCase: KernelCase<PoolParams> = {
  name: "maxPool2d = the reference's window maximum, exactly",
  op: "maxPool2d",
  kernels: ["maxPool2d"],
  arb: poolArb,
  runs: 80,
  debugRuns: 25,
  setup(s, p) {
    const { g, r, x, X, Y, B } = operands(s, p);
    return {
      flops: g.C * g.outH * g.outW * g.k * g.k * B,
      run: () => maxPool2d(g, X, Y),
      check: () => expectEqual("Y", Y.view(), ref.pool2d("max", r, x, B).y),
    };
  },
  perf: () => [{ label: "16×28×28, 2×2, batch 64", params: cnnPool }],
};

export const maxPool2dBackwardCase: KernelCase<PoolParams> = {
  name: "maxPool2dBackward = the reference's gradient (to the first maximum of each window)",
  op: "maxPool2dBackward",
  kernels: ["maxPool2dBackward"],
  arb: poolArb,
  runs: 80,
  debugRuns: 25,
  setup(s, p) {
    const { g, r, x, dy, X, Y, dY, dX, B } = operands(s, p);
    maxPool2d(g, X, Y);
    return {
      flops: g.C * g.outH * g.outW * g.k * g.k * B,
      run: () => maxPool2dBackward(g, X, Y, dY, dX),
      check: () => {
        const scale = ref.pool2dBackward("max", r, x, abs(dy), B);
        expectClose("dX", dX.view(), ref.pool2dBackward("max", r, x, dy, B), scale);
      },
    };
  },
  perf: () => [{ label: "16×28×28, 2×2, batch 64", params: cnnPool }],
};

export const avgPool2dCase: KernelCase<PoolParams> = {
  name: "avgPool2d = the reference's window mean",
  op: "avgPool2d",
  kernels: ["avgPool2d"],
  arb: poolArb,
  runs: 80,
  debugRuns: 25,
  setup(s, p) {
    const { g, r, x, X, Y, B } = operands(s, p);
    return {
      flops: g.C * g.outH * g.outW * g.k * g.k * B,
      run: () => avgPool2d(g, X, Y),
      check: () => expectClose("Y", Y.view(), ref.pool2d("avg", r, x, B).y, ref.pool2d("avg", r, abs(x), B).y),
    };
  },
  perf: () => [{ label: "16×28×28, 2×2, batch 64", params: cnnPool }],
};

export const avgPool2dBackwardCase: KernelCase<PoolParams> = {
  name: "avgPool2dBackward = the reference's gradient (dY/k² to every tap of each window)",
  op: "avgPool2dBackward",
  kernels: ["avgPool2dBackward"],
  arb: poolArb,
  runs: 80,
  debugRuns: 25,
  setup(s, p) {
    const { g, r, x, dy, dY, dX, B } = operands(s, p);
    return {
      flops: g.C * g.outH * g.outW * g.k * g.k * B,
      run: () => avgPool2dBackward(g, dY, dX),
      check: () => {
        const scale = ref.pool2dBackward("avg", r, x, abs(dy), B);
        expectClose("dX", dX.view(), ref.pool2dBackward("avg", r, x, dy, B), scale);
      },
    };
  },
  perf: () => [{ label: "16×28×28, 2×2, batch 64", params: cnnPool }],
};

export const POOL2D_CASES = [maxPool2dCase, maxPool2dBackwardCase, avgPool2dCase, avgPool2dBackwardCase];
