// The WebSocket stream (GET /v1/stream) on loopback: many requests in flight on one connection, each answered once
// under its id and bit-exact against a local tail, through the same batch queue as HTTP; a bad message is answered
// for its id and the connection stays open; a full queue answers the overflow with the retryable overload; a
// closing server answers everything it accepted, then closes with 1001; SplitClient over the stream answers as over
// HTTP and retries the same way, over a dropped connection too.
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { Matrix } from "../src/engine/buffers.js";
import { ValidationError } from "../src/engine/errors.js";
import { ExitRunner } from "../src/exits/runner.js";
import { decodeFrame, encodeFrame } from "../src/split/frame.js";
import { frameErrorBound } from "../src/split/frame.js";
import { SplitClient, SplitServerError } from "../src/split/client.js";
import { STREAM_PROTOCOL, type WebSocketConstructor } from "../src/split/ws_transport.js";
import { getEngine } from "./helpers/engine.js";
import { tailServers } from "./helpers/tail_servers.js";
import {
  activationFrame,
  answerFrame,
  localLogits,
  randomValues,
  raw,
  splitModel,
  until,
} from "./helpers/server_harness.js";
import { openStream, type StreamMessage, type UpgradeRefusal } from "./helpers/stream_harness.js";

const engine = await getEngine();
const { head, tail, ref, serve } = tailServers(engine, 4);
const WS = WebSocket as unknown as WebSocketConstructor;

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const byId = (ms: StreamMessage[]) => new Map(ms.map((m) => [m.id, m]));
const isError = (m: StreamMessage | undefined): m is Extract<StreamMessage, { error: unknown }> =>
  m !== undefined && "error" in m;
const decoded = (m: StreamMessage | undefined) => {
  if (m === undefined || isError(m)) throw new Error(`not an answer: ${JSON.stringify(m)}`);
  return decodeFrame(m.frame, {}, { modelHash: tail.split.hash, splitId: tail.split.cut });
};

describe("the stream", () => {
  it("carries 300 requests in flight on two connections, each answered once by id, bit-exact, batched", async () => {
    const s = await serve({ maxBatch: 32, maxDelayMs: 2 });
    const [a, b] = await Promise.all([openStream(s.url), openStream(s.url, { query: "?output=probabilities" })]);
    expect(a.ws.protocol).toBe("");
    const jobs = Array.from({ length: 300 }, (_, i) => {
      const n = 1 + ((i * 7919) % 4);
      const dtype = (["f32", "f32", "f16", "int8"] as const)[i % 4]!;
      const f = activationFrame(tail, n, 3000 + i, dtype);
      return {
        n,
        dtype,
        bytes: f.bytes,
        input: decodeFrame(f.bytes).data,
        on: i % 3 === 0 ? b : a,
        id: 1_000_000 + 17 * i,
      };
    });
    for (const j of jobs) j.on.send(j.id, j.bytes);
    const answers = new Map([
      ...byId(await a.received(jobs.filter((j) => j.on === a).length)),
      ...byId(await b.received(jobs.filter((j) => j.on === b).length)),
    ]);
    expect(answers.size).toBe(jobs.length);
    for (const j of jobs) {
      const f = decoded(answers.get(j.id));
      expect([f.kind, f.dtype, f.shape]).toEqual([
        j.on === b ? "probabilities" : "logits",
        j.dtype,
        [tail.classes, j.n],
      ]);
      if (j.on === b) continue;
      const want = localLogits(ref, j.input, j.n);
      if (j.dtype === "f32") expect(bits(f.data), `request ${j.id}`).toEqual(bits(want));
      else
        want.forEach((w, k) =>
          expect(Math.abs(f.data[k]! - w)).toBeLessThanOrEqual(frameErrorBound(j.dtype, w, f.scale)),
        );
    }
    // one queue for every transport: the requests shared batches, and were counted as the stream's
    expect(s.metrics.batchRequests.sum).toBe(jobs.length);
    expect(s.metrics.batchRequests.count).toBeLessThan(jobs.length / 2);
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "200", transport: "ws" })).toBe(jobs.length);
    expect(s.metrics.samples.get({ transport: "ws" })).toBe(jobs.reduce((t, j) => t + j.n, 0));
    expect(s.metrics.render()).toMatch(/^presparse_stream_connections 2$/m);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
    await until(
      () => /^presparse_stream_connections 0$/m.test(s.metrics.render()),
      "the connections to be counted closed",
    );
  });

  it("answers a bad frame, a foreign one, a bad message, a duplicate id with an error by id; stays open", async () => {
    const s = await serve({ maxDelayMs: 300 });
    const c = await openStream(s.url);
    const good = activationFrame(tail, 2, 41);
    const broken = good.bytes.slice();
    broken[0] ^= 0xff;
    const foreign = activationFrame(tail, 1, 42, "f32", { modelHash: "0123456789abcdef" }).bytes;
    c.send(1, good.bytes);
    c.send(1, good.bytes); // 1 is still in flight: the batch waits 300 ms
    c.send(2, broken);
    c.send(3, foreign);
    c.ws.send("not a frame");
    c.ws.send(Buffer.from([7, 0]));
    const wide = encodeFrame({
      data: randomValues(tail.inputSize + 1, 1),
      shape: [tail.inputSize + 1, 1],
      dtype: "f32",
      kind: "activation",
      splitId: tail.split.cut,
      modelHash: tail.split.hash,
    });
    c.send(4, wide);
    const first = await c.received(6);
    // the ones refused before reaching the handler come first; the order does not matter
    const errs = first.filter(isError).map((m) => [m.id, m.error.status, m.error.code, m.error.field]);
    const order = (x: unknown[]) => JSON.stringify(x);
    expect(errs.sort((x, y) => order(x).localeCompare(order(y)))).toEqual(
      [
        [1, 400, "duplicate_id", "id"],
        [2, 400, "bad_frame", "magic"],
        [3, 409, "frame_mismatch", "modelHash"],
        [4, 400, "bad_frame", "dims"],
        [null, 400, "bad_message", undefined],
        [null, 400, "bad_message", undefined],
      ].sort((x, y) => order(x).localeCompare(order(y))),
    );
    // the first request 1 is still answered, and the connection keeps serving
    const [one] = (await c.received(7)).slice(6);
    expect(bits(decoded(one).data)).toEqual(bits(localLogits(ref, good.data, 2)));
    c.send(5, good.bytes);
    expect((await c.received(8))[7]!.id).toBe(5);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "400", transport: "ws" })).toBe(5);
    c.ws.close();
  });

  it("a full queue answers the overflowing ids with the retryable overload; every accepted one is served", async () => {
    const s = await serve({ maxQueue: 4, maxDelayMs: 200, retryAfterSeconds: 2 });
    const c = await openStream(s.url);
    const f = activationFrame(tail, 1, 51);
    for (let id = 0; id < 10; id++) c.send(id, f.bytes);
    const all = byId(await c.received(10));
    const refused = [...all.values()].filter(isError);
    expect(refused.map((m) => [m.id, m.error.status, m.error.code, m.retryAfter])).toEqual(
      [4, 5, 6, 7, 8, 9].map((id) => [id, 503, "overloaded", 2]),
    );
    for (const id of [0, 1, 2, 3]) expect(bits(decoded(all.get(id)).data)).toEqual(bits(localLogits(ref, f.data, 1)));
    c.ws.close();
  });

  it("close() answers all the stream accepted, 503 shutting_down after the drain began, then closes 1001", async () => {
    const s = await serve({ maxDelayMs: 10_000, retryAfterSeconds: 3 });
    const c = await openStream(s.url);
    const idle = await openStream(s.url);
    const f = activationFrame(tail, 1, 61);
    for (let id = 0; id < 5; id++) c.send(id, f.bytes);
    await until(() => s.queueDepth().requests === 5, "five queued requests");
    c.send(99, f.bytes);
    const closing = s.close();
    const got = byId(await c.received(6));
    for (let id = 0; id < 5; id++) expect(bits(decoded(got.get(id)).data)).toEqual(bits(localLogits(ref, f.data, 1)));
    const late = got.get(99);
    expect(isError(late) && [late.error.status, late.error.code, late.retryAfter]).toEqual([503, "shutting_down", 3]);
    expect(await c.closed).toEqual({ code: 1001, reason: "server shutting down" });
    expect((await idle.closed).code).toBe(1001);
    await closing;
    const refused = await openStream(s.url).catch((e: Error) => e);
    expect(String(refused)).toMatch(/ECONNREFUSED/);
  });

  it("/healthz reports readiness through a drain: 503 while the port stays open for drainDelayMs", async () => {
    const s = await serve({ drainDelayMs: 400, retryAfterSeconds: 2 });
    const c = await openStream(s.url);
    const health = async () => {
      const r = await raw(s.url, { method: "GET", path: "/healthz", agent: false });
      return [r.status, JSON.parse(r.body.toString()).ready];
    };
    expect(await health()).toEqual([200, true]);
    const t0 = performance.now();
    const closing = s.close();
    expect(await health()).toEqual([503, false]);
    const ready = await raw(s.url, { method: "GET", path: "/v2/health/ready", agent: false });
    const live = await raw(s.url, { method: "GET", path: "/v2/health/live", agent: false });
    expect([ready.status, live.status]).toEqual([400, 200]);
    const f = activationFrame(tail, 1, 65);
    const r = await raw(s.url, {
      path: "/v1/infer",
      headers: { "Content-Type": "application/x-presparse-frame" },
      body: f.bytes,
      agent: false,
    });
    expect([
      r.status,
      JSON.parse(r.body.toString()).error.code,
      r.headers["retry-after"],
      r.headers.connection,
    ]).toEqual([503, "shutting_down", "2", "close"]);
    c.send(1, f.bytes);
    const [m] = await c.received(1);
    expect("error" in m! && [m.error.code, m.retryAfter]).toEqual(["shutting_down", 2]);
    expect((await c.closed).code).toBe(1001);
    await closing;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(395);
    await expect(raw(s.url, { method: "GET", path: "/healthz", agent: false })).rejects.toThrow(/ECONNREFUSED/);
  });

  it("a client that leaves with requests in flight is counted 499 and its requests leave the queue", async () => {
    const s = await serve({ maxDelayMs: 10_000 });
    const c = await openStream(s.url);
    for (let id = 0; id < 3; id++) c.send(id, activationFrame(tail, 2, 70 + id).bytes);
    await until(() => s.queueDepth().requests === 3, "three queued requests");
    c.ws.terminate();
    await until(() => s.metrics.requests.get({ path: "/v1/infer", code: "499", transport: "ws" }) === 3, "three 499s");
    expect(s.queueDepth()).toEqual({ requests: 0, samples: 0 });
    expect(s.metrics.render()).toMatch(/^presparse_inflight_requests 0$/m);
  });

  it("refuses an upgrade it cannot serve with an HTTP answer; a plain GET gets 426; a huge message 1009", async () => {
    const s = await serve({ maxBodyBytes: 4096 });
    const refusal = (query: string, path?: string) =>
      openStream(path ? `${s.url}${path}` : s.url, { query }).then(
        () => undefined,
        (e: UpgradeRefusal) => [e.status, JSON.parse(e.body).error.code],
      );
    expect(await refusal("?output=everything")).toEqual([400, "bad_query"]);
    expect(await refusal("?dtype=f64")).toEqual([400, "bad_query"]);
    const plain = await raw(s.url, { method: "GET", path: "/v1/stream" });
    expect([plain.status, plain.headers.upgrade]).toEqual([426, "websocket"]);
    for (const [path, status] of [
      ["/v1/infer", 405],
      ["/healthz", 404],
      ["/nope", 404],
    ] as const) {
      const ws = new WebSocket(`${s.url.replace("http", "ws")}${path}`);
      const got = await new Promise<number>((r) => ws.once("unexpected-response", (_q, res) => r(res.statusCode ?? 0)));
      expect(got, path).toBe(status);
    }
    const c = await openStream(s.url, { protocols: [STREAM_PROTOCOL] });
    expect(c.ws.protocol).toBe(STREAM_PROTOCOL);
    c.send(1, new Uint8Array(5000));
    expect((await c.closed).code).toBe(1009);
  });
});

describe("SplitClient over the stream", () => {
  const F = head.inputSize;

  it("answers as over HTTP, many calls in flight on one connection", async () => {
    const s = await serve({ maxDelayMs: 1 });
    const B = 40;
    const inputs = Array.from({ length: B }, (_, b) => randomValues(F, 500 + b));
    const overHttp = new SplitClient({ head, serverUrl: s.url });
    const overWs = new SplitClient({ head, serverUrl: s.url, transport: "ws", WebSocket: WS, dtype: "f16" });
    const overWs32 = new SplitClient({ head, serverUrl: s.url, transport: "ws", WebSocket: WS });
    const probs = new SplitClient({ head, serverUrl: s.url, transport: "ws", WebSocket: WS, output: "probabilities" });
    const [h, w, w32, p] = await Promise.all(
      [overHttp, overWs, overWs32, probs].map((c) => Promise.all(inputs.map((x) => c.infer([x])))),
    );
    for (let b = 0; b < B; b++) {
      const want = h![b]!.samples[0]!;
      expect(w32![b]!.samples[0]).toMatchObject({
        exit: want.exit,
        label: want.label,
        confidence: want.confidence,
        bytesSent: want.bytesSent,
      });
      expect(p![b]!.samples[0]!.label).toBe(want.label);
      expect(w![b]!.samples[0]!.label).toBe(want.label);
      expect(w32![b]!.totals).toMatchObject({ requests: want.exit < head.exits.length ? 0 : 1, retries: 0 });
    }
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "200", transport: "ws" })).toBeGreaterThan(0);
    for (const c of [overHttp, overWs, overWs32, probs]) c.dispose();
    await until(() => /^presparse_stream_connections 0$/m.test(s.metrics.render()), "the client's streams to close");
  });

  /** A stream server answering with the reference tail, after `behave` had its say on each message (by its count). */
  async function fakeStream(behave: (ws: WebSocket, k: number, id: number) => boolean) {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const times: number[] = [];
    let k = 0;
    wss.on("connection", (ws) =>
      ws.on("message", (data: Buffer) => {
        times.push(performance.now());
        const id = data.readUInt32LE(0);
        if (behave(ws, k++, id)) return;
        const body = answerFrame(ref, tail, new Uint8Array(data.subarray(4)));
        const m = Buffer.alloc(4 + body.length);
        m.writeUInt32LE(id, 0);
        m.set(body, 4);
        ws.send(m);
      }),
    );
    const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    return {
      url,
      times,
      close: () =>
        new Promise((r) => {
          for (const c of wss.clients) c.terminate();
          wss.close(r);
        }),
    };
  }

  it("retries 503 with the HTTP client's backoff and Retry-After rule, then surfaces it as a typed error", async () => {
    const overload = (ws: WebSocket, id: number, retryAfter: number) =>
      ws.send(JSON.stringify({ id, error: { status: 503, code: "overloaded", message: "busy" }, retryAfter }));
    const X = Matrix.from(engine, F, 3, randomValues(F * 3, 77));
    const toCut = new ExitRunner(head);
    const act = toCut.run(X).activation;
    toCut.dispose();
    const a = await fakeStream((ws, k, id) => k < 2 && (overload(ws, id, 0), true));
    const c1 = new SplitClient({ head, serverUrl: a.url, policy: null, transport: "ws", WebSocket: WS, backoffMs: 40 });
    const r1 = await c1.infer(X);
    expect(r1.totals).toMatchObject({ requests: 3, retries: 2, sent: 3 });
    expect(a.times[1]! - a.times[0]!).toBeGreaterThanOrEqual(35);
    expect(a.times[2]! - a.times[1]!).toBeGreaterThanOrEqual(75);
    const z = localLogits(ref, act, 3);
    expect(r1.samples.map((x) => x.label)).toEqual(
      [0, 1, 2].map((b) => {
        let best = 0;
        for (let c = 1; c < tail.classes; c++) if (z[c * 3 + b]! > z[best * 3 + b]!) best = c;
        return best;
      }),
    );
    // retryAfter 1 s is longer than the backoff; the cap bounds it
    const b = await fakeStream((ws, k, id) => k < 1 && (overload(ws, id, 1), true));
    const c2 = new SplitClient({
      head,
      serverUrl: b.url,
      policy: null,
      transport: "ws",
      WebSocket: WS,
      backoffMs: 1,
      maxBackoffMs: 250,
    });
    expect((await c2.infer(X)).totals.retries).toBe(1);
    expect(b.times[1]! - b.times[0]!).toBeGreaterThanOrEqual(245);
    const c = await fakeStream((ws, _k, id) => (overload(ws, id, 0), true));
    const c3 = new SplitClient({
      head,
      serverUrl: c.url,
      policy: null,
      transport: "ws",
      WebSocket: WS,
      backoffMs: 1,
      retries: 2,
    });
    const err = await c3.infer(X).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SplitServerError);
    expect(err).toMatchObject({ status: 503, code: "overloaded" });
    expect(c.times.length).toBe(3);
    for (const x of [c1, c2, c3]) x.dispose();
    await Promise.all([a, b, c].map((f) => f.close()));
    X.dispose();
  });

  it("resends a request whose connection dropped before its answer; a refusal is a typed error", async () => {
    const f = await fakeStream((ws, k) => k === 0 && (ws.terminate(), true));
    const client = new SplitClient({
      head,
      serverUrl: f.url,
      policy: null,
      transport: "ws",
      WebSocket: WS,
      backoffMs: 5,
    });
    const r = await client.infer([randomValues(F, 81)]);
    expect(r.totals).toMatchObject({ requests: 2, retries: 1 });
    expect(f.times.length).toBe(2);
    client.dispose();
    await f.close();
    // a server that is gone: the retries run out, and the connection error surfaces
    const gone = new SplitClient({
      head,
      serverUrl: f.url,
      policy: null,
      transport: "ws",
      WebSocket: WS,
      backoffMs: 1,
      retries: 1,
    });
    await expect(gone.infer([randomValues(F, 82)])).rejects.toThrow(/could not connect/);
    gone.dispose();
    // a server's refusal keeps its status, code and field
    const other = splitModel(engine, 9);
    const s = await serve();
    const foreign = new SplitClient({
      head: other.head,
      serverUrl: s.url,
      policy: null,
      transport: "ws",
      WebSocket: WS,
    });
    await expect(foreign.infer([randomValues(F, 83)])).rejects.toMatchObject({
      status: 409,
      code: "frame_mismatch",
      field: "modelHash",
    });
    foreign.dispose();
    for (const x of [other.model, other.head, other.tail]) x.dispose();
  });

  it("needs a WebSocket constructor where the runtime has none", () => {
    const global = (globalThis as { WebSocket?: unknown }).WebSocket;
    if (global === undefined)
      expect(() => new SplitClient({ head, serverUrl: "http://127.0.0.1:1", transport: "ws" })).toThrow(
        /no WebSocket available/,
      );
    expect(
      () => new SplitClient({ head, serverUrl: "http://127.0.0.1:1", transport: "smoke" as "ws", WebSocket: WS }),
    ).toThrow(ValidationError);
  });
});
