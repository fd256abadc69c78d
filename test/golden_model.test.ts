// Golden model numbers through the public API: the model hash of the README's network for seed 0, the first
// epoch's losses for a fixed seed, and the hash of the trained model. These are SNAPSHOTS of the current code (no
// independent script computes He-normal weights or a training run), recorded once at the commit that added them:
// a change here means every saved model and every published figure changes with it, so it must be on purpose.
import { describe, expect, it } from "vitest";
import { Adam, Model, decodeSafetensors, encodeModel, train } from "../src/index.js";
import { loadData } from "../src/node/index.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();
const paper = () =>
  Model.mlp(engine, { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10], seed: 0, exits: [{ after: 0, weight: 1 }], finalWeight: 0.3 });

describe("golden model (snapshot)", () => {
  it("the README's network for seed 0 has model hash 7ee05bf239ce00c5 and the documented tensors", () => {
    const model = paper();
    expect(model.parameterCount()).toBe(2860);
    const { bytes, hash } = encodeModel(model);
    expect(hash).toBe("7ee05bf239ce00c5");
    expect(bytes.length).toBe(17440);
    const file = decodeSafetensors(bytes);
    expect(file.metadata.model_hash).toBe(hash);
    // README: row_ptr (I32), col_idx (U16 for ≤ 65,536 inputs), values and bias (F32) per layer; a dense layer only values and bias
    const layout = Object.fromEntries([...file.tensors].map(([name, t]) => [name, `${t.dtype}[${t.shape.join(",")}]`]));
    expect(layout).toEqual({
      "trunk.0.row_ptr": "I32[41]", "trunk.0.col_idx": "U16[1600]", "trunk.0.values": "F32[1600]", "trunk.0.bias": "F32[40]",
      "trunk.1.row_ptr": "I32[41]", "trunk.1.col_idx": "U16[360]", "trunk.1.values": "F32[360]", "trunk.1.bias": "F32[40]",
      "trunk.2.values": "F32[400]", "trunk.2.bias": "F32[10]",
      "exit.0.0.values": "F32[400]", "exit.0.0.bias": "F32[10]",
    });
    model.dispose();
  });

  it("one epoch on the embedded digits (seed 0, Adam 1e-3, decay 1e-5, batch 256) has the golden losses and hash", () => {
    const { train: data } = loadData("mnist", { seed: 0, padTo: 800 });
    const model = paper();
    const [r] = train(model, data, { epochs: 1, batchSize: 256, optimizer: new Adam({ lr: 1e-3, decay: 1e-5 }), seed: 0, trainAccuracy: false });
    expect(r!.losses).toEqual([2.3653414114266633, 2.3167624903023243]);
    expect(r!.loss).toBe(3.0603701585173604);
    expect(encodeModel(model).hash).toBe("59e588dab354a861");
    model.dispose();
  });
});
