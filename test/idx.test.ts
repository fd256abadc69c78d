import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { FormatError, ValidationError } from "../src/engine/errors.js";
import { loadData, loadIdxDataset, readIdx } from "../src/node/index.js";

const root = mkdtempSync(join(tmpdir(), "presparse-idx-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let fileCount = 0;

/** IDX bytes: 00 00 <type> <rank>, big-endian u32 dims, then the data. */
function idx(dims: number[], data: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function put(bytes: Uint8Array, name = `f${fileCount++}`, dir = root): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function formatError(fn: () => unknown, field: string, path: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  expect((err as FormatError).field).toBe(field);
  expect((err as FormatError).message).toContain(path);
}

/** A dataset directory with random images and labels; returns what was written. */
function makeDir(opts: { n: number; rows: number; cols: number; gz: boolean; seed: number; spelling?: "-" | "." }) {
  const dir = join(root, `ds${fileCount++}`);
  mkdirSync(dir);
  const sep = opts.spelling ?? "-";
  const out: Record<string, { pixels: Uint8Array; labels: Uint8Array }> = {};
  let s = opts.seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  for (const prefix of ["train", "t10k"]) {
    const pixels = Uint8Array.from({ length: opts.n * opts.rows * opts.cols }, next);
    const labels = Uint8Array.from({ length: opts.n }, () => next() % 10);
    const z = (b: Uint8Array) => (opts.gz ? gzipSync(b) : b);
    const ext = opts.gz ? ".gz" : "";
    put(z(idx([opts.n, opts.rows, opts.cols], pixels)), `${prefix}-images${sep}idx3-ubyte${ext}`, dir);
    put(z(idx([opts.n], labels)), `${prefix}-labels${sep}idx1-ubyte${ext}`, dir);
    out[prefix] = { pixels, labels };
  }
  return { dir, ...out } as {
    dir: string;
    train: { pixels: Uint8Array; labels: Uint8Array };
    t10k: { pixels: Uint8Array; labels: Uint8Array };
  };
}

describe("readIdx", () => {
  it("reads dims and bytes back, plain and gzipped", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.nat(),
        (dims, gz, seed) => {
          const data = Uint8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (i * 31 + seed) & 255);
          const bytes = idx(dims, data);
          const got = readIdx(put(gz ? gzipSync(bytes) : bytes));
          expect(got.dims).toEqual(dims);
          expect(got.data).toEqual(data);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("rejects bad magic, dtypes, ranks, dims and lengths, naming the file", () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), "magic"],
      [new Uint8Array([0, 0, 8]), "magic"],
      [new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0]), "magic"],
      [idx([2], [1, 2], 0x0d), "dtype"],
      [idx([], []), "rank"],
      [idx([2, 3], new Uint8Array(6)).subarray(0, 9), "dims"],
      [idx([2, 3], new Uint8Array(5)), "length"],
      [idx([2, 3], new Uint8Array(7)), "length"],
      [idx([65536, 65536, 65536], new Uint8Array(4)), "length"],
    ];
    for (const [bytes, field] of cases) {
      const path = put(bytes);
      formatError(() => readIdx(path), field, path);
      const gz = put(gzipSync(bytes));
      formatError(() => readIdx(gz), field, gz);
    }
  });

  it("rejects truncated gzip and gzip past the size cap", () => {
    const gz = gzipSync(idx([1000], new Uint8Array(1000)));
    const cut = put(gz.subarray(0, gz.length - 10));
    formatError(() => readIdx(cut), "gzip", cut);
    const big = put(gz);
    formatError(() => readIdx(big, { maxBytes: 500 }), "gzip", big);
    expect(readIdx(big).data.length).toBe(1000);
  });

  it("rejects every truncation of a valid file", () => {
    const bytes = idx(
      [3, 2, 2],
      Uint8Array.from({ length: 12 }, (_, i) => i),
    );
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), (n) => {
        expect(() => readIdx(put(bytes.subarray(0, n)))).toThrow(FormatError);
      }),
      { numRuns: 30 },
    );
  });
});

describe("loadIdxDataset", () => {
  it("loads both halves, pixels / 255 and labels as written, in either file spelling and compression", () => {
    for (const [gz, spelling] of [
      [false, "-"],
      [true, "-"],
      [true, "."],
    ] as const) {
      const d = makeDir({ n: 7, rows: 3, cols: 4, gz, seed: 11, spelling });
      for (const [split, want] of [
        ["train", d.train],
        ["test", d.t10k],
      ] as const) {
        const ds = loadIdxDataset(d.dir, split);
        expect([ds.n, ds.features, ds.classes]).toEqual([7, 12, 10]);
        expect(Array.from(ds.x)).toEqual(Array.from(want.pixels, (p) => Math.fround(p / 255)));
        expect(Array.from(ds.y)).toEqual(Array.from(want.labels));
        expect(ds.name).toMatch(new RegExp(`/${split}$`));
      }
    }
  });

  it("feeds loadData with the files' own halves, padded on request", () => {
    const d = makeDir({ n: 5, rows: 2, cols: 3, gz: true, seed: 3 });
    const { train, test } = loadData(d.dir, { padTo: 8 });
    expect([train.n, test.n, train.features]).toEqual([5, 5, 8]);
    expect(train.x[0 * 8 + 6]).toBe(0);
    expect(train.x[1 * 8 + 2]).toBe(Math.fround(d.train.pixels[1 * 6 + 2]! / 255));
    expect(Array.from(test.y)).toEqual(Array.from(d.t10k.labels));
  });

  it("rejects missing files, count mismatches, ranks and labels beyond the classes", () => {
    const empty = join(root, "empty");
    mkdirSync(empty);
    expect(() => loadIdxDataset(empty, "test")).toThrow(ValidationError);
    expect(() => loadIdxDataset(empty, "test")).toThrow(/t10k-images-idx3-ubyte\.gz/);

    const d = makeDir({ n: 4, rows: 2, cols: 2, gz: false, seed: 5 });
    const labels = put(idx([3], [1, 2, 3]), "train-labels-idx1-ubyte", d.dir);
    formatError(() => loadIdxDataset(d.dir, "train"), "labels count", labels);

    put(idx([4], [1, 2, 3, 9]), "train-labels-idx1-ubyte", d.dir);
    formatError(() => loadIdxDataset(d.dir, "train", { classes: 9 }), "label", labels);

    const images = put(idx([4, 4], new Uint8Array(16)), "train-images-idx3-ubyte", d.dir);
    formatError(() => loadIdxDataset(d.dir, "train"), "rank", images);
  });
});
