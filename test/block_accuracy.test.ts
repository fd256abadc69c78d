// The accuracy study of blocked patterns (bench/block_accuracy.mjs) runs end to end on a tiny setting: every network
// and block size gives a row, the infeasible ones say so, and the confidence interval is Student's t.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module of the benchmarks, typed by its use here
import { meanCi, run } from "../bench/block_accuracy.mjs";

describe("bench/block_accuracy.mjs", () => {
  it("trains each network at blocks 1, 2, 4 over the seeds: mean ± 95% CI and seconds per epoch", async () => {
    const rows = (await run({ seeds: 2, epochsPaper: 1, epochsWide: 1, trainSamples: 300, quiet: true })) as {
      net: string;
      block: string | number;
      accuracy: string;
      seeds: number;
    }[];
    expect(rows.map((r) => [r.net, String(r.block)])).toEqual([
      ["paper (2,9,10)", "1,1,1"],
      ["paper (2,9,10)", "2,1,1"],
      ["paper (2,9,10)", "4"],
      ["784-1024-1024-10 (128,104,10)", "1,1,1"],
      ["784-1024-1024-10 (128,104,10)", "2,2,1"],
      ["784-1024-1024-10 (128,104,10)", "4,4,1"],
    ]);
    expect(rows[2]!.accuracy).toBe("infeasible");
    for (const r of rows.filter((r) => r.accuracy !== "infeasible"))
      expect(r.accuracy).toMatch(/^\d+\.\d\d ± \d+\.\d\d$/);
  }, 120_000);

  it("the interval is t(0.975, n − 1)·s/√n", () => {
    // 1, 2, 3: mean 2, s = 1, t(0.975, 2) = 4.303
    const { mean, half } = meanCi([1, 2, 3]);
    expect(mean).toBe(2);
    expect(half).toBeCloseTo(4.303 / Math.sqrt(3), 10);
    expect(meanCi([5])).toEqual({ mean: 5, half: 0 });
  });
});
