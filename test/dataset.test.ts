import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../src/engine/engine.js";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { Rng } from "../src/engine/random.js";
import { Batcher } from "../src/nn/batcher.js";
import { makeDataset, padFeatures, shuffledIndices, splitDataset, type Dataset } from "../src/nn/dataset.js";
import { loadData, loadMnist, mnistDigitsDir } from "../src/node/index.js";

/** A dataset whose sample i has features i + f/1000 for f < features (so samples can be told apart). */
function numbered(
  n: number,
  features: number,
  classes: number,
  label: (i: number) => number = (i) => i % classes,
): Dataset {
  const x = Float32Array.from({ length: n * features }, (_, k) => Math.floor(k / features) + (k % features) / 1000);
  return makeDataset(
    "numbered",
    x,
    Int32Array.from({ length: n }, (_, i) => label(i)),
    features,
    classes,
  );
}
const idOf = (ds: Dataset, i: number) => Math.round(ds.x[i * ds.features]!);
/** Bitwise equality of two typed arrays (toEqual walks large arrays element by element, slowly). */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const dsArb = fc
  .record({
    n: fc.integer({ min: 0, max: 40 }),
    features: fc.integer({ min: 1, max: 9 }),
    classes: fc.integer({ min: 1, max: 5 }),
    seed: fc.nat(),
  })
  .map(({ n, features, classes, seed }) => {
    const rng = new Rng(seed);
    return numbered(n, features, classes, () => rng.int(classes));
  });

describe("makeDataset", () => {
  it("rejects mismatched sizes and labels outside the classes", () => {
    expect(() => makeDataset("d", new Float32Array(5), new Int32Array(2), 3, 2)).toThrow(ShapeError);
    expect(() => makeDataset("d", new Float32Array(6), new Int32Array([0, 2]), 3, 2)).toThrow(/label 1 is 2/);
    expect(() => makeDataset("d", new Float32Array(6), new Int32Array([-1, 0]), 3, 2)).toThrow(ValidationError);
  });
});

describe("padFeatures", () => {
  it("keeps every sample's features and zero-fills the rest", () => {
    fc.assert(
      fc.property(dsArb, fc.nat(5), (ds, extra) => {
        const p = padFeatures(ds, ds.features + extra);
        expect(p.features).toBe(ds.features + extra);
        expect(p.y).toEqual(ds.y);
        for (let i = 0; i < ds.n; i++) {
          for (let f = 0; f < p.features; f++) {
            expect(p.x[i * p.features + f]).toBe(f < ds.features ? ds.x[i * ds.features + f] : 0);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it("refuses to pad to fewer features", () => {
    expect(() => padFeatures(numbered(2, 5, 2), 4)).toThrow(/cannot pad to fewer \(4\)/);
  });
});

describe("shuffledIndices and splitDataset", () => {
  it("shuffles to a permutation, the same for the same seed", () => {
    fc.assert(
      fc.property(fc.nat(200), fc.nat(), (n, seed) => {
        const a = shuffledIndices(n, new Rng(seed));
        expect(Array.from(a).sort((p, q) => p - q)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(shuffledIndices(n, new Rng(seed))).toEqual(a);
      }),
      { numRuns: 50 },
    );
  });

  it("splits into disjoint halves of the asked sizes, stratified, the same for the same seed", () => {
    fc.assert(
      fc.property(dsArb, fc.nat(), fc.nat(), (ds, t, seed) => {
        const test = t % (ds.n + 1);
        const s = splitDataset(ds, { test, seed });
        expect(s.test.n).toBe(test);
        expect(s.train.n).toBe(ds.n - test);
        const ids = [
          ...Array.from({ length: s.train.n }, (_, i) => idOf(s.train, i)),
          ...Array.from({ length: s.test.n }, (_, i) => idOf(s.test, i)),
        ];
        expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: ds.n }, (_, i) => i));
        for (const half of [s.train, s.test]) {
          for (let i = 0; i < half.n; i++) {
            const id = idOf(half, i);
            expect(half.y[i]).toBe(ds.y[id]);
            expect(half.x.subarray(i * ds.features, (i + 1) * ds.features)).toEqual(
              ds.x.subarray(id * ds.features, (id + 1) * ds.features),
            );
          }
        }
        for (let c = 0; c < ds.classes; c++) {
          const members = ds.y.filter((v) => v === c).length;
          const inTest = s.test.y.filter((v) => v === c).length;
          expect(Math.abs(inTest - (test * members) / Math.max(1, ds.n))).toBeLessThan(1);
        }
        const again = splitDataset(ds, { test, seed });
        expect(again.train.x).toEqual(s.train.x);
        expect(again.test.y).toEqual(s.test.y);
      }),
      { numRuns: 100 },
    );
  });

  it("depends on the seed", () => {
    const ds = numbered(100, 2, 4);
    const chosen = (seed: number) => {
      const t = splitDataset(ds, { test: 20, seed }).test;
      return Array.from({ length: t.n }, (_, i) => idOf(t, i)).sort((p, q) => p - q);
    };
    // which samples are held out, not only their order
    expect(chosen(1)).not.toEqual(chosen(2));
  });
});

describe("Batcher (the one path from a dataset to a feature-major batch)", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load();
  });
  afterAll(() => engine.dispose());

  it("lays batches out feature-major like a plain loop, the last one partial", () => {
    fc.assert(
      fc.property(
        dsArb.filter((d) => d.n > 0),
        fc.integer({ min: 1, max: 13 }),
        fc.nat(),
        (ds, batchSize, seed) => {
          const order = shuffledIndices(ds.n, new Rng(seed));
          const batcher = new Batcher(engine, ds, batchSize);
          let start = 0;
          for (; start < ds.n; start += batchSize) {
            const size = Math.min(batchSize, ds.n - start);
            const X = batcher.load(order, start, size);
            expect(X.cols).toBe(size);
            const want = new Float32Array(ds.features * size);
            for (let f = 0; f < ds.features; f++)
              for (let b = 0; b < size; b++) want[f * size + b] = ds.x[order[start + b]! * ds.features + f]!;
            expect(X.toArray()).toEqual(want);
            expect(batcher.labels.toArray().subarray(0, size)).toEqual(
              Int32Array.from({ length: size }, (_, b) => ds.y[order[start + b]!]!),
            );
          }
          batcher.dispose();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("writes through fresh views when its allocations grow memory", () => {
    const ds = numbered(3000, 200, 10);
    const grows = engine.stats().grows;
    const batcher = new Batcher(engine, ds, ds.n);
    const order = Int32Array.from({ length: ds.n }, (_, i) => ds.n - 1 - i);
    const X = batcher.load(order, 0, ds.n);
    expect(engine.stats().grows).toBeGreaterThan(grows);
    const out = X.view();
    expect(out[0]).toBe(ds.x[(ds.n - 1) * ds.features]);
    expect(out[199 * ds.n + 5]).toBe(ds.x[(ds.n - 6) * ds.features + 199]);
    expect(batcher.labels.view()[7]).toBe(ds.y[ds.n - 8]);
    batcher.dispose();
  });

  it("rejects batches larger than it holds, past the end of the order, and bad indices", () => {
    const ds = numbered(4, 3, 2);
    const batcher = new Batcher(engine, ds, 2);
    const order = [0, 1, 2, 3];
    expect(() => batcher.load(order, 0, 3)).toThrow(/size must be an integer in \[1, 2\]/);
    expect(() => batcher.load(order, 3, 2)).toThrow(/samples \[3, 5\) outside an order of 4/);
    expect(() => batcher.load([0, 4], 0, 2)).toThrow(/sample index 4 outside \[0, 4\)/);
    batcher.dispose();
  });
});

describe("mnist", () => {
  it("loads the package's 10,000 digits in [0, 1], every class, interleaved", () => {
    const ds = loadMnist();
    expect(ds.n).toBe(10000);
    expect(ds.features).toBe(784);
    expect(ds.classes).toBe(10);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of ds.x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    const counts = new Array<number>(10).fill(0);
    for (const c of ds.y) counts[c]!++;
    for (let c = 0; c < 10; c++) {
      const file = JSON.parse(readFileSync(join(mnistDigitsDir(), `${c}.json`), "utf8")) as { data: number[] };
      expect(counts[c]).toBe(file.data.length / 784);
      if (c === 3)
        expect(Array.from(ds.x.subarray(3 * 784, 4 * 784))).toEqual(
          Array.from(Float32Array.from(file.data.slice(0, 784))),
        );
    }
    expect(Array.from(ds.y.subarray(0, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(loadMnist()).toBe(ds);
  });

  it("splits 8,000/2,000 and pads to 800 through loadData, deterministically", () => {
    const a = loadData("mnist", { padTo: 800, seed: 7 });
    expect([a.train.n, a.test.n, a.train.features, a.test.features]).toEqual([8000, 2000, 800, 800]);
    for (let i = 0; i < 50; i++)
      expect(Array.from(a.test.x.subarray(i * 800 + 784, (i + 1) * 800)).every((v) => v === 0)).toBe(true);
    const b = loadData("mnist", { padTo: 800, seed: 7 });
    expect(sameBytes(b.test.y, a.test.y)).toBe(true);
    expect(sameBytes(b.train.x, a.train.x)).toBe(true);
    expect(sameBytes(loadData("mnist", { seed: 8 }).test.y, a.test.y)).toBe(false);
  });
});

describe("loadTestData", () => {
  it("gives loadData's held-out half of the embedded digits for the same seed", async () => {
    const { loadTestData } = await import("../src/data/load.js");
    for (const seed of [0, 3]) {
      const want = loadData("mnist", { seed, padTo: 800 }).test;
      const got = loadTestData("mnist", { seed, padTo: 800 });
      expect(got.y).toEqual(want.y);
      expect(got.x).toEqual(want.x);
    }
  });
});
