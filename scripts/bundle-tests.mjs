#!/usr/bin/env node
// Bundles the TypeScript the Chromium suite and the kernel benchmarks run: test/browser/kernels.page.ts and
// test/browser/golden.page.ts (the pages) and test/cases/index.ts (every kernel case) into build/test/, from the very
// sources the Node suite runs. presparse itself is not bundled: every import of a module under src/ becomes an import
// of the package's two browser entries as built, dist/index.js ("presparse") and dist/ops_index.js ("presparse/ops"),
// which between them export every name the pages and the cases use. So the pages and the benchmarks run the shipped
// package, chunks and all, and share one instance of it with their own imports of it; a case that imports a name
// neither entry exports fails to bundle. fast-check stays an import too (the pages' import map names it).
// browser.test.ts bundles before it serves the pages.
//
//   node scripts/bundle-tests.mjs
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const OUT = join(ROOT, "build/test");

/** The bundles, by name: build/test/<name>.js. */
export const ENTRIES = {
  "kernels.page": "test/browser/kernels.page.ts",
  "golden.page": "test/browser/golden.page.ts",
  cases: "test/cases/index.ts",
};

/** The package's browser entries as built, first the one a name is taken from when both export it. */
export const PUBLIC_ENTRIES = ["dist/index.js", "dist/ops_index.js"];

const PUBLIC = "presparse-public";
const DIST = "presparse-dist:";

/** Each built entry with the names it exports (read by esbuild from the file, not by running it). */
async function publicExports() {
  const seen = new Set();
  const out = [];
  for (const entry of PUBLIC_ENTRIES) {
    const file = join(ROOT, entry);
    if (!existsSync(file)) throw new Error(`${entry} missing: run \`npm run build\` first (\`npm test\` does)`);
    const { metafile } = await build({ entryPoints: [file], write: false, metafile: true, logLevel: "silent" });
    const names = Object.values(metafile.outputs)[0].exports.filter((n) => !seen.has(n));
    for (const n of names) seen.add(n);
    out.push({ entry, names });
  }
  return out;
}

// An import of src/<floor>/<file>.js (as the TypeScript sources import each other) → one module that re-exports
// every name of the public entries from ../../dist/<entry>.js, relative to build/test/.
const packageFromDist = (exports) => ({
  name: "presparse-from-dist",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const inSrc = relative(SRC, resolve(args.resolveDir, args.path));
      if (inSrc.startsWith("..") || isAbsolute(inSrc)) return undefined;
      return { path: PUBLIC, namespace: PUBLIC };
    });
    b.onLoad({ filter: /.*/, namespace: PUBLIC }, () => ({
      contents: exports.map(({ entry, names }) => `export { ${names.join(", ")} } from "${DIST}${entry}";`).join("\n"),
      loader: "js",
    }));
    b.onResolve({ filter: new RegExp(`^${DIST}`) }, (args) => ({
      path: relative(OUT, join(ROOT, args.path.slice(DIST.length)))
        .split("\\")
        .join("/"),
      external: true,
    }));
  },
});

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
    plugins: [packageFromDist(await publicExports())],
    logLevel: "warning",
  });
  return Object.keys(ENTRIES).map((name) => join(OUT, `${name}.js`));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of await bundleTests()) console.log(relative(ROOT, f));
}
