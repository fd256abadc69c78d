// The browser entry reaches no Node built-in (in the sources and in the built package), Node-only imports stay in
// the directories meant for them, and the import-graph walker finds a built-in planted anywhere in a graph.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script with no type declarations
import { builtinImporters, formatHits, runtimeSpecifiers, scanImports } from "../scripts/check-browser-imports.mjs";

interface Hit {
  specifier: string;
  chain: string[];
}
interface Scan {
  files: string[];
  builtins: Hit[];
  packages: Hit[];
  unresolved: Hit[];
}
const scan = scanImports as (entries: string[]) => Scan;
const format = formatHits as (hits: Hit[]) => string;

const ROOT = join(import.meta.dirname, "..");
// Where a direct import of a Node built-in is allowed: CLI, server, Node file helpers, dataset file loaders.
const NODE_ONLY = [/^src\/node\//, /^src\/cli\//, /^src\/server\//, /^src\/data\/idx\.ts$/, /^src\/data\/mnist\.ts$/];

describe("browser entry", () => {
  it.each(["src/index.ts", "src/ops_index.ts"])("%s reaches no Node built-in and no unresolvable module", (entry) => {
    const r = scan([join(ROOT, entry)]);
    // the walk really covers the engine path, so an empty result means something
    for (const f of [
      "src/engine/engine.ts",
      "src/ops/csr_spmm.ts",
      "src/engine/buffers.ts",
      "src/sparsity/pattern.ts",
      "src/split/frame.ts",
    ])
      expect(r.files).toContain(f);
    expect(format(r.builtins)).toBe("");
    expect(format(r.unresolved)).toBe("");
  });

  it.each([".", "./ops"])('the built package\'s "%s" export reaches no Node built-in and no bare package', (name) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      exports: Record<string, { default: string }>;
    };
    const entry = join(ROOT, pkg.exports[name]!.default);
    expect(existsSync(entry), `${entry} missing: run \`npm run build\``).toBe(true);
    const r = scan([entry]);
    expect(
      r.files.some((f) => f.startsWith("dist/lib/")),
      "dist/index.js and its chunks",
    ).toBe(true);
    expect(format(r.builtins)).toBe("");
    expect(format(r.unresolved)).toBe("");
    // a page loads dist/index.js with no import map for presparse's dependencies
    expect(format(r.packages)).toBe("");
  });

  it("only the CLI, server, Node helpers and file loaders import Node built-ins themselves", () => {
    const offenders = (builtinImporters(join(ROOT, "src")) as { file: string; builtins: string[] }[])
      .filter((h) => !NODE_ONLY.some((re) => re.test(h.file)))
      .map((h) => `${h.file}: ${h.builtins.join(", ")}`);
    expect(offenders).toEqual([]);
  });
});

describe("import-graph walker", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const forms = {
    importFrom: (s: string) => `import { x } from "${s}";\nexport const y = x;`,
    sideEffect: (s: string) => `import "${s}";`,
    namespace: (s: string) => `import * as ns from "${s}";\nexport { ns };`,
    reexport: (s: string) => `export * from "${s}";`,
    reexportNamed: (s: string) => `export { x } from "${s}";`,
    dynamic: (s: string) => `export async function f() { return import("${s}"); }`,
    require: (s: string) => `const m = require("${s}");\nexport default m;`,
  };
  const formArb = fc.constantFrom(...(Object.keys(forms) as (keyof typeof forms)[]));
  const builtinArb = fc.constantFrom(
    ...builtinModules.filter((m) => !m.startsWith("_")),
    "node:fs",
    "node:http",
    "node:zlib",
    "node:cluster",
  );

  it("finds a built-in planted at any depth of a module chain, in any import form, with its chain", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        formArb,
        formArb,
        builtinArb,
        fc.boolean(),
        (n, at, linkForm, plantForm, builtin, js) => {
          const dir = mkdtempSync(join(tmpdir(), "imports-"));
          dirs.push(dir);
          const ext = js ? "js" : "ts";
          const depth = at % n;
          // m0 → m1 → … → m(n−1); module `depth` also loads the built-in
          for (let i = 0; i < n; i++) {
            const lines = [`export const x${i} = ${i};`];
            if (i + 1 < n) lines.push(forms[linkForm](`./m${i + 1}.js`));
            if (i === depth) lines.push(forms[plantForm](builtin));
            writeFileSync(join(dir, `m${i}.${ext}`), lines.join("\n"));
          }
          const r = scan([join(dir, `m0.${ext}`)]);
          expect(r.files).toHaveLength(n);
          expect(r.builtins.map((h) => h.specifier)).toEqual([builtin]);
          expect(r.builtins[0]!.chain.map((f) => f.replace(/^.*\//, ""))).toEqual(
            Array.from({ length: depth + 1 }, (_, i) => `m${i}.${ext}`),
          );
          expect(r.unresolved).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("ignores what never runs: type-only imports, `typeof import()`, and import() of a computed name", () => {
    const src = [
      `import type { Stats } from "node:fs";`,
      `import { type ReadStream } from "node:fs";`,
      `export type { Server } from "node:http";`,
      `export { type Socket } from "node:net";`,
      `type Zlib = typeof import("node:zlib");`,
      `const name = "node:fs/promises";`,
      `export async function read() { return import(name); }`,
      `// import "node:os" inside a comment`,
      `const s = 'import "node:os"';`,
    ].join("\n");
    expect(runtimeSpecifiers("x.ts", src)).toEqual([]);
    expect(runtimeSpecifiers("x.ts", `import fs, { type Stats } from "fs";`)).toEqual(["fs"]);
    expect(runtimeSpecifiers("x.ts", `import { readFile, type Stats } from "node:fs";`)).toEqual(["node:fs"]);
  });

  it("reports a relative import that names no file", () => {
    const dir = mkdtempSync(join(tmpdir(), "imports-"));
    dirs.push(dir);
    writeFileSync(join(dir, "a.ts"), `export * from "./missing.js";`);
    const r = scan([join(dir, "a.ts")]);
    expect(r.unresolved.map((h) => h.specifier)).toEqual(["./missing.js"]);
  });
});
