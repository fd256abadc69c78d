// The tail server on loopback: hundreds of concurrent requests each get their own answer, bit-exact against a local
// tail; every refusal has its status and a JSON body and the server keeps serving; a full queue answers 503 with
// Retry-After while every accepted request is still answered; timeouts give 504; close and SIGTERM drain; metrics.
import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { softmax } from "../src/ops/softmax_xent.js";
import { decodeFrame, encodeFrame, frameErrorBound } from "../src/split/frame.js";
import { startServer } from "../src/server/index.js";
import { getEngine } from "./helpers/engine.js";
import { tailServers } from "./helpers/tail_servers.js";
import {
  FRAME_TYPE,
  activationFrame,
  errorOf,
  localLogits,
  postFrame,
  raw,
  spawnCli,
  splitModel,
  tempFiles,
  until,
} from "./helpers/server_harness.js";

const engine = await getEngine();
const { tail, tailBytes, ref, serve } = tailServers(engine, 3);

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length),
    y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

function localProbabilities(z: Float32Array, C: number, n: number): Float32Array {
  const Z = Matrix.from(engine, C, n, z),
    P = new Matrix(engine, C, n);
  const p = softmax(Z, P).toArray();
  Z.dispose();
  P.dispose();
  return p;
}

/** The head of a frame POST as raw bytes, for a socket that sends the body itself. */
function postHead(length: number): string {
  return `POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: ${FRAME_TYPE}\r\nContent-Length: ${length}\r\n\r\n`;
}

/** Prometheus text → sample name{labels} → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe("tail server", () => {
  it(
    "300 concurrent requests of 1–8 samples each get their own answer " +
      "(f32 bit-exact; f16/int8 within the bound; probabilities)",
    async () => {
      const s = await serve({ maxBatch: 32, maxDelayMs: 2 });
      const C = tail.classes;
      const jobs = Array.from({ length: 300 }, (_, i) => {
        const n = 1 + ((i * 7919) % 8);
        const dtype = (["f32", "f32", "f16", "int8"] as const)[i % 4]!;
        const probs = i % 5 === 0;
        const { data, bytes } = activationFrame(tail, n, 1000 + i, dtype);
        // the server computes on the decoded activation: that is what the reference gets too
        const decoded = decodeFrame(bytes).data;
        return { n, dtype, probs, bytes, data, decoded };
      });
      const responses = await Promise.all(
        jobs.map((j) => postFrame(s.url, j.bytes, j.probs ? "?output=probabilities" : "")),
      );
      let batched = 0;
      responses.forEach((r, i) => {
        const j = jobs[i]!;
        expect(r.status, r.body.toString()).toBe(200);
        expect(r.headers["content-type"]).toBe(FRAME_TYPE);
        const f = decodeFrame(new Uint8Array(r.body), {}, { modelHash: tail.split.hash, splitId: tail.split.cut });
        expect(f.kind).toBe(j.probs ? "probabilities" : "logits");
        expect(f.dtype).toBe(j.dtype);
        expect(f.shape).toEqual([C, j.n]);
        let want = localLogits(ref, j.decoded, j.n);
        if (j.probs) want = localProbabilities(want, C, j.n);
        if (j.dtype === "f32") expect(sameBits(f.data, want), `request ${i}`).toBe(true);
        else {
          // the answer frame's own quantization is the only difference
          for (let k = 0; k < want.length; k++)
            expect(Math.abs(f.data[k]! - want[k]!)).toBeLessThanOrEqual(frameErrorBound(j.dtype, want[k]!, f.scale));
        }
        if (Number(r.headers["x-presparse-batch-requests"]) > 1) batched++;
        expect(Number(r.headers["x-presparse-batch-samples"])).toBeLessThanOrEqual(32 + 7);
      });
      expect(batched).toBeGreaterThan(0);
      const m = parseMetrics((await raw(s.url, { method: "GET", path: "/metrics" })).body.toString());
      expect(m.get('presparse_requests_total{code="200",path="/v1/infer",transport="http"}')).toBe(300);
      expect(m.get('presparse_samples_total{transport="http"}')).toBe(jobs.reduce((a, j) => a + j.n, 0));
      expect(m.get("presparse_batch_size_sum")).toBe(jobs.reduce((a, j) => a + j.n, 0));
      expect(m.get("presparse_batch_requests_sum")).toBe(300);
      expect(m.get("presparse_batch_size_count")).toBeLessThan(300);
      expect(m.get('presparse_request_duration_seconds_count{transport="http"}')).toBe(300);
      expect(m.get('presparse_request_duration_seconds_bucket{le="+Inf",transport="http"}')).toBe(300);
      expect(m.get('presparse_request_duration_seconds_count{transport="ws"}')).toBe(0);
      expect(m.get("presparse_queue_depth")).toBe(0);
      // cumulative buckets never decrease
      const buckets = [...m].filter(([k]) => k.startsWith("presparse_batch_size_bucket")).map(([, v]) => v);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    },
  );

  it("a dtype query changes the answer's dtype; logits past the f16 range come back as f32", async () => {
    const s = await serve();
    const { bytes, data } = activationFrame(tail, 3, 5, "int8");
    const r = await postFrame(s.url, bytes, "?dtype=f32");
    expect(r.status).toBe(200);
    const f = decodeFrame(new Uint8Array(r.body));
    expect(f.dtype).toBe("f32");
    expect(sameBits(f.data, localLogits(ref, decodeFrame(bytes).data, 3))).toBe(true);
    expect(data.length).toBe(tail.inputSize * 3);
    const huge = encodeFrame({
      data: new Float32Array(tail.inputSize).fill(1e7),
      shape: [tail.inputSize, 1],
      dtype: "f32",
      kind: "activation",
      splitId: tail.split.cut,
      modelHash: tail.split.hash,
    });
    const want = localLogits(ref, decodeFrame(huge).data, 1);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(65520);
    const r2 = await postFrame(s.url, huge, "?dtype=f16");
    expect(r2.status).toBe(200);
    expect(r2.headers["x-presparse-dtype"]).toBe("f32");
    expect(sameBits(decodeFrame(new Uint8Array(r2.body)).data, want)).toBe(true);
  });

  it("refuses bad requests with the right status and a JSON body, and keeps serving", async () => {
    const s = await serve({ maxBodyBytes: 4096 });
    const good = activationFrame(tail, 2, 9).bytes;
    const cases: [string, () => Promise<import("./helpers/server_harness.js").RawResponse>, number, string, string?][] =
      [
        [
          "garbage",
          () =>
            postFrame(
              s.url,
              Uint8Array.from({ length: 80 }, (_, i) => i),
            ),
          400,
          "bad_frame",
          "magic",
        ],
        [
          "flipped byte",
          () => {
            const b = good.slice();
            b[50]! ^= 1;
            return postFrame(s.url, b);
          },
          400,
          "bad_frame",
          "checksum",
        ],
        ["empty body", () => postFrame(s.url, new Uint8Array(0)), 400, "bad_frame", "length"],
        [
          "wrong width",
          () =>
            postFrame(
              s.url,
              encodeFrame({
                data: new Float32Array(6),
                shape: [3, 2],
                dtype: "f32",
                kind: "activation",
                splitId: tail.split.cut,
                modelHash: tail.split.hash,
              }),
            ),
          400,
          "bad_frame",
          "dims",
        ],
        [
          "rank 1",
          () =>
            postFrame(
              s.url,
              encodeFrame({
                data: new Float32Array(tail.inputSize),
                shape: [tail.inputSize],
                dtype: "f32",
                kind: "activation",
                splitId: tail.split.cut,
                modelHash: tail.split.hash,
              }),
            ),
          400,
          "bad_frame",
          "dims",
        ],
        [
          "a NaN activation",
          () =>
            postFrame(
              s.url,
              encodeFrame({
                data: new Float32Array(tail.inputSize * 2).fill(NaN, 3, 4),
                shape: [tail.inputSize, 2],
                dtype: "f32",
                kind: "activation",
                splitId: tail.split.cut,
                modelHash: tail.split.hash,
                nonFinite: "allow",
              }),
            ),
          400,
          "bad_frame",
          "payload",
        ],
        [
          "other model",
          () => postFrame(s.url, activationFrame(tail, 2, 9, "f32", { modelHash: "0123456789abcdef" }).bytes),
          409,
          "frame_mismatch",
          "modelHash",
        ],
        [
          "other split",
          () => postFrame(s.url, activationFrame(tail, 2, 9, "f32", { splitId: 2 }).bytes),
          409,
          "frame_mismatch",
          "splitId",
        ],
        [
          "logits sent as input",
          () => postFrame(s.url, activationFrame(tail, 2, 9, "f32", { kind: "logits" }).bytes),
          409,
          "frame_mismatch",
          "kind",
        ],
        ["declared too large", () => postFrame(s.url, new Uint8Array(5000)), 413, "too_large", "length"],
        [
          "streamed too large",
          () =>
            raw(s.url, {
              headers: { "Content-Type": FRAME_TYPE, "Transfer-Encoding": "chunked" },
              body: [good, new Uint8Array(3000), new Uint8Array(3000)],
            }),
          413,
          "too_large",
          "length",
        ],
        [
          "content type",
          () => postFrame(s.url, good, "", { "Content-Type": "application/octet-stream" }),
          415,
          "unsupported_media_type",
          "content-type",
        ],
        ["no content type", () => raw(s.url, { body: good }), 415, "unsupported_media_type", "content-type"],
        ["bad output", () => postFrame(s.url, good, "?output=argmax"), 400, "bad_query", "output"],
        ["bad dtype", () => postFrame(s.url, good, "?dtype=f64"), 400, "bad_query", "dtype"],
        ["unknown path", () => raw(s.url, { method: "GET", path: "/v2/infer" }), 404, "not_found"],
        ["GET /v1/infer", () => raw(s.url, { method: "GET", path: "/v1/infer" }), 405, "method_not_allowed"],
        [
          "POST /healthz",
          () => raw(s.url, { method: "POST", path: "/healthz", body: good }),
          405,
          "method_not_allowed",
        ],
      ];
    for (const [what, send, status, code, field] of cases) {
      const r = await send();
      expect(r.status, `${what}: ${r.body.toString()}`).toBe(status);
      const e = errorOf(r);
      expect(e.code, what).toBe(code);
      if (field) expect(e.field, what).toBe(field);
      if (status === 405) expect(r.headers.allow).toBeTruthy();
      // the server still answers a good request (on a fresh or reused connection)
      const ok = await postFrame(s.url, good);
      expect(ok.status, `after ${what}`).toBe(200);
    }
    const m = parseMetrics((await raw(s.url, { method: "GET", path: "/metrics" })).body.toString());
    expect(m.get('presparse_requests_total{code="409",path="/v1/infer",transport="http"}')).toBe(3);
    expect(m.get('presparse_requests_total{code="404",path="other",transport="http"}')).toBe(1);
    expect(m.get('presparse_requests_total{code="200",path="/v1/infer",transport="http"}')).toBe(cases.length);
  });

  it("a full queue answers 503 with Retry-After, and every accepted request is still answered", async () => {
    const s = await serve({ maxQueue: 12, maxBatch: 64, maxDelayMs: 1000, retryAfterSeconds: 2 });
    const frames = Array.from({ length: 40 }, (_, i) => activationFrame(tail, 1 + (i % 3), 50 + i));
    const rs = await Promise.all(frames.map((f) => postFrame(s.url, f.bytes)));
    const ok = rs.filter((r) => r.status === 200),
      busy = rs.filter((r) => r.status === 503);
    expect(ok.length + busy.length).toBe(40);
    expect(ok.length).toBeGreaterThan(0);
    expect(busy.length).toBeGreaterThan(0);
    // accepted samples never exceed the queue bound (all arrive within the 1 s delay, on a busy machine too, so one
    // batch holds them)
    const acceptedSamples = rs.reduce((a, r, i) => a + (r.status === 200 ? 1 + (i % 3) : 0), 0);
    expect(acceptedSamples).toBeLessThanOrEqual(12);
    for (const r of busy) {
      expect(r.headers["retry-after"]).toBe("2");
      expect(errorOf(r).code).toBe("overloaded");
    }
    rs.forEach((r, i) => {
      if (r.status === 200)
        expect(sameBits(decodeFrame(new Uint8Array(r.body)).data, localLogits(ref, frames[i]!.data, 1 + (i % 3)))).toBe(
          true,
        );
    });
    // a request with more samples than the queue can ever hold is too large, not overloaded
    const big = await postFrame(s.url, activationFrame(tail, 13, 1).bytes);
    expect(big.status).toBe(413);
    expect(errorOf(big).field).toBe("dims");
  });

  it("a request not answered within the timeout gets 504 and leaves the queue", async () => {
    const s = await serve({ timeoutMs: 60, maxDelayMs: 400, maxBatch: 64 });
    const t = Date.now();
    const rs = await Promise.all([1, 2, 3].map((i) => postFrame(s.url, activationFrame(tail, 1, i).bytes)));
    expect(Date.now() - t).toBeLessThan(350);
    for (const r of rs) {
      expect(r.status).toBe(504);
      expect(errorOf(r).code).toBe("timeout");
    }
    expect(s.queueDepth()).toEqual({ requests: 0, samples: 0 });
  });

  it(
    "healthz reports the model and the queue; close() drains: every queued request answered, " +
      "then the port is shut",
    async () => {
      const s = await serve({ maxDelayMs: 400, maxBatch: 1000 });
      const h = await raw(s.url, { method: "GET", path: "/healthz" });
      expect(h.status).toBe(200);
      const body = JSON.parse(h.body.toString());
      expect(body).toMatchObject({
        ok: true,
        modelHash: tail.split.hash,
        split: { after: 1, splitId: 1, activationWidth: tail.inputSize, classes: tail.classes },
        queue: { requests: 0, samples: 0 },
      });
      const frames = Array.from({ length: 25 }, (_, i) => activationFrame(tail, 2, 300 + i));
      const pending = Promise.all(frames.map((f) => postFrame(s.url, f.bytes)));
      await until(() => s.queueDepth().requests === 25, "25 queued requests");
      const t = Date.now();
      await s.close();
      // drained without waiting out the 400 ms batching delay
      expect(Date.now() - t).toBeLessThan(350);
      const rs = await pending;
      rs.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(sameBits(decodeFrame(new Uint8Array(r.body)).data, localLogits(ref, frames[i]!.data, 2))).toBe(true);
      });
      await expect(raw(s.url, { method: "GET", path: "/healthz", agent: false })).rejects.toThrow(/ECONNREFUSED/);
    },
  );

  it("counts a client that leaves before its answer as 499 and takes its request out of the queue", async () => {
    const s = await serve({ maxDelayMs: 10_000 });
    const frame = activationFrame(tail, 2, 21).bytes;
    const sock = connect(s.port, "127.0.0.1");
    sock.on("error", () => {});
    sock.write(postHead(frame.length));
    sock.write(frame);
    await until(() => s.queueDepth().requests === 1, "a queued request");
    // a reset: the connection is gone both ways (a FIN alone may be a half-close, which is answered: below)
    sock.resetAndDestroy();
    await until(() => s.metrics.requests.get({ path: "/v1/infer", code: "499", transport: "http" }) === 1, "a 499");
    expect(s.queueDepth()).toEqual({ requests: 0, samples: 0 });
    expect(s.metrics.render()).toMatch(/^presparse_inflight_requests 0$/m);
  });

  it("answers unparseable HTTP with 400 bad_request and Connection: close", async () => {
    const s = await serve();
    const text = await new Promise<string>((resolve) => {
      let out = "";
      const sock = connect(s.port, "127.0.0.1", () => sock.write("NOT HTTP AT ALL\r\n\r\n"));
      sock.on("data", (c: Buffer) => (out += c.toString()));
      sock.on("close", () => resolve(out));
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toMatch(/\r\nConnection: close\r\n/);
    const error = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error;
    expect(error).toMatchObject({ status: 400, code: "bad_request" });
  });

  it("close() still answers a request whose body was arriving when the drain began", async () => {
    const s = await serve({ maxDelayMs: 10_000 });
    const f = activationFrame(tail, 1, 22);
    const sock = connect(s.port, "127.0.0.1");
    let out = "";
    sock.on("data", (c: Buffer) => (out += c.toString("latin1")));
    const ended = new Promise((r) => sock.on("close", r));
    sock.write(postHead(f.bytes.length));
    sock.write(f.bytes.subarray(0, 10));
    await until(() => /^presparse_inflight_requests 1$/m.test(s.metrics.render()), "a request in flight");
    const closed = s.close();
    await new Promise((r) => setTimeout(r, 20));
    sock.write(f.bytes.subarray(10));
    await Promise.all([closed, ended]);
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out).toMatch(/\r\nConnection: close\r\n/);
    const body = Buffer.from(out.slice(out.indexOf("\r\n\r\n") + 4), "latin1");
    expect(sameBits(decodeFrame(new Uint8Array(body)).data, localLogits(ref, f.data, 1))).toBe(true);
  });

  it("rejects a head bundle as the server's model, and a port already in use", async () => {
    const other = splitModel(engine, 4);
    await expect(startServer({ model: other.headBytes, engine, port: 0 })).rejects.toThrow(/extra\.split\.role/);
    const s = await serve();
    await expect(startServer({ model: tailBytes, engine, port: s.port })).rejects.toThrow(
      /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
    );
    expect((await postFrame(s.url, activationFrame(tail, 1, 2).bytes)).status).toBe(200);
    for (const x of [other.model, other.head, other.tail]) x.dispose();
  });
});

describe("presparse serve (child process)", () => {
  const files = tempFiles({ "tail.safetensors": tailBytes });
  afterAll(() => files.cleanup());

  it("SIGTERM drains: every accepted request gets 200, then the process exits 0", async () => {
    const { child, url, exited, stderr } = await spawnCli([
      "serve",
      "--model",
      files.path("tail.safetensors"),
      "--port",
      "0",
      "--max-delay-ms",
      "500",
      "--max-batch",
      "1000",
    ]);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const frames = Array.from({ length: 30 }, (_, i) => activationFrame(tail, 1 + (i % 4), 700 + i));
      const pending = Promise.all(frames.map((f) => postFrame(url, f.bytes)));
      await until(
        async () =>
          JSON.parse((await raw(url, { method: "GET", path: "/healthz", agent: false })).body.toString()).queue
            .requests === 30,
        "30 queued requests",
      );
      child.kill("SIGTERM");
      const rs = await pending;
      rs.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(sameBits(decodeFrame(new Uint8Array(r.body)).data, localLogits(ref, frames[i]!.data, 1 + (i % 4)))).toBe(
          true,
        );
      });
      expect(await exited, stderr()).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("--workers 2 serves from two processes on one port, replaces a crashed worker, and stops on SIGTERM", async () => {
    const { child, url, exited, stderr } = await spawnCli([
      "serve",
      "--model",
      files.path("tail.safetensors"),
      "--port",
      "0",
      "--workers",
      "2",
    ]);
    try {
      // one fresh connection per request, so the primary's round robin spreads them over the workers
      const pids = new Set<number>();
      for (let i = 0; i < 40 && pids.size < 2; i++) {
        const r = await raw(url, { method: "GET", path: "/healthz", agent: false });
        pids.add(JSON.parse(r.body.toString()).pid);
      }
      expect(pids.size).toBe(2);
      for (let i = 0; i < 8; i++) {
        const f = activationFrame(tail, 2, i);
        const a = await raw(url, { headers: { "Content-Type": FRAME_TYPE }, body: f.bytes, agent: false });
        expect(a.status).toBe(200);
        expect(sameBits(decodeFrame(new Uint8Array(a.body)).data, localLogits(ref, f.data, 2))).toBe(true);
      }
      expect(pids.has(child.pid!)).toBe(false);
      // a crashed worker is replaced (a connection the primary hands over at the instant of the crash is lost with
      // it — node:cluster cannot recover it — hence the per-request timeout here)
      const [victim] = pids;
      process.kill(victim!, "SIGKILL");
      await until(
        async () => {
          const r = await raw(url, { method: "GET", path: "/healthz", agent: false, timeoutMs: 500 }).catch(
            () => undefined,
          );
          return r !== undefined && !pids.has(JSON.parse(r.body.toString()).pid);
        },
        "a restarted worker",
        8000,
        50,
      );
      expect(stderr()).toMatch(/restarting/);
      child.kill("SIGTERM");
      expect(await exited, stderr()).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
