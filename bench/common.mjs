// Shared benchmark helpers: what machine this ran on, the kernel cases, timing (benny rounds, or a plain median),
// a plain-text table, JSON results.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { add, complete, configure, cycle, save, suite } from "benny";
import { bundleTests } from "../scripts/bundle-tests.mjs";

/** The machine and runtime a result came from (a number without these is not a measurement). */
export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    commit: gitCommit(),
    load: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function gitCommit() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

/** One line describing the machine, for the head of a printed table. */
export function machineLine(m = machine()) {
  return `${m.cpu}, ${m.cores} cores, ${m.os}, Node ${m.node}, commit ${m.commit}, load average ${m.load.join(" ")}`;
}

/**
 * Median seconds per call of fn. Calls are batched into samples of at least `minSample` seconds (so timer
 * resolution does not matter) and samples are taken until `budget` seconds or `maxSamples`; the median
 * over samples resists the pauses of a shared machine better than the mean.
 */
export function timeCall(fn, { budget = 0.5, minSample = 0.002, minSamples = 7, maxSamples = 200, warmup = 3 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  let reps = 1;
  for (;;) {
    const t = now();
    for (let i = 0; i < reps; i++) fn();
    const dt = now() - t;
    if (dt >= minSample || reps >= 1 << 24) break;
    reps = Math.max(reps * 2, Math.ceil((reps * minSample) / Math.max(dt, 1e-9)));
  }
  const samples = [];
  const start = now();
  while (samples.length < maxSamples && (samples.length < minSamples || now() - start < budget)) {
    const t = now();
    for (let i = 0; i < reps; i++) fn();
    samples.push((now() - t) / reps);
  }
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1];
  return { median, min: samples[0], p90: samples[Math.floor(samples.length * 0.9)], samples: samples.length, reps };
}

/**
 * The kernel cases of test/cases — the ones the Node and Chromium suites run — bundled from their TypeScript into
 * build/test/cases.js. They import presparse from dist/, the same instance as the benchmark's own imports.
 */
export async function loadCases() {
  await bundleTests();
  return import("../build/test/cases.js");
}

/**
 * Median seconds per call of each function (name → fn), timed by benny (benchmark.js samples) as one benny suite in
 * which every function appears `rounds` times, the rounds in turn: each figure is the median of the function's rounds'
 * medians, so a burst of load on the shared machine during one round moves no figure. Each case's line is printed as
 * it completes (benny's cycle), and benny saves the suite, every sample included, as bench/results/benny/<file>.json.
 */
export async function bennyRounds(title, fns, { file, rounds = 3, maxTime = 0.1, minTime = 0.02 } = {}) {
  const folder = fileURLToPath(new URL("./results/benny/", import.meta.url));
  const names = Object.keys(fns);
  const entries = [];
  for (let r = 1; r <= rounds; r++) for (const name of names) entries.push(add(`${name} #${r}`, fns[name]));
  const summary = await suite(
    title,
    ...entries,
    configure({ cases: { minTime, maxTime, minSamples: 5, delay: 0 } }),
    cycle((res) => {
      console.log(`  ${res.name}: ${fmt.us(res.details.median)} µs ±${res.margin}% (${res.samples} samples)`);
    }),
    complete(() => undefined),
    save({ file: file.replace(/[^\w.]+/g, "-"), folder, details: true, format: "json" }),
  );
  const per = Object.fromEntries(names.map((k) => [k, []]));
  for (const res of summary.results) per[res.name.replace(/ #\d+$/, "")].push(res.details.median);
  return Object.fromEntries(Object.entries(per).map(([k, ts]) => [k, median(ts)]));
}

/** The middle value of `xs` (the upper one of an even count), without reordering `xs`. */
export function median(xs) {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Prints rows (objects) as an aligned text table with the given columns [key, header, format?]. */
export function printTable(rows, columns, out = console.log) {
  const cells = rows.map((r) => columns.map(([k, , f]) => (f ? f(r[k], r) : String(r[k] ?? ""))));
  const heads = columns.map(([, h]) => h);
  const width = heads.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((s, i) => (i === 0 ? s.padEnd(width[i]) : s.padStart(width[i]))).join("  ");
  out(line(heads));
  out(width.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) out(line(c));
}

/** The same table as GitHub markdown (for README drafts). */
export function markdownTable(rows, columns) {
  const lines = [
    `| ${columns.map(([, h]) => h).join(" | ")} |`,
    `|${columns.map((_, i) => (i === 0 ? ":--" : "--:")).join("|")}|`,
  ];
  for (const r of rows)
    lines.push(`| ${columns.map(([k, , f]) => (f ? f(r[k], r) : String(r[k] ?? ""))).join(" | ")} |`);
  return lines.join("\n");
}

/** Writes bench/results/<name>.json and returns its path. */
export function writeResults(name, data) {
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const path = `${dir}${name}.json`;
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** True when the module at `url` is the script node was started with (so a suite can run on its own). */
export function isMain(url) {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}

/** The value of `--threads N` on the command line (the threaded side of a 1-vs-N comparison), else `def`. */
export function threadsArg(def) {
  const i = process.argv.indexOf("--threads");
  if (i < 0) return def;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`--threads expects an integer in [1, 64], got ${process.argv[i + 1]}`);
  return n;
}

/** Fixed-point formatting helpers for the tables. */
export const fmt = {
  us: (s) => (s * 1e6 >= 100 ? (s * 1e6).toFixed(0) : (s * 1e6).toFixed(2)),
  x: (r) => (r === undefined || r === null ? "–" : `${r.toFixed(1)}×`),
  f1: (v) => (v === undefined || v === null ? "–" : v.toFixed(1)),
};

/**
 * TensorFlow.js with its WebAssembly backend, one thread, the .wasm files from node_modules: the dense peer every
 * suite measures against. Returns tf and what the backend reports (version, SIMD, threads).
 */
export async function loadTfjsWasm() {
  const require = createRequire(import.meta.url);
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
