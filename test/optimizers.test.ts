// Adam and Sgd through their public step(), k steps against a float64 oracle of the documented formulas written
// here (Keras 2 legacy Adam: lr_t = lr/(1 + decay·(t−1)) · √(1−β2ᵗ)/(1−β1ᵗ); heavy-ball SGD: u = μu − lr_t·g,
// w += u; the L2 term on weights only), their state (as long as the parameter, freed by dispose) and the
// messages of their refusals.
import { describe, expect, it } from "vitest";
import { F32Buffer } from "../src/engine/buffers.js";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import type { Param } from "../src/nn/layers/layer.js";
import { Adam, Sgd } from "../src/nn/optimizers.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();

function values(seed: number, n: number, scale: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () =>
    Math.fround((((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1) * scale),
  );
}

/** A weight (L2 applies) and a bias (it does not), with a fresh gradient per step. */
function params(steps: number) {
  const w0 = values(1, 37, 1),
    b0 = values(2, 5, 0.5);
  const gw = Array.from({ length: steps }, (_, t) => values(10 + t, 37, 0.7)),
    gb = Array.from({ length: steps }, (_, t) => values(50 + t, 5, 0.7));
  const w: Param = { name: "w", values: F32Buffer.from(engine, w0), grad: new F32Buffer(engine, 37), decay: true };
  const b: Param = { name: "b", values: F32Buffer.from(engine, b0), grad: new F32Buffer(engine, 5), decay: false };
  return {
    w0,
    b0,
    gw,
    gb,
    list: [w, b],
    load(t: number) {
      w.grad.view().set(gw[t]!);
      b.grad.view().set(gb[t]!);
    },
    dispose() {
      for (const p of [w, b]) {
        p.values.dispose();
        p.grad.dispose();
      }
    },
  };
}

/** |got − want| ≤ abs + rel·|want| elementwise, naming the first miss. */
function expectNear(what: string, got: Float32Array, want: Float64Array, rel: number, abs: number): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = abs + rel * Math.abs(want[i]!);
    if (!(Math.abs(got[i]! - want[i]!) <= tol))
      throw new Error(`${what}[${i}] = ${got[i]}, expected ${want[i]} ± ${tol}`);
  }
}

describe("Adam follows Keras 2 legacy Adam step after step", () => {
  it("weights and both moments after each of 6 steps: decay, L2 on the weight only, non-default betas and ε", () => {
    const o = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-3, decay: 0.2, weightDecay: 0.05 };
    const opt = new Adam(o);
    expect(opt.name).toBe("adam");
    const steps = 6;
    const P = params(steps);
    const ref = [
      { w: Float64Array.from(P.w0), m: new Float64Array(37), v: new Float64Array(37), g: P.gw, l2: o.weightDecay },
      { w: Float64Array.from(P.b0), m: new Float64Array(5), v: new Float64Array(5), g: P.gb, l2: 0 },
    ];
    for (let t = 1; t <= steps; t++) {
      expect(opt.t).toBe(t - 1);
      expect(opt.currentLr()).toBeCloseTo(o.lr / (1 + o.decay * (t - 1)), 15);
      P.load(t - 1);
      opt.step(P.list);
      expect(opt.t).toBe(t);
      const lrT = ((o.lr / (1 + o.decay * (t - 1))) * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
      ref.forEach((r, k) => {
        for (let i = 0; i < r.w.length; i++) {
          const g = r.g[t - 1]![i]! + r.l2 * r.w[i]!;
          r.m[i] = o.beta1 * r.m[i]! + (1 - o.beta1) * g;
          r.v[i] = o.beta2 * r.v[i]! + (1 - o.beta2) * g * g;
          r.w[i] = r.w[i]! - (lrT * r.m[i]!) / (Math.sqrt(r.v[i]!) + o.eps);
        }
        const p = P.list[k]!;
        const [m, v] = opt.state(p);
        expectNear(`${p.name}.m after step ${t}`, m!.view(), r.m, 1e-5, 1e-7);
        expectNear(`${p.name}.v after step ${t}`, v!.view(), r.v, 1e-4, 1e-9);
        expectNear(`${p.name} after step ${t}`, p.values.view(), r.w, 1e-6, 1e-4 * lrT);
      });
    }
    opt.dispose();
    P.dispose();
  });
});

describe("Sgd follows heavy-ball momentum with Keras-legacy decay", () => {
  it("weights and velocity after each of 6 steps, with decay and L2 on the weight only", () => {
    const o = { lr: 0.05, momentum: 0.6, decay: 0.3, weightDecay: 0.1 };
    const opt = new Sgd(o);
    expect(opt.name).toBe("sgd");
    const steps = 6;
    const P = params(steps);
    const ref = [
      { w: Float64Array.from(P.w0), u: new Float64Array(37), g: P.gw, l2: o.weightDecay },
      { w: Float64Array.from(P.b0), u: new Float64Array(5), g: P.gb, l2: 0 },
    ];
    for (let t = 1; t <= steps; t++) {
      expect(opt.t).toBe(t - 1);
      P.load(t - 1);
      opt.step(P.list);
      expect(opt.t).toBe(t);
      const lr = o.lr / (1 + o.decay * (t - 1));
      ref.forEach((r, k) => {
        for (let i = 0; i < r.w.length; i++) {
          r.u[i] = o.momentum * r.u[i]! - lr * (r.g[t - 1]![i]! + r.l2 * r.w[i]!);
          r.w[i] = r.w[i]! + r.u[i]!;
        }
        const p = P.list[k]!;
        const [u] = opt.state(p);
        expectNear(`${p.name}.u after step ${t}`, u!.view(), r.u, 1e-5, 1e-7);
        expectNear(`${p.name} after step ${t}`, p.values.view(), r.w, 1e-6, 1e-6);
      });
    }
    opt.dispose();
    P.dispose();
  });
});

describe("optimizer state", () => {
  it("as long as each parameter (Adam two moments, Sgd one velocity), none before a step, freed by dispose", () => {
    for (const [opt, perParam] of [
      [new Adam(), 2],
      [new Sgd(), 1],
    ] as const) {
      const P = params(1);
      const live = engine.stats().liveBlocks;
      expect(opt.state(P.list[0]!)).toEqual([]);
      expect(opt.stateSize()).toBe(0);
      P.load(0);
      opt.step(P.list);
      opt.step(P.list);
      expect(opt.state(P.list[0]!).map((s) => s.length)).toEqual(new Array(perParam).fill(37));
      expect(opt.state(P.list[1]!).map((s) => s.length)).toEqual(new Array(perParam).fill(5));
      expect(opt.stateSize()).toBe(perParam * (37 + 5));
      expect(engine.stats().liveBlocks).toBe(live + 2 * perParam);
      opt.dispose();
      expect(opt.stateSize()).toBe(0);
      expect(engine.stats().liveBlocks).toBe(live);
      P.dispose();
    }
  });
});

describe("refusals name the optimizer, the field and the value", () => {
  it("a gradient of another length, checked for every parameter before any is updated", () => {
    for (const [opt, op] of [
      [new Adam(), "Adam.step"],
      [new Sgd(), "Sgd.step"],
    ] as const) {
      const P = params(1);
      P.load(0);
      const short: Param = {
        name: "bias",
        values: F32Buffer.from(engine, [1, 2, 3]),
        grad: new F32Buffer(engine, 2),
        decay: false,
      };
      expect(() => opt.step([...P.list, short])).toThrow(ShapeError);
      expect(() => opt.step([...P.list, short])).toThrow(`${op}: bias has 3 values but 2 gradients`);
      expect(Array.from(P.list[0]!.values.view())).toEqual(Array.from(Float32Array.from(P.w0)));
      expect([opt.t, opt.stateSize()]).toEqual([0, 0]);
      short.values.dispose();
      short.grad.dispose();
      P.dispose();
      opt.dispose();
    }
  });

  it("hyperparameters outside their domain; the closed ends of [0, 1) and of ≥ 0 are accepted", () => {
    const refused: [() => unknown, string][] = [
      [() => new Adam({ lr: 0 }), "Adam: lr must be > 0 and finite, got 0"],
      [() => new Adam({ lr: Number.POSITIVE_INFINITY }), "Adam: lr must be > 0 and finite, got Infinity"],
      [() => new Adam({ eps: 0 }), "Adam: eps must be > 0 and finite, got 0"],
      [() => new Adam({ decay: -1 }), "Adam: decay must be ≥ 0 and finite, got -1"],
      [() => new Adam({ weightDecay: -0.5 }), "Adam: weightDecay must be ≥ 0 and finite, got -0.5"],
      [() => new Adam({ beta1: -0.1 }), "Adam: betas must be in [0, 1), got -0.1, 0.999"],
      [() => new Adam({ beta1: 1 }), "Adam: betas must be in [0, 1), got 1, 0.999"],
      [() => new Adam({ beta2: -0.1 }), "Adam: betas must be in [0, 1), got 0.9, -0.1"],
      [() => new Adam({ beta2: 1 }), "Adam: betas must be in [0, 1), got 0.9, 1"],
      [() => new Sgd({ lr: 0 }), "Sgd: lr must be > 0 and finite, got 0"],
      [() => new Sgd({ momentum: -0.1 }), "Sgd: momentum must be in [0, 1), got -0.1"],
      [() => new Sgd({ momentum: 1 }), "Sgd: momentum must be in [0, 1), got 1"],
      [() => new Sgd({ decay: -1 }), "Sgd: decay must be ≥ 0 and finite, got -1"],
      [() => new Sgd({ weightDecay: Number.NaN }), "Sgd: weightDecay must be ≥ 0 and finite, got NaN"],
    ];
    for (const [make, message] of refused) {
      expect(make, message).toThrow(ValidationError);
      expect(make, message).toThrow(message);
    }
    const adam = new Adam({ beta1: 0, beta2: 0, decay: 0, weightDecay: 0 });
    expect([adam.beta1, adam.beta2, adam.decay, adam.weightDecay]).toEqual([0, 0, 0, 0]);
    const sgd = new Sgd({ momentum: 0, decay: 0, weightDecay: 0 });
    expect([sgd.momentum, sgd.decay, sgd.weightDecay]).toEqual([0, 0, 0]);
  });
});
