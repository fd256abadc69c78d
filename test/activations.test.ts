// ReLU beyond its kernel cases (test/cases/activations.ts, run by test/kernels.test.ts): −0 and NaN, shape checks.
import { describe, expect, it } from "vitest";
import { ShapeError } from "../src/engine/errors.js";
import { reluBackward } from "../src/ops/activations.js";
import { getEngine, scoped } from "./helpers/engine.js";

describe("ReLU", () => {
  it("a negative zero or a NaN input does not pass gradient", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const Y = s.matrix(1, 5, [-0, NaN, 0, 1e-30, 3]);
      const dX = s.matrix(1, 5);
      reluBackward(Y, s.matrix(1, 5, [1, 1, 1, 1, 1]), dX);
      expect(Array.from(dX.view())).toEqual([0, 0, 0, 1, 1]);
    });
  });

  it("reluBackward rejects mismatched shapes", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const Y = s.matrix(3, 4);
      expect(() => reluBackward(Y, s.matrix(3, 5), s.matrix(3, 4))).toThrow(ShapeError);
      expect(() => reluBackward(Y, s.matrix(3, 4), s.matrix(4, 4))).toThrow(/reluBackward: dX is 4×4, Y is 3×4/);
    });
  });
});
