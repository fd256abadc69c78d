// Cases of softmax and softmaxCrossEntropy (loss and dZ) against the reference, with logits spread over a wide
// range: softmax must subtract the column max to stay finite.
import fc from "fast-check";
import { softmax, softmaxCrossEntropy } from "../../src/ops/softmax_xent.js";
import * as ref from "../helpers/reference.js";
import { batchArb, expectClose, expectNear, expectWithin, guardedOutput, values, type KernelCase } from "./case.js";

const classes = fc.integer({ min: 1, max: 40 });
const logitScale = fc.constantFrom(1, 10, 80);

/** B labels in [0, C) from a seed. */
export function labelsFor(seed: number, C: number, B: number): Int32Array {
  return Int32Array.from({ length: B }, (_, b) => (seed + 13 * b) % C);
}

interface XentParams {
  C: number;
  B: number;
  scale: number;
  grad: boolean;
  seed: number;
}

export const softmaxCase: KernelCase<{ C: number; B: number; scale: number; inPlace: boolean; seed: number }> = {
  name: "softmax matches the reference, columns sum to 1, and P may alias Z",
  op: "softmax",
  kernels: ["softmax"],
  arb: fc.record({ C: classes, B: batchArb, scale: logitScale, inPlace: fc.boolean(), seed: fc.integer() }),
  runs: 50,
  setup(s, { C, B, scale, inPlace, seed }) {
    const z = values(seed, C * B, scale);
    const Z = s.matrix(C, B, z);
    const P = inPlace ? Z : s.matrix(C, B);
    return {
      flops: 3 * C * B,
      run: () => softmax(Z, P),
      check() {
        const p = P.view();
        expectClose("P", p, ref.softmax(z, C, B), 1, 1e-5, 1e-6);
        for (let b = 0; b < B; b++) {
          let sum = 0;
          for (let c = 0; c < C; c++) sum += p[c * B + b]!;
          expectNear(`Σ_c P[c, ${b}]`, sum, 1, 5);
        }
      },
    };
  },
  perf: () => [{ label: "10 classes, batch 256", params: { C: 10, B: 256, scale: 10, inPlace: false, seed: 1 } }],
};

export const softmaxCrossEntropyCase: KernelCase<XentParams> = {
  name: "softmaxCrossEntropy: loss and dZ = (softmax − onehot)/B match the reference",
  op: "softmaxCrossEntropy",
  kernels: ["softmaxCrossEntropy"],
  arb: fc.record({ C: classes, B: batchArb, scale: logitScale, grad: fc.boolean(), seed: fc.nat() }),
  runs: 50,
  setup(s, { C, B, scale, grad, seed }) {
    const z = values(seed, C * B, scale);
    const labels = labelsFor(seed, C, B);
    const Z = s.matrix(C, B, z),
      L = s.i32(labels);
    const dZ = grad ? guardedOutput(s, C, B) : undefined;
    let loss = NaN;
    return {
      flops: 4 * C * B,
      run: () => (loss = softmaxCrossEntropy(Z, L, dZ?.m)),
      check() {
        const want = ref.softmaxCrossEntropy(z, C, B, labels);
        expectWithin("loss", loss, want.loss, 1e-5 * (1 + Math.abs(want.loss)) + 1e-4 * Math.log(C + 1));
        if (dZ) {
          expectClose("dZ", dZ.m.view(), want.dZ, 1 / B, 1e-5, 1e-7);
          dZ.intact();
        }
      },
    };
  },
  perf: () => [{ label: "10 classes, batch 256, dZ", params: { C: 10, B: 256, scale: 10, grad: true, seed: 1 } }],
};

export const SOFTMAX_XENT_CASES = [softmaxCase, softmaxCrossEntropyCase];
