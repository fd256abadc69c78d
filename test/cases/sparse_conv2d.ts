// Cases of sparseConv2d / sparseConv2dBackward / sparseConv2dBackwardWeights against the dense float64 convolution
// on pattern- and tap-masked weights.
import fc from "fast-check";
import {
  ConvWeights,
  sparseConv2d,
  sparseConv2dBackward,
  sparseConv2dBackwardWeights,
} from "../../src/ops/sparse_conv2d.js";
import { Pattern } from "../../src/sparsity/pattern.js";
import * as ref from "../helpers/conv_reference.js";
import {
  abs,
  expectClose,
  expectEqual,
  fixedDegrees,
  guardedOutput,
  values,
  type KernelCase,
  type Scope,
} from "./case.js";

export interface ConvParams {
  g: ref.ConvGeom;
  B: number;
  pattern: Pattern;
  taps?: number[];
  seed: number;
}

// Channel counts 1–6, every pattern kind (fixed-degree at a feasible degree, dense, random with empty rows),
// kernels 1–3 (non-square too), stride 1–2, padding 0–1, images 3–8, batches that end every SIMD tile.
export const convArb: fc.Arbitrary<ConvParams> = fc
  .record({
    inC: fc.integer({ min: 1, max: 6 }),
    outC: fc.integer({ min: 1, max: 6 }),
    H: fc.integer({ min: 3, max: 8 }),
    W: fc.integer({ min: 3, max: 8 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    padding: fc.integer({ min: 0, max: 1 }),
    B: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(15, 16, 17, 23, 24, 25, 40, 41, 47, 48, 49, 67)),
    kind: fc.constantFrom("fixedDegree", "dense", "random"),
    tapKind: fc.constantFrom("all", "all", "shared", "perConnection"),
    pick: fc.nat(),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .map((r) => {
    const g = { inC: r.inC, outC: r.outC, H: r.H, W: r.W, kh: r.kh, kw: r.kw, stride: r.stride, padding: r.padding };
    const degrees = fixedDegrees(r.inC, r.outC);
    const pattern =
      r.kind === "dense"
        ? Pattern.dense(r.inC, r.outC)
        : r.kind === "random"
          ? Pattern.random(r.inC, r.outC, 0.5, r.seed)
          : Pattern.fixedDegree(r.inC, r.outC, degrees[r.pick % degrees.length]!, r.seed);
    const K = r.kh * r.kw;
    const bits = values(r.seed + 9, pattern.nnz * K, 1);
    const taps =
      r.tapKind === "all"
        ? undefined
        : r.tapKind === "shared"
          ? Array.from({ length: K }, (_, t) => (bits[t]! > 0 || t === 0 ? 1 : 0))
          : Array.from(bits, (v) => (v > 0 ? 1 : 0));
    return { g, B: r.B, pattern, taps, seed: r.seed };
  });

/** bench/conv.mjs's layer: 32 → 64 channels, 3×3, padding 1, 14×14, batch 64; here at 25% channel density. */
export const CONV_BENCH_GEOMETRY = { inC: 32, outC: 64, H: 14, W: 14, kh: 3, kw: 3, stride: 1, padding: 1 };
const CONV_BENCH_LABEL = "32→64 ch (25%), 3×3, 14×14, batch 64";
const convBench = (): ConvParams => ({
  g: CONV_BENCH_GEOMETRY,
  B: 64,
  pattern: Pattern.fixedDegree(32, 64, 16, 1),
  seed: 1,
});

// The layer's weights, freed with the scope, and the stored values' places in the dense [outC, inC, kh, kw] tensor.
function weights(s: Scope, { g, pattern, taps }: ConvParams): { Wt: ConvWeights; index: number[] } {
  const Wt = s.keep(new ConvWeights(s.engine, g, pattern, { taps }));
  const index = ref.storedIndex(g, pattern, taps);
  if (Wt.nnz !== index.length) throw new Error(`ConvWeights stores ${Wt.nnz} taps, the reference ${index.length}`);
  return { Wt, index };
}

export const sparseConv2dCase: KernelCase<ConvParams & { bias: boolean; relu: boolean }> = {
  name: "sparseConv2d = dense convolution of the masked weights (+ bias) (ReLU)",
  op: "sparseConv2d",
  kernels: ["sparseConv2d"],
  arb: fc
    .record({ c: convArb, bias: fc.boolean(), relu: fc.boolean() })
    .map(({ c, bias, relu }) => ({ ...c, bias, relu })),
  runs: 80,
  debugRuns: 25,
  setup(s, c) {
    const { g, B, seed, bias: withBias, relu } = c;
    const { Wt, index } = weights(s, c);
    const v = values(seed, Wt.nnz),
      x = values(seed + 1, g.inC * g.H * g.W * B),
      bias = values(seed + 2, g.outC);
    Wt.values.view().set(v);
    const X = s.matrix(g.inC * g.H * g.W, B, x);
    const b = withBias ? s.f32(bias) : undefined;
    const Y = guardedOutput(s, Wt.outputSize, B);
    return {
      flops: 2 * Wt.macsPerSample() * B,
      run: () => sparseConv2d(Wt, X, Y.m, { bias: b, relu }),
      check() {
        const w = ref.denseWeights(g, index, v);
        const want = ref.conv2d(g, w, x, B, withBias ? bias : undefined, relu);
        expectClose("Y", Y.m.view(), want, ref.conv2d(g, abs(w), abs(x), B, withBias ? abs(bias) : undefined));
        Y.intact();
        expectEqual("X after sparseConv2d", X.view(), x);
      },
    };
  },
  perf: () => [{ label: CONV_BENCH_LABEL, params: { ...convBench(), bias: true, relu: true } }],
};

export const sparseConv2dBackwardCase: KernelCase<ConvParams> = {
  name: "sparseConv2dBackward (input gradient) = transposed dense convolution, any stride",
  op: "sparseConv2dBackward",
  kernels: ["sparseConv2dBackwardInput"],
  arb: convArb,
  runs: 80,
  debugRuns: 25,
  setup(s, c) {
    const { g, B, seed } = c;
    const { Wt, index } = weights(s, c);
    const v = values(seed, Wt.nnz);
    Wt.values.view().set(v);
    const dy = values(seed + 1, Wt.outputSize * B);
    const dY = s.matrix(Wt.outputSize, B, dy);
    const dX = guardedOutput(s, Wt.inputSize, B);
    return {
      flops: 2 * Wt.macsPerSample() * B,
      run: () => sparseConv2dBackward(Wt, dY, dX.m),
      check() {
        const w = ref.denseWeights(g, index, v);
        const scale = ref.conv2dBackwardInput(g, abs(w), abs(dy), B);
        expectClose("dX", dX.m.view(), ref.conv2dBackwardInput(g, w, dy, B), scale);
        dX.intact();
      },
    };
  },
  perf: () => [{ label: CONV_BENCH_LABEL, params: convBench() }],
};

export const sparseConv2dBackwardWeightsCase: KernelCase<ConvParams & { bias: boolean }> = {
  name: "sparseConv2dBackwardWeights = weight gradient at the stored taps only, and the bias gradient",
  op: "sparseConv2dBackwardWeights",
  kernels: ["sparseConv2dBackwardWeights"],
  arb: fc.record({ c: convArb, bias: fc.boolean() }).map(({ c, bias }) => ({ ...c, bias })),
  runs: 80,
  debugRuns: 25,
  setup(s, c) {
    const { g, B, seed, bias: withBias } = c;
    const { Wt, index } = weights(s, c);
    const dy = values(seed, Wt.outputSize * B),
      x = values(seed + 1, Wt.inputSize * B);
    const dY = s.matrix(Wt.outputSize, B, dy),
      X = s.matrix(Wt.inputSize, B, x);
    const dV = s.f32(Wt.nnz);
    dV.view().fill(NaN);
    const dB = withBias ? s.f32(g.outC) : undefined;
    dB?.view().fill(NaN);
    return {
      flops: 2 * Wt.macsPerSample() * B,
      run: () => sparseConv2dBackwardWeights(Wt, dY, X, dV, dB),
      check() {
        const dw = ref.conv2dBackwardWeights(g, dy, x, B),
          scale = ref.conv2dBackwardWeights(g, abs(dy), abs(x), B);
        expectClose(
          "dValues",
          dV.view(),
          index.map((d) => dw[d]!),
          index.map((d) => scale[d]!),
        );
        const positions = Wt.outH * Wt.outW;
        if (dB) {
          expectClose(
            "dBias",
            dB.view(),
            ref.conv2dBackwardBias(g.outC, positions, dy, B),
            ref.conv2dBackwardBias(g.outC, positions, abs(dy), B),
          );
        }
      },
    };
  },
  perf: () => [{ label: CONV_BENCH_LABEL, params: { ...convBench(), bias: true } }],
};

export const SPARSE_CONV2D_CASES = [sparseConv2dCase, sparseConv2dBackwardCase, sparseConv2dBackwardWeightsCase];
