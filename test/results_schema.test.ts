import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, describe, expect, it } from "vitest";
import { loadData } from "../src/data/load.js";
import { subset } from "../src/nn/dataset.js";
import { runExperiment } from "../src/node/experiment.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();
const dir = mkdtempSync(join(tmpdir(), "presparse-schema-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const schema = JSON.parse(readFileSync(new URL("../docs/results.schema.json", import.meta.url), "utf8"));

describe("docs/results.schema.json", () => {
  it("a small run's results.json is valid against it, and a broken one is not", async () => {
    const data = loadData("mnist", { seed: 1, padTo: 800 });
    const first = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
    await runExperiment(engine, {
      outDir: dir,
      data: { train: subset(data.train, first(1000)), test: subset(data.test, first(200)), name: "mnist (subset)" },
      networks: [
        { name: "sparse", description: "sparse", sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10] },
        { name: "dense", description: "dense twin", sizes: [800, 40, 40, 10], outDegrees: [40, 40, 10] },
      ],
      epochs: 1,
      batch: 256,
      lr: 1e-3,
      decay: 1e-5,
      seed: 1,
      seeds: 2,
      exitAfter: 1,
      exitWeights: [1, 0.3],
      targetLoss: 0.5,
      front: { firstDegrees: [1], secondDegrees: [9], narrowWidths: [3] },
      serve: true,
      commandLine: "test",
      log: () => {},
    });
    const ajv = new Ajv2020.default({ allErrors: true, strict: true });
    const validate = ajv.compile(schema);
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    expect(validate(results), ajv.errorsText(validate.errors)).toBe(true);
    expect(results.front).toHaveLength(4);
    expect(Object.keys(results.training)).toEqual(["epochs", "sparse", "dense", "maskedDense"]);
    // a fraction past 1, a missing interval and a kind no front has are each caught
    const broken = structuredClone(results);
    broken.networks[0].runs[0].accuracyFinal = 1.5;
    delete broken.front[0].stats.exitRate;
    broken.front[1].kind = "wide";
    expect(validate(broken)).toBe(false);
    const paths = validate.errors!.map((e) => e.instancePath);
    expect(paths).toContain("/networks/0/runs/0/accuracyFinal");
    expect(paths).toContain("/front/0/stats");
    expect(paths).toContain("/front/1/kind");
  }, 60_000);
});
