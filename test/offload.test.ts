// Full offload: a whole model (no split record) served as the tail of a cut after 0 layers. Frames carry split id 0,
// the model's hash and its input shape; the same handler, queue and limits answer them; the edge client sends every
// sample's input and gets the whole model's answer, over HTTP and over the stream.
import WebSocket from "ws";
import { afterAll, describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { ValidationError } from "../src/engine/errors.js";
import { encodeModel } from "../src/io/model_io.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { SplitClient } from "../src/split/client.js";
import { decodeFrame, encodeFrame } from "../src/split/frame.js";
import type { WebSocketConstructor } from "../src/split/ws_transport.js";
import { columnStats, getEngine } from "./helpers/engine.js";
import { activationFrame, errorOf, postFrame, raw, randomValues, splitModel } from "./helpers/server_harness.js";

const engine = await getEngine();
const { model, head, tail } = splitModel(engine, 11);
const { bytes, hash } = encodeModel(model);
const server: RunningServer = await startServer({ model: bytes, engine, port: 0, maxQueue: 32, maxDelayMs: 0 });
const F = model.inputSize,
  C = model.classes;
const target = { hash, inputShape: model.inputShape, classes: C, exits: model.exits.length };

afterAll(async () => {
  await server.close();
  for (const x of [model, head, tail]) x.dispose();
});

/** Values through a frame of this dtype and back: what the wire does to them. */
function rounded(data: Float32Array, shape: number[], dtype: "f32" | "int8", kind: "activation" | "logits") {
  return decodeFrame(encodeFrame({ data, shape, dtype, kind, splitId: 0, modelHash: hash })).data;
}

/** The whole model's final answer for samples [F, B] computed here, with the frames' rounding both ways. */
function local(x: Float32Array, B: number, dtype: "f32" | "int8") {
  const X = Matrix.from(engine, F, B, rounded(x, [F, B], dtype, "activation"));
  const z = rounded(model.forward(X).toArray(), [C, B], dtype, "logits");
  X.dispose();
  return Array.from({ length: B }, (_, b) => columnStats(z, C, B, b));
}

describe("a whole model served for full offload", () => {
  it("says so in /healthz: split id 0 and the input's width at the cut", async () => {
    const r = await raw(server.url, { method: "GET", path: "/healthz" });
    const h = JSON.parse(r.body.toString("utf8"));
    expect(h.modelHash).toBe(hash);
    expect(h.split).toEqual({ after: 0, splitId: 0, activationWidth: F, classes: C });
    expect(server.served.splitId).toBe(0);
  });

  it("answers input frames with the whole model's logits, bit for bit in f32, through the batch queue", async () => {
    const B = 5,
      x = randomValues(F * B, 3, 1);
    const f = encodeFrame({ data: x, shape: [F, B], dtype: "f32", kind: "activation", splitId: 0, modelHash: hash });
    const r = await postFrame(server.url, f);
    expect(r.status).toBe(200);
    expect(r.headers["x-presparse-batch-samples"]).toBe(String(B));
    const answer = decodeFrame(new Uint8Array(r.body), {}, { modelHash: hash, splitId: 0, kind: "logits" });
    const X = Matrix.from(engine, F, B, x);
    expect(answer.data).toEqual(model.forward(X).toArray());
    X.dispose();
  });

  it("refuses a split's frame (409 splitId), another width (400 dims), more samples than the queue (413)", async () => {
    const other = await postFrame(server.url, activationFrame(tail, 1, 1, "f32", { modelHash: hash }).bytes);
    expect(other.status).toBe(409);
    expect(errorOf(other).field).toBe("splitId");
    const narrow = encodeFrame({
      data: new Float32Array(F - 1),
      shape: [F - 1, 1],
      dtype: "f32",
      kind: "activation",
      splitId: 0,
      modelHash: hash,
    });
    const bad = await postFrame(server.url, narrow);
    expect([bad.status, errorOf(bad).field]).toEqual([400, "dims"]);
    const many = encodeFrame({
      data: new Float32Array(F * 33),
      shape: [F, 33],
      dtype: "f32",
      kind: "activation",
      splitId: 0,
      modelHash: hash,
    });
    const big = await postFrame(server.url, many);
    expect([big.status, errorOf(big).code]).toEqual([413, "too_large"]);
  });

  for (const transport of ["http", "ws"] as const) {
    it(`an offload client sends every sample's input and reports the server's answers (${transport})`, async () => {
      const WS = WebSocket as unknown as WebSocketConstructor;
      const client = new SplitClient({
        offload: target,
        serverUrl: server.url,
        dtype: "int8",
        transport,
        WebSocket: WS,
      });
      try {
        const B = 7,
          x = randomValues(F * B, 9, 1);
        const samples = Array.from({ length: B }, (_, b) => Float32Array.from({ length: F }, (_, i) => x[i * B + b]!));
        const want = local(x, B, "int8");
        // an array of samples and a feature-major matrix are the same input
        const X = Matrix.from(engine, F, B, x);
        for (const input of [samples, X]) {
          const r = await client.infer(input);
          expect(r.totals).toMatchObject({ samples: B, exited: 0, sent: B, requests: 1 });
          expect(r.totals.bytesSent).toBe(32 + 8 + F * B + 4);
          r.samples.forEach((s, b) => {
            expect(s.exit).toBe(model.exits.length);
            expect(s.label).toBe(want[b]!.label);
            expect(s.confidence).toBe(want[b]!.confidence);
          });
        }
        X.dispose();
      } finally {
        client.dispose();
      }
    });
  }

  it("a client gives a head or an offload target, not both or neither, and no policy without a head", () => {
    const url = server.url;
    expect(() => new SplitClient({ serverUrl: url })).toThrow(ValidationError);
    expect(() => new SplitClient({ head, offload: target, serverUrl: url })).toThrow(/either a head or an offload/);
    const policy = { kind: "maxprob" as const, thresholds: [0.5] };
    expect(() => new SplitClient({ offload: target, serverUrl: url, policy })).toThrow(/no edge exits/);
    expect(() => new SplitClient({ offload: { ...target, hash: "xyz" }, serverUrl: url })).toThrow(/16 hex digits/);
  });

  it("startServer refuses a split head: it runs on the edge", async () => {
    await expect(startServer({ model: encodeModel(head).bytes, engine, port: 0 })).rejects.toThrow(
      /expected a tail bundle or a whole model, got "head"/,
    );
  });
});
