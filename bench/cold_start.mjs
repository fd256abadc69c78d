// Cold start: wall time of a fresh process that imports presparse, loads the engine, builds the paper's 800→40
// layer and runs it once (bench/cold_start_probe.mjs), against an empty `node -e 0`. They alternate run by run,
// as hyperfine does with several commands, so both see the same machine; medians of each and their ratio. The
// probe also says where its time went (Node's own start, the module graph, the engine load, the first product). On
// Linux the mean CPU time (user + system) of each kind of process is reported too: it moves less than wall time
// when other work shares the machine. `--baseline <dir>` adds a third process to the alternation: the same probe
// on another built checkout of presparse (an older commit), to compare two versions in one run.
// Run: npm run build && node bench/cold_start.mjs [pairs] [--baseline <dir>]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMain, machine, machineLine, printTable, writeResults } from "./common.mjs";

const PROBE = fileURLToPath(new URL("./cold_start_probe.mjs", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WARMUP = 5;

// CPU time of every child this process has waited for (cutime + cstime of /proc/self/stat), in clock ticks of
// 10 ms: one run reads as 0 or a tick or more, the mean over many runs is exact to a fraction of a millisecond
const STAT = "/proc/self/stat";
function childCpuMs() {
  if (!existsSync(STAT)) return NaN;
  const fields = readFileSync(STAT, "utf8")
    .replace(/^.*\) /s, "")
    .split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function timed(args) {
  const cpu = childCpuMs();
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, cpuMs: childCpuMs() - cpu, stdout: r.stdout };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quartiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor((s.length - 1) / 4)], s[Math.ceil(((s.length - 1) * 3) / 4)]];
}

export async function run(pairs = 40, { baseline } = {}) {
  const m = machine();
  const arms = [
    { name: "node -e 0", args: ["-e", "0"], wall: [], cpu: [] },
    { name: "presparse: import, Engine.load, 800→40 layer, one product", args: [PROBE], wall: [], cpu: [], steps: [] },
  ];
  if (baseline) {
    const entry = join(resolve(baseline), "dist/index.js");
    if (!existsSync(entry)) throw new Error(`cold start: ${entry} missing (build that checkout first)`);
    arms.push({
      name: `the same on ${baseline}`,
      args: [PROBE, pathToFileURL(entry).href],
      wall: [],
      cpu: [],
      steps: [],
    });
  }
  console.log(`\n## cold start (${pairs} alternating rounds after ${WARMUP} warm-up rounds)\n${machineLine(m)}\n`);
  for (let i = 0; i < WARMUP + pairs; i++) {
    // rotate which goes first, so none always runs right after another
    for (let k = 0; k < arms.length; k++) {
      const arm = arms[(i + k) % arms.length];
      const { ms, cpuMs, stdout } = timed(arm.args);
      if (i < WARMUP) continue;
      arm.wall.push(ms);
      arm.cpu.push(cpuMs);
      arm.steps?.push(JSON.parse(stdout));
    }
  }
  const [empty, probe] = arms;
  const e = median(empty.wall),
    ce = mean(empty.cpu);
  const rows = arms.map((a) => ({
    what: a.name,
    ms: median(a.wall),
    q: quartiles(a.wall),
    cpu: mean(a.cpu),
    ratio: median(a.wall) / e,
    cpuRatio: mean(a.cpu) / ce,
  }));
  const cpuFmt = (v) => (Number.isNaN(v) ? "–" : v.toFixed(1));
  printTable(rows, [
    ["what", "process"],
    ["ms", "median ms", (v) => v.toFixed(1)],
    ["q", "quartiles ms", (q) => `${q[0].toFixed(1)} – ${q[1].toFixed(1)}`],
    ["ratio", "÷ node -e 0", (v) => `${v.toFixed(2)}×`],
    ["cpu", "mean CPU ms", cpuFmt],
    ["cpuRatio", "CPU ÷ node -e 0", (v) => (Number.isNaN(v) ? "–" : `${v.toFixed(2)}×`)],
  ]);
  const part = (f) => median(probe.steps.map(f));
  const breakdown = [
    { step: "Node start until the probe runs", ms: part((s) => s.start) },
    { step: "import presparse (module graph)", ms: part((s) => s.imported - s.start) },
    { step: "Engine.load (read, compile, instantiate)", ms: part((s) => s.loaded - s.imported) },
    { step: "pattern, layer, one product", ms: part((s) => s.ran - s.loaded) },
  ];
  console.log("");
  printTable(breakdown, [
    ["step", "inside the probe (medians)"],
    ["ms", "ms", (v) => v.toFixed(1)],
  ]);
  const { ms: p, ratio, cpuRatio } = rows[1];
  console.log(
    `\nratio: ${ratio.toFixed(2)}× an empty node process (${p.toFixed(1)} ms vs ${e.toFixed(1)} ms)` +
      (Number.isNaN(cpuRatio) ? "" : `; CPU time ${cpuRatio.toFixed(2)}×`),
  );
  const path = writeResults("cold_start", { machine: m, pairs, warmup: WARMUP, baseline, arms, rows, breakdown });
  console.log(`results: ${path}`);
  return { ratio, cpuRatio, rows, breakdown };
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--baseline");
  const baseline = at >= 0 ? args.splice(at, 2)[1] : undefined;
  await run(Number(args[0] ?? 40), { baseline });
}
