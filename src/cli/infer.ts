import { readFile } from "node:fs/promises";
import WebSocket from "ws";
import { readTokenFile } from "../server/access.js";
import type { WebSocketConstructor } from "../split/ws_transport.js";
import { Batcher } from "../nn/batcher.js";
import { SplitClient } from "../split/client.js";
import { ValidationError } from "../engine/errors.js";
import { parseExitPolicy } from "../exits/runner.js";
import type { FrameDtype } from "../split/frame.js";
import { percentiles } from "../node/experiment_split.js";
import { decodeModel } from "../io/model_io.js";
import { FRAME_DTYPES } from "../split/frame.js";
import { type Command, UsageError, int, required } from "./args.js";
import { engine, heldOutFromFlags, pct } from "./common.js";

export const inferCommand: Command = {
  name: "infer",
  summary: "run a split model: the head here, the tail on a presparse server",
  usage: `
Usage: presparse infer --head FILE --server URL [--data mnist|DIR] [--dtype f32|f16|int8]
                       [--exit-policy P] [--batch N] [--limit N] [--transport http|ws]
                       [--token-file FILE] [--json]

Classifies the test half of a dataset: each batch runs through the head locally, samples an edge exit is
confident about stop there, the rest go to the server in one frame. Prints accuracy, the edge exit rate,
bytes sent per sample (against the raw 1-byte-per-pixel input) and latency percentiles per sample.

  --head FILE           the edge bundle written by presparse split (head.safetensors)
  --server URL          the tail server, e.g. http://127.0.0.1:8080
  --data mnist|DIR      embedded digits (their 2,000-sample test split) or an IDX directory (its t10k half)
  --seed S              seed of the embedded split (default: the training seed the head bundle records, else 0)
  --dtype D             frame dtype: f32, f16 or int8 (default f32)
  --exit-policy P       maxprob:Q or entropy:T for the edge exits (default: the head's stored policy;
                        none: send every sample)
  --batch N             samples per call, one frame each (default 1)
  --limit N             classify only the first N test samples
  --transport T         http: one POST per batch (default); ws: the server's WebSocket stream
  --token-file FILE     send the first bearer token of FILE (one per line, # comments)
  --json                print the result as JSON
`,
  options: {
    head: { type: "string" },
    server: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    dtype: { type: "string" },
    "exit-policy": { type: "string" },
    batch: { type: "string" },
    limit: { type: "string" },
    transport: { type: "string" },
    "token-file": { type: "string" },
    json: { type: "boolean" },
  },
  async run(v) {
    const headPath = required("infer", "head", v.head);
    const serverUrl = required("infer", "server", v.server);
    if (!/^https?:\/\/[^/]/.test(serverUrl))
      throw new UsageError(`infer: --server expects an http(s) URL, got ${JSON.stringify(serverUrl)}`);
    const dtype = ((v.dtype as string | undefined) ?? "f32") as FrameDtype;
    if (!FRAME_DTYPES.includes(dtype)) {
      throw new UsageError(`infer: --dtype expects ${FRAME_DTYPES.join(", ")}, got ${JSON.stringify(v.dtype)}`);
    }
    const batch = int("infer", "batch", v.batch, 1, 1, 65536);
    const transport = (v.transport as string | undefined) ?? "http";
    if (transport !== "http" && transport !== "ws")
      throw new UsageError(`infer: --transport expects http or ws, got ${JSON.stringify(transport)}`);
    const token = v["token-file"] === undefined ? undefined : readTokenFile(v["token-file"] as string)[0];
    const eng = await engine();
    let bytes: Uint8Array;
    try {
      bytes = await readFile(headPath);
    } catch (e) {
      throw new ValidationError(
        `cannot read head ${headPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const head = decodeModel(eng, bytes, { source: headPath, role: "head" }).model;
    const policyText = v["exit-policy"] as string | undefined;
    const policy =
      policyText === "none"
        ? null
        : policyText !== undefined
          ? parseExitPolicy(policyText, head.exits.length)
          : undefined;
    const { test, storedFeatures: rawBytes } = heldOutFromFlags("infer", v, head.inputSize, head.split.dataSeed ?? 0);
    const n = Math.min(test.n, int("infer", "limit", v.limit, test.n, 1));
    // Node ≥ 22 has a WebSocket client built in; on Node 20 the ws package's serves
    const WS =
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? (WebSocket as unknown as WebSocketConstructor);
    const client = new SplitClient({ head, serverUrl, policy, dtype, transport, token, WebSocket: WS });
    const batcher = new Batcher(eng, test, Math.min(batch, n));
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const latencies: number[] = [];
    let right = 0,
      exited = 0,
      bytesSent = 0,
      retries = 0,
      requests = 0;
    const t0 = performance.now();
    try {
      for (let s = 0; s < n; s += batch) {
        const size = Math.min(batch, n - s);
        const r = await client.infer(batcher.load(order, s, size));
        r.samples.forEach((x, j) => {
          if (x.label === test.y[s + j]) right++;
          if (x.exit < head.split.totalExits) exited++;
          latencies.push(x.latencyMs);
        });
        bytesSent += r.totals.bytesSent;
        retries += r.totals.retries;
        requests += r.totals.requests;
      }
    } finally {
      batcher.dispose();
      client.dispose();
      head.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    const lat = percentiles(latencies);
    const sent = n - exited;
    const out = {
      head: headPath,
      server: serverUrl,
      hash: head.split.hash,
      n,
      batch,
      dtype,
      transport,
      policy: client.policy ? `${client.policy.kind}:${client.policy.thresholds.join(",")}` : null,
      accuracy: right / n,
      exitRate: exited / n,
      bytesPerSample: bytesSent / n,
      bytesPerSentSample: sent > 0 ? bytesSent / sent : 0,
      rawBytesPerSample: rawBytes,
      requests,
      retries,
      latencyMs: { p50: lat.p50, p95: lat.p95, p99: lat.p99, max: lat.max },
      samplesPerSecond: n / seconds,
    };
    if (v.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      const ms = (x: number) => `${x.toFixed(2)} ms`;
      process.stdout.write(
        `${n} samples from ${headPath} via ${serverUrl} over ${transport} (batch ${batch}, ${dtype} frames${out.policy ? `, policy ${out.policy}` : ", no edge exit"})\n`,
      );
      process.stdout.write(
        `  accuracy ${pct(out.accuracy)}, answered on the edge ${pct(out.exitRate)} (${exited}), by the server ${sent}\n`,
      );
      process.stdout.write(
        `  sent ${out.bytesPerSample.toFixed(1)} B/sample on average (${out.bytesPerSentSample.toFixed(1)} B per sample sent) vs ${rawBytes} B raw: ${(rawBytes / Math.max(out.bytesPerSample, 1e-9)).toFixed(1)}× less\n`,
      );
      process.stdout.write(
        `  latency per sample p50 ${ms(out.latencyMs.p50)}, p95 ${ms(out.latencyMs.p95)}, p99 ${ms(out.latencyMs.p99)}; ${requests} requests, ${retries} retries, ${out.samplesPerSecond.toFixed(0)} samples/s\n`,
      );
    }
  },
};
