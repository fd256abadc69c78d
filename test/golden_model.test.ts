// Golden model numbers through the public API: the model hash of the README's network for seed 0, the first
// epoch's losses for a fixed seed, and the hash of the trained model. These are SNAPSHOTS of the current code (no
// independent script computes He-normal weights or a training run), recorded once at the commit that added them:
// a change here means every saved model and every published figure changes with it, so it must be on purpose.
import { describe, expect, it } from "vitest";
import { encodeModel } from "../src/io/model_io.js";
import { decodeSafetensors } from "../src/io/safetensors.js";
import { Model } from "../src/nn/model.js";
import { Adam } from "../src/nn/optimizers.js";
import { train } from "../src/nn/train.js";
import { loadData } from "../src/node/index.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();
const paper = () =>
  Model.mlp(engine, {
    sizes: [800, 40, 40, 10],
    outDegrees: [2, 9, 10],
    seed: 0,
    exits: [{ after: 0, weight: 1 }],
    finalWeight: 0.3,
  });

describe("golden model (snapshot)", () => {
  it("the README's network for seed 0 has model hash 2a40942c60eed000 and the documented tensors", () => {
    const model = paper();
    expect(model.parameterCount()).toBe(2860);
    const { bytes, hash } = encodeModel(model);
    expect(hash).toBe("2a40942c60eed000");
    expect(bytes.length).toBe(21520);
    // U16 column indices on request: 2 bytes less per stored connection of the two sparse layers, the same hash
    const u16 = encodeModel(model, { indexDtype: "u16" });
    expect([u16.bytes.length, u16.hash]).toEqual([21520 - 2 * (1600 + 360), hash]);
    const file = decodeSafetensors(bytes);
    expect(file.metadata.model_hash).toBe(hash);
    // README: row_ptr and col_idx (I32), values and bias (F32) per layer; a dense layer only values and bias
    const layout = Object.fromEntries([...file.tensors].map(([name, t]) => [name, `${t.dtype}[${t.shape.join(",")}]`]));
    expect(layout).toEqual({
      "trunk.0.row_ptr": "I32[41]",
      "trunk.0.col_idx": "I32[1600]",
      "trunk.0.values": "F32[1600]",
      "trunk.0.bias": "F32[40]",
      "trunk.1.row_ptr": "I32[41]",
      "trunk.1.col_idx": "I32[360]",
      "trunk.1.values": "F32[360]",
      "trunk.1.bias": "F32[40]",
      "trunk.2.values": "F32[400]",
      "trunk.2.bias": "F32[10]",
      "exit.0.0.values": "F32[400]",
      "exit.0.0.bias": "F32[10]",
    });
    model.dispose();
  });

  it(
    "one epoch on the embedded digits (seed 0, Adam 1e-3, decay 1e-5, batch 256) " + "has the golden losses and hash",
    () => {
      const { train: data } = loadData("mnist", { seed: 0, padTo: 800 });
      const model = paper();
      const [r] = train(model, data, {
        epochs: 1,
        batchSize: 256,
        optimizer: new Adam({ lr: 1e-3, decay: 1e-5 }),
        seed: 0,
        trainAccuracy: false,
      });
      expect(r!.losses).toEqual([2.3653414114266633, 2.3167624903023243]);
      expect(r!.loss).toBe(3.0603701585173604);
      expect(encodeModel(model).hash).toBe("2a6a8ce4c8b171e4");
      model.dispose();
    },
  );
});
