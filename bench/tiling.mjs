// GFLOP/s on stored connections (2·nnz·B flops per call) of the raw kernels csrSpmm, csrSpmmT and csrSddmm at batch
// 256 on the 1024×1024 layer at 5–50% density, unblocked and with blocks of 2 and 4 outputs, one thread, against a
// baseline build timed in turn in the same process (its build/presparse.wasm, same operands): rounds alternate new and
// baseline, and the table gives the median and the spread (min–max) of the rounds. Then batch-1 latency of the
// paper's 800→40 layer (out-degree 2) through the validated op, JavaScript call included.
// Run: npm run build && node bench/tiling.mjs --baseline DIR [--rounds N] [--relaxed]   (or PRESPARSE_BASELINE=DIR)
// --relaxed times build/presparse.relaxed.wasm as the new build (Node ≥ 21); `--baseline .` then compares it with
// this tree's fixed-SIMD build.
// csrSpmmT has no blocked kernel (a column's entries read distinct dY rows): it is timed unblocked only.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Pattern } from "../dist/index.js";
import { isMain, machine, machineLine, median, printTable, timeCall, writeResults } from "./common.mjs";

const DENSITIES = [0.05, 0.1, 0.25, 0.5];
const N = 1024;
const B = 256;

/** A raw instance of a release build with a bump allocator over its memory. */
function instance(path) {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), {
    env: { abort: () => {}, seed: () => 1 },
  });
  let top = (exports.heapBase.value + 63) & ~63;
  const alloc = (n) => {
    const at = top;
    top = (top + 4 * n + 63) & ~63;
    const need = Math.ceil(top / 65536) - exports.memory.buffer.byteLength / 65536;
    if (need > 0) exports.memory.grow(need);
    return at;
  };
  const put = (Arr, data) => {
    const at = alloc(data.length);
    new Arr(exports.memory.buffer, at, data.length).set(data);
    return at;
  };
  return { k: exports, alloc, put };
}

/** The three calls on pattern p at batch B in one instance, operands filled from a fixed sequence. */
function calls(inst, p) {
  const { k, alloc, put } = inst;
  let s = 7;
  const rnd = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
  const rowPtr = put(Int32Array, p.rowPtr),
    colIdx = put(Int32Array, p.colIdx),
    colPtr = put(Int32Array, p.colPtr),
    rowIdx = put(Int32Array, p.rowIdx),
    perm = put(Int32Array, p.perm);
  const values = put(Float32Array, rnd(p.nnz)),
    bias = put(Float32Array, rnd(p.outputs));
  const x = put(Float32Array, rnd(p.inputs * B)),
    dy = put(Float32Array, rnd(p.outputs * B));
  const y = alloc(p.outputs * B),
    dx = alloc(p.inputs * B),
    dv = alloc(p.nnz);
  const r = p.block % 4 === 0 ? 4 : p.block % 2 === 0 ? 2 : 1;
  const out = {
    csrSpmm: () => k.csrSpmm(p.outputs, B, rowPtr, colIdx, values, x, bias, y, 0),
    csrSpmmT: () => k.csrSpmmT(p.inputs, B, colPtr, rowIdx, perm, values, dy, dx),
    csrSddmm: () => k.csrSddmm(p.outputs, B, rowPtr, colIdx, dy, x, dv, 0),
  };
  if (r > 1 && k.csrSpmmBlock)
    out.csrSpmm = () => k.csrSpmmBlock(p.outputs, B, r, rowPtr, colIdx, values, x, bias, y, 0);
  if (r > 1 && k.csrSddmmBlock) out.csrSddmm = () => k.csrSddmmBlock(p.outputs, B, r, rowPtr, colIdx, dy, x, dv, 0);
  return out;
}

const COLUMNS = ["density", "block", "op", "new", "baseline", "ratio"];
const progress = process.stdout.isTTY === false;

export async function run({ baseline = process.env.PRESPARSE_BASELINE, rounds = 5, relaxed = false } = {}) {
  if (!baseline) {
    console.log(
      "\n## Tiled and blocked CSR kernels: skipped (give --baseline DIR, a built tree of the commit to beat)",
    );
    return;
  }
  const m = machine();
  const what = relaxed ? " (new: the relaxed-SIMD build)" : "";
  console.log(`\n## Tiled and blocked CSR kernels${what}, batch ${B}, ${N}×${N}, one thread\n${machineLine(m)}`);
  // --relaxed times the relaxed-SIMD build as the new one (a runtime with relaxed SIMD: Node ≥ 21)
  const mine = instance(new URL(`../build/presparse${relaxed ? ".relaxed" : ""}.wasm`, import.meta.url).pathname);
  const base = instance(join(resolve(baseline), "build/presparse.wasm"));
  const rows = [];
  for (const density of DENSITIES) {
    const d = 4 * Math.round((N * density) / 4); // a multiple of 4, so every block size is feasible
    for (const block of [1, 2, 4]) {
      const p = Pattern.fixedDegree(N, N, d, 1, { block });
      const a = calls(mine, p);
      // the baseline runs the unblocked kernels on the same pattern: the blocked path's gain is against today's rate
      const b = calls(base, p);
      const flops = 2 * p.nnz * B;
      const ops = block > 1 ? ["csrSpmm", "csrSddmm"] : ["csrSpmm", "csrSpmmT", "csrSddmm"];
      for (const op of ops) {
        const ga = [],
          gb = [];
        for (let i = 0; i < rounds; i++) {
          gb.push(flops / timeCall(b[op], { budget: 0.15 }).median / 1e9);
          ga.push(flops / timeCall(a[op], { budget: 0.15 }).median / 1e9);
        }
        const ratios = ga.map((g, i) => g / gb[i]);
        rows.push({
          density: `${density * 100}%`,
          block,
          op,
          new: `${median(ga).toFixed(1)} (${Math.min(...ga).toFixed(1)}–${Math.max(...ga).toFixed(1)})`,
          baseline: `${median(gb).toFixed(1)} (${Math.min(...gb).toFixed(1)}–${Math.max(...gb).toFixed(1)})`,
          ratio: `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
        });
        if (progress) console.log(COLUMNS.map((c) => rows.at(-1)[c]).join("  "));
      }
    }
  }
  printTable(
    rows,
    COLUMNS.map((c) => [c, c]),
  );
  console.log("GFLOP/s on stored connections: median (min–max) of the rounds; ratio per round, new over baseline");
  const latency = await batchOne(baseline, rounds);
  const epochs = await trainEpoch(baseline, rounds);
  const path = writeResults("tiling", { machine: m, B, N, rounds, baseline, rows, latency, epochs });
  console.log(`results: ${path}`);
}

/** Batch-1 800→40 (out-degree 2) through the validated op on an engine of each build, JS call included. */
async function batchOne(baseline, rounds) {
  const one = async (dir) => {
    // older trees export the ops from the main entry, newer ones from presparse/ops
    const ops = existsSync(join(dir, "dist/ops_index.js")) ? await import(join(dir, "dist/ops_index.js")) : {};
    const { Engine: E, Pattern: P, Matrix, ...rest } = { ...(await import(join(dir, "dist/index.js"))), ...ops };
    const { CsrWeights, F32Buffer, csrSpmm: op } = rest;
    const e = await E.load({ threads: 1 });
    const A = new CsrWeights(e, P.fixedDegree(800, 40, 2, 1));
    const X = new Matrix(e, 800, 1),
      Y = new Matrix(e, 40, 1),
      bias = new F32Buffer(e, 40);
    return () => op(A, X, Y, { bias, relu: true });
  };
  const fa = await one(new URL("..", import.meta.url).pathname);
  const fb = await one(resolve(baseline));
  const ta = [],
    tb = [];
  for (let i = 0; i < rounds; i++) {
    tb.push(timeCall(fb, { budget: 0.2 }).median * 1e6);
    ta.push(timeCall(fa, { budget: 0.2 }).median * 1e6);
  }
  const show = (t) => `${median(t).toFixed(2)} µs (${Math.min(...t).toFixed(2)}–${Math.max(...t).toFixed(2)})`;
  console.log(`batch 1, 800→40 at out-degree 2, bias + ReLU, through csrSpmm(): new ${show(ta)}, baseline ${show(tb)}`);
  return { new: ta, baseline: tb };
}

/**
 * Seconds of the second training epoch of 784-1024-1024-10 at out-degrees (128, 104, 10) on 8,192 random samples
 * (Adam, batch 256, one thread): the baseline unblocked, then this tree unblocked and at blocks (4, 4, 1), in turn.
 */
async function trainEpoch(baseline, rounds) {
  const n = 8192,
    f = 784;
  let s = 5;
  const x = Float32Array.from({ length: n * f }, () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  const here = new URL("..", import.meta.url).pathname;
  const arms = [];
  for (const [label, dir, blocks] of [
    ["baseline", resolve(baseline), [1, 1, 1]],
    ["new", here, [1, 1, 1]],
    ["new, blocks 4,4,1", here, [4, 4, 1]],
  ]) {
    const L = await import(join(dir, "dist/index.js"));
    const engine = await L.Engine.load({ threads: 1 });
    arms.push({ label, L, engine, blocks, data: L.makeDataset("random", x, y, f, 10), seconds: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const a of arms) {
      const model = a.L.Model.mlp(a.engine, {
        sizes: [784, 1024, 1024, 10],
        outDegrees: [128, 104, 10],
        blocks: a.blocks,
      });
      const optimizer = new a.L.Adam({ lr: 1e-3, decay: 1e-5 });
      const reports = a.L.train(model, a.data, { epochs: 2, batchSize: 256, optimizer, seed: 1, trainAccuracy: false });
      a.seconds.push(reports[1].seconds);
      model.dispose();
      optimizer.dispose?.();
    }
  }
  const base = arms[0].seconds;
  for (const a of arms) {
    const ratios = a.seconds.map((t, i) => base[i] / t);
    console.log(
      `epoch of 8,192 samples, 784-1024-1024-10 (128,104,10), ${a.label}: ${median(a.seconds).toFixed(3)} s ` +
        `(${Math.min(...a.seconds).toFixed(3)}–${Math.max(...a.seconds).toFixed(3)}), ` +
        `${median(ratios).toFixed(2)}× the baseline's speed ` +
        `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
    );
  }
  return arms.map((a) => ({ label: a.label, seconds: a.seconds }));
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  await run({
    baseline: opt("--baseline") ?? process.env.PRESPARSE_BASELINE,
    rounds: Number(opt("--rounds") ?? 5),
    relaxed: args.includes("--relaxed"),
  });
}
