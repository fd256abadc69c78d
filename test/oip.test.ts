// The Open Inference Protocol (KServe V2) on a tail server, checked against the protocol documents' own examples:
// KServe's docs/predict-api/v2/required_api.md (the inference request and response examples) and Triton's
// docs/protocol/extension_binary_data.md (the binary tensor data example). The examples name a model "mymodel"
// with inputs input0 UINT32 [2, 2] and input1 BOOL [3]: sent as they stand they are refused with the protocol's
// error object; with their input made this model's, the answers have the examples' shape, bit-exact.
import { afterAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server/index.js";
import { servedTail } from "../src/server/served_tail.js";
import { createService } from "../src/server/service.js";
import { getEngine } from "./helpers/engine.js";
import {
  localLogits,
  postFrame,
  randomValues,
  raw,
  referenceTail,
  splitModel,
  activationFrame,
  type RawResponse,
} from "./helpers/server_harness.js";

const engine = await getEngine();
const { model, head, tail, tailBytes } = splitModel(engine, 5);
const ref = referenceTail(engine, tailBytes);
const W = tail.inputSize,
  C = tail.classes;
const server: RunningServer = await startServer({
  model: tailBytes,
  engine,
  port: 0,
  modelName: "mymodel",
  maxDelayMs: 5,
});

afterAll(async () => {
  await server.close();
  for (const x of [model, head, tail, ref]) x.dispose();
});

// required_api.md, "Inference Request Examples": the request body and the response body, as printed there
const KSERVE_REQUEST = `{
  "id" : "42",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "data" : [ 1, 2, 3, 4 ]
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "data" : [ true ]
    }
  ],
  "outputs" : [
    {
      "name" : "output0"
    }
  ]
}`;
// the document's response lacks the comma after "id" : "42"; the test reads it with that comma put back
const KSERVE_RESPONSE = `{
  "id" : "42"
  "outputs" : [
    {
      "name" : "output0",
      "shape" : [ 3, 2 ],
      "datatype"  : "FP32",
      "data" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ]
    }
  ]
}`;
// extension_binary_data.md, "Examples": the JSON part of the request (19 bytes of tensor data follow it) and of
// the response
const BINARY_REQUEST = `{
  "model_name" : "mymodel",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "parameters" : {
        "binary_data_size" : 16
      }
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "parameters" : {
        "binary_data_size" : 3
      }
    }
  ],
  "outputs" : [
    {
      "name" : "output0",
      "parameters" : {
        "binary_data" : true
      }
    }
  ]
}`;
const BINARY_RESPONSE = `{
  "outputs" : [
    {
      "name" : "output0",
      "shape" : [ 3, 2 ],
      "datatype"  : "FP32",
      "parameters" : {
        "binary_data_size" : 24
      }
    }
  ]
}`;

type Json = Record<string, unknown>;
const kserveResponse = JSON.parse(KSERVE_RESPONSE.replace('"42"\n', '"42",\n')) as Json;
const binaryResponse = JSON.parse(BINARY_RESPONSE) as Json;

/** The key structure of a JSON value: objects by their sorted keys, arrays by their first element. */
function keys(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 0 && typeof v[0] === "object" ? [keys(v[0])] : "array";
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, keys((v as Json)[k])]),
    );
  return typeof v;
}

const INFER = "/v2/models/mymodel/infer";
const json = (body: string | Json, path = INFER) =>
  raw(server.url, {
    path,
    headers: { "Content-Type": "application/json" },
    body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
  });
const binary = (header: Json | string, data: Uint8Array[], path = INFER) => {
  const h = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  return raw(server.url, {
    path,
    headers: { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": h.length },
    body: Buffer.concat([h, ...data]),
  });
};
const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString("utf8")) as Json;

/** n samples' activations, batch first (the protocol's [n, W]) and feature first (the tail's [W, n]). */
function samples(n: number, seed: number) {
  const featureMajor = randomValues(W * n, seed);
  const rows = Array.from({ length: n }, (_, b) => Array.from({ length: W }, (_, f) => featureMajor[f * n + b]!));
  return { rows, featureMajor };
}

/** The tail's logits for them, batch first: what the protocol's answer holds. */
function wantRows(featureMajor: Float32Array, n: number): number[] {
  const z = localLogits(ref, featureMajor, n);
  return Array.from({ length: n * C }, (_, i) => z[(i % C) * n + Math.floor(i / C)]!);
}

const f32le = (xs: ArrayLike<number>) => {
  const b = Buffer.alloc(4 * xs.length);
  for (let i = 0; i < xs.length; i++) b.writeFloatLE(xs[i]!, 4 * i);
  return b;
};

describe("the Open Inference Protocol", () => {
  it("GET /v2 names the server and the binary tensor extension; model metadata has the document's fields", async () => {
    const meta = await raw(server.url, { method: "GET", path: "/v2" });
    expect(meta.status).toBe(200);
    expect(bodyOf(meta)).toMatchObject({ name: "presparse", extensions: ["binary_tensor_data"] });
    expect(typeof bodyOf(meta).version).toBe("string");
    for (const path of ["/v2/models/mymodel", `/v2/models/mymodel/versions/${tail.split.hash}`]) {
      const m = await raw(server.url, { method: "GET", path });
      expect(m.status, path).toBe(200);
      // $metadata_model_response: name, versions, platform, inputs and outputs of $metadata_tensor
      // (name, datatype, shape)
      expect(bodyOf(m)).toEqual({
        name: "mymodel",
        versions: [tail.split.hash],
        platform: "presparse_safetensors",
        inputs: [{ name: "activation", datatype: "FP32", shape: [-1, W] }],
        outputs: [
          { name: "logits", datatype: "FP32", shape: [-1, C] },
          { name: "probabilities", datatype: "FP32", shape: [-1, C] },
        ],
      });
    }
    expect((await raw(server.url, { method: "GET", path: "/v2/models/othermodel" })).status).toBe(404);
  });

  it("health: 200 with an empty body; ready and model ready turn 400 in a drain while live stays 200", async () => {
    for (const path of [
      "/v2/health/live",
      "/v2/health/ready",
      "/v2/models/mymodel/ready",
      `/v2/models/mymodel/versions/${tail.split.hash}/ready`,
    ]) {
      const r = await raw(server.url, { method: "GET", path });
      expect([r.status, r.body.length], path).toEqual([200, 0]);
    }
    const s = createService(servedTail(tail), {
      maxBatch: 64,
      maxDelayMs: 1,
      maxQueue: 64,
      timeoutMs: 1000,
      maxBodyBytes: 1 << 16,
      retryAfterSeconds: 1,
    });
    const get = async (path: string) =>
      (
        await s.handler.handle({
          method: "GET",
          path,
          query: new URLSearchParams(),
          headers: {},
          body: new Uint8Array(0),
        })
      ).status;
    s.drain();
    expect([
      await get("/v2/health/live"),
      await get("/v2/health/ready"),
      await get("/v2/models/presparse/ready"),
    ]).toEqual([200, 400, 400]);
    s.dispose();
  });

  it("the document's inference request, as it stands, is refused with the document's error object", async () => {
    const r = await json(KSERVE_REQUEST);
    expect(r.status).toBe(400);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    // $inference_error_response = { "error": <error message string> }
    expect(keys(bodyOf(r))).toEqual({ error: "string" });
    expect(bodyOf(r).error).toMatch(
      /the model takes one input, activation \(FP32, shape \[n, 12\]\); got 2 \("input0", "input1"\)/,
    );
  });

  it("the document's request with its input made this model's gets the document's response, bit-exact", async () => {
    const n = 3;
    const { rows, featureMajor } = samples(n, 11);
    const request = JSON.parse(KSERVE_REQUEST) as { inputs: Json[]; outputs: Json[] };
    request.inputs = [{ name: "activation", shape: [n, W], datatype: "FP32", data: rows }];
    request.outputs = [{ name: "logits" }];
    const r = await json(request as unknown as Json);
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    const got = bodyOf(r) as {
      id: string;
      model_name: string;
      model_version: string;
      outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
    };
    // the document's response, plus the model's name and version the response schema lists
    expect(keys(got)).toEqual({ ...(keys(kserveResponse) as Json), model_name: "string", model_version: "string" });
    expect([got.id, got.model_name, got.model_version]).toEqual(["42", "mymodel", tail.split.hash]);
    expect(got.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([["logits", "FP32", [n, C]]]);
    expect(got.outputs[0]!.data.map(Math.fround)).toEqual(wantRows(featureMajor, n));
    // flat data (row-major), FP64, no id, and both outputs when none is named
    const flat = { inputs: [{ name: "activation", shape: [n, W], datatype: "FP64", data: rows.flat() }] };
    const both = bodyOf(await json(flat)) as typeof got;
    expect(both.id).toBeUndefined();
    expect(both.outputs.map((o) => o.name)).toEqual(["logits", "probabilities"]);
    expect(both.outputs[0]!.data.map(Math.fround)).toEqual(wantRows(featureMajor, n));
    const p = both.outputs[1]!.data;
    for (let b = 0; b < n; b++) expect(p.slice(b * C, b * C + C).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
  });

  it("the binary extension's example is refused as it stands; made this model's, answered as its example", async () => {
    const u32 = Buffer.alloc(16);
    [1, 2, 3, 4].forEach((x, i) => u32.writeUInt32LE(x, 4 * i));
    const refused = await binary(BINARY_REQUEST, [u32, Buffer.from([1, 0, 1])]);
    expect([refused.status, keys(bodyOf(refused))]).toEqual([400, { error: "string" }]);

    const n = 4;
    const { rows, featureMajor } = samples(n, 12);
    const request = JSON.parse(BINARY_REQUEST) as { inputs: Json[]; outputs: Json[] };
    request.inputs = [
      { name: "activation", shape: [n, W], datatype: "FP32", parameters: { binary_data_size: 4 * n * W } },
    ];
    request.outputs = [
      { name: "logits", parameters: { binary_data: true } },
      { name: "probabilities", parameters: { binary_data: false } },
    ];
    const r = await binary(request as unknown as Json, [f32le(rows.flat())]);
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.headers["content-type"]).toBe("application/octet-stream");
    const yy = Number(r.headers["inference-header-content-length"]);
    expect(Number(r.headers["content-length"])).toBe(yy + 4 * n * C);
    const header = JSON.parse(r.body.subarray(0, yy).toString("utf8")) as { outputs: Json[] };
    expect(keys({ outputs: [header.outputs[0]] })).toEqual(keys(binaryResponse));
    expect(header.outputs[0]).toEqual({
      name: "logits",
      shape: [n, C],
      datatype: "FP32",
      parameters: { binary_data_size: 4 * n * C },
    });
    expect(header.outputs[1]).toMatchObject({ name: "probabilities", shape: [n, C], datatype: "FP32" });
    const tensor = r.body.subarray(yy);
    expect(Array.from({ length: n * C }, (_, i) => tensor.readFloatLE(4 * i))).toEqual(wantRows(featureMajor, n));

    // FP16 in, every output binary by the request-level parameter
    const half = Buffer.alloc(2 * n * W);
    const { f32ToF16Bits, f16BitsToF32 } = await import("../src/io/f16.js");
    const halfRows = rows.flat().map((x) => f16BitsToF32(f32ToF16Bits(x)));
    rows.flat().forEach((x, i) => half.writeUInt16LE(f32ToF16Bits(x), 2 * i));
    const h = await binary(
      {
        parameters: { binary_data_output: true },
        inputs: [{ name: "activation", shape: [n, W], datatype: "FP16", parameters: { binary_data_size: 2 * n * W } }],
      },
      [half],
    );
    expect(h.status, h.body.toString()).toBe(200);
    const hh = Number(h.headers["inference-header-content-length"]);
    expect(h.body.length).toBe(hh + 2 * 4 * n * C);
    const back = Float32Array.from({ length: n * W }, (_, i) => halfRows[(i % n) * W + Math.floor(i / n)]!);
    expect(Array.from({ length: n * C }, (_, i) => h.body.readFloatLE(hh + 4 * i))).toEqual(wantRows(back, n));
  });

  it("refuses what it cannot serve with the protocol's error object and the server's statuses", async () => {
    const { rows } = samples(2, 13);
    const input = (o: Json = {}) => ({
      inputs: [{ name: "activation", shape: [2, W], datatype: "FP32", data: rows, ...o }],
    });
    const cases: [Promise<RawResponse>, number, RegExp][] = [
      [json(input({ shape: [2, W + 1] })), 400, /expected shape \[n ≥ 1, 12\]/],
      [json(input({ datatype: "INT8" })), 400, /datatype must be FP32, FP64 or FP16/],
      [json(input({ datatype: "FP16" })), 400, /FP16 travels only as binary data/],
      [json(input({ data: [...rows.flat(), 1] })), 400, /more than the 24 elements/],
      [json(input({ data: rows.flat().map((x, i) => (i === 3 ? "x" : x)) })), 400, /finite numbers/],
      [json({ ...input(), outputs: [{ name: "output0" }] }), 400, /unknown output "output0"/],
      [json("{ not json"), 400, /not JSON/],
      [
        raw(server.url, { path: INFER, headers: { "Content-Type": "text/plain" }, body: Buffer.from("{}") }),
        415,
        /Content-Type must be application\/json/,
      ],
      [
        binary(input({ data: undefined, parameters: { binary_data_size: 8 } }), [Buffer.alloc(8)]),
        400,
        /binary_data_size must be 96/,
      ],
      [raw(server.url, { method: "GET", path: INFER }), 405, /takes POST/],
    ];
    for (const [p, status, message] of cases) {
      const r = await p;
      expect([r.status, keys(bodyOf(r))], r.body.toString()).toEqual([status, { error: "string" }]);
      expect(bodyOf(r).error).toMatch(message);
    }
    const big = await startServer({
      model: tailBytes,
      engine,
      port: 0,
      maxQueue: 2,
      maxDelayMs: 200,
      retryAfterSeconds: 4,
    });
    try {
      const one = { inputs: [{ name: "activation", shape: [1, W], datatype: "FP32", data: rows[0] }] };
      const send = (body: Json) =>
        raw(big.url, {
          path: "/v2/models/presparse/infer",
          headers: { "Content-Type": "application/json" },
          body: Buffer.from(JSON.stringify(body)),
        });
      const tooMany = await send({
        inputs: [{ name: "activation", shape: [3, W], datatype: "FP32", data: [...rows, rows[0]] }],
      });
      expect([tooMany.status, bodyOf(tooMany).error]).toEqual([
        413,
        "3 samples in one request; the queue holds at most 2",
      ]);
      const rs = await Promise.all([send(one), send(one), send(one)]);
      expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 503]);
      const busy = rs.find((r) => r.status === 503)!;
      expect([busy.headers["retry-after"], keys(bodyOf(busy))]).toEqual(["4", { error: "string" }]);
    } finally {
      await big.close();
    }
  });

  it("shares the batch queue with POST /v1/infer, and is counted under its own path", async () => {
    const before = server.metrics.batchRequests.count;
    const n = 2;
    const { rows } = samples(n, 14);
    const jobs = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? json({ inputs: [{ name: "activation", shape: [n, W], datatype: "FP32", data: rows }] })
        : postFrame(server.url, activationFrame(tail, n, 90 + i).bytes),
    );
    expect((await Promise.all(jobs)).map((r) => r.status)).toEqual(jobs.map(() => 200));
    expect(server.metrics.batchRequests.count - before).toBeLessThan(20);
    expect(server.metrics.requests.get({ path: INFER, code: "200", transport: "http" })).toBeGreaterThanOrEqual(10);
  });
});
