import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifierStats, measurePolicy, simulatePolicy, sweep } from "../src/exits/calibrate.js";
import { makeDataset } from "../src/nn/dataset.js";
import { ExitRunner, exitMacs, parseExitPolicy, passes, type ExitPolicy } from "../src/exits/runner.js";
import { Matrix } from "../src/engine/buffers.js";
import { PresparseError, ValidationError } from "../src/engine/errors.js";
import { Model } from "../src/nn/model.js";
import { feasibleOutDegrees } from "../src/sparsity/pattern.js";
import { columnStats, getEngine } from "./helpers/engine.js";

const engine = await getEngine();

/** A small random model with one or two exits. */
const modelArb = fc
  .record({
    widths: fc.array(fc.integer({ min: 2, max: 12 }), { minLength: 2, maxLength: 3 }),
    inputs: fc.integer({ min: 2, max: 16 }),
    classes: fc.integer({ min: 2, max: 5 }),
    seed: fc.integer({ min: 0, max: 1000 }),
    twoExits: fc.boolean(),
    degPick: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  })
  .map((r) => {
    const sizes = [r.inputs, ...r.widths, r.classes];
    const outDegrees = sizes.slice(0, -1).map((s, i) => {
      const f = feasibleOutDegrees(s, sizes[i + 1]!);
      return f[r.degPick[i % 4]! % f.length]!;
    });
    const hidden = sizes.length - 2;
    const exits = r.twoExits && hidden >= 2 ? [{ after: 0 }, { after: 1 }] : [{ after: 0 }];
    return { sizes, outDegrees, seed: r.seed, exits };
  });

function build(spec: { sizes: number[]; outDegrees: number[]; seed: number; exits: { after: number }[] }): Model {
  return Model.mlp(engine, { ...spec, exits: spec.exits.map((e) => ({ ...e, weight: 1 })) });
}

function randomInput(features: number, B: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: features * B }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}

describe("ExitRunner", () => {
  it("answers each sample with exactly the logits of the classifier that answered (exit head or full model)", () => {
    fc.assert(
      fc.property(
        modelArb,
        fc.integer({ min: 1, max: 37 }),
        fc.integer(),
        fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
        fc.boolean(),
        (spec, B, seed, q, entropy) => {
          const model = build(spec);
          const X = Matrix.from(engine, model.inputSize, B, randomInput(model.inputSize, B, seed));
          // references on the whole batch, before any compaction
          const all = model.forwardAll(X).map((z) => z.toArray());
          const policy: ExitPolicy = entropy
            ? { kind: "entropy", thresholds: model.exits.map(() => q * 2) }
            : { kind: "maxprob", thresholds: model.exits.map(() => q) };
          const runner = new ExitRunner(model, policy);
          const r = runner.run(X);
          const C = model.classes;
          for (let b = 0; b < B; b++) {
            const k = r.exit[b]!;
            const ref = all[k]!;
            for (let c = 0; c < C; c++) expect(r.logits[b * C + c]).toBe(ref[c * B + b]);
            // the sample did not pass any earlier exit, and passed this one unless it is the final classifier
            for (let e = 0; e <= Math.min(k, model.exits.length - 1); e++) {
              const s = columnStats(all[e]!, C, B, b);
              expect(passes(policy, e, s.confidence, s.entropy), `sample ${b} at exit ${e} (answered by ${k})`).toBe(
                e === k,
              );
            }
            let label = 0;
            for (let c = 1; c < C; c++) if (ref[c * B + b]! > ref[label * B + b]!) label = c;
            expect(r.label[b]).toBe(label);
            const s = columnStats(ref, C, B, b);
            expect([r.confidence[b], r.entropy[b]]).toEqual([Math.fround(s.confidence), Math.fround(s.entropy)]);
          }
          runner.dispose();
          X.dispose();
          model.dispose();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("only the samples that did not exit reach deeper layers", () => {
    const model = build({ sizes: [8, 6, 6, 3], outDegrees: [3, 6, 3], seed: 4, exits: [{ after: 0 }] });
    const X = Matrix.from(engine, 8, 41, randomInput(8, 41, 9));
    const deeper = model.trunk[1]!;
    const seen: number[] = [];
    const forward = deeper.forward.bind(deeper);
    deeper.forward = (h) => (seen.push(h.cols), forward(h));
    const r = new ExitRunner(model, { kind: "maxprob", thresholds: [0.5] }).run(X);
    const stayed = Array.from(r.exit).filter((e) => e === 1).length;
    expect(stayed).toBeGreaterThan(0);
    expect(stayed).toBeLessThan(41);
    expect(seen).toEqual([stayed]);
    model.dispose();
  });

  it("all-exit and none-exit batches", () => {
    const model = build({ sizes: [8, 6, 6, 3], outDegrees: [3, 6, 3], seed: 3, exits: [{ after: 0 }] });
    const X = Matrix.from(engine, 8, 19, randomInput(8, 19, 7));
    const final = model.forward(X).toArray();
    const none = new ExitRunner(model, { kind: "entropy", thresholds: [0] }).run(X);
    expect(Array.from(none.exit)).toEqual(new Array(19).fill(1));
    for (let b = 0; b < 19; b++) for (let c = 0; c < 3; c++) expect(none.logits[b * 3 + c]).toBe(final[c * 19 + b]);
    const allExit = new ExitRunner(model, { kind: "maxprob", thresholds: [0] }).run(X);
    expect(Array.from(allExit.exit)).toEqual(new Array(19).fill(0));
    model.dispose();
  });
});

describe("ExitRunner until a cut", () => {
  it("answers the exited samples as the whole run does; hands back the others' activation at the cut, bitwise", () => {
    fc.assert(
      fc.property(
        modelArb,
        fc.integer({ min: 1, max: 37 }),
        fc.integer(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (spec, B, seed, q) => {
          const model = build(spec);
          const X = Matrix.from(engine, model.inputSize, B, randomInput(model.inputSize, B, seed));
          const policy: ExitPolicy = { kind: "maxprob", thresholds: model.exits.map(() => q) };
          const whole = new ExitRunner(model, policy).run(X);
          const cut = 1 + ((seed >>> 0) % (model.trunk.length - 1));
          const runner = new ExitRunner(model, policy, { until: cut });
          const r = runner.run(X);
          const E = model.exits.length,
            edge = model.exits.filter((e) => e.after < cut).length;
          // the trunk's activation at the cut for every sample, from a plain forward pass
          let h = X;
          for (const l of model.trunk.slice(0, cut)) h = l.forward(h);
          const act = h.toArray(),
            width = h.rows;
          const sent: number[] = [];
          for (let b = 0; b < B; b++) {
            if (whole.exit[b]! < edge) {
              expect([r.exit[b], r.label[b], r.confidence[b]]).toEqual([
                whole.exit[b],
                whole.label[b],
                whole.confidence[b],
              ]);
            } else {
              expect(r.exit[b], `sample ${b} goes on`).toBe(E);
              sent.push(b);
            }
          }
          expect(Array.from(r.indices)).toEqual(sent);
          expect(r.activation.length).toBe(width * sent.length);
          sent.forEach((b, j) => {
            for (let f = 0; f < width; f++) expect(r.activation[f * sent.length + j]).toBe(act[f * B + b]);
          });
          runner.dispose();
          X.dispose();
          model.dispose();
        },
      ),
      { numRuns: 40 },
    );
  });

  it("without a policy no exit head runs and every sample goes on; until must name a cut inside the trunk", () => {
    const model = build({ sizes: [8, 6, 6, 3], outDegrees: [3, 6, 3], seed: 4, exits: [{ after: 0 }] });
    const X = Matrix.from(engine, 8, 9, randomInput(8, 9, 2));
    const head = model.exits[0]!.layers[0]!;
    let ran = 0;
    const forward = head.forward.bind(head);
    head.forward = (h) => (ran++, forward(h));
    const final = model.forward(X).toArray();
    const all = new ExitRunner(model).run(X);
    expect(ran).toBe(0);
    expect(Array.from(all.exit)).toEqual(new Array(9).fill(1));
    for (let b = 0; b < 9; b++) for (let c = 0; c < 3; c++) expect(all.logits[b * 3 + c]).toBe(final[c * 9 + b]);
    const cut = new ExitRunner(model, undefined, { until: 2 }).run(X);
    expect([cut.indices.length, cut.activation.length]).toEqual([9, 6 * 9]);
    for (const until of [0, 4, 1.5]) expect(() => new ExitRunner(model, undefined, { until })).toThrow(ValidationError);
    X.dispose();
    model.dispose();
  });
});

describe("accounting and calibration", () => {
  const mk = (seed: number) => {
    const model = build({ sizes: [10, 8, 8, 4], outDegrees: [4, 4, 4], seed, exits: [{ after: 0 }] });
    const n = 53;
    const x = randomInput(10, n, seed);
    const y = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 4);
    return { model, data: makeDataset("random", x, y, 10, 4) };
  };

  it("an exit head may itself be sparse: its MACs are its stored connections", () => {
    const model = Model.mlp(engine, {
      sizes: [10, 8, 8, 4],
      outDegrees: [4, 4, 4],
      seed: 1,
      exits: [{ after: 0, outDegree: 2 }],
    });
    expect(model.exits[0]!.layers[0]!.macsPerSample()).toBe(8 * 2);
    expect(exitMacs(model).perExit[0]).toBe(10 * 4 + 8 * 2);
    model.dispose();
  });

  it("MACs per exit count stored connections only", () => {
    const { model } = mk(1);
    const m = exitMacs(model);
    const nnz = model.trunk.map((l) => l.macsPerSample());
    expect(nnz).toEqual([10 * 4, 8 * 4, 8 * 4]); // inputs · out-degree; the last layer is dense (degree = outputs)
    expect(model.exits[0]!.layers[0]!.macsPerSample()).toBe(8 * 4);
    expect(m.perExit[0]).toBe(nnz[0]! + model.exits[0]!.layers[0]!.macsPerSample());
    expect(m.trunk).toBe(nnz.reduce((a, b) => a + b));
    expect(m.final).toBe(m.trunk + model.exits[0]!.layers[0]!.macsPerSample());
    model.dispose();
  });

  it("the real runner, the simulation and a brute-force count agree on accuracy, exit rates and MACs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.double({ min: 0, max: 1, noNaN: true }), (seed, q) => {
        const { model, data } = mk(seed);
        const policy: ExitPolicy = { kind: "maxprob", thresholds: [q] };
        const real = measurePolicy(model, data, policy, 16);
        const sim = simulatePolicy(model, classifierStats(model, data, 7), policy);
        // brute force: every classifier on every sample, one at a time
        const macs = exitMacs(model);
        let right = 0,
          spent = 0,
          early = 0;
        for (let i = 0; i < data.n; i++) {
          const X = Matrix.from(model.engine, 10, 1, data.x.subarray(i * 10, i * 10 + 10));
          const [ze, zf] = model.forwardAll(X).map((z) => Array.from(z.view()));
          const sm = (z: number[]) => {
            const m = Math.max(...z);
            const e = z.map((v) => Math.exp(v - m));
            const s = e.reduce((a, b) => a + b);
            return e.map((v) => v / s);
          };
          const pe = sm(ze!);
          const exit = Math.max(...pe) >= q;
          const z = exit ? ze! : zf!;
          if (z.indexOf(Math.max(...z)) === data.y[i]) right++;
          spent += exit ? macs.perExit[0]! : macs.final;
          if (exit) early++;
          X.dispose();
        }
        for (const r of [real, sim]) {
          expect(r.accuracy).toBeCloseTo(right / data.n, 12);
          expect(r.earlyRate).toBeCloseTo(early / data.n, 12);
          expect(r.meanMacs).toBeCloseTo(spent / data.n, 9);
        }
        model.dispose();
      }),
      { numRuns: 25 },
    );
  });

  it("the simulation decides as the runner does even at a threshold equal to a sample's confidence", () => {
    const { model, data } = mk(7);
    const st = classifierStats(model, data, 5);
    // thresholds exactly at (and at the float32 rounding of) confidences the runner computes
    const qs = Array.from(st.confidence[0]!.slice(0, 12)).flatMap((c) => [c, Math.fround(c)]);
    for (const q of qs) {
      const policy: ExitPolicy = { kind: "maxprob", thresholds: [q] };
      const sim = simulatePolicy(model, st, policy),
        real = measurePolicy(model, data, policy, 16);
      expect([sim.exitRates, sim.accuracy], `q = ${q}`).toEqual([real.exitRates, real.accuracy]);
    }
    model.dispose();
  });

  it("exit rate is monotone in the threshold", () => {
    const { model, data } = mk(5);
    const st = classifierStats(model, data);
    for (const kind of ["maxprob", "entropy"] as const) {
      const c = sweep(model, st, kind);
      for (let i = 1; i < c.points.length; i++) {
        const [a, b] = [c.points[i - 1]!, c.points[i]!];
        if (kind === "maxprob") expect(b.earlyRate).toBeLessThanOrEqual(a.earlyRate);
        else expect(b.earlyRate).toBeGreaterThanOrEqual(a.earlyRate);
      }
    }
    model.dispose();
  });
});

describe("exit policies", () => {
  it("parse per-exit and shared thresholds; reject bad ones with typed errors", () => {
    expect(parseExitPolicy("maxprob:0.9", 2)).toEqual({ kind: "maxprob", thresholds: [0.9, 0.9] });
    expect(parseExitPolicy("entropy:0.05,0.1", 2)).toEqual({ kind: "entropy", thresholds: [0.05, 0.1] });
    for (const bad of [
      "maxprob",
      "maxprob:x",
      "maxprob:1.5",
      "entropy:-1",
      "softmax:0.5",
      "maxprob:0.9,0.8,0.7",
      "maxprob:0.9,",
      "maxprob:,0.9",
      "entropy:0.1, ",
    ]) {
      expect(() => parseExitPolicy(bad, 2)).toThrow(ValidationError);
    }
    const model = build({ sizes: [4, 4, 4, 2], outDegrees: [2, 2, 2], seed: 0, exits: [{ after: 0 }] });
    expect(() => new ExitRunner(model, { kind: "maxprob", thresholds: [] })).toThrow(PresparseError);
    model.dispose();
  });
});
