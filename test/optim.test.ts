import { describe, expect, it } from "vitest";
import { F32Buffer } from "../src/engine/buffers.js";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import type { Param } from "../src/nn/layers/layer.js";
import { Adam, Sgd } from "../src/nn/optimizers.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();

describe("optimizers at the boundary", () => {
  it("refuse a gradient whose length differs from its values, and disposed buffers, before any kernel runs", () => {
    for (const opt of [new Adam(), new Sgd()]) {
      const values = F32Buffer.from(engine, [1, 2, 3]);
      const short: Param = { name: "w", values, grad: new F32Buffer(engine, 2), decay: true };
      expect(() => opt.step([short])).toThrow(ShapeError);
      expect(values.toArray()).toEqual(new Float32Array([1, 2, 3]));
      const grad = F32Buffer.from(engine, [0.5, 0.5, 0.5]);
      grad.dispose();
      expect(() => opt.step([{ name: "w", values, grad, decay: true }])).toThrow(ValidationError);
      expect(opt.stateSize()).toBe(0);
      expect(opt.t).toBe(0); // a refused step is no step
      values.dispose();
      short.grad.dispose();
      opt.dispose();
    }
  });

  it("reject out-of-domain hyperparameters with typed errors", () => {
    expect(() => new Adam({ lr: 0 })).toThrow(ValidationError);
    expect(() => new Adam({ beta1: 1 })).toThrow(ValidationError);
    expect(() => new Adam({ eps: Number.NaN })).toThrow(ValidationError);
    expect(() => new Sgd({ momentum: 1 })).toThrow(ValidationError);
    expect(() => new Sgd({ decay: -1 })).toThrow(ValidationError);
  });
});
