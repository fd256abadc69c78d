// reluForward / reluBackward against the reference, over sizes that straddle the 4-wide SIMD loop.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError, reluBackward, reluForward } from "../src/index.js";
import { batchArb, getEngine, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";

const rows = fc.integer({ min: 1, max: 70 });

describe("ReLU", () => {
  it("reluForward is max(x, 0), in place, exactly", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(rows, batchArb, fc.integer(), (r, B, seed) =>
        scoped(engine, (s) => {
          const x = values(seed, r * B);
          const Y = s.matrix(r, B, x);
          const canary = s.f32([-1, -2, -3, -4]);
          expect(reluForward(Y)).toBe(Y);
          expect(Array.from(Y.view())).toEqual(Array.from(ref.relu(x)));
          expect(Array.from(canary.view())).toEqual([-1, -2, -3, -4]);
        })),
      { numRuns: 60 },
    );
  });

  it("reluBackward is dY ⊙ [Y > 0], exactly, into a separate dX or in place", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(rows, batchArb, fc.boolean(), fc.integer(), (r, B, inPlace, seed) =>
        scoped(engine, (s) => {
          const y = ref.relu(values(seed, r * B));
          const dy = values(seed + 1, r * B);
          const Y = s.matrix(r, B, y), dY = s.matrix(r, B, dy);
          const dX = inPlace ? dY : s.matrix(r, B);
          if (!inPlace) dX.view().fill(NaN);
          reluBackward(Y, dY, dX);
          expect(Array.from(dX.view())).toEqual(Array.from(ref.reluBackward(y, dy)));
        })),
      { numRuns: 60 },
    );
  });

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
