#!/usr/bin/env node
// Browser safety of the package: walks the import graph from the browser entry (src/index.ts, and dist/index.js
// once built) and lists every Node built-in it reaches, with the chain of files that leads there. A bundler
// would choke on such a module and a page cannot load it, so any hit is a bug. Exits 1 on a hit.
//
//   node scripts/check-browser-imports.mjs [entry ...]
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** True for `node:x` and for the bare names of Node's built-in modules (`fs`, `fs/promises`, `http`, ...). */
export function isNodeBuiltin(specifier) {
  return specifier.startsWith("node:") || builtinModules.includes(specifier);
}

function scriptKind(file) {
  if (/\.tsx$/.test(file)) return ts.ScriptKind.TSX;
  if (/\.[cm]?ts$/.test(file)) return ts.ScriptKind.TS;
  return ts.ScriptKind.JS;
}

function literal(node) {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

// `import { type A } from "x"` and `export { type A } from "x"` are erased whole by tsc, like `import type`.
function allTypeOnly(elements) {
  return elements.length > 0 && elements.every((e) => e.isTypeOnly);
}

/**
 * The specifiers a module loads when it runs: static imports and re-exports that survive compilation, and
 * `import()` / `require()` with a literal argument. Type-only imports and `typeof import("x")` are skipped;
 * an import whose bindings are used only as types is still counted (safe side: only tsc knows it is erased).
 */
export function runtimeSpecifiers(fileName, text) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKind(fileName));
  const out = [];
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : [];
      const erased = clause && (clause.isTypeOnly || (!clause.name && allTypeOnly(named)));
      if (!erased) out.push(literal(node.moduleSpecifier));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : [];
      if (!node.isTypeOnly && !allTypeOnly(named)) out.push(literal(node.moduleSpecifier));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      if (!node.isTypeOnly) out.push(literal(node.moduleReference.expression));
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if (isImport || isRequire) {
        const spec = literal(node.arguments[0]);
        if (spec !== undefined) out.push(spec);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out.filter((s) => s !== undefined);
}

// "./x.js" in TypeScript sources names x.ts; in emitted JavaScript it names x.js itself.
function resolveRelative(from, specifier) {
  const base = resolve(dirname(from), specifier);
  const candidates = [base];
  const m = /\.(m|c)?js$/.exec(base);
  if (m) candidates.push(`${base.slice(0, -m[0].length)}.${m[1] ?? ""}ts`, `${base.slice(0, -m[0].length)}.tsx`);
  candidates.push(`${base}.ts`, `${base}.js`, join(base, "index.ts"), join(base, "index.js"));
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * Walks every module reachable at run time from `entries`. Returns the files reached, and for each Node built-in,
 * bare package and unresolvable relative import found, the chain of files (entry first) that reaches it.
 */
export function scanImports(entries) {
  const parent = new Map();
  const queue = [];
  for (const e of entries) {
    const file = resolve(e);
    if (!existsSync(file)) throw new Error(`check-browser-imports: entry ${file} does not exist`);
    if (!parent.has(file)) {
      parent.set(file, undefined);
      queue.push(file);
    }
  }
  const chainTo = (file) => {
    const chain = [];
    for (let f = file; f !== undefined; f = parent.get(f)) chain.unshift(relative(ROOT, f));
    return chain;
  };
  const builtins = [],
    packages = [],
    unresolved = [];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const specifier of runtimeSpecifiers(file, readFileSync(file, "utf8"))) {
      if (specifier.startsWith(".") || specifier.startsWith("/")) {
        const target = resolveRelative(file, specifier);
        if (!target) unresolved.push({ specifier, chain: chainTo(file) });
        else if (!parent.has(target)) {
          parent.set(target, file);
          queue.push(target);
        }
      } else if (isNodeBuiltin(specifier)) builtins.push({ specifier, chain: chainTo(file) });
      else packages.push({ specifier, chain: chainTo(file) });
    }
  }
  return { files: [...parent.keys()].map((f) => relative(ROOT, f)), builtins, packages, unresolved };
}

/** Every TypeScript/JavaScript file under `dir` that itself imports a Node built-in, with the built-ins it names. */
export function builtinImporters(dir) {
  const out = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.([cm]?[jt]s|tsx)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        const names = runtimeSpecifiers(p, readFileSync(p, "utf8")).filter(isNodeBuiltin);
        if (names.length > 0) out.push({ file: relative(ROOT, p), builtins: [...new Set(names)] });
      }
    }
  };
  walk(resolve(dir));
  return out;
}

/** One line per violation: `node:fs  via src/index.ts → src/engine/engine.ts`. */
export function formatHits(hits) {
  return hits.map((h) => `${h.specifier}  via ${h.chain.join(" → ")}`).join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const entries =
    args.length > 0 ? args : [join(ROOT, "src/index.ts"), join(ROOT, "dist/index.js")].filter((f) => existsSync(f));
  let bad = false;
  for (const entry of entries) {
    const { files, builtins, unresolved } = scanImports([entry]);
    if (builtins.length > 0) console.error(`${relative(ROOT, entry)} reaches Node built-ins:\n${formatHits(builtins)}`);
    if (unresolved.length > 0)
      console.error(`${relative(ROOT, entry)} has unresolvable imports:\n${formatHits(unresolved)}`);
    bad ||= builtins.length > 0 || unresolved.length > 0;
    if (builtins.length === 0 && unresolved.length === 0)
      console.log(`${relative(ROOT, entry)}: ${files.length} modules, no Node built-in reachable`);
  }
  process.exit(bad ? 1 : 0);
}
