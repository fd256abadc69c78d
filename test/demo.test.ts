// The live demo (`presparse serve --demo`) end to end: a model trained here on the embedded MNIST digits is split, its
// tail served with the demo page, and the page driven in headless Chromium — a thumbnail clicked, a digit drawn, a
// fixed set of test digits classified through the page's hook. Every answer must be the one a Node-side client gets
// for the same input and frame dtype, and with f32 frames the one the full model's early-exit system gives. The
// static routes serve an allow-list only; the CLI flags mount the same page.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, posix } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadData } from "../src/data/load.js";
import { Matrix } from "../src/engine/buffers.js";
import { ValidationError } from "../src/engine/errors.js";
import { ExitRunner } from "../src/exits/runner.js";
import { decodeModel, encodeModel } from "../src/io/model_io.js";
import { Model } from "../src/nn/model.js";
import { Adam } from "../src/nn/optimizers.js";
import { train } from "../src/nn/train.js";
import { SplitClient, type SampleResult } from "../src/split/client.js";
import { frameBytes } from "../src/split/frame.js";
import { split, type Head } from "../src/split/split.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { chromiumPath, launchChromium, screenshot, watchPage, type PageLog } from "./helpers/chromium.js";
import { getEngine } from "./helpers/engine.js";
import { raw, spawnCli, stopChildren, tempFiles } from "./helpers/server_harness.js";
import { REPO_ROOT } from "./helpers/static_server.js";

const POLICY = "maxprob:0.9";
const DIGITS = 100;

/** What the page reports per classified sample (the fields this test reads). */
interface PageResult {
  index: number | null;
  truth: number | null;
  where: "exit" | "server";
  exit: number;
  label: number;
  confidence: number;
  exitConfidence: number | null;
  bytesSent: number;
  edgeMs: number;
  roundTripMs: number | null;
  dtype: string;
  transport: string;
  threshold: number | null;
  input?: number[];
}
interface PageStats {
  samples: number;
  exited: number;
  sent: number;
  bytesSent: number;
  bytesPerSentSample: number | null;
  rawBytes: number;
  edgeMs: number | null;
  roundTripMs: number | null;
  labelled: number;
  correct: number;
}
interface DemoDigits {
  digits: { index: number; label: number; pixels: number[] }[];
}

const engine = await getEngine();
// the paper's network with its exit after hidden layer 1, briefly trained: confident on some digits, not on others
const data = loadData("mnist", { seed: 0, padTo: 800 });
const model = Model.mlp(engine, {
  sizes: [800, 40, 40, 10],
  outDegrees: [2, 9, 10],
  seed: 3,
  exits: [{ after: 0, weight: 1 }],
  finalWeight: 0.3,
});
const optimizer = new Adam({ lr: 1e-3, decay: 1e-5 });
train(model, data.train, { epochs: 25, batchSize: 256, optimizer, seed: 0, trainAccuracy: false });
optimizer.dispose();
const halves = split(model, { cut: 1, policy: POLICY });
const headBytes = encodeModel(halves.head).bytes,
  tailBytes = encodeModel(halves.tail).bytes;
/** Where the page says a sample was answered: by an edge exit, or (the final classifier) by the server. */
const whereOf = (s: Pick<SampleResult, "exit">): "exit" | "server" =>
  s.exit < halves.head.split.totalExits ? "exit" : "server";
halves.head.dispose();
halves.tail.dispose();

/** A digit's model input: pixels / 255, zero-padded to the head's 800 features, as the page builds it. */
function inputOf(pixels: number[], size = 800): Float32Array {
  const x = new Float32Array(size);
  pixels.forEach((p, i) => (x[i] = p / 255));
  return x;
}

let server: RunningServer;
let nodeHead: Head;

beforeAll(async () => {
  server = await startServer({ model: tailBytes, engine, port: 0, demo: { head: headBytes } });
  nodeHead = decodeModel(engine, headBytes, { source: "node head", role: "head" }).model;
});

afterAll(async () => {
  await stopChildren();
  await server?.close();
  nodeHead?.dispose();
  model.dispose();
});

/** The Node-side client's answer for each input, one request per sample as the page sends them. */
async function nodeAnswers(inputs: Float32Array[], dtype: "int8" | "f32", threshold?: number): Promise<SampleResult[]> {
  const client = new SplitClient({
    head: nodeHead,
    serverUrl: server.url,
    dtype,
    ...(threshold === undefined ? {} : { policy: { kind: "maxprob", thresholds: [threshold] } }),
  });
  const out: SampleResult[] = [];
  for (const x of inputs) out.push((await client.infer([x])).samples[0]!);
  client.dispose();
  return out;
}

/**
 * The page's answer is the Node client's: same place, classifier, class and bytes. Confidences are compared to 1e-12:
 * they are computed from identical logits, but Chromium's Math.exp and Node's may differ in the last bit.
 */
function expectSame(
  r: PageResult,
  w: Pick<SampleResult, "exit" | "label" | "confidence" | "bytesSent">,
  what: string,
): void {
  expect([r.where, r.exit, r.label, r.bytesSent], what).toEqual([whereOf(w), w.exit, w.label, w.bytesSent]);
  expect(
    Math.abs(r.confidence - w.confidence),
    `${what}: confidence ${r.confidence} vs ${w.confidence}`,
  ).toBeLessThanOrEqual(1e-12);
}

describe("demo routes", () => {
  it(
    "redirect / to the page, serve the page under a CSP, the package's modules, the WASM, " + "the head and the digits",
    async () => {
      const root = await fetch(`${server.url}/`, { redirect: "manual" });
      expect(root.status).toBe(302);
      expect(root.headers.get("location")).toBe("/demo/");
      const page = await fetch(`${server.url}/demo/`);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self' 'wasm-unsafe-eval'/);
      expect(page.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
      expect(await page.text()).toBe(readFileSync(join(REPO_ROOT, "demo/index.html"), "utf8"));
      const wasm = await fetch(`${server.url}/demo/build/presparse.wasm`);
      expect(wasm.headers.get("content-type")).toBe("application/wasm");
      expect(Buffer.from(await wasm.arrayBuffer()).equals(readFileSync(join(REPO_ROOT, "build/presparse.wasm")))).toBe(
        true,
      );
      const head = await fetch(`${server.url}/demo/head.safetensors`);
      expect(new Uint8Array(await head.arrayBuffer())).toEqual(headBytes);
      // dist/index.js, dist/ops_index.js and the chunks they import (the build bundles src/ into dist/lib/ chunks), and
      // none of the others
      const browser: string[] = [];
      const visit = (f: string): void => {
        if (browser.includes(f)) return;
        browser.push(f);
        for (const m of readFileSync(join(REPO_ROOT, "dist", f), "utf8").matchAll(/from "(\.\.?\/[^"]+)"/g))
          visit(posix.join(posix.dirname(f), m[1]!));
      };
      visit("index.js");
      visit("ops_index.js");
      // and the thread pool's worker script, which the engine starts by URL, with its own embedder policy
      visit("lib/pool_worker.js");
      expect(
        (await fetch(`${server.url}/demo/dist/lib/pool_worker.js`)).headers.get("cross-origin-embedder-policy"),
      ).toBe("require-corp");
      expect(browser.length).toBeGreaterThan(1);
      for (const chunk of readdirSync(join(REPO_ROOT, "dist/lib")).filter(
        (f) => f.endsWith(".js") && !browser.includes(`lib/${f}`),
      )) {
        expect((await fetch(`${server.url}/demo/dist/lib/${chunk}`)).status, `Node-side chunk lib/${chunk}`).toBe(404);
      }
      for (const f of browser) {
        const r = await fetch(`${server.url}/demo/dist/${f}`);
        expect(r.status, f).toBe(200);
        expect(r.headers.get("content-type")).toMatch(/^text\/javascript/);
        expect(await r.text()).toBe(readFileSync(join(REPO_ROOT, "dist", f), "utf8"));
      }
      // the tail's endpoints are unchanged beside the page
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    },
  );

  it("serve the first test digits of the embedded split as 0–255 pixels with their labels", async () => {
    const d = (await (await fetch(`${server.url}/demo/digits.json`)).json()) as DemoDigits & {
      width: number;
      height: number;
    };
    expect([d.width, d.height, d.digits.length]).toEqual([28, 28, DIGITS]);
    const test = loadData("mnist", { seed: 0 }).test;
    d.digits.forEach((g, i) => {
      expect(g.index).toBe(i);
      expect(g.label).toBe(test.y[i]);
      expect(g.pixels).toHaveLength(784);
      g.pixels.forEach((p, k) =>
        expect(Math.abs(p - 255 * test.x[i * 784 + k]!), `digit ${i} pixel ${k}`).toBeLessThanOrEqual(0.5),
      );
    });
    expect(new Set(d.digits.map((g) => g.label)).size).toBe(10);
  });

  it(
    "serve nothing outside the allow-list: Node-only modules, other files, traversal; " + "other methods get 405",
    async () => {
      for (const path of [
        "/demo/dist/cli/main.js",
        "/demo/dist/server/http.js",
        "/demo/dist/node/index.js",
        "/demo/dist/data/mnist.js",
        "/demo/dist/index.d.ts",
        "/demo/dist/index.js.map",
        "/demo/package.json",
        "/package.json",
        "/demo/dist/../../package.json",
        "/demo/%2e%2e/package.json",
        "/demo/dist/..%2f..%2fpackage.json",
        "/demo/build/presparse.debug.wasm",
        "/demo/app.js/",
        "/demo/index.html",
      ]) {
        const r = await raw(server.url, { method: "GET", path });
        expect(r.status, path).toBe(404);
        expect(r.body.toString()).not.toContain('"name"');
      }
      const post = await raw(server.url, {
        method: "POST",
        path: "/demo/",
        headers: { "Content-Type": "text/plain" },
        body: new Uint8Array([1]),
      });
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe("GET, HEAD");
      expect(JSON.parse(post.body.toString()).error.code).toBe("method_not_allowed");
    },
  );

  it("refuse at startup a head of another model, or of another cut, naming both", async () => {
    const other = Model.mlp(engine, {
      sizes: [800, 40, 40, 10],
      outDegrees: [2, 9, 10],
      seed: 4,
      exits: [{ after: 0, weight: 1 }],
    });
    const h = split(other, { cut: 1 });
    const foreign = encodeModel(h.head).bytes;
    h.head.dispose();
    h.tail.dispose();
    other.dispose();
    const err = await startServer({ model: tailBytes, engine, port: 0, demo: { head: foreign } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(
      /demo: .*head of model [0-9a-f]{16} cut after layer 1; the served tail is model [0-9a-f]{16}/,
    );
    const deeper = split(model, { cut: 2 });
    const head2 = encodeModel(deeper.head).bytes;
    deeper.head.dispose();
    deeper.tail.dispose();
    await expect(startServer({ model: tailBytes, engine, port: 0, demo: { head: head2 } })).rejects.toThrow(
      /cut after layer 2; the served tail is .* cut after layer 1/,
    );
  });

  it(
    "presparse serve --demo mounts the page with the head next to the tail; --head elsewhere; " +
      "a foreign head fails",
    async () => {
      const other = Model.mlp(engine, {
        sizes: [800, 40, 40, 10],
        outDegrees: [2, 9, 10],
        seed: 5,
        exits: [{ after: 0, weight: 1 }],
      });
      const h = split(other, { cut: 1 });
      const files = tempFiles({
        "tail.safetensors": tailBytes,
        "head.safetensors": headBytes,
        "foreign.safetensors": encodeModel(h.head).bytes,
      });
      h.head.dispose();
      h.tail.dispose();
      other.dispose();
      try {
        const cli = await spawnCli(["serve", "--model", files.path("tail.safetensors"), "--demo", "--port", "0"]);
        const served = new Uint8Array(await (await fetch(`${cli.url}/demo/head.safetensors`)).arrayBuffer());
        expect(served).toEqual(headBytes);
        expect((await fetch(`${cli.url}/demo/`)).status).toBe(200);
        expect(cli.stderr()).toContain(`demo page at ${cli.url}/demo/`);
        cli.child.kill("SIGTERM");
        expect(await cli.exited).toBe(0);
        const bad = await spawnCli([
          "serve",
          "--model",
          files.path("tail.safetensors"),
          "--demo",
          "--head",
          files.path("foreign.safetensors"),
          "--port",
          "0",
        ]).catch((e: Error) => e);
        expect(String(bad)).toMatch(
          /exited with 1 before printing a URL.*ValidationError: demo: .*foreign\.safetensors is the head of model/s,
        );
        const lone = await spawnCli([
          "serve",
          "--model",
          files.path("tail.safetensors"),
          "--head",
          files.path("head.safetensors"),
        ]).catch((e: Error) => e);
        expect(String(lone)).toMatch(/exited with 2 .*--head goes with --demo/s);
      } finally {
        files.cleanup();
      }
    },
  );
});

const executable = chromiumPath();
// without Chromium these tests skip; the global setup prints the one line that says so

describe.skipIf(!executable)("the demo page in headless Chromium", () => {
  let browser: Browser;
  let page: Page;
  let log: PageLog;
  let digits: DemoDigits["digits"];

  const hook = <T>(fn: string, arg?: unknown): Promise<T> =>
    page.evaluate(
      ([f, a]) => {
        const demo = (window as unknown as { presparseDemo: Record<string, (x?: unknown) => unknown> }).presparseDemo;
        return demo[f as string]!(a) as T;
      },
      [fn, arg] as const,
    );
  const idle = () => hook<void>("idle");

  beforeAll(async () => {
    for (const f of ["dist/index.js", "build/presparse.wasm"]) {
      if (!existsSync(join(REPO_ROOT, f)))
        throw new Error(`${f} missing: run \`npm run build\` first (\`npm test\` does)`);
    }
    digits = ((await (await fetch(`${server.url}/demo/digits.json`)).json()) as DemoDigits).digits;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    log = watchPage(page);
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe("/demo/");
    await page
      .waitForFunction(() => "presparseDemo" in window, undefined, { timeout: 10_000 })
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${log.text()}`);
      });
    await page
      .evaluate(() => (window as unknown as { presparseDemo: { ready: Promise<unknown> } }).presparseDemo.ready)
      .catch((e: Error) => {
        throw new Error(`the page did not start: ${e.message}\n${log.text()}`);
      });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("starts with the head's stored policy, int8 frames, and every test digit as a thumbnail", async () => {
    const info = await hook<{
      inputSize: number;
      activationWidth: number;
      policy: unknown;
      dtype: string;
      digits: number;
      hash: string;
    }>("info");
    expect(info).toMatchObject({
      inputSize: 800,
      activationWidth: 40,
      dtype: "int8",
      digits: DIGITS,
      hash: nodeHead.split.hash,
      policy: { kind: "maxprob", thresholds: [0.9] },
    });
    expect(await page.locator(".thumb").count()).toBe(DIGITS);
    expect(await page.locator("#thr-value").textContent()).toBe("0.900");
    expect(await page.locator("#status").textContent()).toContain(`model ${nodeHead.split.hash.slice(0, 8)}`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  });

  const THREADED_HEAD =
    "in the cross-origin isolated page, a head on 2 threads (every call split) answers every digit with the " +
    "single-thread head's bits";
  it(THREADED_HEAD, async () => {
    // a string, not a function: vitest would rewrite the function's import() into its own loader
    const r = await page.evaluate<{
      isolated: boolean;
      one: { threads: number; bits: number[][] };
      two: { threads: number; bits: number[][] };
    }>(`(async () => {
      const lib = await import(new URL("./dist/index.js", location.href).href);
      const head = new Uint8Array(await (await fetch("head.safetensors")).arrayBuffer());
      const { digits } = await (await fetch("digits.json")).json();
      const x = new Float32Array(digits.length * 800);
      digits.forEach((d, j) => d.pixels.forEach((p, i) => (x[j * 800 + i] = p / 255)));
      const answer = async (options) => {
        const engine = await lib.Engine.load(options);
        const { model } = lib.decodeModel(engine, head);
        const out = new lib.ExitRunner(model, model.split.policy).run(lib.Matrix.fromSamples(engine, 800, x));
        const bits = [out.exit, out.label, out.confidence, out.entropy, out.logits, out.indices, out.activation]
          .map((a) => Array.from(a));
        return { threads: engine.threads, bits };
      };
      const one = await answer({ wasm: new URL("./build/presparse.wasm", location.href) });
      const threaded = new URL("./dist/lib/presparse.threads.wasm", location.href);
      const two = await answer({ wasm: threaded, threads: 2, thresholds: 0 });
      return { isolated: crossOriginIsolated, one, two };
    })()`);
    expect(r.isolated).toBe(true);
    expect([r.one.threads, r.two.threads]).toEqual([1, 2]);
    expect(r.one.bits[5]!.length, "some digits go on to the server").toBeGreaterThan(0);
    expect(r.two.bits).toEqual(r.one.bits);
    expect(log.errors).toEqual([]);
  });

  it("a clicked thumbnail is answered as the Node client answers it", async () => {
    const i = 7;
    await page.locator(`.thumb[data-index="${i}"]`).click();
    await idle();
    const r = await hook<PageResult>("lastResult");
    const [want] = await nodeAnswers([inputOf(digits[i]!.pixels)], "int8");
    expect([r.index, r.truth]).toEqual([i, digits[i]!.label]);
    expectSame(r, want!, `digit ${i}`);
    expect(await page.locator("#pred").textContent()).toBe(String(want!.label));
    expect(await page.locator("#where").textContent()).toMatch(
      whereOf(want!) === "exit" ? /answered on the edge/ : /sent to the server/,
    );
    expect(await page.locator(`.thumb[data-index="${i}"]`).getAttribute("class")).toContain(
      whereOf(want!) === "exit" ? "edge" : "server",
    );
  });

  it(
    "a stroke drawn with the mouse is scaled to 20 px, centred in 28×28, " +
      "and answered as the Node client answers it",
    async () => {
      const box = (await page.locator("#pad").boundingBox())!;
      const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
      // a 7: the top bar, then the diagonal down, drawn off-centre on purpose
      await page.mouse.move(...at(0.15, 0.12));
      await page.mouse.down();
      await page.mouse.move(...at(0.55, 0.12), { steps: 8 });
      await page.mouse.move(...at(0.3, 0.6), { steps: 10 });
      await page.mouse.up();
      await idle();
      const r = await hook<PageResult>("lastResult");
      expect([r.index, r.truth]).toEqual([null, null]);
      const v = r.input!;
      expect(v).toHaveLength(784);
      expect(v.every((p) => p >= 0 && p <= 1)).toBe(true);
      let m = 0,
        mx = 0,
        my = 0,
        x0 = 28,
        x1 = -1,
        y0 = 28,
        y1 = -1;
      v.forEach((p, k) => {
        const x = k % 28,
          y = Math.floor(k / 28);
        m += p;
        mx += p * (x + 0.5);
        my += p * (y + 0.5);
        if (p > 0.25) [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
      });
      expect(Math.abs(mx / m - 14), "centre of mass, x").toBeLessThanOrEqual(1);
      expect(Math.abs(my / m - 14), "centre of mass, y").toBeLessThanOrEqual(1);
      expect(Math.max(x1 - x0, y1 - y0) + 1, "longer side of the ink's box").toBeGreaterThanOrEqual(17);
      expect(Math.max(x1 - x0, y1 - y0) + 1).toBeLessThanOrEqual(22);
      const x = new Float32Array(800);
      x.set(v);
      const [want] = await nodeAnswers([x], "int8");
      expectSame(r, want!, "the drawing");
    },
  );

  it(
    "classifies the test digits exactly as the Node client does over int8 frames: " + "same exits, classes, bytes",
    async () => {
      const indices = digits.map((d) => d.index);
      const before = await hook<PageStats>("stats");
      const got = await hook<PageResult[]>("classifyDigits", indices);
      const want = await nodeAnswers(
        digits.map((d) => inputOf(d.pixels)),
        "int8",
      );
      const exited = want.filter((w) => whereOf(w) === "exit").length;
      expect(exited, "the policy should let some digits exit").toBeGreaterThan(0);
      expect(exited, "the policy should send some digits").toBeLessThan(DIGITS);
      got.forEach((r, b) => {
        const w = want[b]!;
        expect(r.index).toBe(b);
        expectSame(r, w, `digit ${b}`);
        expect(r.dtype).toBe("int8");
        expect(r.edgeMs).toBeGreaterThanOrEqual(0);
        if (r.where === "server") {
          expect(r.roundTripMs).toBeGreaterThan(0);
          expect(r.exitConfidence!).toBeLessThan(0.9);
        } else {
          expect(r.roundTripMs).toBeNull();
          expect(r.exitConfidence).toBe(r.confidence);
        }
      });
      const s = await hook<PageStats>("stats");
      expect(s.samples - before.samples).toBe(DIGITS);
      expect(s.exited - before.exited).toBe(exited);
      expect(s.sent - before.sent).toBe(DIGITS - exited);
      expect(s.bytesPerSentSample).toBe(frameBytes([40, 1], "int8"));
      expect(s.rawBytes).toBe(784);
      expect(s.correct - before.correct).toBe(got.filter((r) => r.label === r.truth).length);
      // the panel shows the session's figures
      expect(await page.locator("#s-samples").textContent()).toBe(String(s.samples));
      expect(await page.locator("#s-exit").textContent()).toBe(`${Math.round((100 * s.exited) / s.samples)}%`);
      expect(await page.locator("#chart svg polyline").count()).toBe(2);
      expect(await page.locator("#chart svg rect.bar").count()).toBe(s.sent);
      // the picture for the docs: the panel after the run, showing a digit the tail answered (rightly)
      const sent = want.findIndex((w, b) => whereOf(w) === "server" && w.label === digits[b]!.label);
      await page.locator(`.thumb[data-index="${sent}"]`).click();
      await idle();
      expect(await page.locator("#where").textContent()).toBe("sent to the server · the tail answered");
      expect(await page.locator("#f-bytes").textContent()).toBe(
        `${frameBytes([40, 1], "int8")} B int8 frame (the image: 784 B)`,
      );
      const shot = await screenshot(page, "demo");
      expect(existsSync(shot)).toBe(true);
    },
  );

  it(
    "with f32 frames and the slider moved by keyboard, " + "answers as the full model's early-exit system does",
    async () => {
      await page.locator("#dtype").selectOption("f32");
      await page.locator("#threshold").focus();
      for (let k = 0; k < 30; k++) await page.keyboard.press("ArrowLeft");
      const info = await hook<{ dtype: string; policy: { kind: string; thresholds: number[] } }>("info");
      expect(info.dtype).toBe("f32");
      const t = info.policy.thresholds[0]!;
      expect(t).toBeCloseTo(0.75, 9);
      expect(await page.locator("#thr-value").textContent()).toBe("0.750");
      const B = 40;
      const got = await hook<PageResult[]>(
        "classifyDigits",
        Array.from({ length: B }, (_, i) => i),
      );
      // the full model's early-exit system on the same inputs, as one batch
      const X = new Matrix(engine, 800, B);
      const x = X.view();
      digits.slice(0, B).forEach((d, b) => inputOf(d.pixels).forEach((v, f) => (x[f * B + b] = v)));
      const runner = new ExitRunner(model, { kind: "maxprob", thresholds: [t] });
      const want = runner.run(X);
      runner.dispose();
      X.dispose();
      let exits = 0;
      got.forEach((r, b) => {
        const exit = want.exit[b] === 0;
        exits += exit ? 1 : 0;
        expect([r.threshold, r.dtype]).toEqual([t, "f32"]);
        // the runner keeps confidences as float32
        expectSame(
          { ...r, confidence: Math.fround(r.confidence) },
          {
            exit: want.exit[b]!,
            label: want.label[b]!,
            confidence: want.confidence[b]!,
            bytesSent: exit ? 0 : frameBytes([40, 1], "f32"),
          },
          `digit ${b}`,
        );
      });
      expect(exits).toBeGreaterThan(0);
      expect(exits).toBeLessThan(B);
    },
  );

  it(
    "over the WebSocket transport answers the test digits as the Node client does, " +
      "on one stream to its own origin",
    async () => {
      const sockets: string[] = [];
      page.on("websocket", (ws) => sockets.push(ws.url()));
      await page.locator("#transport").selectOption("ws");
      const info = await hook<{ transport: string; dtype: string; policy: { thresholds: number[] } }>("info");
      expect([info.transport, info.dtype]).toEqual(["ws", "f32"]);
      const t = info.policy.thresholds[0]!;
      const B = 30;
      const got = await hook<PageResult[]>(
        "classifyDigits",
        Array.from({ length: B }, (_, i) => i),
      );
      const want = await nodeAnswers(
        digits.slice(0, B).map((d) => inputOf(d.pixels)),
        "f32",
        t,
      );
      got.forEach((r, b) => {
        expectSame(r, want[b]!, `digit ${b}`);
        expect(r.transport).toBe("ws");
      });
      expect(got.some((r) => r.where === "server")).toBe(true);
      expect(sockets).toEqual([`${server.url.replace("http", "ws")}/v1/stream`]);
      expect(server.metrics.requests.get({ path: "/v1/infer", code: "200", transport: "ws" })).toBe(
        got.filter((r) => r.where === "server").length,
      );
    },
  );

  it("loaded everything from its own origin with no error", async () => {
    await idle();
    expect(log.errors).toEqual([]);
    expect(log.console).toEqual([]);
    expect(log.requests).toEqual([]);
    expect(await page.locator("#status").getAttribute("class")).toBe("status ready");
  });
});
