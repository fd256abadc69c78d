// Cases of the adamStep and sgdStep kernels (nnz-long state; called by src/nn/optimizers.ts, no op of their own)
// against the reference, step after step: each round is one step, checked before the next.
import fc from "fast-check";
import * as ref from "../helpers/reference.js";
import { expectClose, expectEqual, values, type KernelCase } from "./case.js";

const length = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 1, 3, 4, 5, 7, 8, 9));
const l2 = fc.constantFrom(0, 1e-4, 0.01);
const steps = fc.integer({ min: 1, max: 6 });

export const adamStepCase: KernelCase<{ n: number; steps: number; l2: number; lr: number; seed: number }> = {
  name: "adamStep follows the Keras legacy Adam reference step after step",
  op: "adamStep",
  kernels: ["adamStep"],
  arb: fc.record({ n: length, steps, l2, lr: fc.constantFrom(1e-3, 0.05), seed: fc.nat() }),
  runs: 50,
  setup(s, { n, steps, l2: l2v, lr, seed }) {
    const b1 = 0.9,
      b2 = 0.999,
      eps = 1e-7,
      decay = 1e-5;
    const w0 = values(seed, n, 1);
    // one gradient buffer per step, so a step is the kernel call alone
    const g = Array.from({ length: steps }, (_, i) => values(seed + i + 1, n, 0.5));
    const G = g.map((gi) => s.f32(gi));
    const W = s.f32(w0),
      M = s.f32(n),
      V = s.f32(n);
    const w = Float64Array.from(w0),
      m = new Float64Array(n),
      v = new Float64Array(n);
    let t = 0,
      checked = 0;
    const lrT = (step: number) => Math.fround(ref.kerasAdamLr(lr, decay, step, b1, b2));
    return {
      flops: 12 * n,
      rounds: steps,
      run() {
        t++;
        s.engine.kernels.adamStep(n, W.ptr, G[(t - 1) % steps]!.ptr, M.ptr, V.ptr, lrT(t), b1, b2, eps, l2v);
      },
      check() {
        const step = ++checked,
          gi = g[(step - 1) % steps]!;
        ref.adamStep(w, gi, m, v, lrT(step), Math.fround(b1), Math.fround(b2), Math.fround(eps), Math.fround(l2v));
        expectClose(`m after step ${step}`, M.view(), m, undefined, 1e-5, 1e-7);
        expectClose(`v after step ${step}`, V.view(), v, undefined, 1e-4, 1e-9);
        // each step moves w by at most ~lrT; the check is relative to that step size
        expectClose(`w after step ${step}`, W.view(), w, undefined, 1e-6, 1e-3 * lrT(step) * step + 1e-7);
        expectEqual(`g of step ${step}`, G[(step - 1) % steps]!.view(), gi);
      },
    };
  },
  perf: () => [{ label: "105,172 values (1024²·10%)", params: { n: 105172, steps: 1, l2: 0, lr: 1e-3, seed: 1 } }],
};

export const sgdStepCase: KernelCase<{ n: number; steps: number; l2: number; mu: number; seed: number }> = {
  name: "sgdStep follows the momentum SGD reference (μ = 0 is plain SGD)",
  op: "sgdStep",
  kernels: ["sgdStep"],
  arb: fc.record({ n: length, steps, l2, mu: fc.constantFrom(0, 0.5, 0.9), seed: fc.nat() }),
  runs: 50,
  setup(s, { n, steps, l2: l2v, mu, seed }) {
    const lr = 0.01;
    const w0 = values(seed, n, 1);
    const g = Array.from({ length: steps }, (_, i) => values(seed + i + 1, n, 0.5));
    const G = g.map((gi) => s.f32(gi));
    const W = s.f32(w0),
      U = s.f32(n);
    const w = Float64Array.from(w0),
      u = new Float64Array(n);
    let t = 0,
      checked = 0;
    return {
      flops: 5 * n,
      rounds: steps,
      run: () => s.engine.kernels.sgdStep(n, W.ptr, G[t++ % steps]!.ptr, U.ptr, lr, mu, l2v),
      check() {
        const step = ++checked;
        ref.sgdStep(w, g[(step - 1) % steps]!, u, Math.fround(lr), Math.fround(mu), Math.fround(l2v));
        expectClose(`u after step ${step}`, U.view(), u, undefined, 1e-5, 1e-8);
        expectClose(`w after step ${step}`, W.view(), w, undefined, 1e-6, 1e-7 * step);
      },
    };
  },
  perf: () => [{ label: "105,172 values (1024²·10%)", params: { n: 105172, steps: 1, l2: 0, mu: 0.9, seed: 1 } }],
};

export const OPTIM_CASES = [adamStepCase, sgdStepCase];
