// The conv ops beyond their kernel cases (test/cases/sparse_conv2d.ts, run by test/kernels.test.ts): MAC counts,
// finite differences through the SparseConv2d layer, its spec and tensors, and the typed errors.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FormatError, PatternError, ShapeError, ValidationError } from "../src/engine/errors.js";
import { SparseConv2d } from "../src/nn/layers/sparse_conv2d.js";
import {
  ConvWeights,
  sparseConv2d,
  sparseConv2dBackward,
  sparseConv2dBackwardWeights,
} from "../src/ops/sparse_conv2d.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { decodeLayer, encodeLayer } from "../src/io/model_io.js";
import * as ref from "./helpers/conv_reference.js";
import { convArb } from "./cases/sparse_conv2d.js";
import { getEngine, scoped, values } from "./helpers/engine.js";

describe("ConvWeights", () => {
  it("counts MACs as stored taps × output positions where the tap lands in the image", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(convArb, ({ g, pattern, taps }) => {
        const Wt = new ConvWeights(engine, g, pattern, { taps });
        try {
          // one sample of ones through the masked dense reference with unit weights counts exactly those products
          const index = ref.storedIndex(g, pattern, taps);
          const ones = ref.conv2d(
            g,
            ref.denseWeights(
              g,
              index,
              index.map(() => 1),
            ),
            new Float64Array(Wt.inputSize).fill(1),
            1,
          );
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
    expect(() => new ConvWeights(engine, { ...g, H: 1, padding: 0 }, Pattern.dense(4, 8))).toThrow(
      /kernel 3×3 is larger than the padded input 1×5/,
    );
    expect(() => new ConvWeights(engine, { ...g, stride: 0 }, Pattern.dense(4, 8))).toThrow(ValidationError);
    expect(() => new ConvWeights(engine, g, Pattern.dense(4, 8), { taps: [1, 0, 1] })).toThrow(
      /tap mask has 3 entries, expected kh·kw = 9 or connections·kh·kw = 288/,
    );
    expect(() => new ConvWeights(engine, g, Pattern.dense(4, 8), { values: [1, 2] })).toThrow(
      /2 values for 288 stored taps/,
    );
    scoped(engine, (s) => {
      const Wt = new ConvWeights(engine, g, Pattern.dense(4, 8));
      try {
        expect(() => sparseConv2d(Wt, s.matrix(99, 2), s.matrix(200, 2))).toThrow(
          /sparseConv2d: X has 99 rows, expected 100/,
        );
        expect(() => sparseConv2d(Wt, s.matrix(100, 2), s.matrix(200, 3))).toThrow(ShapeError);
        expect(() => sparseConv2dBackward(Wt, s.matrix(200, 2), s.matrix(100, 1))).toThrow(/dX has 1 columns/);
        expect(() => sparseConv2dBackwardWeights(Wt, s.matrix(200, 2), s.matrix(100, 2), s.f32(5))).toThrow(
          /dValues has 5 entries, layer stores 288 taps/,
        );
      } finally {
        Wt.dispose();
      }
    });
  });
});

// L = Σ r ⊙ relu(conv(X) + b) in float64 from the reference; the layer's float32 gradients must match central
// differences.
describe("SparseConv2d layer gradients", () => {
  it("match finite differences of the float64 loss on weights, bias and input", async () => {
    const engine = await getEngine();
    let checked = 0;
    fc.assert(
      fc.property(convArb, fc.nat(), ({ g, B: B0, pattern, taps, seed }, pick) =>
        scoped(engine, (s) => {
          const B = Math.min(B0, 5);
          const layer = new SparseConv2d(engine, { ...g, pattern, taps, activation: "relu", seed, biasInit: 0.05 });
          try {
            const v = layer.weights.values.toArray(),
              bias = layer.bias.toArray();
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
            const gv = pv!.grad.toArray(),
              gb = pb!.grad.toArray();
            const h = 1e-3;
            const probe = (
              what: string,
              arr: Float64Array,
              i: number,
              analytic: number,
              f: (a: Float64Array) => { l: number; pre: Float64Array },
            ) => {
              arr[i]! += h;
              const up = f(arr);
              arr[i]! -= 2 * h;
              const down = f(arr);
              arr[i]! += h;
              // a step that moves a pre-activation across the ReLU kink has no derivative to compare
              for (let k = 0; k < base.pre.length; k++) if (Math.sign(up.pre[k]!) !== Math.sign(down.pre[k]!)) return;
              const fd = (up.l - down.l) / (2 * h);
              expect(
                Math.abs(fd - analytic),
                `${what}[${i}]: analytic ${analytic}, finite difference ${fd}`,
              ).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(fd)));
              checked++;
            };
            const vv = Float64Array.from(v),
              bb = Float64Array.from(bias),
              xx = Float64Array.from(x);
            for (let k = 0; k < 3; k++) {
              if (vv.length) {
                const i = (pick + 7 * k) % vv.length;
                probe("values", vv, i, gv[i]!, (a) => loss(a, bb, xx));
              }
              {
                const i = (pick + k) % bb.length;
                probe("bias", bb, i, gb[i]!, (a) => loss(vv, a, xx));
              }
              {
                const i = (pick + 11 * k) % xx.length;
                probe("X", xx, i, dX[i]!, (a) => loss(vv, bb, a));
              }
            }
          } finally {
            layer.dispose();
          }
        }),
      ),
      { numRuns: 40 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});

describe("SparseConv2d in a model file", () => {
  it(
    "its record and tensors rebuild the same layer (with and without a tap mask), a clone too; " +
      "bad ones are FormatErrors",
    async () => {
      const engine = await getEngine();
      for (const taps of [undefined, [1, 0, 1, 1, 1, 0]]) {
        const g = { inC: 4, outC: 6, H: 5, W: 6, kh: 2, kw: 3, stride: 2, padding: 1 };
        const a = new SparseConv2d(engine, {
          ...g,
          pattern: Pattern.fixedDegree(4, 6, 3, 9),
          taps,
          activation: "linear",
          seed: 4,
        });
        const encoded = encodeLayer(a);
        const spec = JSON.parse(JSON.stringify(encoded.spec)) as Record<string, unknown> & { kind: string };
        const t = encoded.tensors;
        const b = decodeLayer(engine, spec, t, "trunk.0") as SparseConv2d;
        const c = a.clone();
        try {
          expect(spec).toMatchObject({
            kind: "conv2d",
            ...g,
            outH: 3,
            outW: 3,
            activation: "linear",
            taps: taps ? "mask" : "all",
          });
          expect(encodeLayer(b).spec).toEqual(encoded.spec);
          expect(encodeLayer(c)).toEqual(encoded);
          scoped(engine, (s) => {
            const X = s.matrix(a.inputSize, 3, values(1, a.inputSize * 3));
            const want = Array.from(a.forward(X).view());
            expect(Array.from(b.forward(X).view())).toEqual(want);
            expect(Array.from(c.forward(X).view())).toEqual(want);
          });
          expect(() =>
            decodeLayer(engine, spec, { ...t, values: { ...t.values!, data: new Float32Array(3) } }, "trunk.0"),
          ).toThrow(/trunk\.0\.values: 3 values for/);
          expect(() => decodeLayer(engine, { ...spec, patternHash: "0" }, t, "trunk.0")).toThrow(/patternHash/);
          expect(() => decodeLayer(engine, { ...spec, kh: 1.5 }, t, "trunk.0")).toThrow(
            /trunk\.0\.kh: expected an integer/,
          );
          expect(() => decodeLayer(engine, spec, { ...t, bias: undefined }, "trunk.0")).toThrow(
            /trunk\.0\.bias: tensor missing/,
          );
          expect(() => decodeLayer(engine, { ...spec, activation: "tanh" }, t, "trunk.0")).toThrow(FormatError);
        } finally {
          a.dispose();
          b.dispose();
          c.dispose();
        }
      }
    },
  );
});
