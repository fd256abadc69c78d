// Runs inside the page (bundled by scripts/bundle-tests.mjs, presparse loaded from dist/): loads the engine every way a
// page can (default URL, import-map URL, URL string, bytes, Response, compiled module, debug build), checks that bad
// sources fail with WasmLoadError, runs every kernel case of test/cases — the Node suite's cases, from the same
// source — under fast-check on the engines of PROPERTY_ENGINES, checks memory growth and a debug-build assertion.
// Posts { done, seed, runs, loads, rejects, properties, assertion } to window.__results. Query: ?seed=<int>&runs=<int>.
import fc from "fast-check";
import { F32Buffer, Matrix } from "../../src/engine/buffers.js";
import { Engine } from "../../src/engine/engine.js";
import { KernelAssertionError, WasmLoadError } from "../../src/engine/errors.js";
import { CsrWeights, csrSpmm, csrSpmmBackward } from "../../src/ops/csr_spmm.js";
import { Pattern } from "../../src/sparsity/pattern.js";
import {
  buildPattern,
  batchArb,
  expectClose,
  expectEqual,
  patternSpecArb,
  property,
  scoped,
  values,
  type AnyCase,
} from "../cases/case.js";
import { KERNEL_CASES } from "../cases/index.js";
import * as ref from "../helpers/reference.js";
import { DEBUG_ASSERTION, LOAD_SOURCES, MEMORY_GROWTH, PROPERTY_ENGINES, REJECT_SOURCES } from "./sources.js";

interface Outcome {
  ok: boolean;
  message?: string;
}

const query = new URLSearchParams(location.search);
const seed = Number(query.get("seed") ?? 1);
const runs = Number(query.get("runs") ?? 25);
const PAGE = 65536;
const DEBUG_ENGINE = "default URL, debug build";

// Bytes alloc() reserves for a request: 16-byte aligned, at least 16.
const reserved = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);

// Fresh instances of one compiled module. Memory is first filled to just below its end, so that building the
// operands grows it at the `at`-th allocation (a constructor that kept a view across its own allocations would
// write into a detached buffer); then a block longer than all memory grows it again, and the outputs land above.
const memoryGrowth = (module: WebAssembly.Module) =>
  fc.property(
    patternSpecArb(64),
    batchArb,
    fc.integer({ min: 0, max: 7 }),
    fc.integer({ min: 1, max: 64 }),
    fc.boolean(),
    fc.integer(),
    (spec, B, at, pages, relu, sd) => {
      const engine = Engine.fromModule(module);
      try {
        const initial = engine.stats().memoryBytes;
        const p = buildPattern(spec);
        const v = values(sd, p.nnz),
          x = values(sd + 1, p.inputs * B),
          bias = values(sd + 2, p.outputs);
        const dy = values(sd + 3, p.outputs * B);
        // the operands' allocations in construction order: rowPtr, colIdx, colPtr, rowIdx, perm, values, X, bias
        const sizes = [p.outputs + 1, p.nnz, p.inputs + 1, p.nnz, p.nnz, p.nnz, p.inputs * B, p.outputs].map((n) =>
          reserved(4 * n),
        );
        const slack = sizes.slice(0, at).reduce((s, n) => s + n, 0) + sizes[at]! - 16;
        const top = engine.alloc(16) + 16;
        engine.alloc(initial - top - slack);
        const A = new CsrWeights(engine, p, v);
        const X = Matrix.from(engine, p.inputs, B, x);
        const b = F32Buffer.from(engine, bias);
        const grown = engine.stats();
        if (grown.grows < 1) throw new Error(`building the operands into ${slack} free bytes did not grow memory`);
        const before = X.view();
        engine.alloc(grown.memoryBytes + pages * PAGE); // longer than all memory so far: it must grow wherever it goes
        const after = engine.stats();
        if (after.grows <= grown.grows) {
          throw new Error(`memory did not grow again: ${after.memoryBytes} bytes, ${after.grows} grows`);
        }
        // growth detaches the old buffer: this is why every view is made fresh from memory.buffer
        if (before.length !== 0) throw new Error(`a view made before growth still has ${before.length} elements`);
        const Y = new Matrix(engine, p.outputs, B);
        const dY = Matrix.from(engine, p.outputs, B, dy);
        const dX = new Matrix(engine, p.inputs, B);
        if (Y.ptr < initial) throw new Error(`Y at ${Y.ptr} lies inside the initial ${initial} bytes`);
        csrSpmm(A, X, Y, { bias: b, relu });
        csrSpmmBackward(A, dY, dX);
        expectEqual("X after growth", X.view(), x);
        expectEqual("weights after growth", A.values.view(), v);
        expectEqual("rowPtr after growth", A.rowPtr.view(), p.rowPtr);
        expectEqual("perm after growth", A.perm.view(), p.perm);
        const W = ref.maskedDense(p, v);
        expectClose(
          "Y",
          Y.view(),
          ref.matmul(W, p.outputs, p.inputs, x, B, bias, relu),
          ref.matmulScale(W, p.outputs, p.inputs, x, B, bias),
        );
        const Wt = ref.transpose(W, p.outputs, p.inputs);
        expectClose(
          "dX",
          dX.view(),
          ref.matmul(Wt, p.inputs, p.outputs, dy, B),
          ref.matmulScale(Wt, p.inputs, p.outputs, dy, B),
        );
      } finally {
        engine.dispose();
      }
    },
  );

function check(name: string, engineName: string, prop: fc.IProperty<unknown[]>, numRuns: number, engine?: Engine) {
  const t0 = performance.now();
  const live = engine?.stats().liveBlocks ?? 0;
  const details = fc.check(prop, { seed, numRuns });
  const error = details.errorInstance;
  const report = () => `${(error as Error | undefined)?.message ?? error}\n${fc.defaultReportMessage(details)}`;
  let message = details.failed ? report() : undefined;
  const leaked = engine ? engine.stats().liveBlocks - live : 0;
  if (!message && leaked !== 0) message = `${leaked} blocks still live after the runs`;
  const ms = Math.round(performance.now() - t0);
  return { name, engine: engineName, ok: !message, numRuns: details.numRuns, ms, message };
}

// One tiny product against the reference: proves an engine from any source computes.
function smoke(engine: Engine): void {
  scoped(engine, (s) => {
    const p = Pattern.random(7, 5, 0.5, 3);
    const v = values(1, p.nnz),
      x = values(2, 7 * 6);
    const Y = s.matrix(5, 6);
    csrSpmm(s.csr(p, v), s.matrix(7, 6, x), Y, { relu: true });
    const W = ref.maskedDense(p, v);
    expectClose("smoke Y", Y.view(), ref.matmul(W, 5, 7, x, 6, undefined, true), ref.matmulScale(W, 5, 7, x, 6));
  });
}

// A square layer's output written over its input: the op lets it through, the debug build's kernel refuses it.
function debugAssertion(engine: Engine | undefined): Outcome {
  if (!engine) return { ok: false, message: `engine "${DEBUG_ENGINE}" did not load` };
  return scoped(engine, (s) => {
    const X = s.matrix(4, 5, values(1, 20));
    try {
      csrSpmm(s.csr(Pattern.dense(4, 4), values(2, 16)), X, X);
      return { ok: false, message: "csrSpmm(A, X, X) ran without an assertion" };
    } catch (e) {
      const ok =
        e instanceof KernelAssertionError &&
        e.assertion === "csrSpmm: Y overlaps X" &&
        e.file === "assembly/csr_spmm.ts";
      return { ok, message: `${(e as Error).name}: ${(e as Error).message}` };
    }
  });
}

async function main() {
  const wasmUrl = new URL(import.meta.resolve("presparse/presparse.wasm"));
  const fetchBytes = async () => new Uint8Array(await (await fetch(wasmUrl)).arrayBuffer());
  const loaders: Record<string, () => Promise<Engine>> = {
    "default URL": () => Engine.load(),
    "default URL, debug build": () => Engine.load({ debug: true }),
    "URL from the import map": () => Engine.load({ wasm: wasmUrl }),
    "URL string relative to the page": () => Engine.load({ wasm: wasmUrl.pathname }),
    "bytes fetched by the page": async () => Engine.load({ wasm: await fetchBytes() }),
    ArrayBuffer: async () => Engine.load({ wasm: (await fetchBytes()).buffer }),
    "fetch Response": () => Engine.load({ wasm: fetch(wasmUrl) }),
    "module from compileStreaming": async () =>
      Engine.load({ wasm: await WebAssembly.compileStreaming(fetch(wasmUrl)) }),
  };
  const engines: Record<string, Engine> = {};
  const loads = [];
  for (const source of LOAD_SOURCES) {
    const load = loaders[source] ?? (() => Promise.reject(new Error(`no loader for "${source}"`)));
    try {
      const engine = await load();
      smoke(engine);
      engines[source] = engine;
      loads.push({ source, ok: engine instanceof Engine, memoryBytes: engine.stats().memoryBytes });
    } catch (e) {
      loads.push({ source, ok: false, message: String((e as Error)?.stack ?? e) });
    }
  }

  const bytes = await fetchBytes();
  const rejects = [];
  const badSources: Record<string, [() => Promise<Engine>, RegExp]> = {
    "a 404": [() => Engine.load({ wasm: new URL("/build/no-such.wasm", location.href) }), /HTTP 404/],
    "an HTML page served as WASM": [
      () => Engine.load({ wasm: location.href }),
      /expected magic word 00 61 73 6d, found 3c 21 64 6f/,
    ],
    "truncated bytes": [() => Engine.load({ wasm: bytes.slice(0, bytes.length >> 1) }), /does not validate/],
    "a module without the kernels": [
      () => Engine.load({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) }),
      /export memory missing/,
    ],
  };
  for (const source of REJECT_SOURCES) {
    const [load, pattern] = badSources[source] ?? [() => Promise.reject(new Error(`no case for "${source}"`)), /^$/];
    try {
      await load();
      rejects.push({ source, ok: false, message: "loaded without an error" });
    } catch (e) {
      const ok = e instanceof WasmLoadError && pattern.test(e.message);
      const err = e as Error;
      const expected = ok ? "" : ` (expected a WasmLoadError matching ${pattern})`;
      rejects.push({ source, ok, message: `${err?.name}: ${err?.message}${expected}` });
    }
  }

  const results = [];
  for (const engineName of PROPERTY_ENGINES) {
    const engine = engines[engineName];
    // the debug build is slower: a quarter of the runs, as in the Node suite
    const numRuns = engineName === DEBUG_ENGINE ? Math.max(4, runs >> 2) : runs;
    for (const c of KERNEL_CASES as AnyCase[]) {
      if (!engine) {
        const message = `engine "${engineName}" did not load`;
        results.push({ name: c.name, engine: engineName, ok: false, numRuns: 0, message });
      } else results.push(check(c.name, engineName, property(c, engine), numRuns, engine));
    }
  }
  const module = await WebAssembly.compile(bytes);
  results.push(check(MEMORY_GROWTH, "fresh instances", memoryGrowth(module), Math.max(4, runs >> 2)));
  const assertion = { name: DEBUG_ASSERTION, ...debugAssertion(engines[DEBUG_ENGINE]) };
  return { done: true, seed, runs, userAgent: navigator.userAgent, loads, rejects, properties: results, assertion };
}

const log = document.getElementById("log")!;
main().then(
  (r) => {
    (window as unknown as { __results: unknown }).__results = r;
    const bad = [...r.loads, ...r.rejects, ...r.properties, r.assertion].filter((x) => !x.ok).length;
    log.textContent = `${bad === 0 ? "all passed" : `${bad} failed`}\n${JSON.stringify(r, null, 2)}`;
  },
  (e) => {
    (window as unknown as { __results: unknown }).__results = { done: true, fatal: String(e?.stack ?? e) };
    log.textContent = String(e?.stack ?? e);
  },
);
