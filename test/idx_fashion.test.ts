// The IDX reader on the real Fashion-MNIST files from Debian's dataset-fashion-mnist (CI installs it).
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadData } from "../src/data/load.js";

const DIR = "/usr/share/datasets/fashion-mnist";
const present = existsSync(`${DIR}/train-images-idx3-ubyte.gz`);
if (!present) console.warn(`Fashion-MNIST test skipped: ${DIR} not found (apt-get install dataset-fashion-mnist)`);

describe.skipIf(!present)("Fashion-MNIST from IDX files", () => {
  it("reads 60,000 + 10,000 labelled 28×28 images, padded to the paper's 800 inputs", () => {
    const { train, test } = loadData(DIR, { padTo: 800 });
    expect([train.n, test.n]).toEqual([60000, 10000]);
    expect([train.features, train.classes]).toEqual([800, 10]);
    const counts = new Array(10).fill(0);
    for (const y of train.y) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(6000)); // Fashion-MNIST is balanced
    let lo = Infinity,
      hi = -Infinity,
      pad = 0;
    for (let i = 0; i < 1000; i++) {
      for (let f = 0; f < 784; f++) {
        const v = train.x[i * 800 + f]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      for (let f = 784; f < 800; f++) pad += Math.abs(train.x[i * 800 + f]!);
    }
    expect([lo, hi, pad]).toEqual([0, 1, 0]);
  }, 30_000);
});

describe.skipIf(!present)("loadTestData", () => {
  it("is loadData's test half, without reading the training file", async () => {
    const { loadTestData } = await import("../src/data/load.js");
    const both = loadData(DIR, { padTo: 800 }).test;
    const test = loadTestData(DIR, { padTo: 800 });
    expect(test.n).toBe(10000);
    const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(Buffer.compare(bytes(test.y), bytes(both.y))).toBe(0);
    expect(Buffer.compare(bytes(test.x), bytes(both.x))).toBe(0);
  }, 30_000);
});
