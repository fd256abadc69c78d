// Calibration's promises beyond test/exits.test.ts: the paired counts (lost, gained) against the real runner and
// the final classifier, every sweep point's threshold, policy and final accuracy, the default grids' ends, the two
// picks (the cheapest point within the loss bound plus z standard errors, inclusive; the knee of accuracy vs MACs)
// on hand-made sweeps, and any batch size — one past the data, or data that is a whole number of batches — and an
// empty set giving the same figures with every buffer given back.
import { describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { ValidationError } from "../src/engine/errors.js";
import {
  calibrate,
  classifierStats,
  defaultGrid,
  measurePolicy,
  pickForAccuracy,
  pickKnee,
  simulatePolicy,
  sweep,
  type Calibration,
  type SweepPoint,
} from "../src/exits/calibrate.js";
import { ExitRunner, exitMacs, type ExitPolicy } from "../src/exits/runner.js";
import { makeDataset, type Dataset } from "../src/nn/dataset.js";
import { Model } from "../src/nn/model.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();

function inputs(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 2);
}

/** Two exits (after trunk layers 0 and 1) on [10, 8, 8, 8, 4], and n samples with labels unrelated to the inputs. */
function setup(seed: number, n = 61): { model: Model; data: Dataset } {
  const model = Model.mlp(engine, {
    sizes: [10, 8, 8, 8, 4],
    outDegrees: [4, 4, 4, 4],
    seed,
    exits: [{ after: 0 }, { after: 1 }],
  });
  const y = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 4);
  return { model, data: makeDataset("random", inputs(10 * n, seed), y, 10, 4) };
}

/** Per sample: did the early-exit system (the real runner, whole set at once) and the final classifier get it right? */
function outcomes(model: Model, data: Dataset, policy: ExitPolicy) {
  const X = Matrix.fromSamples(engine, 10, data.x);
  const runner = new ExitRunner(model, policy);
  const r = runner.run(X);
  const z = model.forward(X).toArray();
  const out = Array.from({ length: data.n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < 4; c++) if (z[c * data.n + i]! > z[best * data.n + i]!) best = c;
    return { ok: r.label[i] === data.y[i], finalOk: best === data.y[i], exit: r.exit[i]! };
  });
  runner.dispose();
  X.dispose();
  return out;
}

describe("simulatePolicy and sweep", () => {
  it("count lost and gained samples against the final classifier as the real runner's answers give them", () => {
    let lost = 0,
      gained = 0;
    for (const seed of [1, 2, 3, 4]) {
      const { model, data } = setup(seed);
      const st = classifierStats(model, data);
      for (const q of [0.3, 0.45, 0.6]) {
        const policy: ExitPolicy = { kind: "maxprob", thresholds: [q, q] };
        const o = outcomes(model, data, policy);
        const p = simulatePolicy(model, st, policy);
        const want = {
          lost: o.filter((s) => s.finalOk && !s.ok).length,
          gained: o.filter((s) => s.ok && !s.finalOk).length,
        };
        expect({ lost: p.lost, gained: p.gained }, `seed ${seed}, q ${q}`).toEqual(want);
        expect(p.accuracy).toBe(o.filter((s) => s.ok).length / data.n);
        expect(p.exitRates).toEqual([0, 1, 2].map((k) => o.filter((s) => s.exit === k).length / data.n));
        lost += want.lost;
        gained += want.gained;
      }
      model.dispose();
    }
    // the sets were such that both counts were exercised
    expect(lost).toBeGreaterThan(0);
    expect(gained).toBeGreaterThan(0);
  });

  it("one point per grid value, its threshold shared by every exit; finalAccuracy is the final classifier's", () => {
    const { model, data } = setup(5);
    const st = classifierStats(model, data);
    const finalOk = outcomes(model, data, { kind: "maxprob", thresholds: [1, 1] }).filter((s) => s.finalOk).length;
    for (const [kind, grid] of [
      ["maxprob", [0.2, 0.5, 0.8]],
      ["entropy", [0.1, 1]],
    ] as const) {
      const c = sweep(model, st, kind, [...grid]);
      expect([c.kind, c.finalAccuracy, c.fullMacs]).toEqual([kind, finalOk / data.n, exitMacs(model).trunk]);
      expect(c.points.map((p) => [p.threshold, p.policy, p.n])).toEqual(grid.map((t) => [t, `${kind}:${t},${t}`, 61]));
      c.points.forEach((p, i) => {
        expect(p).toEqual(simulatePolicy(model, st, { kind, thresholds: [grid[i]!, grid[i]!] }));
      });
    }
    // calibrate runs every classifier once, then sweeps max-probability thresholds unless told otherwise
    expect(calibrate(model, data)).toEqual(sweep(model, st, "maxprob"));
    expect(calibrate(model, data, "entropy", [0.5])).toEqual(sweep(model, st, "entropy", [0.5]));
    model.dispose();
  });

  it("a model without exits has nothing to calibrate", () => {
    const model = Model.mlp(engine, { sizes: [10, 8, 4], outDegrees: [4, 4], seed: 0 });
    const data = makeDataset("d", inputs(20, 1), new Int32Array(2), 10, 4);
    const st = classifierStats(model, data);
    expect(() => sweep(model, st, "maxprob")).toThrow(ValidationError);
    expect(() => sweep(model, st, "maxprob")).toThrow("calibrate: the model has no exits");
    model.dispose();
  });
});

describe("defaultGrid", () => {
  it("maxprob: Shallow-Deep's q, increasing from 0.1 to 0.9999", () => {
    const g = defaultGrid("maxprob");
    expect([g[0], g.at(-1), g.length]).toEqual([0.1, 0.9999, 23]);
    for (let i = 1; i < g.length; i++) expect(g[i]!).toBeGreaterThan(g[i - 1]!);
  });

  it("entropy: BranchyNet's T log-spaced five to a decade (3 digits) from 1e-4 to 10^0.4, past ln 10", () => {
    const g = defaultGrid("entropy");
    expect(g).toEqual(Array.from({ length: 23 }, (_, i) => Number((10 ** (-4 + i / 5)).toPrecision(3))));
    // so with up to 10 classes the loosest threshold exits every sample, as maxprob's 0.1 does
    expect(g.at(-1)!).toBeGreaterThan(Math.log(10));
  });
});

describe("any batch size, and an empty set", () => {
  it("give the same statistics and measured points, and leave no buffer behind", () => {
    const { model, data } = setup(6, 48);
    const live = engine.stats().liveBlocks;
    const st = classifierStats(model, data, 7);
    // 16 divides 48: the last batch ends exactly at the end of the data; 2^21 is past the largest batch there is
    for (const bs of [1, 16, 48, 2 ** 21]) expect(classifierStats(model, data, bs), `batch ${bs}`).toEqual(st);
    const policy: ExitPolicy = { kind: "maxprob", thresholds: [0.4, 0.5] };
    const { lost: _l, gained: _g, ...sim } = simulatePolicy(model, st, policy);
    for (const bs of [16, 2 ** 21]) expect(measurePolicy(model, data, policy, bs), `batch ${bs}`).toEqual(sim);
    const empty = makeDataset("empty", new Float32Array(0), new Int32Array(0), 10, 4);
    const none = classifierStats(model, empty);
    expect([none.n, none.labels.length, none.pred.map((p) => p.length)]).toEqual([0, 0, [0, 0, 0]]);
    const m = measurePolicy(model, empty, policy);
    expect([m.n, m.accuracy, m.meanMacs, m.exitRates]).toEqual([0, 0, 0, [0, 0, 0]]);
    expect(sweep(model, none, "maxprob", [0.5]).finalAccuracy).toBe(0);
    expect(engine.stats().liveBlocks).toBe(live);
    model.dispose();
  });
});

/** A hand-made sweep point: only what the picks read matters. */
const point = (meanMacs: number, accuracy: number, lost?: number, gained?: number, n = 100): SweepPoint => ({
  threshold: meanMacs,
  policy: `maxprob:${meanMacs}`,
  accuracy,
  exitRates: [],
  earlyRate: 0,
  meanMacs,
  n,
  ...(lost !== undefined && { lost }),
  ...(gained !== undefined && { gained }),
});
const calibration = (points: SweepPoint[]): Calibration => ({
  kind: "maxprob",
  finalAccuracy: 1,
  fullMacs: 100,
  points,
});

describe("pickForAccuracy", () => {
  // loss bounds (lost − gained)/n + z·√(lost + gained)/n in points at z = 1: A 11.16, B 4 exactly, C 2 exactly, D 0
  const A = point(10, 0.8, 9, 1),
    B = point(20, 0.85, 3, 1),
    C = point(30, 0.88, 1, 0),
    D = point(40, 0.9, 0, 0);
  const c = calibration([D, B, A, C]);

  it("the cheapest point whose loss plus one standard error is at most the target, the bound included", () => {
    expect(pickForAccuracy(c, 12)).toBe(A);
    expect(pickForAccuracy(c, 4)).toBe(B);
    expect(pickForAccuracy(c, 3.99)).toBe(C);
    expect(pickForAccuracy(c, 2)).toBe(C);
    expect(pickForAccuracy(c, 1.99)).toBe(D);
    expect(pickForAccuracy(c, -0.01)).toBeUndefined();
  });

  it("z scales the standard error: z = 0 trusts the sample, z = 2 doubles the margin", () => {
    expect(pickForAccuracy(c, 2, 0)).toBe(B); // (3 − 1)/100
    expect(pickForAccuracy(c, 1.99, 0)).toBe(C);
    expect(pickForAccuracy(c, 6, 2)).toBe(B); // 2 + 2·2
    expect(pickForAccuracy(c, 5.99, 2)).toBe(C);
    expect(pickForAccuracy(c, 8, 0)).toBe(A); // (9 − 1)/100, no margin
  });

  it("a point without paired counts (a measured one) has no loss; points of equal cost go to the more accurate", () => {
    const measured = point(5, 0.5);
    expect(pickForAccuracy(calibration([D, measured]), 0)).toBe(measured);
    const lo = point(20, 0.7, 0, 0),
      hi = point(20, 0.75, 0, 0);
    expect(pickForAccuracy(calibration([lo, hi, D]), 1)).toBe(hi);
    expect(pickForAccuracy(calibration([hi, lo, D]), 1)).toBe(hi);
  });
});

describe("pickKnee", () => {
  it("the point farthest above the chord from the cheapest to the costliest, in coordinates scaled to [0, 1]", () => {
    // x = 0, .25, .5, 1 and y = 0, .6, .8, 1: heights above y = x are 0, .35, .3, 0
    const P = [point(100, 0.5), point(125, 0.8), point(150, 0.9), point(200, 1)];
    expect(pickKnee(calibration([P[2]!, P[0]!, P[3]!, P[1]!]))).toBe(P[1]);
    // the costliest point is not the most accurate: x = 0, .1, .5, 1, y = 0, 6/7, 1, 2/7, heights 0, .83, .86, 0
    const Q = [point(10, 0.6), point(20, 0.9), point(60, 0.95), point(110, 0.7)];
    expect(pickKnee(calibration([Q[3]!, Q[1]!, Q[0]!, Q[2]!]))).toBe(Q[2]);
    // the chord falls (the costliest point is the least accurate): x = 0, .3, .6, 1, y = .2, .95, 1, 0, heights 0,
    // .81, .92, 0 — measured from the falling chord, not from a level one
    const S = [point(10, 0.58), point(40, 0.88), point(70, 0.9), point(110, 0.5)];
    expect(pickKnee(calibration([S[1]!, S[3]!, S[0]!, S[2]!]))).toBe(S[2]);
    // the cheapest point is the most accurate: nothing is above the chord, and it is the knee
    const R = [point(10, 0.9), point(20, 0.8), point(30, 0.85)];
    expect(pickKnee(calibration([R[1]!, R[2]!, R[0]!]))).toBe(R[0]);
  });

  it("ties go to the cheaper point; equal costs to the most accurate; equal accuracies to the cheapest", () => {
    // heights .5 and .5 exactly
    const T = [point(0, 0), point(25, 0.75), point(50, 1), point(100, 1)];
    expect(pickKnee(calibration([T[3]!, T[2]!, T[1]!, T[0]!]))).toBe(T[1]);
    const sameCost = [point(10, 0.5), point(10, 0.9), point(10, 0.7)];
    expect(pickKnee(calibration(sameCost))).toBe(sameCost[1]);
    const sameAcc = [point(30, 0.8), point(10, 0.8), point(20, 0.8)];
    expect(pickKnee(calibration(sameAcc))).toBe(sameAcc[1]);
    const one = point(7, 0.3);
    expect(pickKnee(calibration([one]))).toBe(one);
  });
});
