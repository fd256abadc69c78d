// Split-computing server benchmark, on loopback: (1) frame bytes per sample for the paper's split (40 activations
// after hidden layer 1) in f32/f16/int8 vs the 784-byte raw image; (2) tail-server throughput and latency at 64
// concurrent clients sending batch-1 frames, dynamic batching on (max-batch 64, max-delay 1 ms) vs off (max-batch 1),
// in the same run, alternating. The server runs in this process; the clients run in a child process (this file
// with --load) on raw keep-alive sockets, so on 2 cores each side has a core and the client's HTTP cost is small.
// The model is the paper's [800,40,40,10] with out-degrees (2,9,10) and one exit after hidden layer 1, randomly
// initialised (seed 0): throughput and bytes do not depend on the weights.
// Run: npm run build && node bench/server.mjs
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { Engine, Matrix, Model, encodeFrame, frameBytes, split } from "../dist/index.js";
import { FRAME_DTYPES, frameBytesPerSample } from "../dist/ops_index.js";
import { startServer } from "../dist/node/index.js";
import { isMain, machine, machineLine, markdownTable, printTable, timeCall, writeResults } from "./common.mjs";

const CLIENTS = 64;
const RAW_BYTES = 784;

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : NaN;
}

/** The paper's network split after hidden layer 1 (or, for contrast, a wider network whose tail costs ~115k MACs). */
function paperSplit(engine, heavy = false) {
  const model = heavy
    ? Model.mlp(engine, { sizes: [800, 1024, 1024, 10], outDegrees: [96, 102, 10], seed: 0 })
    : Model.mlp(engine, {
        sizes: [800, 40, 40, 10],
        outDegrees: [2, 9, 10],
        seed: 0,
        exits: [{ after: 0, weight: 1 }],
        finalWeight: 0.3,
      });
  const { head, tail } = split(model, { cut: 1 });
  return { model, head, tail };
}

/** Frame bytes per sample at batch 1 and batch 256 for each dtype, against the raw 784-byte image. */
function frameSizes(width) {
  return FRAME_DTYPES.map((dtype) => {
    const one = frameBytes([width, 1], dtype);
    const b256 = frameBytes([width, 256], dtype) / 256;
    return { dtype, payload: frameBytesPerSample(width, dtype), batch1: one, batch256: b256, vsRaw: RAW_BYTES / one };
  });
}

/** The tail alone, in process (copy in, forward, copy out): microseconds per sample at each batch size. */
function tailCompute(tail, batches) {
  return batches.map((B) => {
    const X = new Matrix(tail.engine, tail.inputSize, B);
    const input = Float32Array.from({ length: tail.inputSize * B }, (_, i) => Math.abs(Math.sin(i)));
    const t = timeCall(
      () => {
        X.view().set(input);
        tail.forward(X).toArray();
      },
      { budget: 0.3 },
    );
    X.dispose();
    return { batch: B, usPerSample: (t.median * 1e6) / B, usPerCall: t.median * 1e6 };
  });
}

// ---- load generator (child process) ----

/** One keep-alive connection sending the same request back to back; resolves per response with its latency. */
function client(port, request, onAnswer, stopAt) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0),
      sent = 0n;
    const send = () => {
      if (performance.now() >= stopAt()) return void sock.end(resolve);
      sent = process.hrtime.bigint();
      sock.write(request);
    };
    sock.on("connect", send);
    sock.on("error", reject);
    sock.on("data", (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.toString("latin1", 0, end);
        const m = /content-length: *(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const status = Number(head.slice(9, 12));
        buf = buf.subarray(end + 4 + len);
        onAnswer(status, Number(process.hrtime.bigint() - sent) / 1e6);
        send();
      }
    });
  });
}

async function loadMain(cfg) {
  const { port, frames, windows, windowMs, warmupMs } = cfg;
  const requests = frames.map((b64) => {
    const body = Buffer.from(b64, "base64");
    return Buffer.concat([
      Buffer.from(
        `POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-presparse-frame\r\nContent-Length: ${body.length}\r\n\r\n`,
        "latin1",
      ),
      body,
    ]);
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const bounds = [t0 + warmupMs];
  for (let w = 0; w < windows; w++) bounds.push(bounds[bounds.length - 1] + windowMs);
  const stopAt = bounds[bounds.length - 1];
  const lat = Array.from({ length: windows }, () => []);
  const errors = {};
  const onAnswer = (status, ms) => {
    const now = performance.now();
    if (status !== 200) errors[status] = (errors[status] ?? 0) + 1;
    if (now < bounds[0] || now >= stopAt) return;
    let w = 0;
    while (now >= bounds[w + 1]) w++;
    if (status === 200) lat[w].push(ms);
  };
  await Promise.all(
    Array.from({ length: cfg.clients }, (_, i) => client(port, requests[i % requests.length], onAnswer, () => stopAt)),
  );
  const summary = lat.map((l) => {
    l.sort((a, b) => a - b);
    return {
      answers: l.length,
      perSecond: l.length / (windowMs / 1000),
      p50: percentile(l, 0.5),
      p99: percentile(l, 0.99),
    };
  });
  const all = lat.flat().sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpu0);
  const clientCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
  process.stdout.write(
    `${JSON.stringify({
      windows: summary,
      p50: percentile(all, 0.5),
      p95: percentile(all, 0.95),
      p99: percentile(all, 0.99),
      errors,
      clientCpu,
    })}\n`,
  );
}

/** Runs the load generator in a child process against a port; resolves with its summary. */
function loadFromChild(cfg) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--load", JSON.stringify(cfg)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited with ${code}`)),
    );
  });
}

// ---- the suite ----

/** Throughput of one tail with batching on and off, `rounds` alternating runs each. */
async function measureModes(engine, head, tail, { windows, windowMs, warmupMs, rounds }) {
  const { cut, hash } = head.split,
    width = tail.inputSize;
  const frames = Array.from({ length: 8 }, (_, i) => {
    const data = Float32Array.from({ length: width }, (_, k) => Math.abs(Math.sin(i * 41 + k)));
    return Buffer.from(
      encodeFrame({ data, shape: [width, 1], dtype: "f32", kind: "activation", splitId: cut, modelHash: hash }),
    ).toString("base64");
  });
  const modes = {
    batching: { maxBatch: 64, maxDelayMs: 1 },
    "no batching": { maxBatch: 1, maxDelayMs: 0 },
  };
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, opts] of r % 2 ? Object.entries(modes).reverse() : Object.entries(modes)) {
      const server = await startServer({ model: tail, engine, port: 0, ...opts, maxQueue: 4096 });
      const cpu0 = process.cpuUsage(),
        t0 = performance.now();
      const load = await loadFromChild({ port: server.port, frames, clients: CLIENTS, windows, windowMs, warmupMs });
      const cpu = process.cpuUsage(cpu0);
      // share of one core the server used while loaded (near 1: the server is the bottleneck, not the clients)
      const serverCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
      const batches = server.metrics.batchSize;
      await server.close();
      runs.push({
        mode: name,
        round: r,
        ...opts,
        ...load,
        serverCpu,
        meanBatch: batches.sum / Math.max(1, batches.count),
      });
    }
  }
  const summarize = (name) => {
    const rs = runs.filter((x) => x.mode === name);
    const per = rs.flatMap((x) => x.windows.map((w) => w.perSecond)).sort((a, b) => a - b);
    return {
      mode: name,
      ...modes[name],
      requestsPerSecond: percentile(per, 0.5),
      samplesPerSecond: percentile(per, 0.5), // batch-1 frames: one sample per request
      windowSpread: per.length ? per[per.length - 1] / per[0] : NaN,
      p50: Math.max(...rs.map((x) => x.p50)),
      p99: Math.max(...rs.map((x) => x.p99)),
      meanBatch: rs.reduce((s, x) => s + x.meanBatch, 0) / rs.length,
      serverCpu: rs.reduce((s, x) => s + x.serverCpu, 0) / rs.length,
      clientCpu: rs.reduce((s, x) => s + x.clientCpu, 0) / rs.length,
      errors: Object.assign({}, ...rs.map((x) => x.errors)),
    };
  };
  const on = summarize("batching"),
    off = summarize("no batching");
  return { on, off, ratio: on.requestsPerSecond / off.requestsPerSecond, runs };
}

export async function run({ windows = 3, windowMs = 2000, warmupMs = 1000, rounds = 2 } = {}) {
  const started = performance.now();
  const engine = await Engine.load();
  const paper = paperSplit(engine);
  const sizes = frameSizes(paper.tail.inputSize);
  const compute = tailCompute(paper.tail, [1, 8, 64]);
  const main = await measureModes(engine, paper.head, paper.tail, { windows, windowMs, warmupMs, rounds });
  // contrast: a tail whose compute is not negligible next to the cost of an HTTP request
  const wide = paperSplit(engine, true);
  const wideCompute = tailCompute(wide.tail, [1, 8, 64]);
  const contrast = await measureModes(engine, wide.head, wide.tail, { windows: 2, windowMs, warmupMs, rounds: 1 });
  const { on, off, ratio } = main;
  const result = {
    suite: "server",
    machine: machine(),
    model:
      "[800,40,40,10], out-degrees (2,9,10), exit after hidden layer 1, randomly initialised (seed 0); split after hidden layer 1",
    load: `${CLIENTS} concurrent keep-alive connections from a child process, batch-1 f32 frames back to back; ${warmupMs} ms warm-up, then ${windows} windows of ${windowMs} ms, ${rounds} rounds per mode alternating`,
    frameBytes: sizes,
    tailCompute: compute,
    throughput: [on, off],
    batchingSpeedup: ratio,
    targets: { speedupAtLeast3x: ratio >= 3, p99AtMost10ms: on.p99 <= 10 },
    contrast: {
      model:
        "[800,1024,1024,10], out-degrees (96,102,10), randomly initialised (seed 0), split after hidden layer 1: a tail of 1024→1024 at 10% then 1024→10",
      tailCompute: wideCompute,
      throughput: [contrast.on, contrast.off],
      batchingSpeedup: contrast.ratio,
    },
    runs: [...main.runs, ...contrast.runs.map((r) => ({ ...r, model: "contrast" }))],
    seconds: 0,
  };
  result.seconds = (performance.now() - started) / 1000;
  console.log(`\nserver: ${machineLine(result.machine)}`);
  console.log(`model: ${result.model}\n`);
  const frameCols = [
    ["dtype", "dtype"],
    ["payload", "payload B/sample"],
    ["batch1", "frame B (batch 1)"],
    ["batch256", "B/sample (batch 256)", (v) => v.toFixed(2)],
    ["vsRaw", "vs 784 B raw (batch 1)", (v) => `${v.toFixed(1)}× smaller`],
  ];
  printTable(sizes, frameCols);
  const us = (c) => c.map((x) => `batch ${x.batch} ${x.usPerSample.toFixed(3)} µs/sample`).join(", ");
  console.log(`\ntail compute alone (in process, no HTTP): ${us(compute)}`);
  console.log(`\nload: ${result.load}\n`);
  const tCols = [
    ["mode", "mode"],
    ["maxBatch", "max-batch"],
    ["maxDelayMs", "max-delay ms"],
    ["requestsPerSecond", "requests/s", (v) => v.toFixed(0)],
    ["samplesPerSecond", "samples/s", (v) => v.toFixed(0)],
    ["meanBatch", "mean batch", (v) => v.toFixed(1)],
    ["p50", "p50 ms", (v) => v.toFixed(2)],
    ["p99", "p99 ms", (v) => v.toFixed(2)],
    ["windowSpread", "max/min window", (v) => v.toFixed(2)],
    ["serverCpu", "server CPU", (v) => `${(100 * v).toFixed(0)}%`],
    ["clientCpu", "clients CPU", (v) => `${(100 * v).toFixed(0)}%`],
  ];
  printTable([on, off], tCols);
  console.log(
    `\nbatching: ${ratio.toFixed(2)}× the throughput of no batching (target ≥ 3×), p99 ${on.p99.toFixed(2)} ms (target ≤ 10 ms)`,
  );
  console.log(`\ncontrast, ${result.contrast.model}; tail compute alone: ${us(wideCompute)}\n`);
  printTable([contrast.on, contrast.off], tCols);
  console.log(`\ncontrast: batching ${contrast.ratio.toFixed(2)}× the throughput of no batching`);
  console.log(`\n${markdownTable([on, off], tCols)}`);
  const path = writeResults("server", result);
  console.log(`\nwrote ${path} (${result.seconds.toFixed(1)} s)`);
  for (const x of [paper.head, paper.tail, paper.model, wide.head, wide.tail, wide.model]) x.dispose();
  return result;
}

if (isMain(import.meta.url)) {
  if (process.argv[2] === "--load") await loadMain(JSON.parse(process.argv[3]));
  else await run();
}
