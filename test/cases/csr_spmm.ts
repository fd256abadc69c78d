// Cases of csrSpmm / csrSpmmBackward / csrSpmmBackwardWeights (and the rowSums kernel) against the dense reference
// on pattern-masked weights: every pattern kind (nnz = 0, empty rows, dense), batches across the SIMD tails.
import fc from "fast-check";
import { csrSpmm, csrSpmmBackward, csrSpmmBackwardWeights } from "../../src/ops/csr_spmm.js";
import { Pattern } from "../../src/sparsity/pattern.js";
import * as ref from "../helpers/reference.js";
import {
  abs,
  batchArb,
  expectClose,
  expectEqual,
  guardedOutput,
  patternOf,
  patternSpecArb,
  values,
  type KernelCase,
  type PatternArg,
} from "./case.js";

export interface CsrParams {
  pattern: PatternArg;
  B: number;
  bias: boolean;
  relu: boolean;
  seed: number;
}

// The paper's first layer, 800 → 40 at out-degree 2 (5%), at the training batch.
const paperLayer = () => ({ label: "800→40 (deg 2), batch 256", pattern: Pattern.fixedDegree(800, 40, 2, 1), B: 256 });

const csrArb: fc.Arbitrary<CsrParams> = fc.record({
  pattern: patternSpecArb(),
  B: batchArb,
  bias: fc.boolean(),
  relu: fc.boolean(),
  seed: fc.integer(),
});

export const csrSpmmCase: KernelCase<CsrParams> = {
  name: "csrSpmm = W·X (+ bias) (ReLU) with W the pattern-masked dense matrix",
  op: "csrSpmm",
  kernels: ["csrSpmm", "csrSpmmBlock"],
  arb: csrArb,
  runs: 50,
  setup(s, { pattern, B, bias: withBias, relu, seed }) {
    const p = patternOf(pattern);
    const v = values(seed, p.nnz),
      x = values(seed + 1, p.inputs * B),
      bias = values(seed + 2, p.outputs);
    const A = s.csr(p, v);
    const X = s.matrix(p.inputs, B, x);
    const b = withBias ? s.f32(bias) : undefined;
    const Y = guardedOutput(s, p.outputs, B);
    return {
      flops: 2 * p.nnz * B,
      run: () => csrSpmm(A, X, Y.m, { bias: b, relu }),
      check() {
        const W = ref.maskedDense(p, v);
        const want = ref.matmul(W, p.outputs, p.inputs, x, B, withBias ? bias : undefined, relu);
        expectClose("Y", Y.m.view(), want, ref.matmulScale(W, p.outputs, p.inputs, x, B, withBias ? bias : undefined));
        Y.intact();
        expectEqual("X after csrSpmm", X.view(), x);
      },
    };
  },
  perf() {
    const { label, pattern, B } = paperLayer();
    const blocked = Pattern.fixedDegree(800, 40, 2, 1, { block: 2 });
    return [
      { label: `${label}, bias, ReLU`, params: { pattern, B, bias: true, relu: true, seed: 1 } },
      { label: `${label}, block 2, bias, ReLU`, params: { pattern: blocked, B, bias: true, relu: true, seed: 1 } },
    ];
  },
};

export const csrSpmmBackwardCase: KernelCase<Omit<CsrParams, "bias" | "relu">> = {
  name: "csrSpmmBackward = Wᵀ·dY through the CSC view",
  op: "csrSpmmBackward",
  kernels: ["csrSpmmT"],
  arb: fc.record({ pattern: patternSpecArb(), B: batchArb, seed: fc.integer() }),
  runs: 50,
  setup(s, { pattern, B, seed }) {
    const p = patternOf(pattern);
    const v = values(seed, p.nnz),
      dy = values(seed + 1, p.outputs * B);
    const A = s.csr(p, v);
    const dY = s.matrix(p.outputs, B, dy);
    const dX = guardedOutput(s, p.inputs, B);
    return {
      flops: 2 * p.nnz * B,
      run: () => csrSpmmBackward(A, dY, dX.m),
      check() {
        const W = ref.maskedDense(p, v),
          Wt = ref.transpose(W, p.outputs, p.inputs);
        expectClose(
          "dX",
          dX.m.view(),
          ref.matmulT(W, p.outputs, p.inputs, dy, B),
          ref.matmulScale(Wt, p.inputs, p.outputs, dy, B),
        );
        dX.intact();
      },
    };
  },
  perf() {
    const { label, pattern, B } = paperLayer();
    return [{ label, params: { pattern, B, seed: 1 } }];
  },
};

export const csrSpmmBackwardWeightsCase: KernelCase<Omit<CsrParams, "relu">> = {
  name: "csrSpmmBackwardWeights = (dY·Xᵀ) at the stored positions, and dBias = row sums of dY",
  op: "csrSpmmBackwardWeights",
  kernels: ["csrSddmm"],
  arb: fc.record({ pattern: patternSpecArb(), B: batchArb, bias: fc.boolean(), seed: fc.integer() }),
  runs: 50,
  setup(s, { pattern, B, bias: withBias, seed }) {
    const p = patternOf(pattern);
    const dy = values(seed, p.outputs * B),
      x = values(seed + 1, p.inputs * B);
    const A = s.csr(p, values(seed + 2, p.nnz));
    const dY = s.matrix(p.outputs, B, dy);
    const X = s.matrix(p.inputs, B, x);
    const dV = s.f32(p.nnz);
    dV.view().fill(NaN);
    const dBias = withBias ? s.f32(p.outputs) : undefined;
    dBias?.view().fill(NaN);
    return {
      flops: 2 * p.nnz * B,
      run: () => csrSpmmBackwardWeights(A, dY, X, dV, dBias),
      check() {
        expectClose(
          "dValues",
          dV.view(),
          ref.gatherPattern(p, ref.gradW(dy, p.outputs, x, p.inputs, B)),
          ref.gatherPattern(p, ref.gradW(abs(dy), p.outputs, abs(x), p.inputs, B)),
        );
        if (dBias) {
          expectClose("dBias", dBias.view(), ref.rowSums(dy, p.outputs, B), ref.rowSums(abs(dy), p.outputs, B));
        }
      },
    };
  },
  perf() {
    const { label, pattern, B } = paperLayer();
    return [{ label: `${label}, bias`, params: { pattern, B, bias: true, seed: 1 } }];
  },
};

export const rowSumsCase: KernelCase<{ m: number; B: number; seed: number }> = {
  name: "rowSums kernel: out[r] = Σ_b Y[r, b]",
  op: "rowSums",
  kernels: ["rowSums"],
  arb: fc.record({ m: fc.integer({ min: 0, max: 70 }), B: batchArb, seed: fc.integer() }),
  runs: 50,
  setup(s, { m, B, seed }) {
    const y = values(seed, m * B);
    const Y = s.matrix(m, B, y),
      out = guardedOutput(s, 1, m);
    return {
      flops: m * B,
      run: () => s.engine.kernels.rowSums(m, B, Y.ptr, out.m.ptr),
      check() {
        expectClose("out", out.m.view(), ref.rowSums(y, m, B), ref.rowSums(abs(y), m, B));
        out.intact();
      },
    };
  },
  perf: () => [{ label: "40×256", params: { m: 40, B: 256, seed: 1 } }],
};

export const CSR_SPMM_CASES = [csrSpmmCase, csrSpmmBackwardCase, csrSpmmBackwardWeightsCase, rowSumsCase];
