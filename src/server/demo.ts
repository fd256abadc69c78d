// The live demo's static routes, served next to the tail: the page, the package's browser-safe modules (exactly
// the files dist/index.js and dist/ops_index.js reach through their imports, read once at startup), the WASM
// module, the edge bundle and a fixed set of test digits. Every resource sits in memory under a fixed URL: a request
// path is looked up, never joined onto a directory, so no path of the client's choosing reaches the file system.
// Node-only.
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { loadData } from "../data/load.js";
import type { Engine } from "../engine/engine.js";
import { ValidationError, checkInt } from "../engine/errors.js";
import type { Endpoint, RouteTable } from "./handler.js";
import { headIdentity, type ServedTail } from "./served_tail.js";

/** Where the page lives; every demo resource is under it. */
export const DEMO_PREFIX = "/demo/";

/** Pixels of an MNIST digit: the page pads them with zeros to the head's input size. */
const PIXELS = 784;

/** Options of the demo routes (`ServerOptions.demo`). */
export interface DemoOptions {
  /** The edge bundle the page runs: its bytes or a path. It must be the head of the served tail's model and cut. */
  head: Uint8Array | string;
  /** Test digits offered on the page (default 100), the first of the embedded MNIST test split (seed 0). */
  digits?: number;
  /** The package root holding demo/, dist/ and build/ (default: the root this module was installed under). */
  root?: string;
}

/** One answer of the demo routes. */
export interface DemoResource {
  status: 200 | 302;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The demo routes of a server: a fixed table of URL paths. */
export interface DemoSite {
  /** Every URL path served (redirects included). */
  readonly paths: readonly string[];
  /** The answer to a GET of `path`, or undefined when the demo has nothing there. */
  resource(path: string): DemoResource | undefined;
}

/** The test digits as the page receives them: pixel values 0–255 (value / 255 is the model's input). */
export interface DemoDigits {
  source: string;
  width: number;
  height: number;
  digits: { index: number; label: number; pixels: number[] }[];
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
};

// The page needs nothing from elsewhere: the policy says so to the browser, and a stray external reference fails.
const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_FILES = ["index.html", "app.js", "style.css"];

// The thread pool's worker script: the engine starts it by URL (it imports nothing), so it is served beside them
const POOL_WORKER = "lib/pool_worker.js";

// The package's browser entries ("presparse" and "presparse/ops"): the page may import either; and the pool's worker
const BROWSER_ENTRIES = ["index.js", "ops_index.js", POOL_WORKER];

/** The package root: two levels above this module, in src/server/ and in dist/lib/ or dist/cli/ alike. */
function packageRoot(): string {
  return fileURLToPath(new URL("../../", import.meta.url));
}

// `import … from "./x.js"`, `export … from "../y.js"`, `import "./z.js"`: the static, relative imports tsc emits
const RELATIVE_IMPORT = /(?:^|[\s;}])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?["'](\.\.?\/[^"']+)["']/g;

/** The files an ES module reaches through static relative imports, itself included; all must lie under `within`. */
export function moduleGraph(entry: string, within: string): string[] {
  const seen = new Set<string>();
  const stack = [resolve(entry)];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    const rel = relative(within, file);
    if (rel.startsWith("..") || rel.startsWith(sep))
      throw new ValidationError(`demo: ${entry} imports ${file}, outside ${within}`);
    if (!existsSync(file))
      throw new ValidationError(`demo: ${file} missing (imported from the graph of ${entry}); run \`npm run build\``);
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(RELATIVE_IMPORT)) stack.push(resolve(dirname(file), m[1]!));
  }
  return [...seen].sort();
}

/** The first `count` digits of the embedded MNIST test split (seed 0), pixels as 0–255. */
export function demoDigits(count = 100): DemoDigits {
  const { test } = loadData("mnist", { seed: 0 });
  checkInt("demo", "digits", count, 1, test.n);
  if (test.features !== PIXELS)
    throw new ValidationError(`demo: the MNIST test split has ${test.features} features, expected ${PIXELS}`);
  const digits = Array.from({ length: count }, (_, i) => ({
    index: i,
    label: test.y[i]!,
    pixels: Array.from(test.x.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => Math.round(v * 255)),
  }));
  return { source: "mnist test split, seed 0", width: 28, height: 28, digits };
}

/**
 * Builds the demo routes for a served tail: checks that the head belongs to it (same model hash and cut) and can
 * take a 28×28 digit, and reads every file the page may ask for.
 */
export async function loadDemo(
  engine: Engine,
  tail: Pick<ServedTail, "hash" | "splitId">,
  o: DemoOptions,
): Promise<DemoSite> {
  const root = o.root ?? packageRoot();
  let headBytes: Uint8Array;
  if (typeof o.head === "string") {
    try {
      headBytes = await readFile(o.head);
    } catch (e) {
      throw new ValidationError(
        `demo: cannot read the head bundle ${o.head}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  } else headBytes = o.head;
  const source = typeof o.head === "string" ? o.head : "demo head";
  const head = headIdentity(engine, headBytes, source);
  if (head.hash !== tail.hash || head.splitId !== tail.splitId) {
    const served = `the served tail is model ${tail.hash} cut after layer ${tail.splitId}`;
    throw new ValidationError(
      `demo: ${source} is the head of model ${head.hash} cut after layer ${head.splitId}; ${served}`,
    );
  }
  if (head.inputSize < PIXELS) {
    const page = `the page feeds 28×28 digits (${PIXELS} values, zero-padded to the head's input)`;
    throw new ValidationError(`demo: ${source} takes ${head.inputSize} features; ${page}`);
  }

  const table = new Map<string, DemoResource>();
  const file = (path: string, body: Uint8Array, type: string) =>
    table.set(path, {
      status: 200,
      headers: { "Content-Type": type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff" },
      body,
    });
  const read = (rel: string): Uint8Array => {
    const path = join(root, rel);
    if (!existsSync(path))
      throw new ValidationError(`demo: ${path} missing${rel.startsWith("demo") ? "" : "; run `npm run build`"}`);
    return readFileSync(path);
  };
  for (const name of PAGE_FILES) {
    const type = MIME[name.slice(name.lastIndexOf("."))]!;
    const body = read(`demo/${name}`);
    file(DEMO_PREFIX + (name === "index.html" ? "" : name), body, type);
    // cross-origin isolation also gives the page's clock 5 µs resolution instead of 100 µs:
    // the head takes less than 100
    if (name === "index.html")
      Object.assign(table.get(DEMO_PREFIX)!.headers, {
        "Content-Security-Policy": CSP,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
      });
  }
  const dist = join(root, "dist");
  const modules = new Set(BROWSER_ENTRIES.flatMap((entry) => moduleGraph(join(dist, entry), dist)));
  for (const f of [...modules].sort()) {
    file(`${DEMO_PREFIX}dist/${relative(dist, f).split(sep).join("/")}`, readFileSync(f), MIME[".js"]!);
  }
  // a worker's script carries its own embedder policy: without it an isolated page may not start the worker
  Object.assign(table.get(`${DEMO_PREFIX}dist/${POOL_WORKER}`)!.headers, {
    "Cross-Origin-Embedder-Policy": "require-corp",
  });
  // the page names build/presparse.wasm (the path it has in a checkout); the package ships the module once, in dist/lib
  file(`${DEMO_PREFIX}build/presparse.wasm`, read("dist/lib/presparse.wasm"), MIME[".wasm"]!);
  // the threaded build where the engine's module looks for it (next to dist/lib/presparse.js), for a page that asks
  // for threads; the single-thread one stays where the page names it
  file(`${DEMO_PREFIX}dist/lib/presparse.threads.wasm`, read("dist/lib/presparse.threads.wasm"), MIME[".wasm"]!);
  file(`${DEMO_PREFIX}head.safetensors`, headBytes, MIME[".safetensors"]!);
  file(
    `${DEMO_PREFIX}digits.json`,
    new TextEncoder().encode(JSON.stringify(demoDigits(o.digits ?? 100))),
    MIME[".json"]!,
  );
  const redirect: DemoResource = {
    status: 302,
    headers: { Location: DEMO_PREFIX, "Cache-Control": "no-cache" },
    body: new Uint8Array(0),
  };
  table.set("/", redirect);
  table.set("/demo", redirect);
  return { paths: [...table.keys()], resource: (path) => table.get(path) };
}

/** The demo's paths as routes of the server: GET and HEAD, counted under {@link DEMO_PREFIX}. */
export function demoRoutes(site: DemoSite): RouteTable {
  const page: Endpoint = {
    answer: (req) => {
      const r = site.resource(req.path)!;
      return { status: r.status, headers: { ...r.headers }, body: r.body };
    },
  };
  return new Map(
    site.paths.map((path) => [path, { label: DEMO_PREFIX, methods: { GET: page, HEAD: page }, public: true }]),
  );
}
