// sparseConv2d / sparseConv2dBackward / sparseConv2dBackwardWeights against the dense float64 convolution on
// pattern- and tap-masked weights, finite differences through the SparseConv2d layer, and the typed errors.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConvWeights, FormatError, Pattern, PatternError, ShapeError, SparseConv2d, ValidationError,
  sparseConv2d, sparseConv2dBackward, sparseConv2dBackwardWeights,
} from "../src/index.js";
import { decodeLayer, encodeLayer } from "../src/io/model_io.js";
import * as ref from "./helpers/conv_reference.js";
import { abs, expectClose, fixedDegrees, getEngine, guardedOutput, scoped, values } from "./helpers/engine.js";

interface Case {
  g: ref.ConvGeom;
  B: number;
  pattern: Pattern;
  taps?: number[];
  seed: number;
}

// Channel counts 1–6, every pattern kind (fixed-degree at a feasible degree, dense, random with empty rows),
// kernels 1–3 (non-square too), stride 1–2, padding 0–1, images 3–8, batches that end every SIMD tile.
const caseArb: fc.Arbitrary<Case> = fc
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
      r.kind === "dense" ? Pattern.dense(r.inC, r.outC)
      : r.kind === "random" ? Pattern.random(r.inC, r.outC, 0.5, r.seed)
      : Pattern.fixedDegree(r.inC, r.outC, degrees[r.pick % degrees.length]!, r.seed);
    const K = r.kh * r.kw;
    const bits = values(r.seed + 9, pattern.nnz * K, 1);
    const taps = r.tapKind === "all" ? undefined
      : r.tapKind === "shared" ? Array.from({ length: K }, (_, t) => (bits[t]! > 0 || t === 0 ? 1 : 0))
      : Array.from(bits, (v) => (v > 0 ? 1 : 0));
    return { g, B: r.B, pattern, taps, seed: r.seed };
  });

describe.each([false, true])("sparse conv2d kernels (debug build: %s)", (debug) => {
  const runs = debug ? 25 : 80;

  it("forward = dense convolution of the masked weights (+ bias) (ReLU)", async () => {
    const engine = await getEngine(debug);
    fc.assert(
      fc.property(caseArb, fc.boolean(), fc.boolean(), ({ g, B, pattern, taps, seed }, withBias, relu) =>
        scoped(engine, (s) => {
          const Wt = new ConvWeights(engine, g, pattern, { taps });
          const index = ref.storedIndex(g, pattern, taps);
          expect(Wt.nnz).toBe(index.length);
          const v = values(seed, Wt.nnz), x = values(seed + 1, g.inC * g.H * g.W * B), bias = values(seed + 2, g.outC);
          Wt.values.view().set(v);
          const X = s.matrix(g.inC * g.H * g.W, B, x);
          const b = withBias ? s.f32(bias) : undefined;
          const Y = guardedOutput(s, Wt.outputSize, B);
          try {
            sparseConv2d(Wt, X, Y.m, { bias: b, relu });
            const w = ref.denseWeights(g, index, v);
            const want = ref.conv2d(g, w, x, B, withBias ? bias : undefined, relu);
            expectClose("Y", Y.m.view(), want, ref.conv2d(g, abs(w), abs(x), B, withBias ? abs(bias) : undefined));
            Y.intact();
            expect(X.view()).toEqual(x);
          } finally {
            Wt.dispose();
          }
        })),
      { numRuns: runs },
    );
  });

  it("input gradient = transposed dense convolution, any stride", async () => {
    const engine = await getEngine(debug);
    fc.assert(
      fc.property(caseArb, ({ g, B, pattern, taps, seed }) =>
        scoped(engine, (s) => {
          const Wt = new ConvWeights(engine, g, pattern, { taps });
          const v = values(seed, Wt.nnz);
          Wt.values.view().set(v);
          const dy = values(seed + 1, Wt.outputSize * B);
          const dY = s.matrix(Wt.outputSize, B, dy);
          const dX = guardedOutput(s, Wt.inputSize, B);
          try {
            sparseConv2dBackward(Wt, dY, dX.m);
            const w = ref.denseWeights(g, ref.storedIndex(g, pattern, taps), v);
            expectClose("dX", dX.m.view(), ref.conv2dBackwardInput(g, w, dy, B), ref.conv2dBackwardInput(g, abs(w), abs(dy), B));
            dX.intact();
          } finally {
            Wt.dispose();
          }
        })),
      { numRuns: runs },
    );
  });

  it("weight gradient at the stored taps only, and the bias gradient", async () => {
    const engine = await getEngine(debug);
    fc.assert(
      fc.property(caseArb, fc.boolean(), ({ g, B, pattern, taps, seed }, withBias) =>
        scoped(engine, (s) => {
          const Wt = new ConvWeights(engine, g, pattern, { taps });
          const dy = values(seed, Wt.outputSize * B), x = values(seed + 1, Wt.inputSize * B);
          const dY = s.matrix(Wt.outputSize, B, dy), X = s.matrix(Wt.inputSize, B, x);
          const dV = s.f32(Wt.nnz);
          dV.view().fill(NaN);
          const dB = withBias ? s.f32(g.outC) : undefined;
          dB?.view().fill(NaN);
          try {
            sparseConv2dBackwardWeights(Wt, dY, X, dV, dB);
            const index = ref.storedIndex(g, pattern, taps);
            const dw = ref.conv2dBackwardWeights(g, dy, x, B), scale = ref.conv2dBackwardWeights(g, abs(dy), abs(x), B);
            expectClose("dValues", dV.view(), index.map((d) => dw[d]!), index.map((d) => scale[d]!));
            const positions = Wt.outH * Wt.outW;
            if (dB) expectClose("dBias", dB.view(), ref.conv2dBackwardBias(g.outC, positions, dy, B), ref.conv2dBackwardBias(g.outC, positions, abs(dy), B));
          } finally {
            Wt.dispose();
          }
        })),
      { numRuns: runs },
    );
  });
});

describe("ConvWeights", () => {
  it("counts MACs as stored taps × output positions where the tap lands in the image", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(caseArb, ({ g, pattern, taps }) => {
        const Wt = new ConvWeights(engine, g, pattern, { taps });
        try {
          // one sample of ones through the masked dense reference with unit weights counts exactly those products
          const index = ref.storedIndex(g, pattern, taps);
          const ones = ref.conv2d(g, ref.denseWeights(g, index, index.map(() => 1)), new Float64Array(Wt.inputSize).fill(1), 1);
          expect(Wt.macsPerSample()).toBe(ones.reduce((a, b) => a + b, 0));
        } finally {
          Wt.dispose();
        }
      }),
      { numRuns: 40 },
    );
  });

  it("rejects bad geometry, patterns and masks with typed errors", async () => {
    const engine = await getEngine();
    const g = { inC: 4, outC: 8, H: 5, W: 5, kh: 3, kw: 3, stride: 1, padding: 1 };
    expect(() => new ConvWeights(engine, g, Pattern.dense(3, 8))).toThrow(PatternError);
    expect(() => new ConvWeights(engine, { ...g, H: 1, padding: 0 }, Pattern.dense(4, 8))).toThrow(/kernel 3×3 is larger than the padded input 1×5/);
    expect(() => new ConvWeights(engine, { ...g, stride: 0 }, Pattern.dense(4, 8))).toThrow(ValidationError);
    expect(() => new ConvWeights(engine, g, Pattern.dense(4, 8), { taps: [1, 0, 1] })).toThrow(/tap mask has 3 entries, expected kh·kw = 9 or connections·kh·kw = 288/);
    expect(() => new ConvWeights(engine, g, Pattern.dense(4, 8), { values: [1, 2] })).toThrow(/2 values for 288 stored taps/);
    scoped(engine, (s) => {
      const Wt = new ConvWeights(engine, g, Pattern.dense(4, 8));
      try {
        expect(() => sparseConv2d(Wt, s.matrix(99, 2), s.matrix(200, 2))).toThrow(/sparseConv2d: X has 99 rows, expected 100/);
        expect(() => sparseConv2d(Wt, s.matrix(100, 2), s.matrix(200, 3))).toThrow(ShapeError);
        expect(() => sparseConv2dBackward(Wt, s.matrix(200, 2), s.matrix(100, 1))).toThrow(/dX has 1 columns/);
        expect(() => sparseConv2dBackwardWeights(Wt, s.matrix(200, 2), s.matrix(100, 2), s.f32(5))).toThrow(/dValues has 5 entries, layer stores 288 taps/);
      } finally {
        Wt.dispose();
      }
    });
  });
});

// L = Σ r ⊙ relu(conv(X) + b) in float64 from the reference; the layer's float32 gradients must match central differences.
describe("SparseConv2d layer gradients", () => {
  it("match finite differences of the float64 loss on weights, bias and input", async () => {
    const engine = await getEngine();
    let checked = 0;
    fc.assert(
      fc.property(caseArb, fc.nat(), ({ g, B: B0, pattern, taps, seed }, pick) =>
        scoped(engine, (s) => {
          const B = Math.min(B0, 5);
          const layer = new SparseConv2d(engine, { ...g, pattern, taps, activation: "relu", seed, biasInit: 0.05 });
          try {
            const v = layer.weights.values.toArray(), bias = layer.bias.toArray();
            const x = values(seed + 1, layer.inputSize * B);
            const r = values(seed + 2, layer.outputSize * B);
            const index = ref.storedIndex(g, pattern, taps);
            const loss = (vv: ArrayLike<number>, bb: ArrayLike<number>, xx: ArrayLike<number>) => {
              const pre = ref.conv2d(g, ref.denseWeights(g, index, vv), xx, B, bb);
              let l = 0;
              for (let i = 0; i < pre.length; i++) l += r[i]! * Math.max(pre[i]!, 0);
              return { l, pre };
            };
            const base = loss(v, bias, x);
            const X = s.matrix(layer.inputSize, B, x);
            layer.forward(X);
            const dX = layer.backward(s.matrix(layer.outputSize, B, r), true)!.toArray();
            const [pv, pb] = layer.params();
            const gv = pv!.grad.toArray(), gb = pb!.grad.toArray();
            const h = 1e-3;
            const probe = (what: string, arr: Float64Array, i: number, analytic: number, f: (a: Float64Array) => { l: number; pre: Float64Array }) => {
              arr[i]! += h;
              const up = f(arr);
              arr[i]! -= 2 * h;
              const down = f(arr);
              arr[i]! += h;
              // a step that moves a pre-activation across the ReLU kink has no derivative to compare
              for (let k = 0; k < base.pre.length; k++) if (Math.sign(up.pre[k]!) !== Math.sign(down.pre[k]!)) return;
              const fd = (up.l - down.l) / (2 * h);
              expect(Math.abs(fd - analytic), `${what}[${i}]: analytic ${analytic}, finite difference ${fd}`).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(fd)));
              checked++;
            };
            const vv = Float64Array.from(v), bb = Float64Array.from(bias), xx = Float64Array.from(x);
            for (let k = 0; k < 3; k++) {
              if (vv.length) { const i = (pick + 7 * k) % vv.length; probe("values", vv, i, gv[i]!, (a) => loss(a, bb, xx)); }
              { const i = (pick + k) % bb.length; probe("bias", bb, i, gb[i]!, (a) => loss(vv, a, xx)); }
              { const i = (pick + 11 * k) % xx.length; probe("X", xx, i, dX[i]!, (a) => loss(vv, bb, a)); }
            }
          } finally {
            layer.dispose();
          }
        })),
      { numRuns: 40 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});

describe("SparseConv2d in a model file", () => {
  it("its record and tensors rebuild the same layer (with and without a tap mask), a clone too; bad ones are FormatErrors", async () => {
    const engine = await getEngine();
    for (const taps of [undefined, [1, 0, 1, 1, 1, 0]]) {
      const g = { inC: 4, outC: 6, H: 5, W: 6, kh: 2, kw: 3, stride: 2, padding: 1 };
      const a = new SparseConv2d(engine, { ...g, pattern: Pattern.fixedDegree(4, 6, 3, 9), taps, activation: "linear", seed: 4 });
      const encoded = encodeLayer(a);
      const spec = JSON.parse(JSON.stringify(encoded.spec)) as Record<string, unknown> & { kind: string };
      const t = encoded.tensors;
      const b = decodeLayer(engine, spec, t, "trunk.0") as SparseConv2d;
      const c = a.clone();
      try {
        expect(spec).toMatchObject({ kind: "conv2d", ...g, outH: 3, outW: 3, activation: "linear", taps: taps ? "mask" : "all" });
        expect(encodeLayer(b).spec).toEqual(encoded.spec);
        expect(encodeLayer(c)).toEqual(encoded);
        scoped(engine, (s) => {
          const X = s.matrix(a.inputSize, 3, values(1, a.inputSize * 3));
          const want = Array.from(a.forward(X).view());
          expect(Array.from(b.forward(X).view())).toEqual(want);
          expect(Array.from(c.forward(X).view())).toEqual(want);
        });
        expect(() => decodeLayer(engine, spec, { ...t, values: { ...t.values!, data: new Float32Array(3) } }, "trunk.0")).toThrow(/trunk\.0\.values: 3 values for/);
        expect(() => decodeLayer(engine, { ...spec, patternHash: "0" }, t, "trunk.0")).toThrow(/patternHash/);
        expect(() => decodeLayer(engine, { ...spec, kh: 1.5 }, t, "trunk.0")).toThrow(/trunk\.0\.kh: expected an integer/);
        expect(() => decodeLayer(engine, spec, { ...t, bias: undefined }, "trunk.0")).toThrow(/trunk\.0\.bias: tensor missing/);
        expect(() => decodeLayer(engine, { ...spec, activation: "tanh" }, t, "trunk.0")).toThrow(FormatError);
      } finally {
        a.dispose();
        b.dispose();
        c.dispose();
      }
    }
  });
});
