// The randomness of Pattern.fixedDegree against statistical properties that share no code with it: over many seeds
// the patterns spread over every arrangement the degrees allow, not over the relabelings of one cyclic tiling.
import { describe, expect, it } from "vitest";
import { Pattern } from "../src/sparsity/pattern.js";

/** Every 0/1 matrix [outputs, inputs] with all row sums k and column sums d, as its rows' column lists joined. */
function allArrangements(inputs: number, outputs: number, k: number): Set<string> {
  const rows: number[][] = [];
  const pick = (start: number, chosen: number[]): void => {
    if (chosen.length === k) return void rows.push([...chosen]);
    for (let c = start; c < inputs; c++) pick(c + 1, [...chosen, c]);
  };
  pick(0, []);
  const d = (outputs * k) / inputs;
  const out = new Set<string>();
  const grow = (chosen: number[][], colSums: number[]): void => {
    if (chosen.length === outputs) {
      if (colSums.every((s) => s === d)) out.add(chosen.map((r) => r.join(",")).join("|"));
      return;
    }
    for (const r of rows) {
      const sums = colSums.slice();
      r.forEach((c) => sums[c]!++);
      if (sums.every((s) => s <= d)) grow([...chosen, r], sums);
    }
  };
  grow([], new Array(inputs).fill(0));
  return out;
}

function key(p: Pattern): string {
  const rows: string[] = [];
  for (let r = 0; r < p.outputs; r++) rows.push(Array.from(p.colIdx.subarray(p.rowPtr[r], p.rowPtr[r + 1])).join(","));
  return rows.join("|");
}

describe("Pattern.fixedDegree randomness", () => {
  it("4→4 at out-degree 2 reaches all 90 arrangements over 3000 seeds, each about equally often", () => {
    const all = allArrangements(4, 4, 2);
    expect(all.size).toBe(90);
    const counts = new Map<string, number>();
    const seeds = 3000;
    for (let s = 0; s < seeds; s++) {
      const k = key(Pattern.fixedDegree(4, 4, 2, s));
      expect(all.has(k)).toBe(true);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(90);
    // Pearson's chi-square against the uniform distribution, 89 degrees of freedom: its 0.1% point is about 135.
    // (The relabelings of the cyclic tiling alone reach 18 of the 90.)
    const e = seeds / 90;
    const chi2 = [...all].reduce((s, k) => s + ((counts.get(k) ?? 0) - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(135);
  });

  it(
    "800→40 at out-degree 2 (the paper's first layer): " +
      "an input's two outputs are not a fixed pairing of the outputs",
    () => {
      for (let seed = 0; seed < 20; seed++) {
        const p = Pattern.fixedDegree(800, 40, 2, seed);
        const outputsOf: number[][] = Array.from({ length: 800 }, () => []);
        for (let r = 0; r < 40; r++)
          for (let q = p.rowPtr[r]!; q < p.rowPtr[r + 1]!; q++) outputsOf[p.colIdx[q]!]!.push(r);
        const pairs = new Set(outputsOf.map((o) => o.join(",")));
        const partners = Array.from({ length: 40 }, () => new Set<number>());
        for (const [a, b] of outputsOf) {
          partners[a!]!.add(b!);
          partners[b!]!.add(a!);
        }
        // a tiling (relabelled or not) gives 20 distinct pairs and one partner per output; 800 random pairs out of
        // 780 possible give about 500 distinct ones and about 34 partners per output
        expect(pairs.size, `seed ${seed}`).toBeGreaterThan(400);
        expect(Math.min(...partners.map((s) => s.size)), `seed ${seed}`).toBeGreaterThanOrEqual(20);
        const rows = new Set(
          Array.from({ length: 40 }, (_, r) => Array.from(p.colIdx.subarray(p.rowPtr[r], p.rowPtr[r + 1])).join(",")),
        );
        expect(rows.size, `seed ${seed}: two outputs read the same inputs`).toBe(40);
      }
    },
  );
});
