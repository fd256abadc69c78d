// softmax and softmaxCrossEntropy beyond their kernel cases (test/cases/softmax_xent.ts, run by test/kernels.test.ts):
// a finite-difference check of dZ, a confident example, softmaxStats (argmax, max probability, entropy, the NaN
// rule), and the checks on shapes and labels at the TypeScript boundary.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { passes } from "../src/exits/runner.js";
import { softmax, softmaxCrossEntropy, softmaxStats } from "../src/ops/softmax_xent.js";
import { labelsFor } from "./cases/softmax_xent.js";
import { batchArb, getEngine, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";

const classes = fc.integer({ min: 1, max: 40 });
// logits spread over a wide range: the statistics must subtract the column max to stay finite
const logitScale = fc.constantFrom(1, 10, 80);

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
            if (!(Math.abs(g - fd) <= 1e-2 * Math.abs(fd) + 1e-5))
              throw new Error(`dL/dZ[${j}]: WASM ${g}, finite difference ${fd}`);
          }
        }),
      ),
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
      for (const bad of [
        [0, 4, 1],
        [-1, 0, 0],
        [0, 0, 2 ** 31 - 1],
      ]) {
        expect(() => softmaxCrossEntropy(Z, s.i32(bad))).toThrow(ValidationError);
      }
      expect(() => softmaxCrossEntropy(Z, s.i32([0, 1, 9]))).toThrow(/label 9 of sample 2 outside \[0, 4\)/);
      expect(() => softmaxCrossEntropy(Z, s.i32([0, 1]))).toThrow(ShapeError);
      expect(() => softmaxCrossEntropy(Z, s.i32([0, 1, 2]), s.matrix(4, 2))).toThrow(
        /softmaxCrossEntropy: dZ is 4×2, Z is 4×3/,
      );
      expect(() => softmax(Z, s.matrix(3, 3))).toThrow(ShapeError);
    });
  });
});

describe("softmaxStats", () => {
  it("per column: the first largest logit, the reference's largest probability and entropy", () => {
    fc.assert(
      fc.property(classes, batchArb, logitScale, fc.integer(), fc.boolean(), (C, B, scale, seed, ties) => {
        // ties: integer logits, so equal maxima are common and the first must win
        const z = ties ? values(seed, C * B, scale).map(Math.round) : values(seed, C * B, scale);
        const s = softmaxStats(z, C, B);
        const p = ref.softmax(z, C, B);
        for (let b = 0; b < B; b++) {
          let first = 0;
          for (let c = 1; c < C; c++) if (z[c * B + b]! > z[first * B + b]!) first = c;
          let pmax = 0,
            h = 0;
          for (let c = 0; c < C; c++) {
            const q = p[c * B + b]!;
            pmax = Math.max(pmax, q);
            if (q > 0) h -= q * Math.log(q);
          }
          expect(s.label[b], `column ${b}`).toBe(first);
          expect(Math.abs(s.confidence[b]! - pmax)).toBeLessThanOrEqual(1e-12);
          expect(Math.abs(s.entropy[b]! - h)).toBeLessThanOrEqual(1e-12 * (1 + Math.log(C)));
        }
      }),
      { numRuns: 60 },
    );
  });

  it(
    "the NaN rule: argmax skips NaN unless class 0 is NaN; NaN or +∞ passes no threshold, " + "−∞ no entropy threshold",
    () => {
      const C = 4;
      const cols = [
        [1, NaN, 3, 2],
        [NaN, 5, 1, 0],
        [0, Infinity, 1, 2],
        [-Infinity, 0, 1, 2],
        [1, 2, 3, -Infinity],
        [NaN, NaN, NaN, NaN],
      ];
      const n = cols.length;
      const z = new Float32Array(C * n);
      cols.forEach((col, b) => col.forEach((v, c) => (z[c * n + b] = v)));
      const s = softmaxStats(z, C, n);
      expect(Array.from(s.label)).toEqual([2, 0, 1, 3, 2, 0]);
      // −∞ (columns 3 and 4) is a class of probability 0: the confidence of the other three, but entropy 0·∞ = NaN
      const finite = 1 / (1 + Math.exp(-1) + Math.exp(-2));
      expect(Math.abs(s.confidence[3]! - finite)).toBeLessThan(1e-15);
      expect(s.confidence[4]).toBe(s.confidence[3]);
      for (let b = 0; b < n; b++) {
        expect(s.entropy[b], `column ${b}`).toBeNaN();
        if (b !== 3 && b !== 4) expect(s.confidence[b], `column ${b}`).toBeNaN();
        for (const t of [0, 0.5, 1]) {
          if (b !== 3 && b !== 4)
            expect(passes({ kind: "maxprob", thresholds: [t] }, 0, s.confidence[b]!, s.entropy[b]!)).toBe(false);
          expect(passes({ kind: "entropy", thresholds: [t * 10] }, 0, s.confidence[b]!, s.entropy[b]!)).toBe(false);
        }
      }
    },
  );

  it("rejects logits that are not classes × columns", () => {
    expect(() => softmaxStats(new Float32Array(7), 2, 4)).toThrow(ShapeError);
    expect(() => softmaxStats(new Float32Array(0), 0, 4)).toThrow(ValidationError);
    expect(softmaxStats(new Float32Array(0), 3, 0).label.length).toBe(0);
  });
});
