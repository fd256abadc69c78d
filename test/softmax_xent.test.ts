// softmax and softmaxCrossEntropy beyond their kernel cases (test/cases/softmax_xent.ts, run by test/kernels.test.ts):
// a finite-difference check of dZ, a confident example, and the checks on shapes and labels at the TypeScript boundary.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError, softmax, softmaxCrossEntropy } from "../src/index.js";
import { labelsFor } from "./cases/softmax_xent.js";
import { getEngine, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";

describe("softmaxCrossEntropy", () => {
  it("dZ matches central finite differences of the float64 loss", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 1, max: 17 }), fc.nat(), (C, B, seed) =>
        scoped(engine, (s) => {
          const z = values(seed, C * B, 3);
          const labels = labelsFor(seed, C, B);
          const dZ = s.matrix(C, B);
          softmaxCrossEntropy(s.matrix(C, B, z), s.i32(labels), dZ);
          const h = 1e-4;
          for (let trial = 0; trial < 6; trial++) {
            const j = (seed + 31 * trial) % (C * B);
            const t = Float64Array.from(z);
            t[j] = z[j]! + h;
            const up = ref.softmaxCrossEntropy(t, C, B, labels).loss;
            t[j] = z[j]! - h;
            const down = ref.softmaxCrossEntropy(t, C, B, labels).loss;
            const fd = (up - down) / (2 * h);
            const g = dZ.view()[j]!;
            if (!(Math.abs(g - fd) <= 1e-2 * Math.abs(fd) + 1e-5)) throw new Error(`dL/dZ[${j}]: WASM ${g}, finite difference ${fd}`);
          }
        })),
      { numRuns: 40 },
    );
  });

  it("a confident correct prediction costs ~0 and a confident wrong one ~the logit gap", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      // two samples, three classes: sample 0 says class 2 by 50, sample 1 says class 0 by 50 but is class 1
      const Z = s.matrix(3, 2, [0, 50, 0, 0, 50, 0]);
      const loss = softmaxCrossEntropy(Z, s.i32([2, 1]));
      expect(loss).toBeCloseTo((0 + 50) / 2, 4);
    });
  });

  it("rejects labels outside [0, C), too few labels and a mismatched dZ", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const Z = s.matrix(4, 3);
      for (const bad of [[0, 4, 1], [-1, 0, 0], [0, 0, 2 ** 31 - 1]]) {
        expect(() => softmaxCrossEntropy(Z, s.i32(bad))).toThrow(ValidationError);
      }
      expect(() => softmaxCrossEntropy(Z, s.i32([0, 1, 9]))).toThrow(/label 9 of sample 2 outside \[0, 4\)/);
      expect(() => softmaxCrossEntropy(Z, s.i32([0, 1]))).toThrow(ShapeError);
      expect(() => softmaxCrossEntropy(Z, s.i32([0, 1, 2]), s.matrix(4, 2))).toThrow(/softmaxCrossEntropy: dZ is 4×2, Z is 4×3/);
      expect(() => softmax(Z, s.matrix(3, 3))).toThrow(ShapeError);
    });
  });
});
