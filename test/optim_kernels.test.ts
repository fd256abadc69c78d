// The adamStep and sgdStep kernels (nnz-long state) against the reference over several steps.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectClose, getEngine, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";

const length = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 1, 3, 4, 5, 7, 8, 9));
const l2 = fc.constantFrom(0, 1e-4, 0.01);

describe("adamStep", () => {
  it("follows the Keras legacy Adam reference step after step", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(length, fc.integer({ min: 1, max: 6 }), l2, fc.constantFrom(1e-3, 0.05), fc.nat(), (n, steps, l2v, lr, seed) =>
        scoped(engine, (s) => {
          const b1 = 0.9, b2 = 0.999, eps = 1e-7, decay = 1e-5;
          const w0 = values(seed, n, 1);
          const W = s.f32(w0), G = s.f32(n), M = s.f32(n), V = s.f32(n);
          const w = Float64Array.from(w0), m = new Float64Array(n), v = new Float64Array(n);
          for (let t = 1; t <= steps; t++) {
            const g = values(seed + t, n, 0.5);
            G.view().set(g);
            const lrT = ref.kerasAdamLr(lr, decay, t, b1, b2);
            engine.kernels.adamStep(n, W.ptr, G.ptr, M.ptr, V.ptr, Math.fround(lrT), b1, b2, eps, l2v);
            ref.adamStep(w, g, m, v, Math.fround(lrT), Math.fround(b1), Math.fround(b2), Math.fround(eps), Math.fround(l2v));
            expectClose(`m after step ${t}`, M.view(), m, undefined, 1e-5, 1e-7);
            expectClose(`v after step ${t}`, V.view(), v, undefined, 1e-4, 1e-9);
            // each step moves w by at most ~lrT; the check is relative to that step size
            expectClose(`w after step ${t}`, W.view(), w, undefined, 1e-6, 1e-3 * lrT * t + 1e-7);
          }
          expect(G.view()).toEqual(values(seed + steps, n, 0.5));
        })),
      { numRuns: 50 },
    );
  });

  it("a zero gradient leaves the weights where they are (no 0/0)", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const W = s.f32([1, -2, 3, 0, 5]), G = s.f32(5), M = s.f32(5), V = s.f32(5);
      engine.kernels.adamStep(5, W.ptr, G.ptr, M.ptr, V.ptr, 1e-3, 0.9, 0.999, 1e-7, 0);
      expect(Array.from(W.view())).toEqual([1, -2, 3, 0, 5]);
    });
  });
});

describe("sgdStep", () => {
  it("follows the momentum SGD reference (μ = 0 is plain SGD)", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(length, fc.integer({ min: 1, max: 6 }), l2, fc.constantFrom(0, 0.5, 0.9), fc.nat(), (n, steps, l2v, mu, seed) =>
        scoped(engine, (s) => {
          const lr = 0.01;
          const w0 = values(seed, n, 1);
          const W = s.f32(w0), G = s.f32(n), U = s.f32(n);
          const w = Float64Array.from(w0), u = new Float64Array(n);
          for (let t = 1; t <= steps; t++) {
            const g = values(seed + t, n, 0.5);
            G.view().set(g);
            engine.kernels.sgdStep(n, W.ptr, G.ptr, U.ptr, lr, mu, l2v);
            ref.sgdStep(w, g, u, Math.fround(lr), Math.fround(mu), Math.fround(l2v));
            expectClose(`u after step ${t}`, U.view(), u, undefined, 1e-5, 1e-8);
            expectClose(`w after step ${t}`, W.view(), w, undefined, 1e-6, 1e-7 * t);
          }
        })),
      { numRuns: 50 },
    );
  });

  it("μ = 0, l2 = 0 is exactly w − lr·g", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const w = values(9, 37), g = values(10, 37);
      const W = s.f32(w), G = s.f32(g), U = s.f32(37);
      engine.kernels.sgdStep(37, W.ptr, G.ptr, U.ptr, 0.5, 0, 0);
      expect(Array.from(W.view())).toEqual(Array.from(w, (wi, i) => Math.fround(wi + Math.fround(-Math.fround(0.5 * g[i]!)))));
    });
  });
});
