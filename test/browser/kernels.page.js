// Runs inside the page: loads the engine every way a page can (default URL, import-map URL, URL string, bytes,
// Response, compiled module, debug build), checks that bad sources fail with WasmLoadError, then checks every
// kernel against the dense reference under fast-check on the engines loaded by URL and from bytes, and across
// memory growth. Posts { done, seed, runs, loads, rejects, properties } to window.__results.
// Query: ?seed=<int>&runs=<int>.
import fc from "fast-check";
import {
  CsrWeights, Engine, F32Buffer, I32Buffer, Matrix, Pattern, WasmLoadError,
  csrSpmmBackwardWeights, csrSpmm, csrSpmmBackward, denseMatmulBackwardWeights, denseMatmul, denseMatmulBackward, softmaxCrossEntropy,
} from "presparse";
import { LOAD_SOURCES, MEMORY_GROWTH, PROPERTIES, PROPERTY_ENGINES, REJECT_SOURCES } from "./cases.js";
import * as ref from "./reference.js";

const query = new URLSearchParams(location.search);
const seed = Number(query.get("seed") ?? 1);
const runs = Number(query.get("runs") ?? 25);
const CANARY = 1234.5;
const PAGE = 65536;

/** Buffers made during one property run, all freed at its end so the allocator is left as it was found. */
class Scope {
  constructor(engine) {
    this.engine = engine;
    this.owned = [];
  }
  keep(x) {
    this.owned.push(x);
    return x;
  }
  matrix(rows, cols, data) {
    return this.keep(data ? Matrix.from(this.engine, rows, cols, data) : new Matrix(this.engine, rows, cols));
  }
  f32(data) {
    return this.keep(typeof data === "number" ? new F32Buffer(this.engine, data) : F32Buffer.from(this.engine, data));
  }
  i32(data) {
    return this.keep(I32Buffer.from(this.engine, data));
  }
  csr(p, v) {
    return this.keep(new CsrWeights(this.engine, p, v));
  }
  dense(outputs, inputs, v) {
    return { engine: this.engine, outputs, inputs, values: this.f32(v) };
  }
  // an output prefilled with NaN and followed by a canary block: a kernel that skips an entry or writes past the end shows
  output(rows, cols) {
    const m = this.matrix(rows, cols);
    m.view().fill(NaN);
    const canary = this.f32(8);
    canary.view().fill(CANARY);
    m.intact = () => ref.expectEqual("canary after the output", canary.view(), new Float32Array(8).fill(CANARY));
    return m;
  }
  dispose() {
    for (const x of this.owned.splice(0).reverse()) x.dispose();
  }
}

function scoped(engine, fn) {
  const s = new Scope(engine);
  try {
    return fn(s);
  } finally {
    s.dispose();
  }
}

/** Batch sizes 1–67, biased towards the edges of the 4-, 8-, 16- and 32-wide SIMD loops. */
const batchArb = fc.oneof(fc.integer({ min: 1, max: 67 }), fc.constantFrom(1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67));

const patternArb = fc.record({
  inputs: fc.integer({ min: 1, max: 64 }),
  outputs: fc.integer({ min: 1, max: 64 }),
  kind: fc.constantFrom("empty", "single", "dense", "random", "fixedDegree", "mask", "emptyRowsCols"),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  density: fc.double({ min: 0, max: 1, noNaN: true }),
  pick: fc.nat(),
});

// every kind is a valid pattern for any sizes: nnz 0, one connection, dense, random, fixed degree, masks with dead rows/columns
function buildPattern({ inputs, outputs, kind, seed: s, density, pick }) {
  const u = ref.uniforms(s);
  switch (kind) {
    case "empty":
      return Pattern.fromCsr(inputs, outputs, new Int32Array(outputs + 1), []);
    case "single": {
      const r = pick % outputs, c = Math.floor(pick / outputs) % inputs;
      return Pattern.fromCsr(inputs, outputs, Array.from({ length: outputs + 1 }, (_, i) => (i > r ? 1 : 0)), [c]);
    }
    case "dense":
      return Pattern.dense(inputs, outputs);
    case "random":
      return Pattern.random(inputs, outputs, density, s);
    case "fixedDegree": {
      const degrees = [0];
      for (let d = 1; d <= outputs; d++) if ((inputs * d) % outputs === 0) degrees.push(d);
      return Pattern.fixedDegree(inputs, outputs, degrees[pick % degrees.length], s);
    }
    case "mask":
      return Pattern.fromMask(inputs, outputs, Array.from({ length: inputs * outputs }, () => (u() < density ? 1 : 0)));
    case "emptyRowsCols": {
      const deadRow = Array.from({ length: outputs }, () => u() < 0.4);
      const deadCol = Array.from({ length: inputs }, () => u() < 0.4);
      const mask = Array.from({ length: inputs * outputs }, (_, i) =>
        !deadRow[Math.floor(i / inputs)] && !deadCol[i % inputs] && u() < Math.max(density, 0.5) ? 1 : 0);
      return Pattern.fromMask(inputs, outputs, mask);
    }
  }
  throw new Error(`unknown pattern kind ${kind}`);
}

const absOf = (a) => Float64Array.from(a, Math.abs);

/** The kernel properties, each a function of the engine it runs on. */
const properties = {
  "csrSpmm = W·X (+ bias) (ReLU)": (engine) =>
    fc.property(patternArb, batchArb, fc.boolean(), fc.boolean(), fc.integer(), (spec, B, withBias, relu, sd) =>
      scoped(engine, (s) => {
        const p = buildPattern(spec);
        const v = ref.values(sd, p.nnz), x = ref.values(sd + 1, p.inputs * B), bias = ref.values(sd + 2, p.outputs);
        const X = s.matrix(p.inputs, B, x);
        const Y = s.output(p.outputs, B);
        csrSpmm(s.csr(p, v), X, Y, { bias: withBias ? s.f32(bias) : undefined, relu });
        const W = ref.maskedDense(p, v);
        const b = withBias ? bias : undefined;
        ref.expectClose("Y", Y.view(), ref.matmul(W, p.outputs, p.inputs, x, B, b, relu), ref.matmulScale(W, p.outputs, p.inputs, x, B, b));
        Y.intact();
        ref.expectEqual("X after csrSpmm", X.view(), x);
      })),

  "csrSpmmBackward = Wᵀ·dY": (engine) =>
    fc.property(patternArb, batchArb, fc.integer(), (spec, B, sd) =>
      scoped(engine, (s) => {
        const p = buildPattern(spec);
        const v = ref.values(sd, p.nnz), dy = ref.values(sd + 1, p.outputs * B);
        const dX = s.output(p.inputs, B);
        csrSpmmBackward(s.csr(p, v), s.matrix(p.outputs, B, dy), dX);
        const Wt = ref.transpose(ref.maskedDense(p, v), p.outputs, p.inputs);
        ref.expectClose("dX", dX.view(), ref.matmul(Wt, p.inputs, p.outputs, dy, B), ref.matmulScale(Wt, p.inputs, p.outputs, dy, B));
        dX.intact();
      })),

  "csrSpmmBackwardWeights = dY·Xᵀ on the pattern, dBias = row sums of dY": (engine) =>
    fc.property(patternArb, batchArb, fc.boolean(), fc.integer(), (spec, B, withBias, sd) =>
      scoped(engine, (s) => {
        const p = buildPattern(spec);
        const dy = ref.values(sd, p.outputs * B), x = ref.values(sd + 1, p.inputs * B);
        const dV = s.f32(p.nnz);
        dV.view().fill(NaN);
        const dBias = withBias ? s.f32(p.outputs) : undefined;
        dBias?.view().fill(NaN);
        csrSpmmBackwardWeights(s.csr(p, ref.values(sd + 2, p.nnz)), s.matrix(p.outputs, B, dy), s.matrix(p.inputs, B, x), dV, dBias);
        ref.expectClose("dValues", dV.view(), ref.gatherPattern(p, ref.gradW(dy, p.outputs, x, p.inputs, B)),
          ref.gatherPattern(p, ref.gradW(absOf(dy), p.outputs, absOf(x), p.inputs, B)));
        if (dBias) ref.expectClose("dBias", dBias.view(), ref.rowSums(dy, p.outputs, B), ref.rowSums(absOf(dy), p.outputs, B));
      })),

  "denseMatmul = W·X (+ bias) (ReLU)": (engine) =>
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), batchArb, fc.boolean(), fc.boolean(), fc.integer(), (m, k, B, withBias, relu, sd) =>
      scoped(engine, (s) => {
        const w = ref.values(sd, m * k), x = ref.values(sd + 1, k * B), bias = ref.values(sd + 2, m);
        const Y = s.output(m, B);
        const b = withBias ? bias : undefined;
        denseMatmul(s.dense(m, k, w), s.matrix(k, B, x), Y, { bias: withBias ? s.f32(bias) : undefined, relu });
        ref.expectClose("Y", Y.view(), ref.matmul(w, m, k, x, B, b, relu), ref.matmulScale(w, m, k, x, B, b));
        Y.intact();
      })),

  "denseMatmulBackward = Wᵀ·dY": (engine) =>
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), batchArb, fc.integer(), (m, k, B, sd) =>
      scoped(engine, (s) => {
        const w = ref.values(sd, m * k), dy = ref.values(sd + 1, m * B);
        const dX = s.output(k, B);
        denseMatmulBackward(s.dense(m, k, w), s.matrix(m, B, dy), dX);
        const Wt = ref.transpose(w, m, k);
        ref.expectClose("dX", dX.view(), ref.matmul(Wt, k, m, dy, B), ref.matmulScale(Wt, k, m, dy, B));
        dX.intact();
      })),

  "denseMatmulBackwardWeights = dY·Xᵀ, dBias = row sums of dY": (engine) =>
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), batchArb, fc.boolean(), fc.integer(), (m, k, B, withBias, sd) =>
      scoped(engine, (s) => {
        const dy = ref.values(sd, m * B), x = ref.values(sd + 1, k * B);
        const dW = s.f32(m * k);
        dW.view().fill(NaN);
        const dBias = withBias ? s.f32(m) : undefined;
        dBias?.view().fill(NaN);
        denseMatmulBackwardWeights(s.dense(m, k, ref.values(sd + 2, m * k)), s.matrix(m, B, dy), s.matrix(k, B, x), dW, dBias);
        ref.expectClose("dW", dW.view(), ref.gradW(dy, m, x, k, B), ref.gradW(absOf(dy), m, absOf(x), k, B));
        if (dBias) ref.expectClose("dBias", dBias.view(), ref.rowSums(dy, m, B), ref.rowSums(absOf(dy), m, B));
      })),

  "softmaxCrossEntropy: loss and dZ = (softmax − onehot)/B": (engine) =>
    fc.property(fc.integer({ min: 1, max: 40 }), batchArb, fc.constantFrom(1, 10, 80), fc.boolean(), fc.integer(), (C, B, scale, withGrad, sd) =>
      scoped(engine, (s) => {
        const z = ref.values(sd, C * B, scale);
        const u = ref.uniforms(sd + 1);
        const labels = Int32Array.from({ length: B }, () => Math.floor(u() * C));
        const dZ = withGrad ? s.output(C, B) : undefined;
        const loss = softmaxCrossEntropy(s.matrix(C, B, z), s.i32(labels), dZ);
        const want = ref.softmaxCrossEntropy(z, C, B, labels);
        const tol = 1e-5 * (1 + Math.abs(want.loss)) + 1e-4 * Math.log(C + 1);
        if (!(Math.abs(loss - want.loss) <= tol)) throw new Error(`loss = ${loss}, expected ${want.loss} (tolerance ${tol.toExponential(2)})`);
        if (dZ) {
          ref.expectClose("dZ", dZ.view(), want.dZ, 1 / B, 1e-5, 1e-7);
          dZ.intact();
        }
      })),
};

// Bytes alloc() reserves for a request: 16-byte aligned, at least 16.
const reserved = (bytes) => Math.max(16, Math.ceil(bytes / 16) * 16);

// Fresh instances of one compiled module. Memory is first filled to just below its end, so that building the
// operands grows it at the `at`-th allocation (a constructor that kept a view across its own allocations would
// write into a detached buffer); then a block longer than all memory grows it again, and the outputs land above.
const memoryGrowth = (module) =>
  fc.property(patternArb, batchArb, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 64 }), fc.boolean(), fc.integer(),
    (spec, B, at, pages, relu, sd) => {
      const engine = Engine.fromModule(module);
      try {
        const initial = engine.stats().memoryBytes;
        const p = buildPattern(spec);
        const v = ref.values(sd, p.nnz), x = ref.values(sd + 1, p.inputs * B), bias = ref.values(sd + 2, p.outputs), dy = ref.values(sd + 3, p.outputs * B);
        // the operands' allocations in construction order: rowPtr, colIdx, colPtr, rowIdx, perm, values, X, bias
        const sizes = [p.outputs + 1, p.nnz, p.inputs + 1, p.nnz, p.nnz, p.nnz, p.inputs * B, p.outputs].map((n) => reserved(4 * n));
        const slack = sizes.slice(0, at).reduce((s, n) => s + n, 0) + sizes[at] - 16;
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
        if (after.grows <= grown.grows) throw new Error(`memory did not grow again: ${after.memoryBytes} bytes, ${after.grows} grows`);
        // growth detaches the old buffer: this is why every view is made fresh from memory.buffer
        if (before.length !== 0) throw new Error(`a view made before growth still has ${before.length} elements`);
        const Y = new Matrix(engine, p.outputs, B);
        const dY = Matrix.from(engine, p.outputs, B, dy);
        const dX = new Matrix(engine, p.inputs, B);
        if (Y.ptr < initial) throw new Error(`Y at ${Y.ptr} lies inside the initial ${initial} bytes`);
        csrSpmm(A, X, Y, { bias: b, relu });
        csrSpmmBackward(A, dY, dX);
        ref.expectEqual("X after growth", X.view(), x);
        ref.expectEqual("weights after growth", A.values.view(), v);
        ref.expectEqual("rowPtr after growth", A.rowPtr.view(), p.rowPtr);
        ref.expectEqual("perm after growth", A.perm.view(), p.perm);
        const W = ref.maskedDense(p, v);
        ref.expectClose("Y", Y.view(), ref.matmul(W, p.outputs, p.inputs, x, B, bias, relu), ref.matmulScale(W, p.outputs, p.inputs, x, B, bias));
        const Wt = ref.transpose(W, p.outputs, p.inputs);
        ref.expectClose("dX", dX.view(), ref.matmul(Wt, p.inputs, p.outputs, dy, B), ref.matmulScale(Wt, p.inputs, p.outputs, dy, B));
      } finally {
        engine.dispose();
      }
    });

function check(name, engineName, property, numRuns, engine) {
  const t0 = performance.now();
  const live = engine?.stats().liveBlocks;
  const details = fc.check(property, { seed, numRuns });
  const error = details.errorInstance;
  let message = details.failed ? `${error?.message ?? error}\n${fc.defaultReportMessage(details)}` : undefined;
  const leaked = engine ? engine.stats().liveBlocks - live : 0;
  if (!message && leaked !== 0) message = `${leaked} blocks still live after the runs`;
  return { name, engine: engineName, ok: !message, numRuns: details.numRuns, ms: Math.round(performance.now() - t0), message };
}

// One tiny product against the reference: proves an engine from any source computes.
function smoke(engine) {
  scoped(engine, (s) => {
    const p = Pattern.random(7, 5, 0.5, 3);
    const v = ref.values(1, p.nnz), x = ref.values(2, 7 * 6);
    const Y = s.matrix(5, 6);
    csrSpmm(s.csr(p, v), s.matrix(7, 6, x), Y, { relu: true });
    const W = ref.maskedDense(p, v);
    ref.expectClose("smoke Y", Y.view(), ref.matmul(W, 5, 7, x, 6, undefined, true), ref.matmulScale(W, 5, 7, x, 6));
  });
}

async function main() {
  const wasmUrl = new URL(import.meta.resolve("presparse/presparse.wasm"));
  const fetchBytes = async () => new Uint8Array(await (await fetch(wasmUrl)).arrayBuffer());
  const loaders = {
    "default URL": () => Engine.load(),
    "default URL, debug build": () => Engine.load({ debug: true }),
    "URL from the import map": () => Engine.load({ wasm: wasmUrl }),
    "URL string relative to the page": () => Engine.load({ wasm: wasmUrl.pathname }),
    "bytes fetched by the page": async () => Engine.load({ wasm: await fetchBytes() }),
    "ArrayBuffer": async () => Engine.load({ wasm: (await fetchBytes()).buffer }),
    "fetch Response": () => Engine.load({ wasm: fetch(wasmUrl) }),
    "module from compileStreaming": async () => Engine.load({ wasm: await WebAssembly.compileStreaming(fetch(wasmUrl)) }),
  };
  const engines = {};
  const loads = [];
  for (const source of LOAD_SOURCES) {
    const load = loaders[source] ?? (() => Promise.reject(new Error(`no loader for "${source}"`)));
    try {
      const engine = await load();
      smoke(engine);
      engines[source] = engine;
      loads.push({ source, ok: engine instanceof Engine, memoryBytes: engine.stats().memoryBytes });
    } catch (e) {
      loads.push({ source, ok: false, message: String(e?.stack ?? e) });
    }
  }

  const bytes = await fetchBytes();
  const rejects = [];
  const badSources = {
    "a 404": [() => Engine.load({ wasm: new URL("/build/no-such.wasm", location.href) }), /HTTP 404/],
    "an HTML page served as WASM": [() => Engine.load({ wasm: location.href }), /expected magic word 00 61 73 6d, found 3c 21 64 6f/],
    "truncated bytes": [() => Engine.load({ wasm: bytes.slice(0, bytes.length >> 1) }), /does not validate/],
    "a module without the kernels": [() => Engine.load({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) }), /export memory missing/],
  };
  for (const source of REJECT_SOURCES) {
    const [load, pattern] = badSources[source] ?? [() => Promise.reject(new Error(`no case for "${source}"`)), /^$/];
    try {
      await load();
      rejects.push({ source, ok: false, message: "loaded without an error" });
    } catch (e) {
      const ok = e instanceof WasmLoadError && pattern.test(e.message);
      rejects.push({ source, ok, message: `${e?.name}: ${e?.message}${ok ? "" : ` (expected a WasmLoadError matching ${pattern})`}` });
    }
  }

  const results = [];
  for (const engineName of PROPERTY_ENGINES) {
    const engine = engines[engineName];
    for (const name of PROPERTIES) {
      const property = properties[name];
      if (!engine) results.push({ name, engine: engineName, ok: false, numRuns: 0, message: `engine "${engineName}" did not load` });
      else if (!property) results.push({ name, engine: engineName, ok: false, numRuns: 0, message: "no such property on the page" });
      else results.push(check(name, engineName, property(engine), runs, engine));
    }
  }
  const module = await WebAssembly.compile(bytes);
  results.push(check(MEMORY_GROWTH, "fresh instances", memoryGrowth(module), Math.max(4, runs >> 2)));
  return { done: true, seed, runs, userAgent: navigator.userAgent, loads, rejects, properties: results };
}

main().then(
  (r) => {
    window.__results = r;
    const bad = [...r.loads, ...r.rejects, ...r.properties].filter((x) => !x.ok).length;
    document.getElementById("log").textContent = `${bad === 0 ? "all passed" : `${bad} failed`}\n${JSON.stringify(r, null, 2)}`;
  },
  (e) => {
    window.__results = { done: true, fatal: String(e?.stack ?? e) };
    document.getElementById("log").textContent = String(e?.stack ?? e);
  },
);
