// The adamStep and sgdStep kernels beyond their cases (test/cases/optim.ts, run by test/kernels.test.ts): two exact
// examples.
import { describe, expect, it } from "vitest";
import { getEngine, scoped, values } from "./helpers/engine.js";

describe("adamStep", () => {
  it("a zero gradient leaves the weights where they are (no 0/0)", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const W = s.f32([1, -2, 3, 0, 5]),
        G = s.f32(5),
        M = s.f32(5),
        V = s.f32(5);
      engine.kernels.adamStep(5, W.ptr, G.ptr, M.ptr, V.ptr, 1e-3, 0.9, 0.999, 1e-7, 0);
      expect(Array.from(W.view())).toEqual([1, -2, 3, 0, 5]);
    });
  });
});

describe("sgdStep", () => {
  it("μ = 0, l2 = 0 is exactly w − lr·g", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const w = values(9, 37),
        g = values(10, 37);
      const W = s.f32(w),
        G = s.f32(g),
        U = s.f32(37);
      engine.kernels.sgdStep(37, W.ptr, G.ptr, U.ptr, 0.5, 0, 0);
      expect(Array.from(W.view())).toEqual(
        Array.from(w, (wi, i) => Math.fround(wi + Math.fround(-Math.fround(0.5 * g[i]!)))),
      );
    });
  });
});
