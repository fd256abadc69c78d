// Cold start: wall time of a fresh process that imports presparse, loads the engine, builds the paper's 800→40
// layer and runs it once (bench/cold_start_probe.mjs), against an empty `node -e 0`. The two alternate run by run,
// as hyperfine does with several commands, so both see the same machine; medians of each and their ratio. The
// probe also says where its time went (Node's own start, the module graph, the engine load, the first product). On
// Linux the mean CPU time (user + system) of each kind of process is reported too: it moves less than wall time
// when other work shares the machine.
// Run: npm run build && node bench/cold_start.mjs [pairs]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMain, machine, machineLine, printTable, writeResults } from "./common.mjs";

const PROBE = fileURLToPath(new URL("./cold_start_probe.mjs", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WARMUP = 5;

// CPU seconds of every child this process has waited for (cutime + cstime of /proc/self/stat), in clock ticks of
// 10 ms: one run reads as 0 or a tick or more, the mean over many runs is exact to a fraction of a millisecond
const STAT = "/proc/self/stat";
function childCpuMs() {
  if (!existsSync(STAT)) return NaN;
  const fields = readFileSync(STAT, "utf8").replace(/^.*\) /s, "").split(" ");
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

export async function run(pairs = 40) {
  const m = machine();
  console.log(`\n## cold start (${pairs} alternating pairs after ${WARMUP} warm-up pairs)\n${machineLine(m)}\n`);
  const empty = [], probe = [], emptyCpu = [], probeCpu = [], steps = [];
  for (let i = 0; i < WARMUP + pairs; i++) {
    // alternate which goes first, so neither always runs right after the other
    const order = i % 2 ? ["probe", "empty"] : ["empty", "probe"];
    for (const which of order) {
      if (which === "empty") {
        const { ms, cpuMs } = timed(["-e", "0"]);
        if (i >= WARMUP) empty.push(ms), emptyCpu.push(cpuMs);
      } else {
        const { ms, cpuMs, stdout } = timed([PROBE]);
        if (i >= WARMUP) {
          probe.push(ms);
          probeCpu.push(cpuMs);
          steps.push(JSON.parse(stdout));
        }
      }
    }
  }
  const e = median(empty), p = median(probe);
  const part = (f) => median(steps.map(f));
  const ce = mean(emptyCpu), cp = mean(probeCpu);
  const rows = [
    { what: "node -e 0", ms: e, q: quartiles(empty), cpu: ce },
    { what: "presparse: import, Engine.load, 800→40 layer, one product", ms: p, q: quartiles(probe), cpu: cp },
  ];
  printTable(rows, [
    ["what", "process"],
    ["ms", "median ms", (v) => v.toFixed(1)],
    ["q", "quartiles ms", (q) => `${q[0].toFixed(1)} – ${q[1].toFixed(1)}`],
    ["cpu", "mean CPU ms", (v) => (Number.isNaN(v) ? "–" : v.toFixed(1))],
  ]);
  const breakdown = [
    { step: "Node start until the probe runs", ms: part((s) => s.start) },
    { step: "import presparse (module graph)", ms: part((s) => s.imported - s.start) },
    { step: "Engine.load (read, compile, instantiate)", ms: part((s) => s.loaded - s.imported) },
    { step: "pattern, layer, one product", ms: part((s) => s.ran - s.loaded) },
  ];
  console.log("");
  printTable(breakdown, [["step", "inside the probe (medians)"], ["ms", "ms", (v) => v.toFixed(1)]]);
  const ratio = p / e;
  const cpuRatio = cp / ce;
  console.log(`\nratio: ${ratio.toFixed(2)}× an empty node process (${p.toFixed(1)} ms vs ${e.toFixed(1)} ms)` + (Number.isNaN(cpuRatio) ? "" : `; CPU time ${cpuRatio.toFixed(2)}×`));
  const path = writeResults("cold_start", { machine: m, pairs, warmup: WARMUP, emptyMs: empty, probeMs: probe, emptyCpuMs: emptyCpu, probeCpuMs: probeCpu, steps, medianEmptyMs: e, medianProbeMs: p, ratio, meanEmptyCpuMs: ce, meanProbeCpuMs: cp, cpuRatio, breakdown });
  console.log(`results: ${path}`);
  return { ratio, cpuRatio, medianEmptyMs: e, medianProbeMs: p, breakdown };
}

if (isMain(import.meta.url)) await run(Number(process.argv[2] ?? 40));
