// Kernel benchmark: csrSpmm / csrSpmmT / csrSddmm on a 1024×1024 layer at 1–100% density and on the paper's
// 800→40 layer, against our dense kernels and tfjs-backend-wasm's dense matMul on the same shapes, same run.
// Run: npm run bench:kernels   (builds first; times the release build through dist/index.js)
import { createRequire } from "node:module";
import {
  CsrWeights, Engine, F32Buffer, Matrix, Pattern, Rng, csrSpmm,
} from "../dist/index.js";
import { fmt, isMain, machine, machineLine, markdownTable, printTable, timeCall, writeResults } from "./common.mjs";

const require = createRequire(import.meta.url);
const DENSITIES = [0.01, 0.05, 0.1, 0.25, 0.5, 1];
const BATCHES = [256, 1];
const OPS = ["csrSpmm", "csrSpmmT", "csrSddmm"];
// the dense twin of each sparse op: forward, transposed product, weight gradient
const DENSE_TWIN = { csrSpmm: "Y = W·X", csrSpmmT: "dX = Wᵀ·dY", csrSddmm: "dW = dY·Xᵀ" };

function fill(buf, rng, scale = 1) {
  const v = buf.view ? buf.view() : buf.data();
  for (let i = 0; i < v.length; i++) v[i] = (rng.next() * 2 - 1) * scale;
}

async function loadTfjs() {
  const tf = await import("@tensorflow/tfjs-core");
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  wasm.setWasmPaths(require.resolve("@tensorflow/tfjs-backend-wasm/package.json").replace(/package\.json$/, "dist/"));
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend("wasm"))) throw new Error("tfjs: the wasm backend did not initialize");
  await tf.ready();
  const info = {
    version: require("@tensorflow/tfjs-backend-wasm/package.json").version,
    simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"),
    multithread: await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"),
    threads: wasm.getThreadsCount(),
  };
  return { tf, info };
}

/**
 * Median seconds per call of each function, as the median over `rounds` interleaved rounds of each one's median:
 * the machine is shared, and a burst of load during one round then moves no figure.
 */
function measure(fns, rounds, budget) {
  const per = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, fn] of Object.entries(fns)) per[k].push(timeCall(fn, { budget, minSamples: 5 }).median);
  }
  return Object.fromEntries(Object.entries(per).map(([k, ts]) => [k, ts.sort((a, b) => a - b)[ts.length >> 1]]));
}

/** Seconds for one call after one warm-up call. */
function trial(fn) {
  fn();
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Our dense kernels and tfjs's matMul for the three products of an m×k layer at batch B. */
function measureDense(engine, tf, m, k, B, rounds, budget) {
  const K = engine.kernels;
  const rng = new Rng(7);
  const W = new F32Buffer(engine, m * k), X = new Matrix(engine, k, B), Y = new Matrix(engine, m, B);
  for (const b of [W, X, Y]) fill(b, rng);
  const dW = new F32Buffer(engine, m * k), dX = new Matrix(engine, k, B);
  const a = tf.randomNormal([m, k]), x = tf.randomNormal([k, B]), dy = tf.randomNormal([m, B]);
  // tfjs-wasm's matMul with a transpose flag can be far slower (up to ~50×) than an explicit transpose followed by
  // a plain matMul; one trial call of each picks the faster way, which is then timed
  const faster = (f, g) => (trial(f) <= trial(g) ? f : g);
  const t = measure({
    csrSpmm: () => K.denseMatmul(m, k, B, W.ptr, k, 1, X.ptr, 0, Y.ptr, 0),
    csrSpmmT: () => K.denseMatmul(k, m, B, W.ptr, 1, k, Y.ptr, 0, dX.ptr, 0),
    csrSddmm: () => K.denseGradW(m, k, B, Y.ptr, X.ptr, dW.ptr, 0),
    tfjsSpmm: () => tf.matMul(a, x).dispose(),
    tfjsSpmmT: faster(() => tf.matMul(a, dy, true, false).dispose(), () => tf.tidy(() => tf.matMul(tf.transpose(a), dy)).dispose()),
    tfjsSddmm: faster(() => tf.matMul(dy, x, false, true).dispose(), () => tf.tidy(() => tf.matMul(dy, tf.transpose(x))).dispose()),
  }, rounds, budget);
  for (const b of [W, X, Y, dW, dX]) b.dispose();
  for (const v of [a, x, dy]) v.dispose();
  return {
    ours: { csrSpmm: t.csrSpmm, csrSpmmT: t.csrSpmmT, csrSddmm: t.csrSddmm },
    tfjs: { csrSpmm: t.tfjsSpmm, csrSpmmT: t.tfjsSpmmT, csrSddmm: t.tfjsSddmm },
  };
}

/** The three sparse kernels on one pattern at batch B (called through the kernel exports: the op's own cost). */
function measureSparse(engine, p, B, rounds, budget) {
  const K = engine.kernels;
  const rng = new Rng(11);
  const A = new CsrWeights(engine, p);
  fill(A.values, rng);
  const X = new Matrix(engine, p.inputs, B), Y = new Matrix(engine, p.outputs, B), dX = new Matrix(engine, p.inputs, B);
  const dV = new F32Buffer(engine, p.nnz);
  fill(X, rng);
  fill(Y, rng);
  const t = measure({
    csrSpmm: () => K.csrSpmm(p.outputs, B, A.rowPtr.ptr, A.colIdx.ptr, A.values.ptr, X.ptr, 0, Y.ptr, 0),
    csrSpmmT: () => K.csrSpmmT(p.inputs, B, A.colPtr.ptr, A.rowIdx.ptr, A.perm.ptr, A.values.ptr, Y.ptr, dX.ptr),
    csrSddmm: () => K.csrSddmm(p.outputs, B, A.rowPtr.ptr, A.colIdx.ptr, Y.ptr, X.ptr, dV.ptr, 0),
  }, rounds, budget);
  for (const b of [A, X, Y, dX, dV]) b.dispose();
  return t;
}

/** One batch-1 forward call of the paper's first layer (800→40, out-degree 2) through csrSpmm, bias and ReLU included. */
function measureWrapperCall(engine) {
  const p = Pattern.fixedDegree(800, 40, 2, 1);
  const rng = new Rng(3);
  const A = new CsrWeights(engine, p);
  fill(A.values, rng);
  const bias = new F32Buffer(engine, 40), X = new Matrix(engine, 800, 1), Y = new Matrix(engine, 40, 1);
  fill(X, rng);
  const t = timeCall(() => csrSpmm(A, X, Y, { bias, relu: true }), { budget: 1 });
  for (const b of [A, bias, X, Y]) b.dispose();
  return t;
}

/** Runs the suite, prints the tables and writes bench/results/kernels.json. */
export async function run({ rounds = 3, budget = 0.1 } = {}) {
  const started = process.hrtime.bigint();
  const engine = await Engine.load();
  const { tf, info: tfjs } = await loadTfjs();
  const m = machine();
  const layers = [
    ...DENSITIES.map((d) => ({ name: "1024→1024", pattern: () => (d === 1 ? Pattern.dense(1024, 1024) : Pattern.random(1024, 1024, d, 1)), density: d })),
    { name: "800→40 (deg 2)", pattern: () => Pattern.fixedDegree(800, 40, 2, 1), density: 0.05 },
  ];
  const dense = new Map();
  const rows = [];
  for (const layer of layers) {
    const p = layer.pattern();
    for (const B of BATCHES) {
      const key = `${p.outputs}x${p.inputs}x${B}`;
      if (!dense.has(key)) dense.set(key, measureDense(engine, tf, p.outputs, p.inputs, B, rounds, budget));
      const d = dense.get(key);
      const s = measureSparse(engine, p, B, rounds, budget);
      for (const op of OPS) {
        rows.push({
          layer: layer.name, density: p.density, nnz: p.nnz, batch: B, op,
          seconds: s[op], gflops: (2 * p.nnz * B) / s[op] / 1e9,
          denseSeconds: d.ours[op], vsDense: d.ours[op] / s[op],
          tfjsSeconds: d.tfjs[op], vsTfjs: d.tfjs[op] / s[op],
        });
      }
    }
  }
  const denseRows = [...dense.entries()].flatMap(([key, d]) => {
    const [mm, kk, B] = key.split("x").map(Number);
    return OPS.map((op) => ({
      shape: `${mm}×${kk}, batch ${B}`, op: DENSE_TWIN[op],
      ours: d.ours[op], oursGflops: (2 * mm * kk * B) / d.ours[op] / 1e9,
      tfjs: d.tfjs[op], tfjsGflops: (2 * mm * kk * B) / d.tfjs[op] / 1e9,
    }));
  });
  const call = measureWrapperCall(engine);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const columns = [
    ["layer", "layer"], ["density", "density", (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`], ["nnz", "nnz"], ["batch", "batch"],
    ["op", "op"], ["seconds", "µs", fmt.us], ["gflops", "GFLOP/s", fmt.f1],
    ["vsDense", "vs our dense", fmt.x], ["vsTfjs", "vs tfjs-wasm", fmt.x],
  ];
  const denseColumns = [
    ["shape", "dense shape"], ["op", "op"], ["ours", "ours µs", fmt.us], ["oursGflops", "GFLOP/s", fmt.f1],
    ["tfjs", "tfjs µs", fmt.us], ["tfjsGflops", "GFLOP/s", fmt.f1],
  ];
  const tfjsLine = `tfjs-backend-wasm ${tfjs.version}: SIMD ${tfjs.simd ? "on" : "off"}, ${tfjs.threads} thread${tfjs.threads === 1 ? "" : "s"}`;
  console.log(`\nkernels — ${machineLine(m)}\n${tfjsLine}; GFLOP/s counts 2·nnz·batch (stored connections only); times: median of ${rounds} interleaved rounds' medians\n`);
  printTable(rows, columns);
  console.log("");
  printTable(denseRows, denseColumns);
  console.log(`\nbatch-1 forward of 800→40 (deg 2) through csrSpmm(A, X, Y, {bias, relu}), JS wrapper included: ${(call.median * 1e6).toFixed(2)} µs median (min ${(call.min * 1e6).toFixed(2)})`);
  console.log(`suite time ${seconds.toFixed(1)} s`);

  const result = {
    suite: "kernels", command: "npm run bench:kernels", machine: m, tfjs, seconds, rounds, budgetPerRound: budget,
    sparse: rows, dense: denseRows,
    batch1Forward800x40: { medianUs: call.median * 1e6, minUs: call.min * 1e6, p90Us: call.p90 * 1e6 },
    markdown: { sparse: markdownTable(rows, columns), dense: markdownTable(denseRows, denseColumns) },
  };
  const path = writeResults("kernels", result);
  console.log(`wrote ${path}`);
  return result;
}

if (isMain(import.meta.url)) await run();
