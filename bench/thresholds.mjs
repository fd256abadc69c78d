// The measured thresholds of the thread split (src/engine/work_split.ts THRESHOLDS): for every kernel that splits, its
// case of test/cases at growing sizes (the batch, or the length, of its benchmark parameters scaled from 1/512× to 2×),
// timed on the threaded engine twice — never splitting, and always splitting over N threads (default 2) — each the
// fastest of many calls (the least disturbed by other work on a shared machine), every call after a 1 ms pause in
// which the workers go back to sleep (so each call pays to wake one). A kernel's threshold is the work (in its rule's
// units) from which splitting wins by at least 5% at that size and the next.
// Run: npm run build && node bench/thresholds.mjs [--threads N]
import { Engine } from "../dist/index.js";
import { SPLIT_RULES, THRESHOLDS } from "../dist/ops_index.js";
import { isMain, loadCases, machine, machineLine, printTable, threadsArg, writeResults } from "./common.mjs";

const FACTORS = [1 / 1024, 1 / 512, 1 / 256, 1 / 128, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4];

/**
 * The smallest time of one call over `budget` seconds (at least `min` calls), each call after a pause of `gapMs` (the
 * calling thread busy, the workers idle long enough to go to sleep): so every call pays for waking a worker, as a call
 * does that follows other work, not only a call that follows another split call at once.
 */
function fastest(fn, gapMs, budget = 0.2, min = 30) {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  const end = performance.now() + budget * 1000;
  for (let i = 0; i < min || performance.now() < end; i++) {
    const until = performance.now() + gapMs;
    while (performance.now() < until);
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return best / 1000;
}

const GAP_MS = 1;

// The parameters of a case at a scaled size: its batch B, else its length n, else its rows (a column gather: its rows;
// a sample gather: its list of samples).
function scaled(params, f) {
  if (Array.isArray(params.idx)) {
    const n = Math.max(1, Math.round(params.idx.length * f));
    return { ...params, idx: Array.from({ length: n }, (_, i) => params.idx[i % params.idx.length]) };
  }
  for (const key of params.cols ? ["rows"] : ["B", "n", "rows"]) {
    if (typeof params[key] === "number") return { ...params, [key]: Math.max(1, Math.round(params[key] * f)) };
  }
  return undefined;
}

export async function run({ threads = threadsArg(2) } = {}) {
  const home = await Engine.load({ threads, thresholds: Infinity });
  const split = await Engine.load({ threads, thresholds: 0 });
  const { KERNEL_CASES, Scope } = await loadCases();
  const m = machine();
  const rows = [];
  for (const c of KERNEL_CASES) {
    const kernel = c.kernels.find((k) => SPLIT_RULES[k]);
    if (!kernel || c.kernels.length !== 1) continue;
    const [base] = c.perf();
    const points = [];
    for (const f of FACTORS) {
      const params = scaled(base.params, f);
      if (!params || (points.length > 0 && JSON.stringify(params) === points.at(-1).json)) continue;
      // the kernel's own arguments, caught on the way in, give the call's work in the rule's units
      let args;
      const raw = home.kernels[kernel];
      home.kernels[kernel] = (...a) => ((args = a), raw(...a));
      const s1 = new Scope(home),
        s2 = new Scope(split);
      try {
        const t1 = c.setup(s1, params),
          t2 = c.setup(s2, params);
        t1.run();
        const work = SPLIT_RULES[kernel].work(args, new Int32Array(home.kernels.memory.buffer));
        home.kernels[kernel] = raw;
        const one = fastest(t1.run, GAP_MS),
          many = fastest(t2.run, GAP_MS);
        points.push({ work, one, many, json: JSON.stringify(params) });
      } finally {
        home.kernels[kernel] = raw;
        s1.dispose();
        s2.dispose();
      }
    }
    points.sort((a, b) => a.work - b.work);
    // the first point from which the split wins by ≥ 5% at it and at the next larger size (one noisy point, on a
    // shared machine, neither makes nor breaks a threshold)
    const wins = (p) => p !== undefined && p.many < 0.95 * p.one;
    let from = points.findIndex((p, i) => wins(p) && (i + 1 === points.length || wins(points[i + 1])));
    if (from < 0) from = points.length;
    const measured =
      from === 0
        ? (points[0]?.work ?? 0)
        : from === points.length
          ? Infinity
          : Math.round(Math.sqrt(points[from - 1].work * points[from].work));
    rows.push({
      kernel,
      case: c.op,
      measured,
      shipped: THRESHOLDS[kernel],
      curve: points.map((p) => `${p.work}:${(p.one / p.many).toFixed(2)}`).join(" "),
      points: points.map(({ json: _, ...p }) => p),
    });
  }
  home.dispose();
  split.dispose();
  console.log(`\nthresholds — ${machineLine(m)}; ${threads} threads; fastest call of each, ${GAP_MS} ms apart\n`);
  printTable(rows, [
    ["kernel", "kernel"],
    ["measured", "measured threshold (work)", (v) => (v === Infinity ? "never wins" : String(v))],
    ["shipped", "shipped"],
    ["curve", "work:speed-up of the split at each size"],
  ]);
  const path = writeResults("thresholds", { suite: "thresholds", machine: m, threads, rows });
  console.log(`wrote ${path}`);
  return rows;
}

if (isMain(import.meta.url)) await run();
