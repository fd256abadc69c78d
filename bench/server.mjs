// Split-computing server benchmark, on loopback: (1) frame bytes per sample for the paper's split (40 activations
// after hidden layer 1) in f32/f16/int8 vs the 784-byte raw image; (2) tail-server throughput and latency with 64
// batch-1 frames in flight, over HTTP (64 keep-alive connections) and over the WebSocket stream (4 connections, 16
// in flight on each), dynamic batching on (max-batch 64, max-delay 1 ms) vs off (max-batch 1), in the same run,
// alternating; every request sent is counted against the answers. The server runs in this process; the clients run
// in a child process (this file with --load) on raw sockets with prebuilt requests, so on 2 cores each side has a
// core and the client's own cost is small.
// The model is the paper's [800,40,40,10] with out-degrees (2,9,10) and one exit after hidden layer 1, randomly
// initialised (seed 0): throughput and bytes do not depend on the weights.
// Run: npm run build && node bench/server.mjs
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { Engine, Matrix, Model, encodeFrame, frameBytes, split } from "../dist/index.js";
import { FRAME_DTYPES, frameBytesPerSample } from "../dist/ops_index.js";
import { startServer } from "../dist/node/index.js";
import {
  isMain,
  machine,
  machineLine,
  markdownTable,
  printTable,
  timeCall,
  writeResults,
  threadsArg,
} from "./common.mjs";

/** Requests in flight during the load, and the WebSockets the stream spreads them over. */
const IN_FLIGHT = 64;
const STREAMS = 4;
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

/** One keep-alive HTTP connection sending the same request back to back; counts sent and answered. */
function httpClient(port, request, onAnswer, stopAt, counts) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0),
      sent = 0n;
    const send = () => {
      if (performance.now() >= stopAt()) return void sock.end(resolve);
      sent = process.hrtime.bigint();
      counts.sent++;
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
        counts.answered++;
        onAnswer(status, Number(process.hrtime.bigint() - sent) / 1e6);
        send();
      }
    });
  });
}

/** A client WebSocket frame (FIN, binary, masked with a zero key so the payload goes as it is): id, then the frame. */
function wsMessage(frame, id) {
  const n = 4 + frame.length;
  const head = n < 126 ? 2 : 4;
  const b = Buffer.allocUnsafe(head + 4 + n);
  b[0] = 0x82;
  if (n < 126) b[1] = 0x80 | n;
  else {
    b[1] = 0x80 | 126;
    b.writeUInt16BE(n, 2);
  }
  b.writeUInt32BE(0, head);
  b.writeUInt32LE(id, head + 4);
  frame.copy(b, head + 8);
  return b;
}

/**
 * One WebSocket stream on /v1/stream keeping `depth` requests in flight: each answer (matched by its id) sends the
 * next, until stopAt; then it waits for every request in flight before closing. Counts sent and answered.
 */
function wsClient(port, frame, depth, onAnswer, stopAt, counts) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    const sentAt = new Map();
    let buf = Buffer.alloc(0),
      upgraded = false,
      nextId = 0,
      stopping = false;
    const send = () => {
      if (performance.now() >= stopAt()) {
        stopping = true;
        if (sentAt.size === 0) sock.end(resolve);
        return;
      }
      const id = nextId++ >>> 0;
      sentAt.set(id, process.hrtime.bigint());
      counts.sent++;
      sock.write(wsMessage(frame, id));
    };
    sock.on("connect", () => {
      sock.write(
        `GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    sock.on("error", reject);
    sock.on("data", (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!buf.toString("latin1", 0, 12).startsWith("HTTP/1.1 101"))
          return reject(new Error(`upgrade refused: ${buf.toString("latin1", 0, end)}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        sock.cork();
        for (let i = 0; i < depth; i++) send();
        sock.uncork();
      }
      // answers that arrive together send their successors in one write
      sock.cork();
      for (;;) {
        if (buf.length < 2) break;
        let n = buf[1] & 0x7f,
          off = 2;
        if (n === 126) {
          if (buf.length < 4) break;
          n = buf.readUInt16BE(2);
          off = 4;
        } else if (n === 127) {
          if (buf.length < 10) break;
          n = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + n) break;
        const opcode = buf[0] & 0x0f,
          payload = buf.subarray(off, off + n);
        buf = buf.subarray(off + n);
        if (opcode === 0x8) break; // close
        let id,
          status = 200;
        if (opcode === 0x2) id = payload.readUInt32LE(0);
        else {
          const m = JSON.parse(payload.toString("utf8"));
          id = m.id;
          status = m.error.status;
        }
        const t = sentAt.get(id);
        if (t === undefined) continue;
        sentAt.delete(id);
        counts.answered++;
        onAnswer(status, Number(process.hrtime.bigint() - t) / 1e6);
        if (!stopping) send();
        else if (sentAt.size === 0) sock.end(resolve);
      }
      sock.uncork();
    });
  });
}

async function loadMain(cfg) {
  const { port, frames, windows, windowMs, warmupMs, transport } = cfg;
  const bodies = frames.map((b64) => Buffer.from(b64, "base64"));
  const requests = bodies.map((body) =>
    Buffer.concat([
      Buffer.from(
        `POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-presparse-frame\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
        "latin1",
      ),
      body,
    ]),
  );
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const bounds = [t0 + warmupMs];
  for (let w = 0; w < windows; w++) bounds.push(bounds[bounds.length - 1] + windowMs);
  const stopAt = bounds[bounds.length - 1];
  const lat = Array.from({ length: windows }, () => []);
  const errors = {};
  const counts = { sent: 0, answered: 0 };
  const onAnswer = (status, ms) => {
    const now = performance.now();
    if (status !== 200) errors[status] = (errors[status] ?? 0) + 1;
    if (now < bounds[0] || now >= stopAt) return;
    let w = 0;
    while (now >= bounds[w + 1]) w++;
    if (status === 200) lat[w].push(ms);
  };
  const clients =
    transport === "ws"
      ? Array.from({ length: cfg.connections }, (_, i) =>
          wsClient(port, bodies[i % bodies.length], cfg.inflight / cfg.connections, onAnswer, () => stopAt, counts),
        )
      : Array.from({ length: cfg.inflight }, (_, i) =>
          httpClient(port, requests[i % requests.length], onAnswer, () => stopAt, counts),
        );
  await Promise.all(clients);
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
  const summaryLine = JSON.stringify({
    windows: summary,
    p50: percentile(all, 0.5),
    p95: percentile(all, 0.95),
    p99: percentile(all, 0.99),
    errors,
    clientCpu,
    ...counts,
  });
  process.stdout.write(`${summaryLine}\n`);
}

/** Runs the load generator in a child process against a port; resolves with its summary. */
export function loadFromChild(cfg) {
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

const MODES = {
  batching: { maxBatch: 64, maxDelayMs: 1 },
  "no batching": { maxBatch: 1, maxDelayMs: 0 },
};

/**
 * Throughput of one tail over each transport with batching on and off: `rounds` runs of every (transport, mode),
 * the order reversed every other round. HTTP: `inflight` keep-alive connections, one request each; the stream:
 * `connections` WebSockets with inflight / connections requests in flight on each.
 */
async function measure(engine, head, tail, { transports, windows, windowMs, warmupMs, rounds, inflight, connections }) {
  const { cut, hash } = head.split,
    width = tail.inputSize;
  const frames = Array.from({ length: 8 }, (_, i) => {
    const data = Float32Array.from({ length: width }, (_, k) => Math.abs(Math.sin(i * 41 + k)));
    return Buffer.from(
      encodeFrame({ data, shape: [width, 1], dtype: "f32", kind: "activation", splitId: cut, modelHash: hash }),
    ).toString("base64");
  });
  const cases = transports.flatMap((transport) => Object.keys(MODES).map((mode) => ({ transport, mode })));
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    for (const { transport, mode } of r % 2 ? [...cases].reverse() : cases) {
      const opts = MODES[mode];
      const server = await startServer({ model: tail, engine, port: 0, ...opts, maxQueue: 4096 });
      const cpu0 = process.cpuUsage(),
        t0 = performance.now();
      const load = await loadFromChild({
        port: server.port,
        frames,
        transport,
        inflight,
        connections,
        windows,
        windowMs,
        warmupMs,
      });
      const cpu = process.cpuUsage(cpu0);
      // share of one core the server used while loaded (near 1: the server is the bottleneck, not the clients)
      const serverCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
      // answers per second of the server's own CPU time: what the server's work per request costs, whatever else runs
      const perServerCpuSecond = load.answered / ((cpu.user + cpu.system) / 1e6);
      const batches = server.metrics.batchSize;
      const answeredByServer = server.metrics.requests.get({ path: "/v1/infer", code: "200", transport });
      await server.close();
      runs.push({
        transport,
        mode,
        round: r,
        ...opts,
        ...load,
        answeredByServer,
        serverCpu,
        perServerCpuSecond,
        meanBatch: batches.sum / Math.max(1, batches.count),
      });
    }
  }
  const summarize = ({ transport, mode }) => {
    const rs = runs.filter((x) => x.transport === transport && x.mode === mode);
    const per = rs.flatMap((x) => x.windows.map((w) => w.perSecond)).sort((a, b) => a - b);
    return {
      transport,
      mode,
      ...MODES[mode],
      requestsPerSecond: percentile(per, 0.5),
      windowSpread: per.length ? per[per.length - 1] / per[0] : NaN,
      p50: Math.max(...rs.map((x) => x.p50)),
      p99: Math.max(...rs.map((x) => x.p99)),
      meanBatch: rs.reduce((s, x) => s + x.meanBatch, 0) / rs.length,
      serverCpu: rs.reduce((s, x) => s + x.serverCpu, 0) / rs.length,
      perServerCpuSecond: rs.reduce((s, x) => s + x.perServerCpuSecond, 0) / rs.length,
      clientCpu: rs.reduce((s, x) => s + x.clientCpu, 0) / rs.length,
      sent: rs.reduce((s, x) => s + x.sent, 0),
      answered: rs.reduce((s, x) => s + x.answered, 0),
      errors: Object.assign({}, ...rs.map((x) => x.errors)),
    };
  };
  const rows = cases.map(summarize);
  const row = (transport, mode) => rows.find((x) => x.transport === transport && x.mode === mode);
  return { rows, row, runs };
}

export async function run({
  windows = 3,
  windowMs = 2000,
  warmupMs = 1000,
  rounds = 2,
  inflight = IN_FLIGHT,
  connections = STREAMS,
} = {}) {
  const started = performance.now();
  const engine = await Engine.load({ threads: threadsArg(1) });
  const paper = paperSplit(engine);
  const sizes = frameSizes(paper.tail.inputSize);
  const compute = tailCompute(paper.tail, [1, 8, 64]);
  const transports = ["http", "ws"];
  const main = await measure(engine, paper.head, paper.tail, {
    transports,
    windows,
    windowMs,
    warmupMs,
    rounds,
    inflight,
    connections,
  });
  // a tail whose compute is not negligible next to the cost of a request
  const wide = paperSplit(engine, true);
  const wideCompute = tailCompute(wide.tail, [1, 8, 64]);
  const contrast = await measure(engine, wide.head, wide.tail, {
    transports,
    windows: 2,
    windowMs,
    warmupMs,
    rounds: 1,
    inflight,
    connections,
  });
  const ratio = (m, a, b, k = "requestsPerSecond") => m.row(...a)[k] / m.row(...b)[k];
  const perCpu = (m, a, b) => ratio(m, a, b, "perServerCpuSecond");
  const figures = {
    streamVsHttp: ratio(main, ["ws", "batching"], ["http", "batching"]),
    streamBatching: ratio(main, ["ws", "batching"], ["ws", "no batching"]),
    httpBatching: ratio(main, ["http", "batching"], ["http", "no batching"]),
    streamP99: main.row("ws", "batching").p99,
    wideHttpBatching: ratio(contrast, ["http", "batching"], ["http", "no batching"]),
    wideStreamBatching: ratio(contrast, ["ws", "batching"], ["ws", "no batching"]),
  };
  // the same ratios in answers per server CPU-second: steadier than requests/s when other work shares the cores
  const perCpuFigures = {
    streamVsHttp: perCpu(main, ["ws", "batching"], ["http", "batching"]),
    streamBatching: perCpu(main, ["ws", "batching"], ["ws", "no batching"]),
    httpBatching: perCpu(main, ["http", "batching"], ["http", "no batching"]),
    wideHttpBatching: perCpu(contrast, ["http", "batching"], ["http", "no batching"]),
    wideStreamBatching: perCpu(contrast, ["ws", "batching"], ["ws", "no batching"]),
  };
  const allRuns = [...main.runs, ...contrast.runs];
  const lost = allRuns.reduce((s, x) => s + (x.sent - x.answered), 0);
  const targets = {
    streamAtLeast3xHttp: figures.streamVsHttp >= 3,
    streamBatchingAtLeast2x: figures.streamBatching >= 2,
    streamP99AtMost10ms: figures.streamP99 <= 10,
    wideHttpBatchingAtLeast2x: figures.wideHttpBatching >= 2,
    wideStreamBatchingAtLeast2x: figures.wideStreamBatching >= 2,
    noAcceptedRequestLost: lost === 0,
  };
  const load =
    `${inflight} requests in flight from a child process, batch-1 f32 frames back to back: ` +
    `HTTP on ${inflight} keep-alive connections, ` +
    `the stream on ${connections} WebSockets (${inflight / connections} each); ` +
    `${warmupMs} ms warm-up, then ${windows} windows of ${windowMs} ms, ${rounds} rounds per case, ` +
    "order reversed every other round";
  const result = {
    suite: "server",
    machine: machine(),
    model:
      "[800,40,40,10], out-degrees (2,9,10), exit after hidden layer 1, randomly initialised (seed 0); " +
      "split after hidden layer 1",
    load,
    frameBytes: sizes,
    tailCompute: compute,
    throughput: main.rows,
    figures,
    perCpuFigures,
    targets,
    lost,
    contrast: {
      model:
        "[800,1024,1024,10], out-degrees (96,102,10), randomly initialised (seed 0), split after hidden layer 1: " +
        "a tail of 1024→1024 at 10% then 1024→10",
      tailCompute: wideCompute,
      throughput: contrast.rows,
    },
    runs: allRuns.map((r, i) => ({ ...r, model: i < main.runs.length ? "paper" : "contrast" })),
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
  console.log(`\ntail compute alone (in process, no transport): ${us(compute)}`);
  console.log(`\nload: ${load}\n`);
  const tCols = [
    ["transport", "transport"],
    ["mode", "mode"],
    ["maxBatch", "max-batch"],
    ["requestsPerSecond", "requests/s", (v) => v.toFixed(0)],
    ["meanBatch", "mean batch", (v) => v.toFixed(1)],
    ["p50", "p50 ms", (v) => v.toFixed(2)],
    ["p99", "p99 ms", (v) => v.toFixed(2)],
    ["windowSpread", "max/min window", (v) => v.toFixed(2)],
    ["serverCpu", "server CPU", (v) => `${(100 * v).toFixed(0)}%`],
    ["perServerCpuSecond", "answers per server CPU-s", (v) => v.toFixed(0)],
    ["clientCpu", "clients CPU", (v) => `${(100 * v).toFixed(0)}%`],
    ["sent", "sent"],
    ["answered", "answered"],
  ];
  printTable(main.rows, tCols);
  const mark = (ok) => (ok ? "met" : "NOT met");
  console.log(
    `\nstream ${figures.streamVsHttp.toFixed(2)}× HTTP (target ≥ 3×, ${mark(targets.streamAtLeast3xHttp)}); ` +
      `on the stream batching ${figures.streamBatching.toFixed(2)}× off ` +
      `(target ≥ 2×, ${mark(targets.streamBatchingAtLeast2x)}), ` +
      `p99 ${figures.streamP99.toFixed(2)} ms (target ≤ 10 ms, ${mark(targets.streamP99AtMost10ms)}); ` +
      `on HTTP batching ${figures.httpBatching.toFixed(2)}× off`,
  );
  console.log(`\ncontrast, ${result.contrast.model}; tail compute alone: ${us(wideCompute)}\n`);
  printTable(contrast.rows, tCols);
  console.log(
    `\ncontrast: batching ${figures.wideHttpBatching.toFixed(2)}× off on HTTP ` +
      `(target ≥ 2×, ${mark(targets.wideHttpBatchingAtLeast2x)}), ` +
      `${figures.wideStreamBatching.toFixed(2)}× on the stream ` +
      `(target ≥ 2×, ${mark(targets.wideStreamBatchingAtLeast2x)})`,
  );
  const f2 = (x) => `${x.toFixed(2)}×`;
  console.log(
    `\nper server CPU-second: stream ${f2(perCpuFigures.streamVsHttp)} HTTP; ` +
      `batching ${f2(perCpuFigures.streamBatching)} on the stream, ${f2(perCpuFigures.httpBatching)} on HTTP; ` +
      `1024 tail: batching ${f2(perCpuFigures.wideHttpBatching)} on HTTP, ` +
      `${f2(perCpuFigures.wideStreamBatching)} on the stream`,
  );
  console.log(
    `\nrequests sent ${allRuns.reduce((s, x) => s + x.sent, 0)}, ` +
      `answered ${allRuns.reduce((s, x) => s + x.answered, 0)}: ${lost === 0 ? "none lost" : `${lost} LOST`}`,
  );
  console.log(
    "\n" +
      markdownTable(
        [...main.rows, ...contrast.rows.map((r) => ({ ...r, transport: `${r.transport} (1024 tail)` }))],
        tCols,
      ),
  );
  const path = writeResults("server", result);
  console.log(`\nwrote ${path} (${result.seconds.toFixed(1)} s)`);
  for (const x of [paper.head, paper.tail, paper.model, wide.head, wide.tail, wide.model]) x.dispose();
  return result;
}

if (isMain(import.meta.url)) {
  if (process.argv[2] === "--load") await loadMain(JSON.parse(process.argv[3]));
  else await run();
}
