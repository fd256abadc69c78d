import { describe, expect, it } from "vitest";
import { ArchError, buildModel, planArch } from "../src/nn/arch.js";
import { I32Buffer, Matrix } from "../src/engine/buffers.js";
import { decodeModel, encodeModel } from "../src/io/model_io.js";
import { Adam } from "../src/nn/optimizers.js";
import { Flatten } from "../src/nn/layers/flatten.js";
import { split } from "../src/split/split.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();
const ARCH = "conv:1>4:3x3:p1,pool:2,flatten,fc:6:deg3,fc:3";

describe("flatten", () => {
  it("plans [C, H, W] → C·H·W and rejects misuse naming the token", () => {
    const steps = planArch(ARCH, [1, 8, 8]);
    expect(steps[2]!.inShape).toEqual([4, 4, 4]);
    expect(steps[2]!.outShape).toEqual([64]);
    expect(() => planArch("fc:8,flatten,fc:2", [16])).toThrow(ArchError);
    expect(() => planArch("conv:1>2:3x3,flatten:2,fc:2", [1, 6, 6])).toThrow(/flatten takes no options/);
  });

  it("passes activations and gradients through unchanged", () => {
    const f = new Flatten([2, 3, 3]);
    const X = Matrix.from(
      engine,
      18,
      5,
      Float32Array.from({ length: 90 }, (_, i) => i - 40),
    );
    expect(f.forward(X)).toBe(X);
    expect(f.backward(X, true)).toBe(X);
    expect(f.backward(X, false)).toBeUndefined();
    expect(() => f.forward(new Matrix(engine, 17, 5))).toThrow(/Flatten.forward/);
    expect(f.outputShape).toEqual([18]);
    X.dispose();
  });

  it("a model with a flatten trains, round-trips through its file, and splits after it with flat frames", () => {
    const model = buildModel(engine, ARCH, { inputShape: [1, 8, 8], seed: 2, exits: [{ after: 2 }] });
    const X = Matrix.from(
      engine,
      64,
      9,
      Float32Array.from({ length: 576 }, (_, i) => Math.sin(i)),
    );
    const labels = I32Buffer.from(engine, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    const opt = new Adam({ lr: 1e-2 });
    const first = model.trainStep(X, labels, opt).total;
    let last = first;
    for (let i = 0; i < 30; i++) last = model.trainStep(X, labels, opt).total;
    expect(last).toBeLessThan(first);
    const loaded = decodeModel(engine, encodeModel(model).bytes).model;
    expect(loaded.trunk[2]!.kind).toBe("flatten");
    expect(Array.from(loaded.forward(X).toArray())).toEqual(Array.from(model.forward(X).toArray()));
    const { head, tail } = split(model, { cut: 3 });
    expect(head.split.activationShape).toEqual([64]);
    const reloaded = decodeModel(engine, encodeModel(head).bytes, { role: "head" }).model;
    expect(reloaded.split.activationShape).toEqual([64]);
    for (const x of [head, tail, reloaded, loaded, model]) x.dispose();
    X.dispose();
    labels.dispose();
    opt.dispose();
  });
});
