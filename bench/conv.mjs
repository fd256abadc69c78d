// Conv benchmark: a 32→64 channel 3×3 layer (padding 1, stride 1) on 14×14 inputs at batch 64, channel densities
// 12.5–100%: forward, input gradient and weight gradient of our sparse conv kernels, against the same kernels at
// 100% (our dense conv) and tfjs-backend-wasm's conv2d / conv2dTranspose (NHWC) on the same shapes, same run.
// Run: npx tsc -p tsconfig.build.json && node bench/conv.mjs   (times the release build through dist/index.js)
import { ConvWeights, Engine, F32Buffer, Matrix, Pattern, Rng } from "../dist/index.js";
import { fmt, isMain, machine, machineLine, markdownTable, printTable, timeCall, writeResults, loadTfjsWasm } from "./common.mjs";

const GEOMETRY = { inC: 32, outC: 64, H: 14, W: 14, kh: 3, kw: 3, stride: 1, padding: 1 };
const BATCH = 64;
const DENSITIES = [0.125, 0.25, 0.5, 1];
const OPS = ["forward", "inputGrad", "weightGrad"];

function fill(arr, rng) {
  for (let i = 0; i < arr.length; i++) arr[i] = rng.next() * 2 - 1;
}

/** Our three conv kernels on one channel pattern (called through the kernel exports: the kernels' own cost). */
function measureOurs(engine, pattern, budget) {
  const K = engine.kernels, g = GEOMETRY, B = BATCH;
  const rng = new Rng(11);
  const Wt = new ConvWeights(engine, g, pattern);
  fill(Wt.values.view(), rng);
  const bias = new F32Buffer(engine, g.outC);
  const X = new Matrix(engine, Wt.inputSize, B), Y = new Matrix(engine, Wt.outputSize, B), dX = new Matrix(engine, Wt.inputSize, B);
  const dV = new F32Buffer(engine, Wt.nnz), dB = new F32Buffer(engine, g.outC);
  fill(X.view(), rng);
  fill(Y.view(), rng);
  const t = {
    forward: timeCall(() => K.sparseConv2d(g.outC, Wt.outH, Wt.outW, g.H, g.W, g.kh, g.kw, g.stride, g.padding, g.padding, B,
      Wt.fwdPtr.ptr, Wt.fwdOff.ptr, Wt.fwdTap.ptr, Wt.values.ptr, X.ptr, bias.ptr, Y.ptr, 0), { budget }).median,
    inputGrad: timeCall(() => K.sparseConv2dBackwardInput(g.inC, g.H, g.W, Wt.outH, Wt.outW, g.kh, g.kw, g.stride, g.padding, g.padding, B,
      Wt.bwdPtr.ptr, Wt.bwdOff.ptr, Wt.bwdTap.ptr, Wt.bwdPerm.ptr, Wt.values.ptr, Y.ptr, dX.ptr), { budget }).median,
    weightGrad: timeCall(() => K.sparseConv2dBackwardWeights(g.outC, Wt.outH, Wt.outW, g.H, g.W, g.stride, g.padding, g.padding, B,
      Wt.fwdPtr.ptr, Wt.fwdOff.ptr, Wt.fwdTap.ptr, Y.ptr, X.ptr, dV.ptr, dB.ptr), { budget }).median,
  };
  const macs = Wt.macsPerSample() * B;
  for (const b of [Wt, bias, X, Y, dX, dV, dB]) b.dispose();
  return { t, macs, nnz: Wt.nnz };
}

/** tfjs-backend-wasm: conv2d forward and conv2dTranspose (its input gradient); it has no wasm filter-gradient kernel. */
function measureTfjs(tf, budget) {
  const g = GEOMETRY, B = BATCH;
  const x = tf.randomNormal([B, g.H, g.W, g.inC]), f = tf.randomNormal([g.kh, g.kw, g.inC, g.outC]);
  const dy = tf.randomNormal([B, g.H, g.W, g.outC]);
  const t = {
    forward: timeCall(() => tf.conv2d(x, f, 1, "same").dispose(), { budget }).median,
    inputGrad: timeCall(() => tf.conv2dTranspose(dy, f, [B, g.H, g.W, g.inC], 1, "same").dispose(), { budget }).median,
    weightGrad: undefined,
  };
  for (const a of [x, f, dy]) a.dispose();
  return t;
}

/** Runs the suite, prints the table and writes bench/results/conv.json. */
export async function run({ budget = 0.5 } = {}) {
  const started = process.hrtime.bigint();
  const engine = await Engine.load();
  const { tf, info: tfjs } = await loadTfjsWasm();
  const m = machine();
  const g = GEOMETRY;
  const measured = DENSITIES.map((d) => {
    const deg = Math.round(d * g.outC);
    const pattern = d === 1 ? Pattern.dense(g.inC, g.outC) : Pattern.fixedDegree(g.inC, g.outC, deg, 1);
    return { density: d, degree: deg, ...measureOurs(engine, pattern, budget) };
  });
  const dense = measured.find((r) => r.density === 1);
  const tfjsT = measureTfjs(tf, budget);
  const rows = measured.flatMap((r) =>
    OPS.map((op) => ({
      density: r.density, degree: r.degree, nnz: r.nnz, op, seconds: r.t[op], gflops: (2 * r.macs) / r.t[op] / 1e9,
      vsDense: dense.t[op] / r.t[op], vsTfjs: tfjsT[op] === undefined ? undefined : tfjsT[op] / r.t[op],
    })));
  const tfjsRows = OPS.filter((op) => tfjsT[op] !== undefined).map((op) => ({ op, seconds: tfjsT[op], gflops: (2 * dense.macs) / tfjsT[op] / 1e9 }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const columns = [
    ["density", "channel density", (v) => `${(v * 100).toFixed(1)}%`], ["degree", "out-degree"], ["nnz", "stored taps"], ["op", "op"],
    ["seconds", "µs", fmt.us], ["gflops", "GFLOP/s", fmt.f1], ["vsDense", "vs our dense", fmt.x], ["vsTfjs", "vs tfjs-wasm", fmt.x],
  ];
  const tfjsColumns = [["op", "tfjs-wasm op"], ["seconds", "µs", fmt.us], ["gflops", "GFLOP/s", fmt.f1]];
  const tfjsLine = `tfjs-backend-wasm ${tfjs.version}: SIMD ${tfjs.simd ? "on" : "off"}, ${tfjs.threads} thread${tfjs.threads === 1 ? "" : "s"}`;
  console.log(`\nconv — ${machineLine(m)}\n${tfjsLine}; 32→64 channels, 3×3, padding 1, 14×14, batch ${BATCH}; GFLOP/s counts 2·MACs on stored taps inside the image; medians\n`);
  printTable(rows, columns);
  console.log("");
  printTable(tfjsRows, tfjsColumns);
  console.log(`(tfjs-backend-wasm has no Conv2DBackpropFilter kernel: no weight-gradient baseline)\nsuite time ${seconds.toFixed(1)} s`);

  const result = {
    suite: "conv", command: "npx tsc -p tsconfig.build.json && node bench/conv.mjs", machine: m, seconds,
    geometry: { ...GEOMETRY, batch: BATCH }, rows, tfjs: { ...tfjs, rows: tfjsRows },
    markdown: { sparse: markdownTable(rows, columns), tfjs: markdownTable(tfjsRows, tfjsColumns) },
  };
  const path = writeResults("conv", result);
  console.log(`wrote ${path}`);
  return result;
}

if (isMain(import.meta.url)) await run();
