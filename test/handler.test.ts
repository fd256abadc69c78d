// The tail server as a function, no sockets: each route answers from the request alone, each refusal has its
// status, code, field and JSON body (the same whether decided on the head or on the whole request), deadlines and
// departed clients take work out of the queue, draining refuses only what arrived after it, and the demo's files
// are routes of the same table.
import { afterAll, describe, expect, it } from "vitest";
import type { Matrix } from "../src/engine/buffers.js";
import { FRAME_MEDIA_TYPE, FrameError, FrameMismatchError, FrameTooLargeError } from "../src/split/frame.js";
import { ValidationError } from "../src/engine/errors.js";
import { decodeFrame, encodeFrame } from "../src/split/frame.js";
import { demoRoutes, type DemoResource, type DemoSite } from "../src/server/demo.js";
import { FRAME_REFUSALS, frameRefusal, type ErrorBody } from "../src/server/errors.js";
import type { Answer, Request } from "../src/server/handler.js";
import { servedTail, type ServedTail } from "../src/server/served_tail.js";
import { createService, type ServiceLimits, type TailService } from "../src/server/service.js";
import { getEngine } from "./helpers/engine.js";
import { activationFrame, localLogits, referenceTail, splitModel } from "./helpers/server_harness.js";

const engine = await getEngine();
const { model, head, tail, tailBytes } = splitModel(engine, 3);
const ref = referenceTail(engine, tailBytes);
const served = servedTail(tail);
const services: TailService[] = [];

const LIMITS: ServiceLimits = {
  maxBatch: 64,
  maxDelayMs: 1,
  maxQueue: 4096,
  timeoutMs: 10_000,
  maxBodyBytes: 4096,
  retryAfterSeconds: 1,
};

function service(o: Partial<ServiceLimits> = {}, t: ServedTail = served, extra?: Parameters<typeof createService>[2]) {
  const s = createService(t, { ...LIMITS, ...o }, extra);
  services.push(s);
  return s;
}

afterAll(() => {
  for (const s of services) s.dispose();
  for (const x of [model, head, tail, ref]) x.dispose();
});

/** A request as a transport hands it over: `target` is path and query. */
function request(method: string, target: string, body: Uint8Array = new Uint8Array(0), headers = {}): Request {
  const url = new URL(target, "http://localhost");
  return { method, path: url.pathname, query: url.searchParams, headers, body };
}

function infer(frame: Uint8Array, query = "", headers: Record<string, string> = {}): Request {
  return request("POST", `/v1/infer${query}`, frame, { "content-type": FRAME_MEDIA_TYPE, ...headers });
}

function errorOf(a: Answer): ErrorBody["error"] {
  expect(a.headers["Content-Type"]).toMatch(/^application\/json/);
  const e = (JSON.parse(a.body as string) as ErrorBody).error;
  expect(e.status).toBe(a.status);
  expect(typeof e.message).toBe("string");
  return e;
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

const [UNSUPPORTED, TOO_LARGE, NOT_ALLOWED] = ["unsupported_media_type", "too_large", "method_not_allowed"];
/** An f32 activation frame for this tail, but for its data and shape. */
const OWN = { dtype: "f32", kind: "activation", splitId: tail.split.cut, modelHash: tail.split.hash } as const;

const frameOf = (a: Answer) =>
  decodeFrame(a.body as Uint8Array, {}, { modelHash: tail.split.hash, splitId: tail.split.cut });

describe("POST /v1/infer as a function", () => {
  it("answers requests handled together with their own logits, bit-exact, and the batch they shared", async () => {
    const s = service({ maxBatch: 16 });
    const jobs = [1, 3, 2, 5].map((n, i) => ({ n, ...activationFrame(tail, n, 40 + i) }));
    const answers = await Promise.all(jobs.map((j) => s.handler.handle(infer(j.bytes))));
    answers.forEach((a, i) => {
      const j = jobs[i]!;
      expect(a.status).toBe(200);
      expect(a.headers).toMatchObject({ "Content-Type": FRAME_MEDIA_TYPE, "X-Presparse-Dtype": "f32" });
      expect(a.headers).toMatchObject({ "X-Presparse-Batch-Samples": "11", "X-Presparse-Batch-Requests": "4" });
      expect(a.samples).toBe(j.n);
      const f = frameOf(a);
      expect([f.kind, f.shape]).toEqual(["logits", [tail.classes, j.n]]);
      expect(bits(f.data)).toEqual(bits(localLogits(ref, j.data, j.n)));
    });
  });

  it("answers probabilities and the dtype asked for; a logit past the f16 range comes back as f32", async () => {
    const s = service();
    const { bytes } = activationFrame(tail, 2, 7, "int8");
    const p = await s.handler.handle(infer(bytes, "?output=probabilities"));
    const f = frameOf(p);
    expect([f.kind, f.dtype]).toEqual(["probabilities", "int8"]);
    for (let b = 0; b < 2; b++) {
      let sum = 0;
      for (let c = 0; c < tail.classes; c++) sum += f.data[c * 2 + b]!;
      expect(sum).toBeCloseTo(1, 1);
    }
    const z = await s.handler.handle(infer(bytes, "?dtype=f32"));
    expect([z.headers["X-Presparse-Dtype"], frameOf(z).dtype]).toEqual(["f32", "f32"]);
    expect(bits(frameOf(z).data)).toEqual(bits(localLogits(ref, decodeFrame(bytes).data, 2)));
    const W = tail.inputSize;
    const huge = encodeFrame({ ...OWN, shape: [W, 1], data: new Float32Array(W).fill(1e7) });
    const h = await s.handler.handle(infer(huge, "?dtype=f16"));
    expect([h.status, h.headers["X-Presparse-Dtype"], frameOf(h).dtype]).toEqual([200, "f32", "f32"]);
  });

  it("refuses each bad request with its status, code and field, on the head alone where it can", async () => {
    const s = service({ maxBodyBytes: 4096 });
    const W = tail.inputSize;
    const good = activationFrame(tail, 2, 9).bytes;
    const flipped = good.slice();
    flipped[50]! ^= 1;
    const frame = (data: Float32Array, shape: number[], extra = {}) => encodeFrame({ ...OWN, data, shape, ...extra });
    const nan = frame(new Float32Array(W * 2).fill(NaN, 3, 4), [W, 2], { nonFinite: "allow" });
    const other = (o: Parameters<typeof activationFrame>[4]) => activationFrame(tail, 2, 9, "f32", o).bytes;
    // [what, request, status, code, field, decided on the head alone]
    const cases: [string, Request, number, string, string | undefined, boolean][] = [
      ["garbage", infer(Uint8Array.from({ length: 80 }, (_, i) => i)), 400, "bad_frame", "magic", false],
      ["a flipped byte", infer(flipped), 400, "bad_frame", "checksum", false],
      ["an empty body", infer(new Uint8Array(0)), 400, "bad_frame", "length", false],
      ["the wrong width", infer(frame(new Float32Array(6), [3, 2])), 400, "bad_frame", "dims", false],
      ["rank 1", infer(frame(new Float32Array(W), [W])), 400, "bad_frame", "dims", false],
      ["a NaN activation", infer(nan), 400, "bad_frame", "payload", false],
      ["another model", infer(other({ modelHash: "0123456789abcdef" })), 409, "frame_mismatch", "modelHash", false],
      ["another split", infer(other({ splitId: 2 })), 409, "frame_mismatch", "splitId", false],
      ["logits sent as input", infer(other({ kind: "logits" })), 409, "frame_mismatch", "kind", false],
      ["a body past the limit", infer(new Uint8Array(5000)), 413, TOO_LARGE, "length", false],
      ["a declared length past it", infer(good, "", { "content-length": "5000" }), 413, TOO_LARGE, "length", true],
      ["another media type", infer(good, "", { "content-type": "text/plain" }), 415, UNSUPPORTED, "content-type", true],
      ["no media type", request("POST", "/v1/infer", good), 415, UNSUPPORTED, "content-type", true],
      ["a bad output", infer(good, "?output=argmax"), 400, "bad_query", "output", true],
      ["a bad dtype", infer(good, "?dtype=f64"), 400, "bad_query", "dtype", true],
      ["an unknown path", request("GET", "/v2/infer"), 404, "not_found", undefined, true],
      ["GET /v1/infer", request("GET", "/v1/infer"), 405, NOT_ALLOWED, undefined, true],
      ["POST /healthz", request("POST", "/healthz", good), 405, NOT_ALLOWED, undefined, true],
      ["a method named like a property", request("constructor", "/healthz"), 405, NOT_ALLOWED, undefined, true],
    ];
    for (const [what, req, status, code, field, onHead] of cases) {
      const a = await s.handler.handle(req);
      expect(a.status, what).toBe(status);
      const e = errorOf(a);
      expect([e.code, e.field], what).toEqual([code, field]);
      expect(s.handler.admit(req), what).toEqual(onHead ? a : undefined);
      if (status === 405) expect(a.headers.Allow, what).toMatch(/^(POST|GET, HEAD)$/);
    }
    const notFound = errorOf(await s.handler.handle(request("GET", "/nope"))).message;
    expect(notFound).toMatch(
      /endpoints: POST \/v1\/infer, GET \/v1\/stream, GET \/healthz, GET \/metrics, GET \/v2, .*infer$/,
    );
    expect(s.queue.depth).toEqual({ requests: 0, samples: 0 });
    expect((await s.handler.handle(infer(good))).status).toBe(200);
  });

  it("refuses on a body's first 48 bytes what its frame header shows, as the whole request would be", async () => {
    const s = service({ maxBodyBytes: 1 << 20 });
    const W = tail.inputSize;
    const good = activationFrame(tail, 2, 9).bytes;
    const frame = (data: Float32Array, shape: number[], extra = {}) => encodeFrame({ ...OWN, data, shape, ...extra });
    const flipped = good.slice();
    flipped[50]! ^= 1;
    const other = (o: Parameters<typeof activationFrame>[4]) => activationFrame(tail, 2, 9, "f32", o).bytes;
    expect([
      s.handler.prefixBytes(infer(good)),
      s.handler.prefixBytes(request("GET", "/healthz")),
      s.handler.prefixBytes(request("GET", "/nope")),
    ]).toEqual([48, 0, 0]);
    const cases: [string, Uint8Array, number | undefined, string?][] = [
      ["garbage", Uint8Array.from({ length: 80 }, (_, i) => i), 400, "magic"],
      ["the wrong width", frame(new Float32Array((W + 1) * 2), [W + 1, 2]), 400, "dims"],
      ["rank 1", frame(new Float32Array(W), [W]), 400, "dims"],
      ["another model", other({ modelHash: "0123456789abcdef" }), 409, "modelHash"],
      ["logits sent as input", other({ kind: "logits" }), 409, "kind"],
      ["too many samples for the queue", frame(new Float32Array(W * 5000), [W, 5000], { dtype: "int8" }), 413, "dims"],
      ["a header declaring more than the body limit", frame(new Float32Array(W * 30_000), [W, 30_000]), 413, "length"],
      ["a good frame", good, undefined],
      ["a flipped payload byte (the checksum needs the whole body)", flipped, undefined],
    ];
    for (const [what, bytes, status, field] of cases) {
      const a = s.handler.inspect(infer(bytes), bytes.subarray(0, 48));
      expect(a?.status, what).toBe(status);
      if (a) expect(errorOf(a).field, what).toBe(field);
      if (a && bytes.length <= 1 << 20) expect(await s.handler.handle(infer(bytes)), what).toEqual(a);
    }
  });

  it("maps the frame decoder's reasons to statuses in one table", () => {
    expect(FRAME_REFUSALS).toEqual({
      malformed: { status: 400, code: "bad_frame" },
      too_large: { status: 413, code: "too_large" },
      mismatch: { status: 409, code: "frame_mismatch" },
    });
    const refusals = [
      new FrameError("magic", ""),
      new FrameTooLargeError("dims", ""),
      new FrameMismatchError("kind", ""),
    ];
    expect(refusals.map((e) => [e.reason, frameRefusal(e).status, frameRefusal(e).field])).toEqual([
      ["malformed", 400, "magic"],
      ["too_large", 413, "dims"],
      ["mismatch", 409, "kind"],
    ]);
  });

  it("a frame the queue could never hold is too large; a full queue is overloaded with Retry-After", async () => {
    const s = service({ maxQueue: 4, maxBatch: 4, retryAfterSeconds: 3 });
    const big = await s.handler.handle(infer(activationFrame(tail, 5, 1).bytes));
    expect([big.status, errorOf(big).field]).toEqual([413, "dims"]);
    const frames = [2, 2, 1].map((n, i) => activationFrame(tail, n, 60 + i));
    const [a, b, c] = await Promise.all(frames.map((f) => s.handler.handle(infer(f.bytes))));
    expect([a!.status, b!.status]).toEqual([200, 200]);
    expect([c!.status, errorOf(c!).code, c!.headers["Retry-After"]]).toEqual([503, "overloaded", "3"]);
  });

  it("a request past its deadline gets 504 and leaves the queue, counted from its arrival", async () => {
    const s = service({ timeoutMs: 30, maxDelayMs: 10_000 });
    const t0 = performance.now();
    const a = await s.handler.handle(infer(activationFrame(tail, 1, 2).bytes));
    expect([a.status, errorOf(a).code]).toEqual([504, "timeout"]);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(s.queue.depth).toEqual({ requests: 0, samples: 0 });
    // a body that took the whole deadline to arrive leaves nothing for the batch
    const late = { ...infer(activationFrame(tail, 1, 3).bytes), arrived: performance.now() - 31 };
    expect((await s.handler.handle(late)).status).toBe(504);
    expect(s.queue.depth).toEqual({ requests: 0, samples: 0 });
  });

  it("a request whose client left leaves the queue (499, which no transport sends)", async () => {
    const s = service({ maxDelayMs: 10_000 });
    const left = new AbortController();
    const pending = s.handler.handle({ ...infer(activationFrame(tail, 2, 4).bytes), signal: left.signal });
    await new Promise((r) => setImmediate(r));
    expect(s.queue.depth).toEqual({ requests: 1, samples: 2 });
    left.abort();
    const a = await pending;
    expect([a.status, errorOf(a).code]).toEqual([499, "client_gone"]);
    expect(s.queue.depth).toEqual({ requests: 0, samples: 0 });
    const before = { ...infer(activationFrame(tail, 1, 5).bytes), signal: AbortSignal.abort() };
    expect((await s.handler.handle(before)).status).toBe(499);
    expect(s.queue.depth).toEqual({ requests: 0, samples: 0 });
  });

  it("a tail that fails on a batch gives its requests 500 internal, and the next batch is served", async () => {
    let failures = 1;
    const flaky: ServedTail = {
      ...served,
      forward: (X: Matrix) => {
        if (failures-- > 0) throw new Error("out of luck");
        return served.forward(X);
      },
    };
    const s = service({}, flaky);
    const f = activationFrame(tail, 2, 8);
    const a = await s.handler.handle(infer(f.bytes));
    expect([a.status, errorOf(a).code]).toEqual([500, "internal"]);
    expect(errorOf(a).message).toMatch(/out of luck/);
    const ok = await s.handler.handle(infer(f.bytes));
    expect(bits(frameOf(ok).data)).toEqual(bits(localLogits(ref, f.data, 2)));
  });
});

describe("health, metrics and draining as functions", () => {
  it("GET /healthz reports the model, split and queue; HEAD answers as GET; /metrics is Prometheus text", async () => {
    const s = service();
    const h = await s.handler.handle(request("GET", "/healthz"));
    expect([h.status, h.headers["Cache-Control"]]).toEqual([200, "no-store"]);
    const split = { after: 1, splitId: 1, activationWidth: tail.inputSize, classes: tail.classes };
    const queue = { requests: 0, samples: 0 };
    expect(JSON.parse(h.body as string)).toEqual({
      ok: true,
      ready: true,
      status: "serving",
      modelHash: tail.split.hash,
      split,
      queue,
      inflight: 0,
      streams: 0,
      pid: process.pid,
    });
    expect(await s.handler.handle(request("HEAD", "/healthz"))).toEqual(h);
    const m = await s.handler.handle(request("GET", "/metrics"));
    expect(m.headers["Content-Type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(m.body).toMatch(/^# HELP presparse_requests_total /);
    expect((await s.handler.handle(request("HEAD", "/metrics"))).status).toBe(200);
  });

  it("draining turns /healthz 503 and refuses later inference (503 shutting_down), not earlier requests", async () => {
    const s = service({ maxDelayMs: 10_000, retryAfterSeconds: 2 });
    const f = activationFrame(tail, 1, 11);
    const early = { ...infer(f.bytes), arrived: performance.now() };
    const queued = s.handler.handle(infer(activationFrame(tail, 1, 12).bytes));
    await new Promise((r) => setTimeout(r, 2));
    s.drain();
    const h = await s.handler.handle(request("GET", "/healthz"));
    expect([h.status, JSON.parse(h.body as string)]).toMatchObject([503, { ok: false, status: "draining" }]);
    const late = await s.handler.handle(infer(f.bytes));
    expect([late.status, errorOf(late).code, late.headers["Retry-After"]]).toEqual([503, "shutting_down", "2"]);
    expect(s.handler.admit(infer(f.bytes))?.status).toBe(503);
    // queued work runs without waiting out the delay; a request that arrived before the drain is still served
    expect((await queued).status).toBe(200);
    expect(bits(frameOf(await s.handler.handle(early)).data)).toEqual(bits(localLogits(ref, f.data, 1)));
  });

  it("traffic counts what transports report by route label, 499 included, and says when all is answered", async () => {
    const s = service();
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(s.metrics.render())?.[1]);
    const t = performance.now();
    for (let i = 0; i < 3; i++) s.traffic.begin();
    expect(metric("presparse_inflight_requests")).toBe(3);
    expect(JSON.parse((await s.handler.handle(request("GET", "/healthz"))).body as string).inflight).toBe(2);
    let idle = false;
    void s.traffic.idle().then(() => (idle = true));
    const ok = await s.handler.handle(infer(activationFrame(tail, 3, 13).bytes));
    s.traffic.end(s.handler.label("/v1/infer"), ok, t);
    s.traffic.end(s.handler.label("/healthz"), undefined, t);
    await Promise.resolve();
    expect(idle).toBe(false);
    s.traffic.end(s.handler.label("/nope"), await s.handler.handle(request("GET", "/nope")), t);
    await Promise.resolve();
    expect(idle).toBe(true);
    const http = { transport: "http" };
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "200", ...http })).toBe(1);
    expect(s.metrics.requests.get({ path: "/healthz", code: "499", ...http })).toBe(1);
    expect(s.metrics.requests.get({ path: "other", code: "404", ...http })).toBe(1);
    const [samples, seconds] = ["presparse_samples_total", "presparse_request_duration_seconds_count"].map((m) =>
      metric(`${m}\\{transport="http"\\}`),
    );
    expect([samples, seconds]).toEqual([3, 1]);
    // a transport that says which it is is counted under its own label
    s.traffic.begin();
    s.traffic.end(s.handler.label("/v1/infer"), ok, t, "ws");
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "200", transport: "ws" })).toBe(1);
    expect(metric('presparse_samples_total\\{transport="ws"\\}')).toBe(3);
  });
});

describe("the demo's routes in the same table", () => {
  const body = new TextEncoder().encode("<!doctype html>");
  const site: DemoSite = {
    paths: ["/", "/demo/", "/demo/app.js"],
    resource: (path): DemoResource =>
      path === "/"
        ? { status: 302, headers: { Location: "/demo/" }, body: new Uint8Array(0) }
        : { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" }, body },
  };

  it("answer GET and HEAD with the page's resources, 405 otherwise, counted under /demo/", async () => {
    const s = service({}, served, demoRoutes(site));
    const page = await s.handler.handle(request("GET", "/demo/"));
    expect([page.status, page.headers["Content-Type"], page.body]).toEqual([200, "text/html; charset=utf-8", body]);
    expect((await s.handler.handle(request("HEAD", "/demo/app.js"))).status).toBe(200);
    expect(await s.handler.handle(request("GET", "/"))).toMatchObject({ status: 302, headers: { Location: "/demo/" } });
    const post = await s.handler.handle(request("POST", "/demo/", body, { "content-type": "text/plain" }));
    expect([post.status, post.headers.Allow, errorOf(post).code]).toEqual([405, "GET, HEAD", "method_not_allowed"]);
    const labels = ["/", "/demo/app.js", "/healthz", "/demo/index.html"].map((p) => s.handler.label(p));
    expect(labels).toEqual(["/demo/", "/demo/", "/healthz", "other"]);
    expect((await s.handler.handle(request("GET", "/demo/index.html"))).status).toBe(404);
    expect(errorOf(await s.handler.handle(request("GET", "/x"))).message).toMatch(
      /POST \/v2\/models\/presparse\/infer, GET \/demo\/$/,
    );
  });

  it("may not take a path of the tail's own", () => {
    const clash: DemoSite = { paths: ["/healthz"], resource: site.resource };
    expect(() => createService(served, LIMITS, demoRoutes(clash))).toThrow(ValidationError);
    expect(() => createService(served, LIMITS, demoRoutes(clash))).toThrow(/\/healthz is the tail's own route/);
  });
});
