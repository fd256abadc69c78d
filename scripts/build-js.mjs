// The JavaScript of the package, bundled by esbuild so that `import "presparse"` loads a few modules instead of
// dozens (Node spends about half a millisecond of CPU on each module it loads: bench/cold_start.mjs). tsc has
// already checked the types and written the .d.ts.
//
// - dist/lib/presparse.js: all the browser-safe code, everything src/index.ts and src/ops_index.ts reach, in one
//   module. dist/index.js ("presparse") and dist/ops_index.js ("presparse/ops") are one line each, re-exporting
//   their names from it, so a page or a process that imports both entries loads three modules.
// - dist/node/index.js ("presparse/node") and dist/cli/main.js (the bin), with the Node-only code they share in
//   chunks in dist/lib/. Their imports of browser-safe modules become imports of dist/lib/presparse.js, which also
//   exports each such module's names under a prefix of that module's path, for them alone: so the three entries
//   share one copy of every class (an error thrown by presparse/node is an instance of presparse's).
//
// The runtime dependencies (package.json's "dependencies") and Node's built-ins stay imports, resolved where the
// package is installed; anything else src/ imports from a package is a build-time dependency and is bundled in:
// AssemblyScript's loader, so the browser entries import no bare module and a page needs no import map for it.
// - dist/lib/pool_worker.js: the thread pool's worker script, which the engine starts by URL (`new Worker(new
//   URL("./pool_worker.js", import.meta.url), …)`, next to dist/lib/presparse.js), never imports. It is built from
//   src/engine/pool_worker.ts and the control block's layout (pool_protocol.ts, a page of constants that
//   presparse.js holds too) alone, so each worker loads one small module and none of the library.
// Then the WASM builds go next to dist/lib/presparse.js (its `new URL("./presparse.wasm", import.meta.url)`, and
// the threaded builds' likewise), and the CLI entry is made executable (npm links `presparse` to it).
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");
// every output sits two levels below the package root (dist/lib/, dist/node/, dist/cli/, and the one-line entries
// re-export from there), so paths such as new URL("../../package.json", import.meta.url) mean the same in any of
// them, and "../lib/presparse.js" names the browser module from any Node-side output
const BROWSER_OUT = "lib/presparse";
const BROWSER_IMPORT = `../${BROWSER_OUT}.js`;
const PUBLIC = { index: "src/index.ts", ops_index: "src/ops_index.ts" };
const NODE = { "node/index": "src/node/index.ts", "cli/main": "src/cli/main.ts" };

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const runtime = Object.keys(pkg.dependencies ?? {});
const common = {
  absWorkingDir: ROOT,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["node:*", ...runtime.flatMap((d) => [d, `${d}/*`])],
  sourcemap: "linked",
  sourcesContent: true,
  charset: "utf8",
  metafile: true,
  logLevel: "warning",
};

/** The names each file exports when it runs (type-only exports are gone), by path relative to ROOT. */
async function exportsOf(files) {
  const { metafile } = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: files,
    outdir: "exports-of",
    write: false,
    metafile: true,
    format: "esm",
    logLevel: "warning",
  });
  return new Map(Object.values(metafile.outputs).map((o) => [o.entryPoint, o.exports]));
}

// "src/split/frame.ts" → "split$frame": the prefix of that module's names in dist/lib/presparse.js
const prefix = (file) => relative("src", file).replace(/\.ts$/, "").replace(/\W/g, "$");

/**
 * The imports of a TypeScript module that remain when it runs: [specifier, names imported or "*"] for each
 * import, re-export and import() with a literal specifier; type-only ones are erased.
 */
function runtimeImports(file) {
  const sf = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const out = [];
  const named = (elements) => elements.filter((e) => !e.isTypeOnly).map((e) => (e.propertyName ?? e.name).text);
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && node.importClause && !node.importClause.isTypeOnly) {
      const b = node.importClause.namedBindings;
      const list = !b ? [] : ts.isNamespaceImport(b) ? "*" : named(b.elements);
      if (list === "*" || list.length > 0) out.push([node.moduleSpecifier.text, list]);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) {
      const c = node.exportClause;
      const list = !c || ts.isNamespaceExport(c) ? "*" : named(c.elements);
      if (list === "*" || list.length > 0) out.push([node.moduleSpecifier.text, list]);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) out.push([arg.text, "*"]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

// 1. Which modules the public entries reach: a build that writes nothing, for its metafile.
const reach = await esbuild.build({ ...common, entryPoints: Object.values(PUBLIC), outdir: DIST, write: false });
const browser = [...new Set(Object.values(reach.metafile.outputs).flatMap((o) => Object.keys(o.inputs)))]
  .filter((f) => f.startsWith("src/"))
  .sort();
const names = await exportsOf([...browser, ...Object.values(PUBLIC)]);

// 2. Which of their names the Node-side modules import: a build of the Node entries that stops at browser-safe
// modules, for the list of the others, whose imports are then read.
const isBrowser = new Set(browser.map((f) => resolve(ROOT, f)));
const browserFile = (dir, path) => {
  const file = resolve(dir, path.replace(/\.js$/, ".ts"));
  return isBrowser.has(file) ? relative(ROOT, file) : undefined;
};
const stopAtBrowser = {
  name: "stop-at-browser",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) =>
      browserFile(args.resolveDir, args.path) ? { path: args.path, external: true } : undefined,
    );
  },
};
const nodeReach = await esbuild.build({
  ...common,
  entryPoints: NODE,
  outdir: DIST,
  write: false,
  splitting: true,
  plugins: [stopAtBrowser],
});
const wanted = new Map(); // browser-safe module → the names Node-side code imports from it
for (const file of Object.keys(nodeReach.metafile.inputs).filter((f) => f.startsWith("src/"))) {
  for (const [spec, imported] of runtimeImports(file)) {
    const target = browserFile(dirname(resolve(ROOT, file)), spec);
    if (!target) continue;
    // a name the module does not export when it runs is a type, imported without `type`: tsc erases it
    const runs = names.get(target);
    const set = wanted.get(target) ?? new Set();
    for (const n of imported === "*" ? runs : imported.filter((i) => runs.includes(i))) set.add(n);
    wanted.set(target, set);
  }
}

// 3. dist/lib/presparse.js: the public names as they are, and those names under the prefix of their module.
const table = [
  ...Object.values(PUBLIC).map((f) => `export * from "./${f}";`),
  ...[...wanted].map(
    ([f, ns]) => `export { ${[...ns].map((n) => `${n} as ${prefix(f)}$$${n}`).join(", ")} } from "./${f}";`,
  ),
].join("\n");
const built = await esbuild.build({
  ...common,
  stdin: { contents: table, resolveDir: ROOT, sourcefile: "presparse.js", loader: "js" },
  outfile: join(DIST, `${BROWSER_OUT}.js`),
});
const bundled = Object.keys(built.metafile.inputs).filter((i) => i.startsWith("node_modules/"));
const unexpected = bundled.filter((i) => !i.startsWith("node_modules/@assemblyscript/loader/"));
if (unexpected.length > 0) throw new Error(`build-js: bundled a package besides the loader: ${unexpected.join(", ")}`);
if (!("src/engine/engine.ts" in built.metafile.inputs)) throw new Error("build-js: the engine is not in the bundle");

// 4. The public entries: one re-export each.
for (const [out, file] of Object.entries(PUBLIC)) {
  const from = `./${relative(dirname(join(DIST, out)), join(DIST, BROWSER_OUT))}.js`;
  writeFileSync(join(DIST, `${out}.js`), `export { ${names.get(file).join(", ")} } from "${from}";\n`);
}

// 5. The Node entries, splitting what they share into dist/lib/; a browser-safe module is a stand-in that
// re-exports its names from dist/lib/presparse.js.
const STAND_IN = "presparse-browser";
const fromBrowser = {
  name: "presparse-from-browser-bundle",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.namespace === STAND_IN) return { path: BROWSER_IMPORT, external: true };
      const file = browserFile(args.resolveDir, args.path);
      return file ? { path: file, namespace: STAND_IN } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: STAND_IN }, (args) => {
      const exported = [...(wanted.get(args.path) ?? [])];
      const list = exported.map((n) => `${prefix(args.path)}$$${n} as ${n}`).join(", ");
      return { contents: exported.length > 0 ? `export { ${list} } from "${BROWSER_IMPORT}";` : "", loader: "js" };
    });
  },
};
const node = await esbuild.build({
  ...common,
  entryPoints: NODE,
  outdir: DIST,
  splitting: true,
  chunkNames: "lib/[name]-[hash]",
  plugins: [fromBrowser],
});
const twice = Object.keys(node.metafile.inputs).filter((i) => isBrowser.has(resolve(ROOT, i)));
if (twice.length > 0) throw new Error(`build-js: the Node entries bundled browser-safe modules again: ${twice}`);

// 6. The pool's worker script, beside the module that starts it; it must stay the two files it is made of.
const WORKER = ["src/engine/pool_worker.ts", "src/engine/pool_protocol.ts"];
const worker = await esbuild.build({
  ...common,
  entryPoints: { "lib/pool_worker": WORKER[0] },
  outdir: DIST,
});
const extra = Object.keys(worker.metafile.inputs).filter((i) => !WORKER.includes(i));
if (extra.length > 0)
  throw new Error(`build-js: the pool's worker script bundled more than itself: ${extra.join(", ")}`);

for (const name of [
  "presparse.wasm",
  "presparse.debug.wasm",
  "presparse.threads.wasm",
  "presparse.threads.debug.wasm",
  "presparse.relaxed.wasm",
]) {
  copyFileSync(join(ROOT, "build", name), join(DIST, "lib", name));
}
chmodSync(join(DIST, "cli/main.js"), 0o755);
