// The JavaScript of the package: esbuild bundles src/ into one file per entry (".", "./node", the CLI) and shared
// chunks in dist/lib/, so that `import "presparse"` loads 3 modules instead of 33 — Node spends about half a
// millisecond of CPU on each module it loads (bench/cold_start.mjs). Entries that share code share chunks, so
// presparse and presparse/node see the same classes. tsc has already checked the types and written the .d.ts.
// Then the WASM builds go next to the chunk holding the engine (its `new URL("./presparse.wasm", import.meta.url)`),
// and the CLI entry is made executable (npm links `presparse` to it).
import { chmodSync, copyFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");
// every chunk sits two levels below the package root, as the entries in dist/node/ and dist/cli/ do, so paths such
// as new URL("../../package.json", import.meta.url) mean the same in any output file
const LIB = "lib";

const result = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: { index: "src/index.ts", "node/index": "src/node/index.ts", "cli/main": "src/cli/main.ts" },
  outdir: DIST,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  // Node built-ins and dependencies (mnist) stay imports, resolved where the package is installed
  external: ["node:*"],
  packages: "external",
  chunkNames: `${LIB}/[name]-[hash]`,
  sourcemap: "linked",
  sourcesContent: true,
  charset: "utf8",
  metafile: true,
  logLevel: "warning",
});

const engine = Object.entries(result.metafile.outputs).find(([out, o]) => out.endsWith(".js") && "src/engine/engine.ts" in o.inputs);
if (!engine) throw new Error("build-js: no output holds src/engine/engine.ts");
const engineDir = dirname(join(ROOT, engine[0]));
if (relative(DIST, engineDir) !== LIB) throw new Error(`build-js: the engine landed in ${engine[0]}, not in dist/${LIB}/ where package.json exports its .wasm`);
for (const name of ["presparse.wasm", "presparse.debug.wasm"]) copyFileSync(join(ROOT, "build", name), join(engineDir, name));

chmodSync(join(DIST, "cli/main.js"), 0o755);
