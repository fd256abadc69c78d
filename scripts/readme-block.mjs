#!/usr/bin/env node
// Puts a generated block into the README between its markers, `<!-- NAME-table -->` and `<!-- /NAME-table -->`, so a
// figure in the README is the output of a run and not a copy of it. `{commit}` in the block becomes the short hash of
// the checkout's HEAD.
//
//   node scripts/readme-block.mjs links results/paper/links.md     the link study's block (presparse experiment)
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The README with the block between NAME's markers replaced by `block`; throws when the markers are missing. */
export function replaceBlock(readme, name, block) {
  const open = `<!-- ${name}-table -->`,
    close = `<!-- /${name}-table -->`;
  const a = readme.indexOf(open),
    b = readme.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} block`);
  return `${readme.slice(0, a + open.length)}\n${block.trim()}\n${readme.slice(b)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [name, file] = process.argv.slice(2);
  if (!name || !file) {
    console.error("usage: node scripts/readme-block.mjs NAME FILE");
    process.exit(2);
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
  } catch {
    // not a checkout: the block says so
  }
  const path = join(ROOT, "README.md");
  const block = readFileSync(file, "utf8").replaceAll("{commit}", commit);
  writeFileSync(path, replaceBlock(readFileSync(path, "utf8"), name, block));
  console.log(`README.md: ${name} block from ${file} (commit ${commit})`);
}
