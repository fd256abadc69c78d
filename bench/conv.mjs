// Conv benchmark on benny, timing the conv kernel cases of test/cases (the Node and Chromium suites' cases): a 32→64
// channel 3×3 layer (padding 1, stride 1) on 14×14 inputs at batch 64, channel densities 12.5–100% — forward, input
// gradient and weight gradient — against the same cases at 100% (our dense conv) and tfjs-backend-wasm's conv2d /
// conv2dTranspose (NHWC) on the same shapes, same run.
// Run: npm run build && node bench/conv.mjs [--check]   (--check also checks each timed output against the reference)
import { Engine, Pattern } from "../dist/index.js";
import {
  bennyRounds,
  fmt,
  isMain,
  loadCases,
  loadTfjsWasm,
  machine,
  machineLine,
  markdownTable,
  printTable,
  writeResults,
  threadsArg,
} from "./common.mjs";

const BATCH = 64;
const DENSITIES = [0.125, 0.25, 0.5, 1];
// our op's case, and tfjs's op of the same product (none for the weight gradient)
const OPS = {
  forward: ["sparseConv2d", "conv2d"],
  inputGrad: ["sparseConv2dBackward", "conv2dTranspose"],
  weightGrad: ["sparseConv2dBackwardWeights", undefined],
};

/**
 * tfjs-backend-wasm: conv2d forward and conv2dTranspose (its input gradient); it has no wasm filter-gradient
 * kernel.
 */
function tfjsFns(tf, g) {
  const B = BATCH;
  const x = tf.randomNormal([B, g.H, g.W, g.inC]),
    f = tf.randomNormal([g.kh, g.kw, g.inC, g.outC]);
  const dy = tf.randomNormal([B, g.H, g.W, g.outC]);
  const fns = {
    "tfjs conv2d": () => tf.conv2d(x, f, 1, "same").dispose(),
    "tfjs conv2dTranspose": () => tf.conv2dTranspose(dy, f, [B, g.H, g.W, g.inC], 1, "same").dispose(),
  };
  return { fns, tensors: [x, f, dy] };
}

/** Runs the suite, prints the table and writes bench/results/conv.json (and benny's JSON). */
export async function run({ rounds = 3, maxTime = 0.25, check = process.argv.includes("--check") } = {}) {
  const started = process.hrtime.bigint();
  const engine = await Engine.load({ threads: threadsArg(1) });
  const { KERNEL_CASES, Scope, CONV_BENCH_GEOMETRY: g } = await loadCases();
  const cases = Object.fromEntries(KERNEL_CASES.map((c) => [c.op, c]));
  const { tf, info: tfjs } = await loadTfjsWasm();
  const m = machine();
  const scope = new Scope(engine);
  const fns = {},
    measured = [];
  for (const d of DENSITIES) {
    const degree = Math.round(d * g.outC);
    const pattern = d === 1 ? Pattern.dense(g.inC, g.outC) : Pattern.fixedDegree(g.inC, g.outC, degree, 1);
    const params = { g, B: BATCH, pattern, seed: 11, bias: true, relu: false };
    const trials = Object.fromEntries(Object.entries(OPS).map(([op, [c]]) => [op, cases[c].setup(scope, params)]));
    for (const [op, t] of Object.entries(trials)) {
      if (check) {
        t.run();
        t.check();
      }
      fns[`${d * 100}% ${op}`] = t.run;
    }
    measured.push({ density: d, degree, nnz: pattern.nnz * g.kh * g.kw, flops: trials.forward.flops });
  }
  const ours = tfjsFns(tf, g);
  Object.assign(fns, ours.fns);
  const t = await bennyRounds("conv", fns, { file: "conv", rounds, maxTime });
  scope.dispose();
  for (const v of ours.tensors) v.dispose();

  const time = (d, op) => t[`${d * 100}% ${op}`];
  const tfjsT = (op) => (OPS[op][1] === undefined ? undefined : t[`tfjs ${OPS[op][1]}`]);
  const rows = measured.flatMap((r) =>
    Object.keys(OPS).map((op) => {
      const sec = time(r.density, op);
      return {
        density: r.density,
        degree: r.degree,
        nnz: r.nnz,
        op,
        seconds: sec,
        gflops: r.flops / sec / 1e9,
        vsDense: time(1, op) / sec,
        vsTfjs: tfjsT(op) === undefined ? undefined : tfjsT(op) / sec,
      };
    }),
  );
  const dense = measured.find((r) => r.density === 1);
  const tfjsRows = Object.keys(OPS)
    .filter((op) => tfjsT(op) !== undefined)
    .map((op) => ({ op, seconds: tfjsT(op), gflops: dense.flops / tfjsT(op) / 1e9 }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const columns = [
    ["density", "channel density", (v) => `${(v * 100).toFixed(1)}%`],
    ["degree", "out-degree"],
    ["nnz", "stored taps"],
    ["op", "op"],
    ["seconds", "µs", fmt.us],
    ["gflops", "GFLOP/s", fmt.f1],
    ["vsDense", "vs our dense", fmt.x],
    ["vsTfjs", "vs tfjs-wasm", fmt.x],
  ];
  const tfjsColumns = [
    ["op", "tfjs-wasm op"],
    ["seconds", "µs", fmt.us],
    ["gflops", "GFLOP/s", fmt.f1],
  ];
  const tfjsLine =
    `tfjs-backend-wasm ${tfjs.version}: SIMD ${tfjs.simd ? "on" : "off"}, ` +
    `${tfjs.threads} thread${tfjs.threads === 1 ? "" : "s"}`;
  console.log(
    `\nconv — ${machineLine(m)}\n${tfjsLine}; 32→64 channels, 3×3, padding 1, 14×14, batch ${BATCH}; ` +
      `GFLOP/s counts 2·MACs on stored taps inside the image; benny medians, median of ${rounds} rounds` +
      `${check ? "; every output checked" : ""}\n`,
  );
  printTable(rows, columns);
  console.log("");
  printTable(tfjsRows, tfjsColumns);
  console.log(
    `(tfjs-backend-wasm has no Conv2DBackpropFilter kernel: no weight-gradient baseline)\n` +
      `suite time ${seconds.toFixed(1)} s`,
  );

  const result = {
    suite: "conv",
    command: "npm run build && node bench/conv.mjs",
    machine: m,
    seconds,
    rounds,
    maxTimePerCase: maxTime,
    check,
    geometry: { ...g, batch: BATCH },
    rows,
    tfjs: { ...tfjs, rows: tfjsRows },
    benny: ["bench/results/benny/conv.json"],
    markdown: { sparse: markdownTable(rows, columns), tfjs: markdownTable(tfjsRows, tfjsColumns) },
  };
  const path = writeResults("conv", result);
  console.log(`wrote ${path}`);
  return result;
}

if (isMain(import.meta.url)) await run();
