// After asc and tsc: puts the WASM builds next to the compiled engine (dist/engine/), where the engine's
// `new URL("./presparse.wasm", import.meta.url)` finds them and bundlers pick them up, and makes the CLI entry
// executable (npm links `presparse` to it).
import { chmodSync, copyFileSync, existsSync } from "node:fs";

for (const name of ["presparse.wasm", "presparse.debug.wasm"]) {
  copyFileSync(new URL(`../build/${name}`, import.meta.url), new URL(`../dist/engine/${name}`, import.meta.url));
}
const cli = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
