#!/usr/bin/env node
// The floors of src/: a module may import its own floor and the floors below it, never one above. Type-only
// imports count too — a lower floor that names a higher floor's types depends on it all the same.
//
//   node scripts/check-layers.mjs [srcDir]      exits 1 and prints one line per upward import
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** Lowest first; everything from data/ up is Node-only. */
export const FLOORS = [
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
];
// src/index.ts (and any other file at the top) is the browser entry: it may re-export the browser-safe floors
const TOP = FLOORS.indexOf("report") + 0.5;

/** The floor's rank of a file under srcDir, or undefined for a folder no floor names. */
export function rankOf(srcDir, file) {
  const parts = relative(srcDir, file).split(sep);
  if (parts.length === 1) return TOP;
  const i = FLOORS.indexOf(parts[0]);
  return i < 0 ? undefined : i;
}

function sources(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Every import that points up a floor, or into or out of a folder no floor names: `{ file, imports, why }`. */
export function layerViolations(srcDir) {
  const root = resolve(srcDir);
  const out = [];
  for (const file of sources(root)) {
    const from = rankOf(root, file);
    const name = relative(root, file);
    if (from === undefined) {
      out.push({ file: name, imports: "", why: `${name.split(sep)[0]}/ is not a floor (${FLOORS.join(", ")})` });
      continue;
    }
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = resolve(dirname(file), fileName);
      if (!target.startsWith(root + sep)) continue;
      const to = rankOf(root, target);
      const targetName = relative(root, target).replace(/\.js$/, ".ts");
      if (to === undefined || to > from)
        out.push({ file: name, imports: targetName, why: to === undefined ? "not a floor" : "a higher floor" });
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "src");
  const bad = layerViolations(dir);
  for (const v of bad) console.error(`${v.file} imports ${v.imports}: ${v.why}`);
  if (bad.length === 0) console.log(`${dir}: every import points down a floor`);
  process.exit(bad.length > 0 ? 1 : 0);
}
