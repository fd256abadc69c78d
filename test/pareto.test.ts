import { describe, expect, it } from "vitest";
import {
  budgetTable,
  gridShapes,
  headline,
  headlineSentence,
  markPareto,
  type FrontKind,
  type FrontPoint,
} from "../src/node/pareto.js";
import { denseMask, seedStats, type SeedRun } from "../src/node/study.js";
import { Pattern } from "../src/sparsity/pattern.js";

function point(kind: FrontKind, label: string, parameters: number, fileBytes: number, macs: number, accs: number[]) {
  const runs: SeedRun[] = accs.map((a, seed) => ({
    seed,
    accuracyFinal: a,
    accuracyExit: a,
    accuracySystem: a,
    exitRate: 0,
    meanMacs: macs,
    bytesSent: 0,
    policy: undefined,
    secondsPerEpoch: 0,
  }));
  const shape = { sizes: [800, 40, 40, 10], outDegrees: [40, 40, 10] };
  return { kind, label, shape, parameters, fileBytes, macs, runs, stats: seedStats(runs) } as FrontPoint;
}

describe("masked dense, the seed paper's training", () => {
  it("masks exactly the pattern's connections in the dense row-major layout, and nothing for a full layer", () => {
    const p = Pattern.fixedDegree(20, 8, 2, 7);
    const m = denseMask(p)!;
    expect(m.reduce((s, x) => s + x, 0)).toBe(p.nnz);
    for (let r = 0; r < p.outputs; r++)
      for (let q = p.rowPtr[r]!; q < p.rowPtr[r + 1]!; q++) expect(m[r * p.inputs + p.colIdx[q]!]).toBe(1);
    expect(denseMask(Pattern.dense(4, 3))).toBeUndefined();
  });
});

describe("the Pareto front and the headline", () => {
  const dense = point("dense", "dense", 34000, 140000, 34000, [0.93, 0.935, 0.94]);
  const near = point("sparse", "near", 8000, 40000, 7000, [0.925, 0.93, 0.935]); // 3.5× file, 4.9× MACs, overlaps
  const small = point("sparse", "small", 2800, 21000, 2300, [0.89, 0.9, 0.895]); // 6.7× file, 14.8× MACs, lower
  const narrow = point("dense-narrow", "narrow", 2500, 11000, 2400, [0.6, 0.65, 0.7]);

  it("finds the largest reduction whose interval overlaps the dense twin's and what 4× costs", () => {
    const h = headline([dense, near, small, narrow], dense);
    expect(h.bestStorage!.label).toBe("near");
    expect(h.bestMacs!.label).toBe("near");
    expect(h.holds).toBe(false);
    expect(h.atFourX!.label).toBe("small");
    expect(h.atFourX!.cost.mean).toBeCloseTo(0.04, 12);
    // in parameters, "near" is 4.25× smaller and 4.9× cheaper at no loss: the claim holds that way
    expect(h.byParameters.holds).toBe(true);
    expect(h.byParameters.atFourX!.label).toBe("near");
    const text = headlineSentence(h, "digits");
    expect(text).toContain('"More than 4× at no loss" does not hold here with storage counted in file bytes');
    expect(text).toContain('"More than 4× at no loss" holds here with storage counted in stored parameters: near');
    expect(text).toContain("4.00 ± ");
    // the lenient overlap test is joined by the interval of the difference
    expect(text).toMatch(
      /small \(.*\), 4\.00 ± [\d.]+ points below the dense twin \(95% CI of the difference, which excludes 0\)/,
    );
    expect(text).toMatch(/near \(.*\), 0\.50 ± [\d.]+ points below the dense twin \(95% CI of the difference\)/);
  });

  it("says so when nothing matches the dense twin", () => {
    const h = headline([dense, small], dense);
    expect(h.bestStorage).toBeUndefined();
    expect(headlineSentence(h, "x")).toContain("no configuration matches the dense twin's accuracy");
  });

  it("marks the front: fewer parameters or higher accuracy than every other point", () => {
    markPareto([dense, near, small, narrow]);
    expect([dense, near, small, narrow].map((p) => p.pareto)).toEqual([true, true, true, true]);
    const worse = point("sparse", "worse", 9000, 50000, 9000, [0.9, 0.9, 0.9]);
    markPareto([dense, near, worse]);
    expect(worse.pareto).toBe(false);
  });

  it("grids around the sparse network, skipping what the study already trains; budgets pair the nearest sizes", () => {
    const base = { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10] };
    const shapes = gridShapes(base, { firstDegrees: [2, 40], secondDegrees: [9, 40], narrowWidths: [3, 8] }, [base]);
    expect(shapes.map((s) => `${s.kind} ${s.shape.sizes.join("-")} ${s.shape.outDegrees.join(",")}`)).toEqual([
      "sparse 800-40-40-10 2,40,10",
      "sparse 800-40-40-10 40,9,10",
      "dense-narrow 800-3-3-10 3,3,10",
      "dense-narrow 800-8-8-10 8,8,10",
    ]);
    expect(budgetTable([dense, near, small, narrow])).toContain("| 2500 | narrow | 65.00 ± 12.42 | small | 2800 |");
  });
});
