// After tsc: bundles AssemblyScript's loader into dist/engine/loader.js (so the package imports no bare module and a
// page needs no import map for it) and makes the CLI entry executable (npm links `presparse` to it).
import { chmodSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const loader = fileURLToPath(new URL("../dist/engine/loader.js", import.meta.url));
await build({
  entryPoints: [loader],
  outfile: loader,
  allowOverwrite: true,
  bundle: true,
  format: "esm",
  logLevel: "warning",
});

const cli = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
