// Kernel benchmark on benny, timing the kernel cases of test/cases (the Node and Chromium suites' cases, their
// operands and calls) at benchmark sizes, each on 1 thread and on N (default 2): csrSpmm / csrSpmmBackward /
// csrSpmmBackwardWeights on a 1024×1024 layer at 1–100% density and on the paper's 800→40 layer, against our dense
// kernels' cases, tfjs-backend-wasm's dense matMul (1 thread) and onnxruntime-web's dense MatMul (WASM, SIMD, 1 and N
// threads) on the same shapes, same run; then every case of the list at its own benchmark parameters, 1 and N threads.
// Run: npm run bench:kernels [-- --check] [-- --threads N]   (builds first; --check also checks each timed output)
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
  threadsArg,
  writeResults,
} from "./common.mjs";
import { ortMatMul } from "./ort.mjs";

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
function shapeFns(cases, scopes, tf, key, p, B, check) {
  const seed = 11;
  const m = p.outputs,
    k = p.inputs;
  const fns = {};
  for (const [threads, scope] of scopes) {
    for (const op of OPS) {
      const sparse = cases[op].setup(scope, { pattern: p, B, bias: false, relu: false, seed });
      const dense = cases[DENSE_TWIN[op][0]].setup(scope, { m, k, B, bias: false, relu: false, seed });
      for (const t of check ? [sparse, dense] : []) {
        t.run();
        t.check();
      }
      fns[`${key} ${op} @${threads}`] = sparse.run;
      fns[`${key} ${DENSE_TWIN[op][0]} @${threads}`] = dense.run;
    }
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

// The MatMul shape [M,K]·[K,N] of each dense twin: the forward product, the transposed one, the weight gradient.
const matMulShape = (op, m, k, B) =>
  op === "csrSpmm" ? { M: m, K: k, N: B } : op === "csrSpmmBackward" ? { M: k, K: m, N: B } : { M: m, K: B, N: k };

/** Runs the suite, prints the tables and writes bench/results/kernels.json (and benny's JSON per round). */
export async function run({
  rounds = 3,
  maxTime = 0.1,
  check = process.argv.includes("--check"),
  threads = threadsArg(2),
} = {}) {
  const started = process.hrtime.bigint();
  const counts = [...new Set([1, threads])];
  const engines = new Map();
  for (const n of counts) engines.set(n, await Engine.load({ threads: n }));
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
  const scopesOf = () => [...engines].map(([n, e]) => [n, new Scope(e)]);

  // one benny suite per shape (its operands live only while it runs), then the paper layer's batch-1 forward
  const t = {},
    shapes = [],
    files = [];
  for (const layer of layers) {
    const p = layer.pattern();
    for (const B of BATCHES) {
      const key = `${layer.name} ${(p.density * 100).toFixed(p.density < 0.1 ? 1 : 0)}% B${B}`;
      const scopes = scopesOf();
      const { fns, tensors } = shapeFns(cases, scopes, tf, key, p, B, check);
      files.push(`kernels ${key}`);
      Object.assign(t, await bennyRounds(`kernels: ${key}`, fns, { file: files.at(-1), rounds, maxTime }));
      for (const [, scope] of scopes) scope.dispose();
      for (const v of tensors) v.dispose();
      shapes.push({ key, layer: layer.name, p, B });
    }
  }
  const paper = Pattern.fixedDegree(800, 40, 2, 1);
  const callName = "800→40 B1 csrSpmm with bias and ReLU";
  const callScopes = scopesOf();
  const callFns = Object.fromEntries(
    callScopes.map(([n, scope]) => [
      `${callName} @${n}`,
      cases.csrSpmm.setup(scope, { pattern: paper, B: 1, bias: true, relu: true, seed: 3 }).run,
    ]),
  );
  files.push("kernels 800→40 B1 call");
  Object.assign(t, await bennyRounds(`kernels: ${callName}`, callFns, { file: files.at(-1), rounds, maxTime }));
  for (const [, scope] of callScopes) scope.dispose();

  // onnxruntime-web's dense MatMul on every shape, in a child process per thread count
  const ortShapes = [];
  for (const { p, B } of shapes) {
    for (const op of OPS) {
      const sh = matMulShape(op, p.outputs, p.inputs, B);
      if (!ortShapes.some((q) => q.M === sh.M && q.K === sh.K && q.N === sh.N)) ortShapes.push(sh);
    }
  }
  const ort = Object.fromEntries(counts.map((n) => [n, ortMatMul(n, ortShapes)]));
  const ortTime = (n, sh) => ort[n].times[ortShapes.findIndex((q) => q.M === sh.M && q.K === sh.K && q.N === sh.N)];

  const N = threads;
  const rows = [];
  for (const { key, layer, p, B } of shapes) {
    for (const op of OPS) {
      const [twin, tfjsOp] = DENSE_TWIN[op];
      const one = t[`${key} ${op} @1`],
        many = t[`${key} ${op} @${N}`];
      const sh = matMulShape(op, p.outputs, p.inputs, B);
      rows.push({
        layer,
        density: p.density,
        nnz: p.nnz,
        batch: B,
        op,
        seconds: one,
        threaded: many,
        speedup: one / many,
        gflops: (2 * p.nnz * B) / many / 1e9,
        denseSeconds: t[`${key} ${twin} @1`],
        denseThreaded: t[`${key} ${twin} @${N}`],
        vsDense: t[`${key} ${twin} @${N}`] / many,
        tfjsSeconds: t[`${key} tfjs ${tfjsOp}`],
        vsTfjs: t[`${key} tfjs ${tfjsOp}`] / many,
        ortSeconds: ortTime(1, sh),
        ortThreaded: ortTime(N, sh),
        vsOrt: ortTime(1, sh) / one,
        vsOrtThreaded: ortTime(N, sh) / many,
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
        const flop = 2 * mm * kk * B;
        const ours = med(same.map((r) => r.denseSeconds)),
          oursN = med(same.map((r) => r.denseThreaded));
        const tfjsT = med(same.map((r) => r.tfjsSeconds));
        const sh = matMulShape(op, mm, kk, B);
        denseRows.push({
          shape: `${mm}×${kk}, batch ${B}`,
          op: DENSE_TWIN[op][1],
          cases: same.length,
          ours,
          oursN,
          oursGflops: flop / oursN / 1e9,
          tfjs: tfjsT,
          tfjsGflops: flop / tfjsT / 1e9,
          ort: ortTime(1, sh),
          ortN: ortTime(N, sh),
          ortGflops: flop / ortTime(N, sh) / 1e9,
        });
      }
    }
  }

  // every case at its own benchmark parameters: a new kernel's case is timed here with no change to this file
  const caseScopes = scopesOf();
  const caseFns = {},
    caseRows = [];
  for (const c of KERNEL_CASES) {
    for (const { label, params } of c.perf()) {
      const row = { op: c.op, label, key: `${c.op} ${label}` };
      for (const [n, scope] of caseScopes) {
        const trialCase = c.setup(scope, params);
        if (check) {
          trialCase.run();
          trialCase.check();
        }
        caseFns[`${row.key} @${n}`] = trialCase.run;
        row.flops = trialCase.flops;
      }
      caseRows.push(row);
    }
  }
  files.push("kernel cases");
  const tc = await bennyRounds("kernel cases at their benchmark parameters", caseFns, {
    file: files.at(-1),
    rounds,
    maxTime,
  });
  for (const [, scope] of caseScopes) scope.dispose();
  for (const r of caseRows) {
    Object.assign(r, { seconds: tc[`${r.key} @1`], threaded: tc[`${r.key} @${N}`] });
    Object.assign(r, { speedup: r.seconds / r.threaded, gflops: r.flops / r.threaded / 1e9 });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const at = (n) => (n === 1 ? "1 thread" : `${n} threads`);
  const columns = [
    ["layer", "layer"],
    ["density", "density", (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`],
    ["nnz", "nnz"],
    ["batch", "batch"],
    ["op", "op"],
    ["seconds", "µs 1T", fmt.us],
    ["threaded", `µs ${N}T`, fmt.us],
    ["speedup", `${N}T vs 1T`, fmt.x],
    ["gflops", `GFLOP/s ${N}T`, fmt.f1],
    ["vsDense", `vs our dense ${N}T`, fmt.x],
    ["vsTfjs", "vs tfjs-wasm 1T", fmt.x],
    ["vsOrt", "vs ORT-web, 1T each", fmt.x],
    ["vsOrtThreaded", `vs ORT-web, ${N}T each`, fmt.x],
  ];
  const denseColumns = [
    ["shape", "dense shape"],
    ["op", "op"],
    ["ours", "ours µs 1T", fmt.us],
    ["oursN", `ours µs ${N}T`, fmt.us],
    ["oursGflops", `GFLOP/s ${N}T`, fmt.f1],
    ["tfjs", "tfjs µs 1T", fmt.us],
    ["tfjsGflops", "GFLOP/s", fmt.f1],
    ["ort", "ORT-web µs 1T", fmt.us],
    ["ortN", `ORT-web µs ${N}T`, fmt.us],
    ["ortGflops", `GFLOP/s ${N}T`, fmt.f1],
  ];
  const caseColumns = [
    ["op", "case (op)"],
    ["label", "benchmark parameters"],
    ["seconds", "µs 1T", fmt.us],
    ["threaded", `µs ${N}T`, fmt.us],
    ["speedup", `${N}T vs 1T`, fmt.x],
    ["gflops", `GFLOP/s ${N}T`, fmt.f1],
  ];
  const tfjsLine = `tfjs-backend-wasm ${tfjs.version}: SIMD ${tfjs.simd ? "on" : "off"}, ${at(tfjs.threads)}`;
  const ortLine =
    `onnxruntime-web ${ort[1].version} (WASM backend, SIMD ${ort[1].simd ? "on" : "off"}): ` +
    `${counts.map(at).join(" and ")}, MatMul with the left factor an initializer`;
  console.log(
    `\nkernels — ${machineLine(m)}\nours: ${counts.map(at).join(" and ")} (same process); ${tfjsLine}; ${ortLine}\n` +
      "GFLOP/s counts 2·nnz·batch (stored connections only); " +
      `times: benny (benchmark.js) medians, median of ${rounds} rounds` +
      `${check ? "; every output checked" : ""}\n`,
  );
  printTable(rows, columns);
  console.log("");
  printTable(denseRows, denseColumns);
  const c1 = t[`${callName} @1`],
    cN = t[`${callName} @${N}`];
  console.log(
    "\nbatch-1 forward of 800→40 (deg 2) through csrSpmm(A, X, Y, {bias, relu}): " +
      `${fmt.us(c1)} µs on 1 thread, ${fmt.us(cN)} µs on ${at(N)} (median)`,
  );
  console.log("\nevery kernel case at its benchmark parameters:\n");
  printTable(caseRows, caseColumns);
  console.log(`suite time ${seconds.toFixed(1)} s; load average at the end ${machine().load.join(" ")}`);
  for (const e of engines.values()) e.dispose();

  const result = {
    suite: "kernels",
    command: "npm run bench:kernels",
    machine: m,
    threads: counts,
    tfjs,
    ort: { version: ort[1].version, simd: ort[1].simd, threads: counts },
    seconds,
    rounds,
    maxTimePerCase: maxTime,
    check,
    sparse: rows,
    dense: denseRows,
    cases: caseRows.map(({ key: _, ...r }) => r),
    batch1Forward800x40: { medianUs: c1 * 1e6, threadedMedianUs: cN * 1e6 },
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
