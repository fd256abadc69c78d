// The pooling ops beyond their kernel cases (test/cases/pool2d.ts, run by test/kernels.test.ts): finite differences
// through the layers, and the typed errors.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { AvgPool2d, MaxPool2d } from "../src/nn/layers/pool2d.js";
import { avgPool2d, avgPool2dBackward, maxPool2d, pool2dShape } from "../src/ops/pool2d.js";
import * as ref from "./helpers/conv_reference.js";
import { poolArb } from "./cases/pool2d.js";
import { getEngine, scoped, values } from "./helpers/engine.js";

describe("pooling layers", () => {
  it.each([
    ["max", MaxPool2d],
    ["avg", AvgPool2d],
  ] as const)("%s pool gradients match finite differences", async (kind, Cls) => {
    const engine = await getEngine();
    fc.assert(
      fc.property(poolArb, fc.nat(), ({ B: B0, seed, ...geo }, pick) =>
        scoped(engine, (s) => {
          const B = Math.min(B0, 4);
          const layer = new Cls(engine, geo);
          try {
            // distinct values, so no max is tied and a small step keeps every argmax in place
            const n = layer.inputSize * B;
            const x = Float64Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % n) / n + 0.5);
            const r = values(seed + 1, layer.outputSize * B);
            const loss = (xx: ArrayLike<number>) =>
              ref.pool2d(kind, { ...layer.shape }, xx, B).y.reduce((a, y, i) => a + r[i]! * y, 0);
            layer.forward(s.matrix(layer.inputSize, B, x));
            const dX = layer.backward(s.matrix(layer.outputSize, B, r), true)!.toArray();
            const h = 0.1 / n;
            for (let k = 0; k < 4; k++) {
              const i = (pick + 13 * k) % n;
              const up = Float64Array.from(x),
                down = Float64Array.from(x);
              up[i]! += h;
              down[i]! -= h;
              const fd = (loss(up) - loss(down)) / (2 * h);
              expect(Math.abs(fd - dX[i]!), `dX[${i}]: analytic ${dX[i]}, finite difference ${fd}`).toBeLessThanOrEqual(
                1e-3 * (1 + Math.abs(fd)),
              );
            }
            expect(layer.params()).toEqual([]);
            expect(layer.outputShape).toEqual([geo.C, layer.shape.outH, layer.shape.outW]);
          } finally {
            layer.dispose();
          }
        }),
      ),
      { numRuns: 30 },
    );
  });

  it("rejects bad geometry and shapes with typed errors", async () => {
    const engine = await getEngine();
    expect(() => new MaxPool2d(engine, { C: 2, H: 2, W: 5, k: 3 })).toThrow(
      /MaxPool2d: window 3×3 is larger than the input 2×5/,
    );
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
        expect(() => maxPool2d(forged, s.matrix(32, 3), s.matrix(18, 3))).toThrow(
          /maxPool2d: output 3×3 does not follow from 4×4, window 2, stride 2 \(expected 2×2\)/,
        );
        expect(() => avgPool2dBackward(forged, s.matrix(18, 3), s.matrix(32, 3))).toThrow(ShapeError);
        expect(() => avgPool2d({ ...g, k: 0 }, s.matrix(32, 3), s.matrix(8, 3))).toThrow(
          /avgPool2d: k must be an integer/,
        );
      });
    } finally {
      p.dispose();
    }
  });
});
