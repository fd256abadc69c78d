// Threads or processes for the tail server: `presparse serve --threads T --workers W` as a user starts it, on loopback,
// for (a) the paper's tail under many small requests (64 keep-alive clients, batch-1 frames: the cost is HTTP, the
// compute 0.6 µs) and (b) a large tail (1024→1024 at 10% then 1024→10) sent frames of 16 samples (a gateway's
// batches, about 3.7 MFLOP each), batched up to 64 samples, where compute dominates;
// each at 1 thread × 1 process, T threads × 1 process, 1 thread × W processes. Clients run in a child process
// (bench/server.mjs --load), so on 2 cores they compete with the server as real clients on the same box would.
// Run: npm run build && node bench/serve_threads.mjs [--threads N]   (N threads against N processes; default 2)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, Model, encodeFrame, encodeModel, split } from "../dist/index.js";
import { isMain, machine, machineLine, markdownTable, printTable, threadsArg, writeResults } from "./common.mjs";
import { loadFromChild } from "./server.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

/** Starts `presparse serve` and resolves with its child and port once it prints its URL. */
function serve(model, { threads, workers, maxBatch }) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        "serve",
        "--model",
        model,
        "--port",
        "0",
        "--threads",
        String(threads),
        "--workers",
        String(workers),
        "--max-batch",
        String(maxBatch),
        "--max-delay-ms",
        "1",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "",
      err = "";
    child.stdout.on("data", (c) => {
      out += c;
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.stderr.on("data", (c) => (err += c));
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.on("exit", resolve);
    child.kill("SIGTERM");
  });
}

export async function run({
  threads = threadsArg(2),
  windows = 3,
  windowMs = 2000,
  warmupMs = 1000,
  clients = 64,
} = {}) {
  const m = machine();
  const engine = await Engine.load({ threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), "presparse-serve-"));
  const tails = [
    {
      name: "paper tail (40→40→10), 1 sample per request",
      model: Model.mlp(engine, { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10], seed: 0 }),
      maxBatch: 64,
      samples: 1,
    },
    {
      name: "large tail (1024→1024 at 10%, →10), 16 per request",
      model: Model.mlp(engine, { sizes: [800, 1024, 1024, 10], outDegrees: [96, 102, 10], seed: 0 }),
      maxBatch: 64,
      samples: 16,
    },
  ];
  const configs = [
    { threads: 1, workers: 1 },
    { threads, workers: 1 },
    { threads: 1, workers: threads },
  ];
  const rows = [];
  try {
    for (const t of tails) {
      const { tail } = split(t.model, { cut: 1 });
      const file = join(dir, `${rows.length}.safetensors`);
      writeFileSync(file, encodeModel(tail).bytes);
      const width = tail.inputSize;
      // the load generator takes its frames on the command line (an argument holds at most 128 KiB): one large frame
      const frames = Array.from({ length: t.samples > 1 ? 1 : 8 }, (_, i) =>
        Buffer.from(
          encodeFrame({
            data: Float32Array.from({ length: width * t.samples }, (_, k) => Math.abs(Math.sin(i * 41 + k))),
            shape: [width, t.samples],
            dtype: "f32",
            kind: "activation",
            splitId: tail.split.cut,
            modelHash: tail.split.hash,
          }),
        ).toString("base64"),
      );
      for (const cfg of configs) {
        const { child, port } = await serve(file, { ...cfg, maxBatch: t.maxBatch });
        try {
          const r = await loadFromChild({ port, frames, windows, windowMs, warmupMs, clients });
          const perSecond = r.windows.map((w) => w.perSecond);
          rows.push({
            tail: t.name,
            config: `--threads ${cfg.threads} --workers ${cfg.workers}`,
            requestsPerSecond: perSecond.sort((a, b) => a - b)[perSecond.length >> 1],
            p50: r.p50,
            p99: r.p99,
            samplesPerSecond: perSecond[perSecond.length >> 1] * t.samples,
            errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
          });
          console.log(
            `  ${t.name}, ${rows.at(-1).config}: ` +
              `${rows.at(-1).requestsPerSecond.toFixed(0)} requests/s, p99 ${r.p99.toFixed(2)} ms`,
          );
        } finally {
          await stop(child);
        }
      }
      tail.dispose();
    }
  } finally {
    for (const t of tails) t.model.dispose();
    rmSync(dir, { recursive: true, force: true });
    engine.dispose();
  }
  for (const r of rows) {
    const base = rows.find((b) => b.tail === r.tail && b.config === "--threads 1 --workers 1");
    r.vsOne = r.requestsPerSecond / base.requestsPerSecond;
  }
  const columns = [
    ["tail", "tail"],
    ["config", "server"],
    ["requestsPerSecond", "requests/s", (v) => v.toFixed(0)],
    ["samplesPerSecond", "samples/s", (v) => v.toFixed(0)],
    ["vsOne", "vs 1 thread, 1 process", (v) => `${v.toFixed(2)}×`],
    ["p50", "p50 ms", (v) => v.toFixed(2)],
    ["p99", "p99 ms", (v) => v.toFixed(2)],
    ["errors", "non-200"],
  ];
  console.log(
    `\nserve: threads or processes — ${machineLine(m)}; ${clients} keep-alive clients in a child process, ` +
      `f32 frames; median of ${windows} windows of ${windowMs} ms after ${warmupMs} ms\n`,
  );
  printTable(rows, columns);
  const path = writeResults("serve_threads", {
    suite: "serve_threads",
    machine: m,
    threads,
    rows,
    markdown: markdownTable(rows, columns),
  });
  console.log(`wrote ${path}`);
  return rows;
}

if (isMain(import.meta.url)) await run();
