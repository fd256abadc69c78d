// Kernel benchmark on benny, timing the kernel cases of test/cases (the Node and Chromium suites' cases, their
// operands and calls) at benchmark sizes: csrSpmm / csrSpmmBackward / csrSpmmBackwardWeights on a 1024×1024 layer at
// 1–100% density and on the paper's 800→40 layer, against our dense kernels' cases and tfjs-backend-wasm's dense
// matMul on the same shapes, same run; then every case of the list at its own benchmark parameters.
// Run: npm run bench:kernels [-- --check]   (builds first; --check also checks each timed output against the reference)
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
} from "./common.mjs";

const DENSITIES = [0.01, 0.05, 0.1, 0.25, 0.5, 1];
const BATCHES = [256, 1];
const OPS = ["csrSpmm", "csrSpmmBackward", "csrSpmmBackwardWeights"];
// each sparse op's dense twin: the case of our dense kernel, and the product it computes
const DENSE_TWIN = {
  csrSpmm: ["denseMatmul", "Y = W·X"],
  csrSpmmBackward: ["denseMatmulBackward", "dX = Wᵀ·dY"],
  csrSpmmBackwardWeights: ["denseMatmulBackwardWeights", "dW = dY·Xᵀ"],
};

/** Seconds for one call after one warm-up call. */
function trial(fn) {
  fn();
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/**
 * The functions one shape contributes to the suite (the three sparse ops on pattern p at batch B, our dense ops and
 * tfjs's matMul on the same shape), keyed `${key} ${name}`, with what the table needs to find them again. Sparse and
 * dense ops are called as a user calls them, through the validated op; the cases make their operands.
 */
function shapeFns(cases, scope, tf, key, p, B, check) {
  const seed = 11;
  const m = p.outputs,
    k = p.inputs;
  const fns = {};
  for (const op of OPS) {
    const sparse = cases[op].setup(scope, { pattern: p, B, bias: false, relu: false, seed });
    const dense = cases[DENSE_TWIN[op][0]].setup(scope, { m, k, B, bias: false, relu: false, seed });
    for (const t of check ? [sparse, dense] : []) {
      t.run();
      t.check();
    }
    fns[`${key} ${op}`] = sparse.run;
    fns[`${key} ${DENSE_TWIN[op][0]}`] = dense.run;
  }
  const a = tf.randomNormal([m, k]),
    x = tf.randomNormal([k, B]),
    dy = tf.randomNormal([m, B]);
  // tfjs-wasm's matMul with a transpose flag can be far slower (up to ~50×) than an explicit transpose followed by
  // a plain matMul; one trial call of each picks the faster way, which is then timed
  const faster = (f, g) => (trial(f) <= trial(g) ? f : g);
  fns[`${key} tfjs Y = W·X`] = () => tf.matMul(a, x).dispose();
  fns[`${key} tfjs dX = Wᵀ·dY`] = faster(
    () => tf.matMul(a, dy, true, false).dispose(),
    () => tf.tidy(() => tf.matMul(tf.transpose(a), dy)).dispose(),
  );
  fns[`${key} tfjs dW = dY·Xᵀ`] = faster(
    () => tf.matMul(dy, x, false, true).dispose(),
    () => tf.tidy(() => tf.matMul(dy, tf.transpose(x))).dispose(),
  );
  return { fns, tensors: [a, x, dy] };
}

/** Runs the suite, prints the tables and writes bench/results/kernels.json (and benny's JSON per round). */
export async function run({ rounds = 3, maxTime = 0.1, check = process.argv.includes("--check") } = {}) {
  const started = process.hrtime.bigint();
  const engine = await Engine.load();
  const { KERNEL_CASES, Scope } = await loadCases();
  const cases = Object.fromEntries(KERNEL_CASES.map((c) => [c.op, c]));
  const { tf, info: tfjs } = await loadTfjsWasm();
  const m = machine();
  const layers = [
    ...DENSITIES.map((d) => ({
      name: "1024→1024",
      density: d,
      pattern: () => (d === 1 ? Pattern.dense(1024, 1024) : Pattern.random(1024, 1024, d, 1)),
    })),
    { name: "800→40 (deg 2)", density: 0.05, pattern: () => Pattern.fixedDegree(800, 40, 2, 1) },
  ];

  // one benny suite per shape (its operands live only while it runs), then the paper layer's batch-1 forward
  const t = {},
    shapes = [],
    files = [];
  for (const layer of layers) {
    const p = layer.pattern();
    for (const B of BATCHES) {
      const key = `${layer.name} ${(p.density * 100).toFixed(p.density < 0.1 ? 1 : 0)}% B${B}`;
      const scope = new Scope(engine);
      const { fns, tensors } = shapeFns(cases, scope, tf, key, p, B, check);
      files.push(`kernels ${key}`);
      Object.assign(t, await bennyRounds(`kernels: ${key}`, fns, { file: files.at(-1), rounds, maxTime }));
      scope.dispose();
      for (const v of tensors) v.dispose();
      shapes.push({ key, layer: layer.name, p, B });
    }
  }
  const scope = new Scope(engine);
  const paper = Pattern.fixedDegree(800, 40, 2, 1);
  const call = cases.csrSpmm.setup(scope, { pattern: paper, B: 1, bias: true, relu: true, seed: 3 });
  const callName = "800→40 B1 csrSpmm with bias and ReLU";
  files.push("kernels 800→40 B1 call");
  Object.assign(
    t,
    await bennyRounds(`kernels: ${callName}`, { [callName]: call.run }, { file: files.at(-1), rounds, maxTime }),
  );
  scope.dispose();

  const rows = [];
  for (const { key, layer, p, B } of shapes) {
    for (const op of OPS) {
      const [twin] = DENSE_TWIN[op],
        tfjsOp = DENSE_TWIN[op][1];
      const sec = t[`${key} ${op}`],
        ours = t[`${key} ${twin}`],
        theirs = t[`${key} tfjs ${tfjsOp}`];
      rows.push({
        layer,
        density: p.density,
        nnz: p.nnz,
        batch: B,
        op,
        seconds: sec,
        gflops: (2 * p.nnz * B) / sec / 1e9,
        denseSeconds: ours,
        vsDense: ours / sec,
        tfjsSeconds: theirs,
        vsTfjs: theirs / sec,
        shape: [p.outputs, p.inputs],
      });
    }
  }
  // the dense figures of each shape, as the median over the cases that measured them
  const denseRows = [];
  for (const [mm, kk] of [
    [1024, 1024],
    [40, 800],
  ]) {
    for (const B of BATCHES) {
      for (const op of OPS) {
        const same = rows.filter((r) => r.shape[0] === mm && r.shape[1] === kk && r.batch === B && r.op === op);
        const med = (xs) => xs.sort((u, v) => u - v)[xs.length >> 1];
        const ours = med(same.map((r) => r.denseSeconds)),
          tfjsT = med(same.map((r) => r.tfjsSeconds));
        denseRows.push({
          shape: `${mm}×${kk}, batch ${B}`,
          op: DENSE_TWIN[op][1],
          cases: same.length,
          ours,
          oursGflops: (2 * mm * kk * B) / ours / 1e9,
          tfjs: tfjsT,
          tfjsGflops: (2 * mm * kk * B) / tfjsT / 1e9,
        });
      }
    }
  }

  // every case at its own benchmark parameters: a new kernel's case is timed here with no change to this file
  const caseScope = new Scope(engine);
  const caseFns = {},
    caseRows = [];
  for (const c of KERNEL_CASES) {
    for (const { label, params } of c.perf()) {
      const trialCase = c.setup(caseScope, params);
      if (check) {
        trialCase.run();
        trialCase.check();
      }
      caseFns[`${c.op} ${label}`] = trialCase.run;
      caseRows.push({ op: c.op, label, flops: trialCase.flops, key: `${c.op} ${label}` });
    }
  }
  files.push("kernel cases");
  const tc = await bennyRounds("kernel cases at their benchmark parameters", caseFns, {
    file: files.at(-1),
    rounds,
    maxTime,
  });
  caseScope.dispose();
  for (const r of caseRows) Object.assign(r, { seconds: tc[r.key], gflops: r.flops / tc[r.key] / 1e9 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const columns = [
    ["layer", "layer"],
    ["density", "density", (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`],
    ["nnz", "nnz"],
    ["batch", "batch"],
    ["op", "op"],
    ["seconds", "µs", fmt.us],
    ["gflops", "GFLOP/s", fmt.f1],
    ["vsDense", "vs our dense", fmt.x],
    ["vsTfjs", "vs tfjs-wasm", fmt.x],
  ];
  const denseColumns = [
    ["shape", "dense shape"],
    ["op", "op"],
    ["ours", "ours µs", fmt.us],
    ["oursGflops", "GFLOP/s", fmt.f1],
    ["tfjs", "tfjs µs", fmt.us],
    ["tfjsGflops", "GFLOP/s", fmt.f1],
  ];
  const caseColumns = [
    ["op", "case (op)"],
    ["label", "benchmark parameters"],
    ["seconds", "µs", fmt.us],
    ["gflops", "GFLOP/s", fmt.f1],
  ];
  const tfjsLine = `tfjs-backend-wasm ${tfjs.version}: SIMD ${tfjs.simd ? "on" : "off"}, ${tfjs.threads} thread${tfjs.threads === 1 ? "" : "s"}`;
  console.log(
    `\nkernels — ${machineLine(m)}\n${tfjsLine}; GFLOP/s counts 2·nnz·batch (stored connections only); ` +
      `times: benny (benchmark.js) medians, median of ${rounds} rounds${check ? "; every output checked" : ""}\n`,
  );
  printTable(rows, columns);
  console.log("");
  printTable(denseRows, denseColumns);
  const c1 = t[callName];
  console.log(`\nbatch-1 forward of 800→40 (deg 2) through csrSpmm(A, X, Y, {bias, relu}): ${fmt.us(c1)} µs median`);
  console.log("\nevery kernel case at its benchmark parameters:\n");
  printTable(caseRows, caseColumns);
  console.log(`suite time ${seconds.toFixed(1)} s`);

  const result = {
    suite: "kernels",
    command: "npm run bench:kernels",
    machine: m,
    tfjs,
    seconds,
    rounds,
    maxTimePerCase: maxTime,
    check,
    sparse: rows,
    dense: denseRows,
    cases: caseRows.map(({ key: _, ...r }) => r),
    batch1Forward800x40: { medianUs: c1 * 1e6 },
    benny: files.map((f) => `bench/results/benny/${f.replace(/[^\w.]+/g, "-")}.json`),
    markdown: {
      sparse: markdownTable(rows, columns),
      dense: markdownTable(denseRows, denseColumns),
      cases: markdownTable(caseRows, caseColumns),
    },
  };
  const path = writeResults("kernels", result);
  console.log(`wrote ${path}`);
  return result;
}

if (isMain(import.meta.url)) await run();
