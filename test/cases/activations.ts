// Cases of reluForward / reluBackward against the reference, over sizes that straddle the 4-wide SIMD loop.
import fc from "fast-check";
import type { Matrix } from "../../src/engine/buffers.js";
import { reluBackward, reluForward } from "../../src/ops/activations.js";
import * as ref from "../helpers/reference.js";
import { batchArb, expectEqual, values, type KernelCase } from "./case.js";

const rows = fc.integer({ min: 1, max: 70 });

export const reluForwardCase: KernelCase<{ rows: number; B: number; seed: number }> = {
  name: "reluForward is max(x, 0), in place, exactly",
  op: "reluForward",
  kernels: ["reluForward"],
  arb: fc.record({ rows, B: batchArb, seed: fc.integer() }),
  runs: 60,
  setup(s, { rows: r, B, seed }) {
    const x = values(seed, r * B);
    const Y = s.matrix(r, B, x);
    const canary = s.f32([-1, -2, -3, -4]);
    let returned: Matrix | undefined;
    return {
      flops: r * B,
      run: () => (returned = reluForward(Y)),
      check() {
        if (returned !== Y) throw new Error("reluForward did not return Y");
        expectEqual("Y", Y.view(), ref.relu(x));
        expectEqual("canary", canary.view(), [-1, -2, -3, -4]);
      },
    };
  },
  perf: () => [{ label: "1024×256", params: { rows: 1024, B: 256, seed: 1 } }],
};

export const reluBackwardCase: KernelCase<{ rows: number; B: number; inPlace: boolean; seed: number }> = {
  name: "reluBackward is dY ⊙ [Y > 0], exactly, into a separate dX or in place",
  op: "reluBackward",
  kernels: ["reluBackward"],
  arb: fc.record({ rows, B: batchArb, inPlace: fc.boolean(), seed: fc.integer() }),
  runs: 60,
  setup(s, { rows: r, B, inPlace, seed }) {
    const y = ref.relu(values(seed, r * B));
    const dy = values(seed + 1, r * B);
    const Y = s.matrix(r, B, y),
      dY = s.matrix(r, B, dy);
    const dX = inPlace ? dY : s.matrix(r, B);
    if (!inPlace) dX.view().fill(NaN);
    return {
      flops: r * B,
      run: () => reluBackward(Y, dY, dX),
      check: () => expectEqual("dX", dX.view(), ref.reluBackward(y, dy)),
    };
  },
  perf: () => [{ label: "1024×256", params: { rows: 1024, B: 256, inPlace: false, seed: 1 } }],
};

export const ACTIVATIONS_CASES = [reluForwardCase, reluBackwardCase];
