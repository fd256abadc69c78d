#!/usr/bin/env node
// npm run test:mutation [-- frame pattern …]: StrykerJS over each core module in turn (all of stryker/modules.mjs
// by default), each mutant run against that module's own tests, then one table of scores.
// StrykerJS 9.6 runs on Node 20; PRESPARSE_MUTATION_NODE may name another node binary (e.g. a Node 22 for
// StrykerJS 10).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { MODULES, findModule, stem } from "../stryker/modules.mjs";

const node = process.env.PRESPARSE_MUTATION_NODE ?? process.execPath;
const stryker = "node_modules/@stryker-mutator/core/bin/stryker.js";
const chosen = process.argv.length > 2 ? process.argv.slice(2).map(findModule) : MODULES;
if (!existsSync("build/presparse.wasm")) {
  console.error("mutation: build/presparse.wasm is missing; run `npm run build` first");
  process.exit(1);
}

/** Stryker's score: detected (killed or timed out) over valid mutants (those that compiled and ran). */
function score(report) {
  const n = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0 };
  for (const f of Object.values(report.files)) for (const m of f.mutants) n[m.status] = (n[m.status] ?? 0) + 1;
  const detected = n.Killed + n.Timeout,
    valid = detected + n.Survived + n.NoCoverage;
  return { ...n, valid, score: valid === 0 ? NaN : (100 * detected) / valid };
}

const rows = [];
let failed = false;
for (const m of chosen) {
  console.log(`\nmutation: ${m.mutate} against ${m.tests.join(", ")}`);
  const r = spawnSync(node, [stryker, "run", "stryker/stryker.config.mjs"], {
    stdio: "inherit",
    env: { ...process.env, PRESPARSE_MUTATION_MODULE: m.mutate },
  });
  const file = `reports/mutation/${stem(m)}.json`;
  if (r.status !== 0 || !existsSync(file)) {
    failed = true;
    rows.push(`| ${m.mutate} | failed (exit ${r.status}) | | | | |`);
    continue;
  }
  const s = score(JSON.parse(readFileSync(file, "utf8")));
  rows.push(
    `| ${m.mutate} | ${s.score.toFixed(1)}% | ${s.Killed + s.Timeout} / ${s.valid} | ` +
      `${s.Survived} | ${s.NoCoverage} | ${s.Timeout} |`,
  );
}
const table = [
  "| module | score | detected / valid | survived | no coverage | timeouts |",
  "|:--|--:|--:|--:|--:|--:|",
  ...rows,
].join("\n");
mkdirSync("reports/mutation", { recursive: true });
writeFileSync("reports/mutation/summary.md", table + "\n");
console.log(`\n${table}\n(reports/mutation/: per-module JSON and HTML)`);
process.exit(failed ? 1 : 0);
