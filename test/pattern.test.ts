// Pattern invariants: fixed degrees, CSR/CSC consistency, reproducibility, feasibility errors, density,
// mask round trips, the paper's layer sizes, and the validation of hand-made CSR arrays.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PatternError, ValidationError } from "../src/engine/errors.js";
import { Pattern, feasibleBlocks, feasibleOutDegrees } from "../src/sparsity/pattern.js";
import { buildPattern, fixedDegrees, patternSpecArb } from "./helpers/engine.js";

const dim = fc.integer({ min: 1, max: 70 });

function ok(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

/** Every structural invariant the kernels rely on, checked from first principles. */
function checkStructure(p: Pattern): void {
  expect(p.rowPtr.length).toBe(p.outputs + 1);
  expect(p.rowPtr[0]).toBe(0);
  expect(p.rowPtr[p.outputs]).toBe(p.nnz);
  expect(p.colIdx.length).toBe(p.nnz);
  for (let r = 0; r < p.outputs; r++) {
    ok(p.rowPtr[r + 1]! >= p.rowPtr[r]!, `rowPtr decreases at row ${r}`);
    for (let q = p.rowPtr[r]!; q < p.rowPtr[r + 1]!; q++) {
      const c = p.colIdx[q]!;
      ok(c >= 0 && c < p.inputs, `colIdx[${q}] = ${c} out of range`);
      ok(q === p.rowPtr[r]! || c > p.colIdx[q - 1]!, `row ${r} not strictly increasing at ${q}`);
    }
  }
  // CSC view: same entries, rows increasing in each column, perm pointing at the same (row, col) in CSR
  expect(p.colPtr.length).toBe(p.inputs + 1);
  expect(p.colPtr[0]).toBe(0);
  expect(p.colPtr[p.inputs]).toBe(p.nnz);
  const rowOf = new Int32Array(p.nnz);
  for (let r = 0; r < p.outputs; r++) for (let q = p.rowPtr[r]!; q < p.rowPtr[r + 1]!; q++) rowOf[q] = r;
  const seen = new Uint8Array(p.nnz);
  for (let c = 0; c < p.inputs; c++) {
    for (let q = p.colPtr[c]!; q < p.colPtr[c + 1]!; q++) {
      const r = p.rowIdx[q]!,
        j = p.perm[q]!;
      ok(
        p.colIdx[j] === c && rowOf[j] === r,
        `CSC entry ${q} = (${r}, ${c}) but perm points at (${rowOf[j]}, ${p.colIdx[j]})`,
      );
      ok(q === p.colPtr[c]! || r > p.rowIdx[q - 1]!, `column ${c} not strictly increasing at ${q}`);
      seen[j]!++;
    }
  }
  expect(seen.every((x) => x === 1)).toBe(true);
  expect(p.density).toBeCloseTo(p.nnz / (p.inputs * p.outputs), 12);
}

describe("every generated pattern", () => {
  it("is a valid CSR matrix with a consistent CSC view, and fromCsr accepts its arrays", () => {
    fc.assert(
      fc.property(patternSpecArb(), (spec) => {
        const p = buildPattern(spec);
        checkStructure(p);
        const q = Pattern.fromCsr(p.inputs, p.outputs, p.rowPtr, p.colIdx);
        expect(q.hash).toBe(p.hash);
        expect(Array.from(q.perm)).toEqual(Array.from(p.perm));
      }),
      { numRuns: 60 },
    );
  });

  it("round-trips through toMask and fromMask, and the mask has nnz ones", () => {
    fc.assert(
      fc.property(patternSpecArb(), (spec) => {
        const p = buildPattern(spec);
        const mask = p.toMask();
        expect(mask.reduce((a, b) => a + b, 0)).toBe(p.nnz);
        const q = Pattern.fromMask(p.inputs, p.outputs, mask);
        expect(Array.from(q.rowPtr)).toEqual(Array.from(p.rowPtr));
        expect(Array.from(q.colIdx)).toEqual(Array.from(p.colIdx));
        expect(q.hash).toBe(p.hash);
      }),
      { numRuns: 60 },
    );
  });
});

describe("Pattern.fixedDegree", () => {
  const feasible = fc
    .tuple(dim, dim, fc.nat(), fc.integer({ min: 0, max: 2 ** 31 - 1 }))
    .map(([inputs, outputs, pick, seed]) => {
      const ds = fixedDegrees(inputs, outputs);
      return { inputs, outputs, outDegree: ds[pick % ds.length]!, seed };
    });

  it("gives every input exactly outDegree connections and every output inputs·outDegree/outputs", () => {
    fc.assert(
      fc.property(feasible, ({ inputs, outputs, outDegree, seed }) => {
        const p = Pattern.fixedDegree(inputs, outputs, outDegree, seed);
        checkStructure(p);
        const inDegree = (inputs * outDegree) / outputs;
        for (let c = 0; c < inputs; c++)
          ok(p.outDegree(c) === outDegree, `input ${c} has out-degree ${p.outDegree(c)}, expected ${outDegree}`);
        for (let r = 0; r < outputs; r++)
          ok(p.inDegree(r) === inDegree, `output ${r} has in-degree ${p.inDegree(r)}, expected ${inDegree}`);
        expect(p.nnz).toBe(inputs * outDegree);
      }),
      { numRuns: 60 },
    );
  });

  it("is reproducible: same seed → same pattern and hash; another seed → almost always another hash", () => {
    let differ = 0,
      comparable = 0;
    fc.assert(
      fc.property(feasible, fc.integer({ min: 1, max: 1000 }), ({ inputs, outputs, outDegree, seed }, delta) => {
        const a = Pattern.fixedDegree(inputs, outputs, outDegree, seed);
        const b = Pattern.fixedDegree(inputs, outputs, outDegree, seed);
        expect(b.hash).toBe(a.hash);
        expect(Array.from(b.colIdx)).toEqual(Array.from(a.colIdx));
        expect(a.hash).toMatch(/^[0-9a-f]{16}$/);
        const c = Pattern.fixedDegree(inputs, outputs, outDegree, (seed + delta) % 2 ** 31);
        expect(c.hash === a.hash).toBe(
          Array.from(c.colIdx).join() === Array.from(a.colIdx).join() &&
            Array.from(c.rowPtr).join() === Array.from(a.rowPtr).join(),
        );
        // only patterns with many possible arrangements are expected to differ
        if (outDegree > 0 && outDegree < outputs && inputs >= 8 && outputs >= 8) {
          comparable++;
          if (c.hash !== a.hash) differ++;
        }
      }),
      { numRuns: 60 },
    );
    expect(differ).toBeGreaterThanOrEqual(Math.floor(comparable * 0.9));
  });

  it("throws a PatternError listing the feasible out-degrees for an infeasible one", () => {
    fc.assert(
      fc.property(dim, dim, fc.nat(), (inputs, outputs, pick) => {
        const ok = new Set(fixedDegrees(inputs, outputs));
        const bad = Array.from({ length: outputs }, (_, i) => i + 1).filter((d) => !ok.has(d));
        fc.pre(bad.length > 0);
        const d = bad[pick % bad.length]!;
        let err: unknown;
        try {
          Pattern.fixedDegree(inputs, outputs, d);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(PatternError);
        const msg = (err as Error).message;
        expect(msg).toContain(`out-degree ${d} infeasible for ${inputs}→${outputs}`);
        expect(msg).toContain(`feasible out-degrees: ${[...ok].join(", ")}`);
        expect(feasibleOutDegrees(inputs, outputs)).toEqual([...ok]);
      }),
      { numRuns: 60 },
    );
  });

  it("the paper's layers 800→40 (2), 40→40 (9), 40→10 (10) have 1600, 360, 400 connections", () => {
    const layers = [
      Pattern.fixedDegree(800, 40, 2, 1),
      Pattern.fixedDegree(40, 40, 9, 1),
      Pattern.fixedDegree(40, 10, 10, 1),
    ];
    expect(layers.map((p) => p.nnz)).toEqual([1600, 360, 400]);
    expect(layers.map((p) => p.density)).toEqual([0.05, 0.225, 1]);
    expect(layers.map((p) => p.inDegree(0))).toEqual([40, 9, 40]);
    for (const p of layers) checkStructure(p);
  });

  it("800→40 at out-degree 3 is feasible; 800→30 at 4 is not and the message offers 3, 6, …", () => {
    // 800·3 = 2400 is divisible by 40, so 3 is feasible; 800→30 at 4 is not (3200 / 30)
    expect(() => Pattern.fixedDegree(800, 40, 3)).not.toThrow();
    expect(() => Pattern.fixedDegree(800, 30, 4)).toThrow(/feasible out-degrees: 3, 6, 9, 12, 15, 18, 21, 24, 27, 30/);
  });
});

describe("Pattern.fixedDegree with blocks", () => {
  const blocked = fc
    .tuple(dim, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.nat({ max: 2 ** 31 - 1 }))
    .map(([inputs, groups, block, pick, seed]) => {
      const ds = fixedDegrees(inputs, groups);
      return { inputs, outputs: groups * block, outDegree: ds[pick % ds.length]! * block, block, seed };
    });

  it("keeps every input at outDegree and every output at the in-degree, rows of a group sharing their columns", () => {
    fc.assert(
      fc.property(blocked, ({ inputs, outputs, outDegree, block, seed }) => {
        const p = Pattern.fixedDegree(inputs, outputs, outDegree, seed, { block });
        checkStructure(p);
        expect(p.block).toBe(block);
        const inDegree = (inputs * outDegree) / outputs;
        for (let c = 0; c < inputs; c++) ok(p.outDegree(c) === outDegree, `input ${c}: out-degree ${p.outDegree(c)}`);
        for (let r = 0; r < outputs; r++) {
          ok(p.inDegree(r) === inDegree, `output ${r}: in-degree ${p.inDegree(r)}, expected ${inDegree}`);
          const g = r - (r % block);
          const cols = (q: number) => Array.from(p.colIdx.subarray(p.rowPtr[q], p.rowPtr[q + 1])).join();
          ok(cols(r) === cols(g), `row ${r} does not read the inputs of row ${g}`);
        }
        // the stored arrays vouch for the block: fromCsr accepts them with it
        expect(Pattern.fromCsr(inputs, outputs, p.rowPtr, p.colIdx, p.kind, { block }).hash).toBe(p.hash);
      }),
      { numRuns: 60 },
    );
  });

  it("block 1 is the unblocked pattern, bit for bit", () => {
    fc.assert(
      fc.property(blocked, ({ inputs, outputs, outDegree, seed }) => {
        const a = Pattern.fixedDegree(inputs, outputs, outDegree, seed);
        const b = Pattern.fixedDegree(inputs, outputs, outDegree, seed, { block: 1 });
        expect(b.hash).toBe(a.hash);
        expect(b.kind).toBe(a.kind);
        expect(a.block).toBe(1);
      }),
      { numRuns: 30 },
    );
  });

  it("throws a PatternError listing the feasible blocks for an infeasible one", () => {
    expect(() => Pattern.fixedDegree(800, 40, 2, 0, { block: 4 })).toThrow(
      /block 4 infeasible for 800→40 at out-degree 2: .*feasible blocks: 1, 2$/,
    );
    expect(() => Pattern.fixedDegree(1024, 1024, 100, 0, { block: 3 })).toThrow(/feasible blocks: 1, 2, 4$/);
    expect(() => Pattern.fixedDegree(1024, 1024, 100, 0, { block: 3 })).toThrow(PatternError);
    expect(() => Pattern.fixedDegree(800, 40, 2, 0, { block: 0 })).toThrow(ValidationError);
    expect(feasibleBlocks(40, 12)).toEqual([1, 2, 4]);
    expect(feasibleBlocks(1024, 256)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
  });

  it("fromCsr rejects a declared block the rows do not have", () => {
    const p = Pattern.fixedDegree(64, 32, 8, 3);
    expect(() => Pattern.fromCsr(64, 32, p.rowPtr, p.colIdx, "csr", { block: 2 })).toThrow(
      /block 2: row 1 does not have the columns of row 0/,
    );
    const q = Pattern.fixedDegree(60, 30, 2, 3);
    expect(() => Pattern.fromCsr(60, 30, q.rowPtr, q.colIdx, "csr", { block: 4 })).toThrow(
      /30 outputs do not split into blocks of 4/,
    );
  });
});

describe("Pattern.random and Pattern.dense", () => {
  it("random density roughly matches the request", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 40, max: 120 }),
        fc.integer({ min: 40, max: 120 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(),
        (i, o, d, seed) => {
          const p = Pattern.random(i, o, d, seed);
          const n = i * o;
          // 5 standard deviations of a binomial(n, d), plus one entry
          expect(Math.abs(p.nnz - n * d)).toBeLessThanOrEqual(5 * Math.sqrt(n * d * (1 - d)) + 1);
        },
      ),
      { numRuns: 40 },
    );
    expect(Pattern.random(30, 20, 0, 5).nnz).toBe(0);
    expect(Pattern.random(30, 20, 1, 5).nnz).toBe(600);
  });

  it("random is reproducible from its seed", () => {
    const a = Pattern.random(50, 40, 0.1, 42),
      b = Pattern.random(50, 40, 0.1, 42),
      c = Pattern.random(50, 40, 0.1, 43);
    expect(b.hash).toBe(a.hash);
    expect(c.hash).not.toBe(a.hash);
  });

  it("dense has every connection and equals the all-ones mask", () => {
    fc.assert(
      fc.property(dim, dim, (i, o) => {
        const p = Pattern.dense(i, o);
        expect(p.nnz).toBe(i * o);
        expect(p.density).toBe(1);
        expect(p.hash).toBe(Pattern.fromMask(i, o, new Array(i * o).fill(1)).hash);
        expect(p.hash).toBe(Pattern.fixedDegree(i, o, o).hash);
      }),
      { numRuns: 30 },
    );
  });

  it("patterns of different sizes with the same arrays hash differently", () => {
    const a = Pattern.fromCsr(4, 2, [0, 1, 1], [0]),
      b = Pattern.fromCsr(5, 2, [0, 1, 1], [0]);
    expect(a.hash).not.toBe(b.hash);
  });
});

describe("bad inputs", () => {
  it("Pattern.fromCsr rejects every broken CSR invariant with a PatternError", () => {
    const cases: [string, number, number, number[], number[], RegExp][] = [
      ["rowPtr too short", 3, 2, [0, 1], [0], /rowPtr has 2 entries, expected outputs \+ 1 = 3/],
      ["rowPtr too long", 3, 2, [0, 1, 1, 1], [0], /rowPtr has 4 entries/],
      ["rowPtr[0] ≠ 0", 3, 2, [1, 1, 2], [0, 1], /rowPtr\[0\] must be 0, got 1/],
      ["rowPtr end ≠ nnz", 3, 2, [0, 1, 3], [0, 1], /rowPtr\[2\] = 3 but colIdx has 2 entries/],
      ["non-monotone rowPtr", 3, 2, [0, 2, 1], [0], /rowPtr not monotone: rowPtr\[1\] = 2 exceeds rowPtr\[2\] = 1/],
      ["non-monotone rowPtr, consistent end", 3, 3, [0, 2, 1, 2], [0, 1], /rowPtr not monotone at row 1: 2 then 1/],
      ["colIdx ≥ inputs", 3, 2, [0, 1, 2], [0, 3], /colIdx\[1\] = 3 out of range \[0, 3\)/],
      ["colIdx negative", 3, 2, [0, 1, 2], [-1, 0], /colIdx\[0\] = -1 out of range/],
      ["colIdx fractional", 3, 2, [0, 1, 2], [0.5, 0], /colIdx\[0\] = 0.5 out of range/],
      ["unsorted row", 3, 1, [0, 2], [2, 1], /colIdx not strictly increasing in row 0 at position 1 \(2 then 1\)/],
      ["duplicate in row", 3, 1, [0, 2], [1, 1], /not strictly increasing/],
      ["fractional rowPtr", 3, 2, [0, 0.5, 1], [0], /rowPtr not monotone at row 0: 0 then 0.5/],
    ];
    for (const [what, inputs, outputs, rowPtr, colIdx, msg] of cases) {
      let err: unknown;
      try {
        Pattern.fromCsr(inputs, outputs, rowPtr, colIdx);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(PatternError);
      expect((err as Error).message, what).toMatch(msg);
      expect((err as Error).message, what).toMatch(/^Pattern\.fromCsr: /);
    }
  });

  it("fromMask rejects a mask of the wrong length", () => {
    expect(() => Pattern.fromMask(3, 2, [1, 0, 1])).toThrow(PatternError);
    expect(() => Pattern.fromMask(3, 2, [1, 0, 1])).toThrow(/mask has 3 entries, expected outputs·inputs = 2·3 = 6/);
  });

  it("NaN, negative, zero, fractional and infinite sizes throw ValidationError from every generator", () => {
    const bad = [NaN, -1, 0, 2.5, Infinity];
    for (const n of bad) {
      for (const make of [
        () => Pattern.dense(n, 3),
        () => Pattern.dense(3, n),
        () => Pattern.random(n, 3, 0.5),
        () => Pattern.random(3, n, 0.5),
        () => Pattern.fixedDegree(n, 3, 1),
        () => Pattern.fixedDegree(3, n, 1),
        () => Pattern.fromMask(n, 1, []),
        () => Pattern.fromCsr(n, 1, [0, 0], []),
      ])
        expect(make, String(n)).toThrow(ValidationError);
    }
    for (const d of [NaN, -0.1, 1.5])
      expect(() => Pattern.random(3, 3, d)).toThrow(/Pattern.random: density must be in \[0, 1\]/);
    for (const d of [NaN, -1, 1.5, 4]) expect(() => Pattern.fixedDegree(6, 3, d), String(d)).toThrow(ValidationError);
  });
});
