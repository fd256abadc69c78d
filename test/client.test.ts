// The edge client against a real tail server on loopback and against small fake servers: confident samples exit on
// the edge and never cross the wire, the rest travel in one frame and come back as the full model's answer, 503s
// are retried with backoff that honours Retry-After within its cap, other refusals surface as typed errors.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadData } from "../src/data/load.js";
import { afterAll, describe, expect, it } from "vitest";
import { SplitClient, SplitServerError, retryAfterMs, type SampleResult } from "../src/split/client.js";
import { Matrix } from "../src/engine/buffers.js";
import { ShapeError } from "../src/engine/errors.js";
import { ExitRunner, passes, type ExitPolicy } from "../src/exits/runner.js";
import { decodeModel, encodeModel } from "../src/io/model_io.js";
import { padFeatures } from "../src/nn/dataset.js";
import { Model } from "../src/nn/model.js";
import { decodeFrame, encodeFrame, frameBytes } from "../src/split/frame.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { columnStats, getEngine } from "./helpers/engine.js";
import {
  CLI,
  answerFrame,
  localLogits,
  randomValues,
  referenceTail,
  spawnCli,
  splitModel,
  stopChildren,
  tempFiles,
} from "./helpers/server_harness.js";

const engine = await getEngine();
const { model, head, tail, tailBytes } = splitModel(engine, 7);
const ref = referenceTail(engine, tailBytes);
const server: RunningServer = await startServer({ model: tailBytes, engine, port: 0, maxBatch: 64, maxDelayMs: 1 });
const width = tail.inputSize;
/** The server answers with the full model's final classifier: who answered is its number, the exit count. */
const SERVER = model.exits.length;
const fakes: Server[] = [];

afterAll(async () => {
  await stopChildren();
  await server.close();
  await Promise.all(fakes.map((s) => new Promise((r) => s.close(r))));
  for (const x of [model, head, tail, ref]) x.dispose();
});

/** A fetch that records every request body before passing it on. */
function recordingFetch(): { fetch: typeof fetch; bodies: Uint8Array[] } {
  const bodies: Uint8Array[] = [];
  return {
    bodies,
    fetch: (input, init) => {
      bodies.push(new Uint8Array(init!.body as Uint8Array));
      return fetch(input, init);
    },
  };
}

/** The full model's early-exit answer per sample (the policy on its one exit, else the final classifier). */
function expected(X: Matrix, policy: ExitPolicy | undefined) {
  const B = X.cols,
    C = model.classes;
  const [ze, zf] = model.forwardAll(X).map((z) => z.toArray());
  return Array.from({ length: B }, (_, b) => {
    const e = columnStats(ze!, C, B, b);
    if (policy && passes(policy, 0, e.confidence, e.entropy))
      return { exit: 0, label: e.label, confidence: Math.fround(e.confidence) };
    const f = columnStats(zf!, C, B, b);
    return { exit: SERVER, label: f.label, confidence: f.confidence };
  });
}

function samplesOf(x: Float32Array, F: number, B: number): Float32Array[] {
  return Array.from({ length: B }, (_, b) => Float32Array.from({ length: F }, (_, f) => x[f * B + b]!));
}

describe("SplitClient", () => {
  it("exits confident samples on the edge, sends the rest in one frame, answers as the full model does", async () => {
    const B = 64,
      F = head.inputSize;
    const x = randomValues(F * B, 11, 3);
    const X = Matrix.from(engine, F, B, x);
    // a threshold at the median exit confidence, so both kinds of sample occur
    const ze = model.forwardAll(X)[0]!.toArray();
    const conf = Array.from({ length: B }, (_, b) => columnStats(ze, model.classes, B, b).confidence).sort(
      (a, b) => a - b,
    );
    const policy: ExitPolicy = { kind: "maxprob", thresholds: [conf[B >> 1]!] };
    const want = expected(X, policy);
    const rec = recordingFetch();
    const client = new SplitClient({ head, serverUrl: `${server.url}/`, policy, fetch: rec.fetch });
    const r = await client.infer(samplesOf(x, F, B));
    const sent = want.filter((w) => w.exit === SERVER).length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(B);
    r.samples.forEach((s, b) => {
      const w = want[b]!;
      expect(s.exit, `sample ${b}`).toBe(w.exit);
      expect(s.label).toBe(w.label);
      expect(s.confidence).toBe(w.confidence);
      expect(s.latencyMs).toBeGreaterThanOrEqual(0);
    });
    // exactly one frame, holding exactly the samples that did not exit, in batch order
    expect(rec.bodies.length).toBe(1);
    const f = decodeFrame(rec.bodies[0]!);
    expect(f.shape).toEqual([width, sent]);
    const toCut = new ExitRunner(head);
    const a = toCut.run(X).activation; // every sample's activation at the cut
    toCut.dispose();
    const sentIdx = want.flatMap((w, b) => (w.exit === SERVER ? [b] : []));
    sentIdx.forEach((b, j) => {
      for (let k = 0; k < width; k++) expect(f.data[k * sent + j]).toBe(a[k * B + b]);
    });
    // bytes: the frame, shared by the sent samples; nothing for the exited ones
    expect(r.totals).toMatchObject({
      samples: B,
      exited: B - sent,
      sent,
      bytesSent: rec.bodies[0]!.length,
      requests: 1,
      retries: 0,
    });
    expect(r.totals.bytesSent).toBe(frameBytes([width, sent], "f32"));
    const share = r.samples.reduce((s, x) => s + x.bytesSent, 0);
    expect(share).toBeCloseTo(r.totals.bytesSent, 6);
    for (const s of r.samples) expect(s.bytesSent).toBe(s.exit < SERVER ? 0 : rec.bodies[0]!.length / sent);
    // the same through a feature-major matrix
    const r2 = await client.infer(X);
    expect(r2.samples.map((s) => [s.exit, s.label])).toEqual(r.samples.map((s) => [s.exit, s.label]));
    client.dispose();
    X.dispose();
  });

  it("sends nothing when all exit, all without a policy; int8 and probabilities agree on the class", async () => {
    const B = 20,
      F = head.inputSize;
    const x = randomValues(F * B, 12, 2);
    const X = Matrix.from(engine, F, B, x);
    const all = recordingFetch();
    const r = await new SplitClient({
      head,
      serverUrl: server.url,
      policy: { kind: "maxprob", thresholds: [0] },
      fetch: all.fetch,
    }).infer(X);
    expect(all.bodies.length).toBe(0);
    expect(r.totals).toMatchObject({ exited: B, sent: 0, bytesSent: 0, requests: 0 });
    expect(r.samples.every((s) => s.exit === 0 && s.bytesSent === 0)).toBe(true);

    const want = expected(X, undefined);
    const none = recordingFetch();
    const f32 = await new SplitClient({ head, serverUrl: server.url, policy: null, fetch: none.fetch }).infer(X);
    expect(none.bodies.length).toBe(1);
    expect(f32.samples.map((s) => [s.exit, s.label, s.confidence])).toEqual(
      want.map((w) => [w.exit, w.label, w.confidence]),
    );

    const q = recordingFetch();
    const int8 = await new SplitClient({
      head,
      serverUrl: server.url,
      policy: null,
      dtype: "int8",
      output: "probabilities",
      fetch: q.fetch,
    }).infer(X);
    expect(int8.totals.bytesSent).toBe(frameBytes([width, B], "int8"));
    expect(int8.totals.bytesSent).toBeLessThan(f32.totals.bytesSent / 3);
    // int8 moves the logits a little: the confidences stay close, the classes agree unless the top two are near-tied
    int8.samples.forEach((s, b) => {
      expect(Math.abs(s.confidence - want[b]!.confidence)).toBeLessThan(0.05);
    });
    const agree = int8.samples.filter((s, b) => s.label === want[b]!.label).length;
    expect(agree).toBeGreaterThanOrEqual(B - 2);
    X.dispose();
  });

  it("retries 503 with exponential backoff, honours Retry-After up to its cap, then succeeds", async () => {
    const B = 5,
      F = head.inputSize;
    const x = randomValues(F * B, 13);
    const X = Matrix.from(engine, F, B, x);
    const toCut = new ExitRunner(head);
    const act = toCut.run(X).activation;
    toCut.dispose();
    // a fake server: 503 `fails` times (with the given Retry-After), then the tail's real answer
    const fake = async (fails: number, retryAfter: string) => {
      let calls = 0;
      const times: number[] = [];
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          times.push(performance.now());
          if (calls++ < fails) {
            res.writeHead(503, { "Content-Type": "application/json", "Retry-After": retryAfter });
            res.end(JSON.stringify({ error: { status: 503, code: "overloaded", message: "busy" } }));
            return;
          }
          const body = answerFrame(ref, tail, new Uint8Array(Buffer.concat(chunks)));
          res.writeHead(200, { "Content-Type": "application/x-presparse-frame" });
          res.end(body);
        });
      });
      fakes.push(s);
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, times };
    };

    const a = await fake(2, "0");
    const c1 = new SplitClient({ head, serverUrl: a.url, policy: null, backoffMs: 40, retries: 3 });
    const r1 = await c1.infer(X);
    expect(r1.totals).toMatchObject({ requests: 3, retries: 2, sent: B });
    // waits of 40 then 80 ms (Retry-After 0 does not shorten them)
    expect(a.times[1]! - a.times[0]!).toBeGreaterThanOrEqual(35);
    expect(a.times[2]! - a.times[1]!).toBeGreaterThanOrEqual(75);
    const z = localLogits(ref, act, B);
    r1.samples.forEach((s: SampleResult, b) =>
      expect([s.exit, s.label]).toEqual([SERVER, columnStats(z, tail.classes, B, b).label]),
    );

    // Retry-After: 1 s is longer than the backoff, but the cap (250 ms) bounds it
    const b = await fake(1, "1");
    const r2 = await new SplitClient({ head, serverUrl: b.url, policy: null, backoffMs: 1, maxBackoffMs: 250 }).infer(
      X,
    );
    expect(r2.totals.retries).toBe(1);
    const waited = b.times[1]! - b.times[0]!;
    expect(waited).toBeGreaterThanOrEqual(245);
    expect(waited).toBeLessThan(900);

    // out of retries: the 503 surfaces as a typed error
    const c = await fake(10, "0");
    const err = await new SplitClient({ head, serverUrl: c.url, policy: null, backoffMs: 1, retries: 2 })
      .infer(X)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SplitServerError);
    expect(err).toMatchObject({ status: 503, code: "overloaded" });
    expect(c.times.length).toBe(3);
    X.dispose();
  });

  it("a 200 whose frame does not decode (non-finite logits) is a SplitServerError, not a raw frame error", async () => {
    const F = head.inputSize;
    const nan = new Float32Array(head.classes).fill(Number.NaN);
    const body = encodeFrame({
      data: nan,
      shape: [head.classes, 1],
      dtype: "f32",
      kind: "logits",
      splitId: head.split.cut,
      modelHash: head.split.hash,
      nonFinite: "allow",
    });
    const client = new SplitClient({
      head,
      serverUrl: "http://127.0.0.1:9",
      policy: null,
      fetch: async () => new Response(body as Uint8Array<ArrayBuffer>, { status: 200 }),
    });
    const err = await client.infer([new Float32Array(F)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SplitServerError);
    expect((err as SplitServerError).code).toBe("bad_answer");
    expect((err as SplitServerError).field).toBe("payload");
    client.dispose();
  });

  it("surfaces a refusal (a head of another model) as a typed error; rejects bad input and options", async () => {
    const other = splitModel(engine, 8);
    const err = await new SplitClient({ head: other.head, serverUrl: server.url, policy: null })
      .infer([randomValues(head.inputSize, 1)])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SplitServerError);
    expect(err).toMatchObject({ status: 409, code: "frame_mismatch", field: "modelHash" });
    const client = new SplitClient({ head, serverUrl: server.url });
    await expect(client.infer([new Float32Array(head.inputSize - 1)])).rejects.toThrow(ShapeError);
    await expect(client.infer([])).rejects.toThrow(ShapeError);
    expect(() => new SplitClient({ head, serverUrl: "localhost:8080" })).toThrow(/serverUrl/);
    expect(
      () => new SplitClient({ head, serverUrl: server.url, policy: { kind: "maxprob", thresholds: [0.5, 0.5] } }),
    ).toThrow(/thresholds/);
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs(null)).toBe(0);
    expect(retryAfterMs("soon")).toBe(0);
    expect(retryAfterMs(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(55_000);
    for (const x of [other.model, other.head, other.tail]) x.dispose();
  });
});

describe("presparse split, serve and infer", () => {
  function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it("split writes two bundles of the model; infer over them matches the early-exit system run locally", async () => {
    // the paper's shapes, randomly initialised (no training needed for an equivalence test)
    const full = Model.mlp(engine, {
      sizes: [800, 40, 40, 10],
      outDegrees: [2, 9, 10],
      seed: 5,
      exits: [{ after: 0, weight: 1 }],
      finalWeight: 0.3,
    });
    const { bytes, hash } = encodeModel(full);
    const files = tempFiles({ "model.safetensors": bytes });
    try {
      const s = await run([
        "split",
        "--model",
        files.path("model.safetensors"),
        "--after",
        "1",
        "--out-dir",
        files.path("out"),
        "--json",
      ]);
      expect(s.code, s.stderr).toBe(0);
      const info = JSON.parse(s.stdout);
      expect(info).toMatchObject({
        hash,
        after: 1,
        activationWidth: 40,
        frame: { payloadBytesPerSample: { f32: 160, f16: 80, int8: 40 }, overheadBytes: 44 },
      });
      const headBytes = readFileSync(files.path("out/head.safetensors")),
        tailBytes2 = readFileSync(files.path("out/tail.safetensors"));
      expect(info.head.bytes).toBe(headBytes.length);
      const h = decodeModel(engine, headBytes, { role: "head" }).model,
        t = decodeModel(engine, tailBytes2, { role: "tail" }).model;
      expect([h.split.hash, t.split.hash]).toEqual([hash, hash]);
      h.dispose();
      t.dispose();

      // a threshold that lets some samples exit on the edge: the median exit confidence over the test samples
      const n = 60;
      const test = padFeatures(loadData("mnist").test, 800);
      const X = Matrix.from(
        engine,
        800,
        n,
        Float32Array.from({ length: 800 * n }, (_, i) => test.x[(i % n) * 800 + Math.floor(i / n)]!),
      );
      const ze = full.forwardAll(X)[0]!.toArray();
      const conf = Array.from({ length: n }, (_, b) => columnStats(ze, 10, n, b).confidence).sort((a, b) => a - b);
      const q = conf[n >> 1]!;
      const local = new ExitRunner(full, { kind: "maxprob", thresholds: [q] }).run(X);
      const right = Array.from(local.label).filter((l, b) => l === test.y[b]).length;
      const early = Array.from(local.exit).filter((e) => e === 0).length;
      expect(early).toBeGreaterThan(0);
      expect(early).toBeLessThan(n);

      const srv = await spawnCli(["serve", "--model", files.path("out/tail.safetensors"), "--port", "0"]);
      try {
        const runs = [
          ["f32", "1", "http"],
          ["f32", "7", "http"],
          ["int8", "60", "http"],
          ["f32", "7", "ws"],
          ["int8", "60", "ws"],
        ] as const;
        for (const [dtype, batch, transport] of runs) {
          const r = await run([
            "infer",
            "--head",
            files.path("out/head.safetensors"),
            "--server",
            srv.url,
            "--data",
            "mnist",
            "--limit",
            String(n),
            "--batch",
            batch,
            "--dtype",
            dtype,
            "--exit-policy",
            `maxprob:${q}`,
            "--transport",
            transport,
            "--json",
          ]);
          expect(r.code, r.stderr).toBe(0);
          const o = JSON.parse(r.stdout);
          expect(o).toMatchObject({ n, hash, rawBytesPerSample: 784, transport });
          expect(o.exitRate).toBe(early / n);
          if (dtype === "f32") expect(o.accuracy).toBe(right / n);
          else expect(Math.abs(o.accuracy - right / n)).toBeLessThanOrEqual(2 / n);
          // one frame per batch that had samples left after the edge exit
          const perFrame = dtype === "f32" ? 160 : 40;
          if (batch === "1") expect(o.bytesPerSample).toBeCloseTo(((n - early) * (perFrame + 44)) / n, 9);
          if (batch === "60") expect(o.bytesPerSample).toBeCloseTo(((n - early) * perFrame + 44) / n, 9);
          expect(o.latencyMs.p50).toBeLessThanOrEqual(o.latencyMs.p95);
          expect(o.latencyMs.p95).toBeLessThanOrEqual(o.latencyMs.p99);
        }
        const text = await run([
          "infer",
          "--head",
          files.path("out/head.safetensors"),
          "--server",
          srv.url,
          "--limit",
          "5",
          "--exit-policy",
          "none",
        ]);
        expect(text.code, text.stderr).toBe(0);
        expect(text.stdout).toMatch(/accuracy [\d.]+%.*\n.*204\.0 B\/sample.*784 B raw: 3\.8× less/s);
        expect(text.stdout).toMatch(/p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms/);
        // a head for a different cut is refused by the server with a one-line error
        const other = await run([
          "infer",
          "--head",
          files.path("out/tail.safetensors"),
          "--server",
          srv.url,
          "--limit",
          "1",
        ]);
        expect(other.code).toBe(1);
        expect(other.stderr).toMatch(/^presparse: FormatError: .*extra\.split\.role/);
      } finally {
        srv.child.kill("SIGTERM");
        expect(await srv.exited).toBe(0);
      }
      X.dispose();
    } finally {
      files.cleanup();
      full.dispose();
    }
  });
});
