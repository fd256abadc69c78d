// Hostile inputs, measured: the time to refuse a 5 MB model file of 19,000 layers; the tail server's memory under 60
// uploads of 4 MiB held open; the p50 of valid requests while eight senders post 4 MiB frames of the wrong shape;
// the edge client's memory against an answer declaring 1.5 GiB. Bounded in count and time, on 127.0.0.1.
//
//   npm run build && node bench/hostile.mjs [--dist DIR] [--only file,uploads,shape,client]
//
// --dist runs another build of the package (another commit's dist/, with its build/ beside it), so a change can be
// measured against the code before it in one run on one machine.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { machineLine } from "./common.mjs";

const { values: flags } = parseArgs({ options: { dist: { type: "string" }, only: { type: "string" } } });
const dist = resolve(flags.dist ?? new URL("../dist", import.meta.url).pathname);
const only = new Set((flags.only ?? "file,uploads,shape,client").split(","));
// the main entry and, in builds that have it, presparse/ops (defaultEngine, encodeSafetensors moved there)
const lib = {
  ...(existsSync(join(dist, "ops_index.js")) ? await import(join(dist, "ops_index.js")) : {}),
  ...(await import(join(dist, "index.js"))),
};
const CLI = join(dist, "cli", "main.js");
const MiB = 2 ** 20;
const tmp = mkdtempSync(join(tmpdir(), "presparse-hostile-"));
const engine = await lib.defaultEngine();

console.log(`# hostile inputs: ${dist}`);
console.log(`# ${machineLine()}`);

/** The paper's network cut after its first hidden layer; the tail bundle on disk. */
const paper = lib.Model.mlp(engine, {
  sizes: [800, 40, 40, 10],
  outDegrees: [2, 9, 10],
  seed: 0,
  exits: [{ after: 0, weight: 1 }],
  finalWeight: 0.3,
});
const { head, tail } = lib.split(paper, { cut: 1 });
const tailPath = join(tmp, "tail.safetensors");
writeFileSync(tailPath, lib.encodeModel(tail).bytes);
const width = tail.inputSize;

function frameOf(w, n, seed = 1) {
  const data = Float32Array.from({ length: w * n }, (_, i) => Math.sin(i + seed));
  return lib.encodeFrame({
    data,
    shape: [w, n],
    dtype: "f32",
    kind: "activation",
    splitId: tail.split.cut,
    modelHash: tail.split.hash,
  });
}

/** `presparse serve` of this build as a child process; resolves with its port and pid. */
async function serve(extra = []) {
  const child = spawn(process.execPath, [CLI, "serve", "--model", tailPath, "--port", "0", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await new Promise((res, rej) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      if (out.includes("\n")) res(out.split("\n")[0].trim());
    });
    child.on("exit", (code) => rej(new Error(`serve exited ${code}`)));
  });
  return {
    child,
    port: Number(new URL(url).port),
    stop: () =>
      new Promise((r) => {
        child.once("exit", r);
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
      }),
  };
}

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const postHead = (n) =>
  `POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-presparse-frame\r\nContent-Length: ${n}\r\n\r\n`;

if (only.has("file")) {
  // 19,000 one-to-one layers, the last one's bias one entry too long: a file refused at its end
  const L = 19_000,
    trunk = [],
    tensors = {};
  for (let i = 0; i < L; i++) {
    trunk.push({
      kind: "linear",
      inputs: 1,
      outputs: 1,
      activation: i < L - 1 ? "relu" : "linear",
      pattern: "dense",
      nnz: 1,
    });
    tensors[`trunk.${i}.values`] = { dtype: "F32", shape: [1], data: Float32Array.of(1) };
    tensors[`trunk.${i}.bias`] = {
      dtype: "F32",
      shape: [i === L - 1 ? 2 : 1],
      data: new Float32Array(i === L - 1 ? 2 : 1),
    };
  }
  const bytes = lib.encodeSafetensors(tensors, {
    presparse: JSON.stringify({
      format: "presparse",
      version: 1,
      classes: 1,
      inputShape: [1],
      finalWeight: 1,
      trunk,
      exits: [],
    }),
  });
  for (const [what, o] of [
    ["default limits", {}],
    ["maxLayers 20000", { limits: { maxLayers: 20_000 } }],
  ]) {
    const t = performance.now();
    let why = "accepted";
    try {
      lib.decodeModel(engine, bytes, o).model.dispose();
    } catch (e) {
      why = e.message.slice(0, 90);
    }
    console.log(
      `file: ${(bytes.length / 1e6).toFixed(1)} MB, ${L} layers, ${what}: ` +
        `${(performance.now() - t).toFixed(0)} ms — ${why}`,
    );
  }
}

if (only.has("uploads")) {
  // frames of the tail's shape, every byte but the last sent: the server cannot know they will never end
  const s = await serve(["--max-queue", "65536", "--timeout-ms", "30000"]);
  const frame = frameOf(width, Math.floor((4 * MiB - 44) / (4 * width)));
  await sleep(500);
  const before = rssMiB(s.child.pid);
  const socks = [];
  const answered = new Map();
  for (let i = 0; i < 60; i++) {
    const sock = connect(s.port, "127.0.0.1");
    sock.on("error", () => {});
    sock.on("data", (c) => answered.set(i, c.toString("latin1").split("\r\n")[0]));
    sock.write(postHead(frame.length));
    sock.write(frame.subarray(0, frame.length - 1));
    socks.push(sock);
  }
  let peak = before;
  for (let t = 0; t < 40; t++) {
    await sleep(100);
    peak = Math.max(peak, rssMiB(s.child.pid));
  }
  const refused = [...answered.values()].filter((l) => / 503 /.test(l)).length;
  console.log(
    `uploads: 60 held 4 MiB uploads: server RSS ${before.toFixed(0)} → ${peak.toFixed(0)} MiB (peak over 4 s); ` +
      `${refused} answered 503 at once`,
  );
  for (const x of socks) x.destroy();
  await s.stop();
}

if (only.has("shape")) {
  const s = await serve(["--max-queue", "65536"]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const good = frameOf(width, 1);
  const post = () =>
    new Promise((res, rej) => {
      const t = performance.now();
      const req = request(
        {
          host: "127.0.0.1",
          port: s.port,
          path: "/v1/infer",
          method: "POST",
          agent,
          headers: { "Content-Type": "application/x-presparse-frame", "Content-Length": good.length },
        },
        (r) => {
          r.resume();
          r.on("end", () =>
            r.statusCode === 200 ? res(performance.now() - t) : rej(new Error(`status ${r.statusCode}`)),
          );
        },
      );
      req.on("error", rej);
      req.end(good);
    });
  const p50 = async (ms) => {
    const lat = [];
    for (const end = performance.now() + ms; performance.now() < end; ) lat.push(await post());
    lat.sort((a, b) => a - b);
    return { p50: lat[lat.length >> 1], n: lat.length };
  };
  await p50(500);
  const quiet = await p50(4000);
  // eight senders in another process, each posting 4 MiB frames one position too wide, back to back on keep-alive
  const bad = frameOf(width + 1, Math.floor((4 * MiB - 44) / (4 * (width + 1))));
  const badPath = join(tmp, "bad.frame");
  writeFileSync(badPath, bad);
  const attackers = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `
    import { connect } from "node:net"; import { readFileSync } from "node:fs";
    const frame = readFileSync(${JSON.stringify(badPath)});
    const head = Buffer.from("POST /v1/infer HTTP/1.1\\r\\nHost: x\\r\\n" +
      "Content-Type: application/x-presparse-frame\\r\\nContent-Length: " + frame.length + "\\r\\n\\r\\n");
    let sent = 0;
    // each sender posts a frame, waits for its answer and posts the next, on a new connection when the server closed it
    const sender = () => {
      const sock = connect(${s.port}, "127.0.0.1");
      let buf = "", open = true;
      const go = () => { if (!open) return; sock.write(head); sock.write(frame); sent++; };
      sock.on("data", (c) => {
        buf += c.toString("latin1");
        const k = buf.indexOf("\\r\\n\\r\\n");
        if (k < 0) return;
        const m = /content-length: (\\d+)/i.exec(buf.slice(0, k));
        const n = Number(m ? m[1] : 0);
        if (buf.length < k + 4 + n) return;
        const close = /connection: close/i.test(buf.slice(0, k));
        buf = buf.slice(k + 4 + n);
        if (close) sock.destroy(); else go();
      });
      sock.on("error", () => {});
      sock.on("close", () => { open = false; setImmediate(sender); });
      sock.on("connect", go);
    };
    for (let i = 0; i < 8; i++) sender();
    setInterval(() => process.stdout.write(sent + "\\n"), 1000);
  `,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let sent = 0;
  attackers.stdout.on("data", (c) => (sent = Number(String(c).trim().split("\n").at(-1))));
  await sleep(1000);
  const loud = await p50(4000);
  attackers.kill("SIGKILL");
  console.log(
    `shape: valid batch-1 requests, p50 ${quiet.p50.toFixed(2)} ms alone (${quiet.n} in 4 s); ` +
      `${loud.p50.toFixed(2)} ms (${loud.n} in 4 s) while 8 senders posted 4 MiB wrong-shape frames (${sent} sent)`,
  );
  agent.destroy();
  await s.stop();
}

if (only.has("client")) {
  // a server answering 200 with 1.5 GiB; the client in a child process, its peak RSS reported by itself
  const server = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `
    import { createServer } from "node:http";
    const chunk = Buffer.alloc(1 << 20);
    const s = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "Content-Type": "application/x-presparse-frame", "Content-Length": String(1.5 * 2 ** 30) });
      let n = 0;
      const pump = () => {
        while (n < 1536 && res.write(chunk)) n++;
        if (n < 1536 && !res.destroyed) res.once("drain", pump); else res.end();
      };
      pump();
    });
    s.listen(0, "127.0.0.1", () => console.log(s.address().port));
  `,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise((r) => server.stdout.once("data", (c) => r(Number(String(c).trim()))));
  const headPath = join(tmp, "head.safetensors");
  writeFileSync(headPath, lib.encodeModel(head).bytes);
  const client = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `
    const { existsSync, readFileSync } = await import("node:fs");
    const ops = ${JSON.stringify(join(dist, "ops_index.js"))};
    const main = ${JSON.stringify(join(dist, "index.js"))};
    const lib = { ...(existsSync(ops) ? await import(ops) : {}), ...(await import(main)) };
    const engine = await lib.defaultEngine();
    const head = lib.decodeModel(engine, readFileSync(${JSON.stringify(headPath)}), { role: "head" }).model;
    const client = new lib.SplitClient({ head, serverUrl: "http://127.0.0.1:${port}", policy: null, timeoutMs: 60000 });
    const before = process.memoryUsage().rss / 2 ** 20;
    const t = performance.now();
    let why = "accepted";
    try { await client.infer([new Array(head.inputSize).fill(0.5)]); } catch (e) { why = e.message.slice(0, 100); }
    const peak = process.resourceUsage().maxRSS / 1024, ms = performance.now() - t;
    console.log("client: a 200 declaring 1.5 GiB: client RSS " + before.toFixed(0) + " → peak " + peak.toFixed(0) +
      " MiB in " + ms.toFixed(0) + " ms — " + why);
  `,
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  await new Promise((r) => client.on("exit", r));
  server.kill("SIGKILL");
}

for (const x of [head, tail, paper]) x.dispose();
rmSync(tmp, { recursive: true, force: true });
