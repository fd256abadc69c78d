// Node-only: IDX files (MNIST, Fashion-MNIST, …), plain or gzipped. Layout: 0x00 0x00, a type byte,
// a rank byte, rank big-endian u32 dimensions, then the row-major elements.
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { FormatError, ValidationError } from "../engine/errors.js";
import { makeDataset, type Dataset } from "../nn/dataset.js";

const U8 = 0x08;

/** An IDX array of unsigned bytes: its dimensions and row-major elements. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Options of the IDX readers. */
export interface IdxOptions {
  /** Largest decompressed size accepted from a gzipped file, in bytes (default 1 GiB). */
  maxBytes?: number;
}

/** Reads an IDX file of unsigned bytes, gunzipping it first if it starts with the gzip magic 1f 8b. */
export function readIdx(path: string, options: IdxOptions = {}): IdxArray {
  const { maxBytes = 2 ** 30 } = options;
  const fail = (field: string, detail: string): never => {
    throw new FormatError("idx", field, `${detail} in ${path}`);
  };
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (e) {
      fail("gzip", (e as Error).message);
    }
  }
  if (bytes.length < 4) fail("magic", `need 4 bytes, file has ${bytes.length}`);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail("magic", `expected 00 00 <type> <rank>, got ${hex(bytes.subarray(0, 4))}`);
  if (bytes[2] !== U8) fail("dtype", `only unsigned bytes (0x08) are supported, got 0x${hex(bytes.subarray(2, 3))}`);
  const rank = bytes[3]!;
  if (rank === 0) fail("rank", "expected at least one dimension, got 0");
  if (bytes.length < 4 + 4 * rank)
    fail("dims", `rank ${rank} needs ${4 * rank} bytes of dimensions, file has ${bytes.length - 4}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  const start = 4 + 4 * rank;
  if (count !== bytes.length - start)
    fail("length", `dims [${dims.join(", ")}] need ${count} bytes of data, file has ${bytes.length - start}`);
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + start, count) };
}

/** Options of {@link loadIdxDataset}. */
export interface IdxDatasetOptions extends IdxOptions {
  /** Number of classes; every label must be below it (default 10). */
  classes?: number;
}

/**
 * The train or test half of an IDX dataset directory: `train-images-idx3-ubyte` + `train-labels-idx1-ubyte`
 * or `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte`, each optionally `.gz` (also the `images.idx3-ubyte`
 * spelling). Pixels become floats in [0, 1]; every image's pixels are one sample's features.
 */
export function loadIdxDataset(dir: string, split: "train" | "test", options: IdxDatasetOptions = {}): Dataset {
  const { classes = 10 } = options;
  const prefix = split === "train" ? "train" : "t10k";
  const imagesPath = find(dir, prefix, "images", 3);
  const labelsPath = find(dir, prefix, "labels", 1);
  const images = readIdx(imagesPath, options);
  const labels = readIdx(labelsPath, options);
  if (images.dims.length !== 3)
    throw new FormatError(
      "idx",
      "rank",
      `images must be rank 3 [n, rows, cols], got [${images.dims.join(", ")}] in ${imagesPath}`,
    );
  if (labels.dims.length !== 1)
    throw new FormatError("idx", "rank", `labels must be rank 1 [n], got [${labels.dims.join(", ")}] in ${labelsPath}`);
  const [n, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== n)
    throw new FormatError(
      "idx",
      "labels count",
      `${labels.dims[0]} labels in ${labelsPath} for ${n} images in ${imagesPath}`,
    );
  if (rows * cols === 0)
    throw new FormatError("idx", "dims", `images of ${rows}×${cols} pixels have no features in ${imagesPath}`);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = labels.data[i]!;
    if (c >= classes)
      throw new FormatError("idx", "label", `label ${i} is ${c}, expected a class below ${classes} in ${labelsPath}`);
    y[i] = c;
  }
  const scale = Float32Array.from({ length: 256 }, (_, v) => v / 255);
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = scale[images.data[i]!]!;
  return makeDataset(`${basename(dir)}/${split}`, x, y, rows * cols, classes);
}

function find(dir: string, prefix: string, kind: string, rank: number): string {
  const names = [`${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`].flatMap((s) => [
    s,
    `${s}.gz`,
  ]);
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new ValidationError(`loadIdxDataset: no ${prefix} ${kind} in ${dir} (looked for ${names.join(", ")})`);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (v) => v.toString(16).padStart(2, "0")).join(" ");
}
