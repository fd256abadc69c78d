// Model files other tools read, and files written before them: the committed version-1 files (column indices as U16,
// written by the encoder of commit 13a46b4) load to the logits they were written with.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { Matrix, decodeModel, type Engine, type Model } from "../src/index.js";
import { getEngine } from "./helpers/engine.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** The inputs every fixture's logits were computed on: x[i] = 0.5 + 0.5·sin(i + 1) over [features, batch]. */
function inputs(features: number, batch: number): Float32Array {
  return Float32Array.from({ length: features * batch }, (_, i) => 0.5 + 0.5 * Math.sin(i + 1));
}

/** Every classifier's logits (exits first, then the final one) on the fixtures' inputs. */
function logitsOf(model: Model, batch: number): number[][] {
  const X = Matrix.from(model.engine, model.inputSize, batch, inputs(model.inputSize, batch));
  try {
    return model.forwardAll(X).map((z) => Array.from(z.toArray()));
  } finally {
    X.dispose();
  }
}

interface Fixture { bytes: Uint8Array; batch: number; hash: string; logits: number[][] }

function fixture(name: string): Fixture {
  const want = JSON.parse(readFileSync(`${fixtures}${name}.logits.json`, "utf8")) as Omit<Fixture, "bytes">;
  return { bytes: readFileSync(`${fixtures}${name}.safetensors`), ...want };
}

let engine: Engine;
beforeAll(async () => {
  engine = await getEngine();
});

describe("version-1 model files", () => {
  // v1-mlp: the paper's [800, 40, 40, 10] (2, 9, 10) with a sparse exit head (out-degree 5) after the first hidden
  // layer; v1-cnn: conv, pools, flatten, a sparse and a dense fc, an exit after the first pool. Both trained 3 steps.
  for (const name of ["v1-mlp", "v1-cnn"]) {
    it(`${name} (U16 column indices) loads to the logits it was written with, bit for bit, and keeps its hash`, () => {
      const f = fixture(name);
      const loaded = decodeModel(engine, f.bytes, { source: name });
      try {
        expect(loaded.spec.version).toBe(1);
        expect(loaded.hash).toBe(f.hash);
        expect(logitsOf(loaded.model, f.batch)).toEqual(f.logits);
      } finally {
        loaded.model.dispose();
      }
    });
  }
});
