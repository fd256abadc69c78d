// The floors of src/ (README, "The house"): every import points down — the tree as it is, and a planted upward
// import, type-only or not, is caught.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script with no type declarations
import { FLOORS, layerViolations } from "../scripts/check-layers.mjs";

type Violation = { file: string; imports: string; why: string };
const violations = layerViolations as (srcDir: string) => Violation[];
const ROOT = join(import.meta.dirname, "..");

describe("the floors of src/", () => {
  it("no module imports a floor above its own", () => {
    expect(violations(join(ROOT, "src")).map((v) => `${v.file} → ${v.imports} (${v.why})`)).toEqual([]);
  });

  it("names the floors lowest first, the Node-only ones last", () => {
    expect(FLOORS).toEqual([
      "engine",
      "sparsity",
      "ops",
      "nn",
      "exits",
      "io",
      "split",
      "report",
      "data",
      "server",
      "node",
      "cli",
    ]);
  });

  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tree = (files: Record<string, string>): string => {
    const d = mkdtempSync(join(tmpdir(), "presparse-floors-"));
    dirs.push(d);
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(d, f)), { recursive: true });
      writeFileSync(join(d, f), text);
    }
    return d;
  };

  it("catches an upward import, a type-only one, and a folder that is no floor", () => {
    const d = tree({
      "engine/engine.ts": `import { Model } from "../nn/model.js";\nexport const e = Model;\n`,
      "ops/csr_spmm.ts": `import type { Head } from "../split/split.js";\nexport type H = Head;\n`,
      "nn/model.ts": `import { e } from "../engine/engine.js";\nexport const Model = e;\n`,
      "split/split.ts": `export type Head = number;\n`,
      "misc/x.ts": `export const x = 1;\n`,
      "index.ts": `export * from "./split/split.js";\n`,
    });
    expect(
      violations(d)
        .map((v) => `${v.file} → ${v.imports}`)
        .sort(),
    ).toEqual(["engine/engine.ts → nn/model.ts", "misc/x.ts → ", "ops/csr_spmm.ts → split/split.ts"]);
  });

  it("lets the browser entry re-export the browser floors, not the Node-only ones", () => {
    const d = tree({
      "index.ts": `export * from "./report/svg.js";\nexport * from "./data/load.js";\n`,
      "report/svg.ts": "",
      "data/load.ts": "",
    });
    expect(violations(d).map((v) => `${v.file} → ${v.imports}`)).toEqual(["index.ts → data/load.ts"]);
  });
});
