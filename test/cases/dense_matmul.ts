// Cases of denseMatmul (Y = W·X), denseMatmulBackward (dX = Wᵀ·dY) and denseMatmulBackwardWeights (dW = dY·Xᵀ)
// against the dense reference, over sizes that straddle the 4-row and 8-column register blocks.
import fc from "fast-check";
import { denseMatmul, denseMatmulBackward, denseMatmulBackwardWeights } from "../../src/ops/dense_matmul.js";
import * as ref from "../helpers/reference.js";
import { abs, batchArb, expectClose, guardedOutput, values, type KernelCase } from "./case.js";

export interface DenseParams {
  m: number;
  k: number;
  B: number;
  bias: boolean;
  relu: boolean;
  seed: number;
}

/** Sizes 1–70, often the edges of the register blocks. */
export const dim = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9));

export const denseMatmulCase: KernelCase<DenseParams> = {
  name: "denseMatmul = W·X (+ bias) (ReLU)",
  op: "denseMatmul",
  kernels: ["denseMatmul"],
  arb: fc.record({ m: dim, k: dim, B: batchArb, bias: fc.boolean(), relu: fc.boolean(), seed: fc.integer() }),
  runs: 50,
  setup(s, { m, k, B, bias: withBias, relu, seed }) {
    const w = values(seed, m * k),
      x = values(seed + 1, k * B),
      bias = values(seed + 2, m);
    const W = s.dense(m, k, w),
      X = s.matrix(k, B, x),
      b = withBias ? s.f32(bias) : undefined;
    const Y = guardedOutput(s, m, B);
    return {
      flops: 2 * m * k * B,
      run: () => denseMatmul(W, X, Y.m, { bias: b, relu }),
      check() {
        const bb = withBias ? bias : undefined;
        expectClose("Y", Y.m.view(), ref.matmul(w, m, k, x, B, bb, relu), ref.matmulScale(w, m, k, x, B, bb));
        Y.intact();
      },
    };
  },
  perf: () => [
    { label: "40×800, batch 256, bias, ReLU", params: { m: 40, k: 800, B: 256, bias: true, relu: true, seed: 1 } },
  ],
};

export const denseMatmulBackwardCase: KernelCase<Omit<DenseParams, "bias" | "relu">> = {
  name: "denseMatmulBackward = Wᵀ·dY",
  op: "denseMatmulBackward",
  kernels: ["denseMatmul"],
  arb: fc.record({ m: dim, k: dim, B: batchArb, seed: fc.integer() }),
  runs: 50,
  setup(s, { m, k, B, seed }) {
    const w = values(seed, m * k),
      dy = values(seed + 1, m * B);
    const W = s.dense(m, k, w),
      dY = s.matrix(m, B, dy);
    const dX = guardedOutput(s, k, B);
    return {
      flops: 2 * m * k * B,
      run: () => denseMatmulBackward(W, dY, dX.m),
      check() {
        const scale = ref.matmulScale(ref.transpose(w, m, k), k, m, dy, B);
        expectClose("dX", dX.m.view(), ref.matmulT(w, m, k, dy, B), scale);
        dX.intact();
      },
    };
  },
  perf: () => [{ label: "40×800, batch 256", params: { m: 40, k: 800, B: 256, seed: 1 } }],
};

export const denseMatmulBackwardWeightsCase: KernelCase<Omit<DenseParams, "relu">> = {
  name: "denseMatmulBackwardWeights = dY·Xᵀ and dBias = row sums of dY",
  op: "denseMatmulBackwardWeights",
  kernels: ["denseGradW"],
  arb: fc.record({ m: dim, k: dim, B: batchArb, bias: fc.boolean(), seed: fc.integer() }),
  runs: 50,
  setup(s, { m, k, B, bias: withBias, seed }) {
    const dy = values(seed, m * B),
      x = values(seed + 1, k * B);
    const W = s.dense(m, k, values(seed + 2, m * k)),
      dY = s.matrix(m, B, dy),
      X = s.matrix(k, B, x);
    const dW = s.f32(m * k);
    dW.view().fill(NaN);
    const dBias = withBias ? s.f32(m) : undefined;
    dBias?.view().fill(NaN);
    return {
      flops: 2 * m * k * B,
      run: () => denseMatmulBackwardWeights(W, dY, X, dW, dBias),
      check() {
        expectClose("dW", dW.view(), ref.gradW(dy, m, x, k, B), ref.gradW(abs(dy), m, abs(x), k, B));
        if (dBias) expectClose("dBias", dBias.view(), ref.rowSums(dy, m, B), ref.rowSums(abs(dy), m, B));
      },
    };
  },
  perf: () => [{ label: "40×800, batch 256, bias", params: { m: 40, k: 800, B: 256, bias: true, seed: 1 } }],
};

export const DENSE_MATMUL_CASES = [denseMatmulCase, denseMatmulBackwardCase, denseMatmulBackwardWeightsCase];
