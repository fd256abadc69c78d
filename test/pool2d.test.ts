// maxPool2d / avgPool2d and their backward passes against the float64 reference (ties: first maximum wins),
// finite differences through the layers, and the typed errors.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AvgPool2d, MaxPool2d, ShapeError, ValidationError, avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, pool2dShape } from "../src/index.js";
import * as ref from "./helpers/conv_reference.js";
import { abs, expectClose, getEngine, scoped, values } from "./helpers/engine.js";

// Windows 1–3 at strides 1–3 (overlapping, tiling and gapped), images 3–8, batches across the SIMD tail.
const geomArb = fc
  .record({
    C: fc.integer({ min: 1, max: 6 }),
    H: fc.integer({ min: 3, max: 8 }),
    W: fc.integer({ min: 3, max: 8 }),
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 3 }),
    B: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(15, 16, 17, 33)),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  });

describe.each([false, true])("pooling kernels (debug build: %s)", (debug) => {
  const runs = debug ? 25 : 80;

  it.each(["max", "avg"] as const)("%s pool forward and backward = the reference", async (kind) => {
    const engine = await getEngine(debug);
    fc.assert(
      fc.property(geomArb, ({ B, seed, ...geo }) =>
        scoped(engine, (s) => {
          const g = pool2dShape("test", geo);
          // values() repeats small integers and zeros, so windows with tied maxima are common
          const x = values(seed, g.C * g.H * g.W * B), dy = values(seed + 1, g.C * g.outH * g.outW * B);
          const X = s.matrix(g.C * g.H * g.W, B, x), Y = s.matrix(g.C * g.outH * g.outW, B);
          const dY = s.matrix(Y.rows, B, dy), dX = s.matrix(X.rows, B);
          dX.view().fill(NaN);
          const r = { ...g };
          const want = ref.pool2d(kind, r, x, B).y;
          if (kind === "max") {
            maxPool2d(g, X, Y);
            expect(Array.from(Y.view())).toEqual(Array.from(want));
            maxPool2dBackward(g, X, Y, dY, dX);
          } else {
            avgPool2d(g, X, Y);
            expectClose("Y", Y.view(), want, ref.pool2d("avg", r, abs(x), B).y);
            avgPool2dBackward(g, dY, dX);
          }
          expectClose("dX", dX.view(), ref.pool2dBackward(kind, r, x, dy, B), ref.pool2dBackward(kind, r, x, abs(dy), B));
        })),
      { numRuns: runs },
    );
  });
});

describe("pooling layers", () => {
  it.each([["max", MaxPool2d], ["avg", AvgPool2d]] as const)("%s pool gradients match finite differences", async (kind, Cls) => {
    const engine = await getEngine();
    fc.assert(
      fc.property(geomArb, fc.nat(), ({ B: B0, seed, ...geo }, pick) =>
        scoped(engine, (s) => {
          const B = Math.min(B0, 4);
          const layer = new Cls(engine, geo);
          try {
            // distinct values, so no max is tied and a small step keeps every argmax in place
            const n = layer.inputSize * B;
            const x = Float64Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % n) / n + 0.5);
            const r = values(seed + 1, layer.outputSize * B);
            const loss = (xx: ArrayLike<number>) => ref.pool2d(kind, { ...layer.shape }, xx, B).y.reduce((a, y, i) => a + r[i]! * y, 0);
            layer.forward(s.matrix(layer.inputSize, B, x));
            const dX = layer.backward(s.matrix(layer.outputSize, B, r), true)!.toArray();
            const h = 0.1 / n;
            for (let k = 0; k < 4; k++) {
              const i = (pick + 13 * k) % n;
              const up = Float64Array.from(x), down = Float64Array.from(x);
              up[i]! += h;
              down[i]! -= h;
              const fd = (loss(up) - loss(down)) / (2 * h);
              expect(Math.abs(fd - dX[i]!), `dX[${i}]: analytic ${dX[i]}, finite difference ${fd}`).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(fd)));
            }
            expect(layer.params()).toEqual([]);
            expect(layer.outputShape).toEqual([geo.C, layer.shape.outH, layer.shape.outW]);
          } finally {
            layer.dispose();
          }
        })),
      { numRuns: 30 },
    );
  });

  it("rejects bad geometry and shapes with typed errors", async () => {
    const engine = await getEngine();
    expect(() => new MaxPool2d(engine, { C: 2, H: 2, W: 5, k: 3 })).toThrow(/MaxPool2d: window 3×3 is larger than the input 2×5/);
    expect(() => new AvgPool2d(engine, { C: 2, H: 4, W: 4, k: 2, stride: 0 })).toThrow(ValidationError);
    const p = new MaxPool2d(engine, { C: 2, H: 4, W: 4, k: 2 });
    try {
      expect(p.outputShape).toEqual([2, 2, 2]);
      scoped(engine, (s) => {
        expect(() => p.forward(s.matrix(31, 3))).toThrow(/MaxPool2d.forward: X has 31 rows, layer takes 32 \(2×4×4\)/);
        expect(() => p.backward(s.matrix(8, 3), true)).toThrow(/called before forward/);
        p.forward(s.matrix(32, 3));
        expect(() => p.backward(s.matrix(8, 2), true)).toThrow(ShapeError);
        const g = pool2dShape("t", { C: 2, H: 4, W: 4, k: 2 });
        expect(() => maxPool2d(g, s.matrix(32, 3), s.matrix(9, 3))).toThrow(/maxPool2d: Y has 9 rows, expected 8/);
        // a shape not from pool2dShape: 3×3 outputs of 2×2 windows would walk past the end of a 4×4 input
        const forged = { ...g, outH: 3, outW: 3 };
        expect(() => maxPool2d(forged, s.matrix(32, 3), s.matrix(18, 3))).toThrow(/maxPool2d: output 3×3 does not follow from 4×4, window 2, stride 2 \(expected 2×2\)/);
        expect(() => avgPool2dBackward(forged, s.matrix(18, 3), s.matrix(32, 3))).toThrow(ShapeError);
        expect(() => avgPool2d({ ...g, k: 0 }, s.matrix(32, 3), s.matrix(8, 3))).toThrow(/avgPool2d: k must be an integer/);
      });
    } finally {
      p.dispose();
    }
  });
});
