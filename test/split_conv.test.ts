// A sparse CNN cut after a pooling layer: the activation crosses as a rank-4 frame [C, H, W, batch].
import { afterAll, describe, expect, it } from "vitest";
import { buildModel } from "../src/nn/arch.js";
import { SplitClient } from "../src/split/client.js";
import { decodeFrame, encodeFrame } from "../src/split/frame.js";
import { Matrix } from "../src/engine/buffers.js";
import { decodeModel, encodeModel } from "../src/io/model_io.js";
import { startServer } from "../src/server/http.js";
import { split } from "../src/split/split.js";
import { columnStats, getEngine } from "./helpers/engine.js";

const engine = await getEngine();
const model = buildModel(engine, "conv:1>4:3x3:p1,pool:2,conv:4>8:3x3:deg2:p1,pool:2,fc:10", {
  inputShape: [1, 12, 12],
  seed: 5,
  exits: [{ after: 1 }],
});
const { head, tail } = split(model, { cut: 2 });
const server = await startServer({ model: encodeModel(tail).bytes, port: 0, host: "127.0.0.1", engine });
afterAll(async () => {
  await server.close();
  head.dispose();
  tail.dispose();
  model.dispose();
});

function input(B: number, seed: number): Matrix {
  let s = seed;
  const x = Float32Array.from({ length: 144 * B }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return Matrix.from(engine, 144, B, x);
}

describe("split of a convolutional model", () => {
  it(
    "the head records the cut's image shape and sends rank-4 frames; head then tail is the model, " + "bit for bit",
    async () => {
      expect(head.split.activationShape).toEqual([4, 6, 6]);
      const reloaded = decodeModel(engine, encodeModel(head).bytes, { role: "head" }).model;
      expect(reloaded.split.activationShape).toEqual([4, 6, 6]);
      reloaded.dispose();
      const sent: number[][] = [];
      const client = new SplitClient({
        head,
        serverUrl: server.url,
        policy: null,
        dtype: "f32",
        fetch: async (url, init) => {
          sent.push(decodeFrame(init!.body as Uint8Array).shape);
          return fetch(url, init);
        },
      });
      const B = 13;
      const X = input(B, 7);
      const ref = model.forward(X).toArray();
      const r = await client.infer(X);
      expect(sent).toEqual([[4, 6, 6, B]]);
      r.samples.forEach((s, b) => {
        const c = columnStats(ref, 10, B, b);
        expect(s.exit).toBe(head.split.totalExits);
        expect(s.label).toBe(c.label);
        expect(s.confidence).toBe(c.confidence);
      });
      client.dispose();
    },
  );

  it("the server takes [C·H·W, batch] too, and refuses a shape that is not the cut's", async () => {
    const post = (shape: number[]) =>
      fetch(`${server.url}/v1/infer`, {
        method: "POST",
        headers: { "Content-Type": "application/x-presparse-frame" },
        body: encodeFrame({
          data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
          shape,
          dtype: "f32",
          kind: "activation",
          splitId: 2,
          modelHash: head.split.hash,
        }),
      });
    expect((await post([144, 2])).status).toBe(200);
    const bad = await post([4, 6, 6 * 2, 1]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe("dims");
  });
});
