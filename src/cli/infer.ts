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
import { engine, heldOutFromFlags, linkFlag, pct, slowdownFlag, trainedSeed } from "./common.js";
import { startLink } from "../node/link.js";
import { formatLink } from "../split/links.js";
import type { Engine } from "../engine/engine.js";
import type { Head } from "../nn/model.js";
import type { SplitClientOptions } from "../split/client.js";

export const inferCommand: Command = {
  name: "infer",
  summary: "run a split model: the head here, the tail on a presparse server",
  usage: `
Usage: presparse infer --head FILE | --model FILE --server URL [--data mnist|DIR] [--dtype f32|f16|int8]
                       [--exit-policy P] [--batch N] [--limit N] [--transport http|ws]
                       [--link SPEC|PRESET] [--edge-slowdown F] [--token-file FILE] [--json]

Classifies the test half of a dataset: each batch runs through the head locally, samples an edge exit is
confident about stop there, the rest go to the server in one frame. Prints accuracy, the edge exit rate,
bytes sent per sample (against the raw 1-byte-per-pixel input) and latency percentiles per sample. With
--model (full offload) nothing runs here: every sample goes to a server of the whole model as its input.

  --head FILE           the edge bundle written by presparse split (head.safetensors)
  --model FILE          full offload: the whole model file the server serves (only its identity is used here)
  --server URL          the tail server, e.g. http://127.0.0.1:8080
  --link SPEC|PRESET    send through an emulated link: lte, 3g, wifi, lora, or RATE[/RATE],RTT[,JITTER]
                        (e.g. 5mbit,40ms); bytes up and down are then counted on the wire, headers included
  --edge-slowdown F     report latencies as if the edge computed F times slower than this machine (default 1)
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
    model: { type: "string" },
    link: { type: "string" },
    "edge-slowdown": { type: "string" },
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
    if ((v.head === undefined) === (v.model === undefined))
      throw new UsageError(
        "infer: give --head FILE (split) or --model FILE (full offload) (see presparse infer --help)",
      );
    const path = (v.head ?? v.model) as string;
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
    const spec = linkFlag("infer", v);
    // the emulated link relays bytes, not TLS: it stands before a plain-HTTP server, at host:port (80 by default)
    const target = spec && linkTarget(serverUrl);
    const slowdown = slowdownFlag("infer", v);
    // the edge side runs on one thread, as the edge device it stands for (and starts no pool)
    const eng = await engine(1);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      const what = v.head ? "head" : "model";
      throw new ValidationError(
        `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const edge = edgeOf(eng, bytes, path, v.head !== undefined);
    const policyText = v["exit-policy"] as string | undefined;
    if (!edge.head && policyText !== undefined && policyText !== "none")
      throw new UsageError("infer: --exit-policy goes with --head: full offload has no edge exits");
    const policy =
      policyText === "none" || !edge.head
        ? null
        : policyText !== undefined
          ? parseExitPolicy(policyText, edge.head.exits.length)
          : undefined;
    const { test, storedFeatures: rawBytes } = heldOutFromFlags("infer", v, edge.inputSize, edge.dataSeed);
    const n = Math.min(test.n, int("infer", "limit", v.limit, test.n, 1));
    // Node ≥ 22 has a WebSocket client built in; on Node 20 the ws package's serves
    const WS =
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? (WebSocket as unknown as WebSocketConstructor);
    const link = target ? await startLink({ target, link: spec! }) : undefined;
    const via = link?.url ?? serverUrl;
    // the link is closed whatever fails after it started (an open one would keep the process alive)
    let client: SplitClient | undefined, batcher: Batcher | undefined;
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const latencies: number[] = [];
    let right = 0,
      exited = 0,
      bytesSent = 0,
      retries = 0,
      requests = 0;
    const t0 = performance.now();
    try {
      client = new SplitClient({ ...edge.client, serverUrl: via, policy, dtype, transport, token, WebSocket: WS });
      batcher = new Batcher(eng, test, Math.min(batch, n));
      for (let s = 0; s < n; s += batch) {
        const size = Math.min(batch, n - s);
        const r = await client.infer(batcher.load(order, s, size));
        r.samples.forEach((x, j) => {
          if (x.label === test.y[s + j]) right++;
          if (x.exit < edge.final) exited++;
          latencies.push(x.latencyMs + (slowdown - 1) * r.totals.headMs);
        });
        bytesSent += r.totals.bytesSent;
        retries += r.totals.retries;
        requests += r.totals.requests;
      }
    } finally {
      batcher?.dispose();
      client?.dispose();
      edge.head?.dispose();
      await link?.close();
    }
    const wire = link?.stats();
    const seconds = (performance.now() - t0) / 1000;
    const lat = percentiles(latencies);
    const sent = n - exited;
    const out = {
      [v.head ? "head" : "model"]: path,
      server: serverUrl,
      hash: edge.hash,
      offload: !edge.head,
      link: spec ? { ...spec, spec: formatLink(spec) } : null,
      edgeSlowdown: slowdown,
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
      // on the wire, HTTP or WebSocket framing and the connection's first bytes included
      wireBytesPerSample: wire ? { up: wire.up.bytes / n, down: wire.down.bytes / n } : null,
      requests,
      retries,
      latencyMs: { p50: lat.p50, p95: lat.p95, p99: lat.p99, max: lat.max },
      samplesPerSecond: n / seconds,
    };
    if (v.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      const ms = (x: number) => `${x.toFixed(2)} ms`;
      const what = edge.head ? `from ${path}` : `offloaded whole to ${path}'s server`;
      const over = spec ? `, link ${spec.name ?? formatLink(spec)}` : "";
      process.stdout.write(
        `${n} samples ${what} via ${serverUrl} over ${transport}${over} ` +
          `(batch ${batch}, ${dtype} frames${out.policy ? `, policy ${out.policy}` : ", no edge exit"})\n`,
      );
      process.stdout.write(
        `  accuracy ${pct(out.accuracy)}, answered on the edge ${pct(out.exitRate)} (${exited}), by the server ` +
          `${sent}\n`,
      );
      process.stdout.write(
        `  sent ${out.bytesPerSample.toFixed(1)} B/sample on average (${out.bytesPerSentSample.toFixed(1)} B per ` +
          `sample sent) vs ${rawBytes} B raw: ${(rawBytes / Math.max(out.bytesPerSample, 1e-9)).toFixed(1)}× less\n`,
      );
      if (out.wireBytesPerSample)
        process.stdout.write(
          `  on the link ${out.wireBytesPerSample.up.toFixed(1)} B up and ` +
            `${out.wireBytesPerSample.down.toFixed(1)} B down per sample, protocol included\n`,
        );
      if (slowdown !== 1) process.stdout.write(`  latencies with the edge ${slowdown}× slower than this machine\n`);
      process.stdout.write(
        `  latency per sample p50 ${ms(out.latencyMs.p50)}, p95 ${ms(out.latencyMs.p95)}, p99 ` +
          `${ms(out.latencyMs.p99)}; ${requests} requests, ${retries} retries, ${out.samplesPerSecond.toFixed(0)} ` +
          `samples/s\n`,
      );
    }
  },
};

/** What runs on the edge: a head, or nothing (full offload: only the whole model's identity is kept). */
function edgeOf(eng: Engine, bytes: Uint8Array, path: string, isHead: boolean) {
  if (isHead) {
    const head: Head = decodeModel(eng, bytes, { source: path, role: "head" }).model;
    const s = head.split;
    return {
      head,
      client: { head },
      hash: s.hash,
      inputSize: head.inputSize,
      final: s.totalExits,
      dataSeed: s.dataSeed ?? 0,
    };
  }
  const loaded = decodeModel(eng, bytes, { source: path });
  const m = loaded.model;
  const offload = { hash: loaded.hash, inputShape: m.inputShape, classes: m.classes, exits: m.exits.length };
  m.dispose();
  if (m.split)
    throw new ValidationError(`infer: ${path} is the ${m.split.role} of a split; --model takes a whole model`);
  const client: Pick<SplitClientOptions, "offload"> = { offload };
  const inputSize = m.inputShape.reduce((a, b) => a * b, 1);
  return {
    head: undefined,
    client,
    hash: loaded.hash,
    inputSize,
    final: m.exits.length,
    dataSeed: trainedSeed(loaded.spec.extra),
  };
}

/** The host:port an emulated link relays to, for an http:// server URL. */
function linkTarget(serverUrl: string): string {
  let u: URL | undefined;
  try {
    u = new URL(serverUrl);
  } catch {}
  if (u?.protocol !== "http:")
    throw new UsageError(`infer: --link goes with an http:// --server, got ${JSON.stringify(serverUrl)}`);
  return `${u.hostname}:${u.port || 80}`;
}
