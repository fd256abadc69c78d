#!/usr/bin/env node
// Bundles the TypeScript the Chromium suite and the kernel benchmarks run: test/browser/kernels.page.ts (the page) and
// test/cases/index.ts (every kernel case) into build/test/, from the very sources the Node suite runs. presparse
// itself is not bundled: an import of src/<path>.ts becomes an import of dist/<path>.js (what tsc built), so the page
// and the benchmark run the shipped package and share one instance of it with their own imports of it. fast-check
// stays an import too (the page's import map names it). browser.test.ts bundles before it serves the page.
//
//   node scripts/bundle-tests.mjs
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const OUT = join(ROOT, "build/test");

/** The bundles, by name: build/test/<name>.js. */
export const ENTRIES = { "kernels.page": "test/browser/kernels.page.ts", cases: "test/cases/index.ts" };

// src/a/b.js (as TypeScript sources import each other) → ../../dist/a/b.js, relative to build/test/.
const packageFromDist = {
  name: "presparse-from-dist",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const inSrc = relative(SRC, resolve(args.resolveDir, args.path));
      if (inSrc.startsWith("..") || isAbsolute(inSrc)) return undefined;
      const target = join(ROOT, "dist", inSrc.replace(/\.ts$/, ".js"));
      return { path: relative(OUT, target).split("\\").join("/"), external: true };
    });
  },
};

/** Writes build/test/<name>.js for each entry and returns their paths. */
export async function bundleTests() {
  await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(ROOT, file)])),
    outdir: OUT,
    bundle: true,
    format: "esm",
    target: "es2022",
    sourcemap: true,
    external: ["fast-check"],
    plugins: [packageFromDist],
    logLevel: "warning",
  });
  return Object.keys(ENTRIES).map((name) => join(OUT, `${name}.js`));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of await bundleTests()) console.log(relative(ROOT, f));
}
