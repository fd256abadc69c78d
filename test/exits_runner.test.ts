// The early-exit runner's promises beyond test/exits.test.ts: the policy text grammar and its messages, a sample's
// answer that does not depend on its batch or on what the runner ran before, a split head's answer numbered by the
// full model's exits, and scratch that dispose() gives back.
import { describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { ExitRunner, formatPolicy, parseExitPolicy, type ExitResult } from "../src/exits/runner.js";
import { Model } from "../src/nn/model.js";
import { split } from "../src/split/split.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();

function inputs(features: number, B: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from(
    { length: features * B },
    () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 6 - 3,
  );
}

/** Two exits, after trunk layers 0 and 2, on a [10, 8, 8, 8, 4] network. */
const twoExits = () =>
  Model.mlp(engine, {
    sizes: [10, 8, 8, 8, 4],
    outDegrees: [4, 4, 4, 4],
    seed: 11,
    exits: [{ after: 0 }, { after: 2 }],
  });

/** Columns `cols` of a feature-major [rows, n] array. */
function columns(x: Float32Array, rows: number, n: number, cols: number[]): Float32Array {
  const out = new Float32Array(rows * cols.length);
  for (let r = 0; r < rows; r++) cols.forEach((c, j) => (out[r * cols.length + j] = x[r * n + c]!));
  return out;
}

/** Sample b's answer as plain numbers (logits included). */
function answer(r: ExitResult, b: number, C: number) {
  return {
    exit: r.exit[b],
    label: r.label[b],
    confidence: r.confidence[b],
    entropy: r.entropy[b],
    logits: Array.from(r.logits.subarray(b * C, b * C + C)),
  };
}

describe("parseExitPolicy and formatPolicy", () => {
  it("the whole text is one rule: nothing before the kind, no second colon; surrounding blanks are allowed", () => {
    for (const bad of ["xmaxprob:0.9", "my entropy:0.1", "maxprob:0.9:0.8", "entropy:0.1:"]) {
      expect(() => parseExitPolicy(bad, 2), bad).toThrow(ValidationError);
      expect(() => parseExitPolicy(bad, 2), bad).toThrow(
        `exit policy: expected maxprob:Q or entropy:T (e.g. maxprob:0.9), got ${JSON.stringify(bad)}`,
      );
    }
    expect(parseExitPolicy("  maxprob:0.9 \n", 2)).toEqual({ kind: "maxprob", thresholds: [0.9, 0.9] });
    expect(parseExitPolicy("\tentropy:0.05, 0.1 ", 2)).toEqual({ kind: "entropy", thresholds: [0.05, 0.1] });
  });

  it("a blank entry between commas is no threshold (not 0, which every sample would pass)", () => {
    for (const bad of ["maxprob: ,0.9", "entropy:0.1,  ", "maxprob:0.5, ,0.9"]) {
      const exits = bad.split(",").length;
      expect(() => parseExitPolicy(bad, exits), bad).toThrow(ValidationError);
      expect(() => parseExitPolicy(bad, exits), bad).toThrow("threshold must be");
    }
  });

  it("formatPolicy writes kind:thresholds, comma-separated, and parses back to the same policy", () => {
    const p = { kind: "maxprob" as const, thresholds: [0.9, 0.95, 0.5] };
    expect(formatPolicy(p)).toBe("maxprob:0.9,0.95,0.5");
    expect(formatPolicy({ kind: "entropy", thresholds: [0.025] })).toBe("entropy:0.025");
    expect(parseExitPolicy(formatPolicy(p), 3)).toEqual(p);
  });
});

describe("ExitRunner at its boundary", () => {
  it("refuses an input of the wrong width, naming both widths, and an `until` outside the trunk, naming it", () => {
    const model = twoExits();
    const X = Matrix.from(engine, 9, 2, new Float32Array(18));
    const runner = new ExitRunner(model, parseExitPolicy("maxprob:0.5", 2));
    expect(() => runner.run(X)).toThrow(ShapeError);
    expect(() => runner.run(X)).toThrow("ExitRunner.run: X has 9 rows, the model takes 10 features");
    expect(() => new ExitRunner(model, undefined, { until: 5 })).toThrow(
      "ExitRunner: until must be an integer in [1, 4], got 5",
    );
    runner.dispose();
    X.dispose();
    model.dispose();
  });
});

describe("a sample's answer does not depend on its batch", () => {
  it("one runner over batches of growing and shrinking size answers each sample as a fresh runner does alone", () => {
    const model = twoExits();
    const C = model.classes;
    const policy = parseExitPolicy("maxprob:0.7,0.5", 2);
    const shared = new ExitRunner(model, policy);
    const exitsSeen = new Set<number>();
    for (const [B, seed] of [
      [3, 1],
      [40, 2],
      [7, 3],
      [64, 4],
      [1, 5],
    ] as const) {
      const x = inputs(10, B, seed);
      const X = Matrix.from(engine, 10, B, x);
      const r = shared.run(X);
      for (let b = 0; b < B; b++) {
        const one = Matrix.from(engine, 10, 1, columns(x, 10, B, [b]));
        const fresh = new ExitRunner(model, policy);
        expect(answer(r, b, C), `batch ${B}, sample ${b}`).toEqual(answer(fresh.run(one), 0, C));
        exitsSeen.add(r.exit[b]!);
        fresh.dispose();
        one.dispose();
      }
      X.dispose();
    }
    // the batches exercised every classifier, so every exit's scratch was used and reused
    expect([...exitsSeen].sort()).toEqual([0, 1, 2]);
    shared.dispose();
    model.dispose();
  });

  it("without logits the other answers are the same, and no logits are copied", () => {
    const model = twoExits();
    const X = Matrix.from(engine, 10, 23, inputs(10, 23, 8));
    const policy = parseExitPolicy("maxprob:0.5", 2);
    const a = new ExitRunner(model, policy).run(X),
      b = new ExitRunner(model, policy, { logits: false }).run(X);
    expect(b.logits.length).toBe(0);
    expect([b.exit, b.label, b.confidence, b.entropy]).toEqual([a.exit, a.label, a.confidence, a.entropy]);
    X.dispose();
    model.dispose();
  });
});

describe("on a split head", () => {
  it("a sample no edge exit answers is numbered by the full model's final classifier and handed on at the cut", () => {
    const model = twoExits();
    // the cut after hidden layer 2 keeps exit 0 on the edge; the full model has 2 exits, so its final classifier is 2
    const { head, tail } = split(model, { cut: 2 });
    expect([head.exits.length, head.split.totalExits]).toEqual([1, 2]);
    const B = 31;
    const X = Matrix.from(engine, 10, B, inputs(10, B, 6));
    const runner = new ExitRunner(head, parseExitPolicy("maxprob:0.5", 1));
    const r = runner.run(X);
    const sent = Array.from(r.exit.keys()).filter((b) => r.exit[b] !== 0);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThan(B);
    for (const b of sent) expect(r.exit[b]).toBe(2);
    expect(Array.from(r.indices)).toEqual(sent);
    // the activation at the cut of exactly those samples: two trunk layers of the full model
    let h = X;
    for (const l of model.trunk.slice(0, 2)) h = l.forward(h);
    expect(r.activation).toEqual(columns(h.toArray(), 8, B, sent));
    runner.dispose();
    X.dispose();
    for (const m of [head, tail, model]) m.dispose();
  });
});

describe("dispose", () => {
  it("gives back every buffer the runner allocated for its scratch", () => {
    const model = twoExits();
    const X = Matrix.from(engine, 10, 50, inputs(10, 50, 9));
    const live = engine.stats().liveBlocks;
    const runner = new ExitRunner(model, parseExitPolicy("maxprob:0.7,0.5", 2));
    const r = runner.run(X);
    expect(new Set(r.exit).size, "some samples went on past each exit").toBe(3);
    runner.dispose();
    expect(engine.stats().liveBlocks).toBe(live);
    X.dispose();
    model.dispose();
  });
});
