// Early-exit decisions against a plain oracle that shares no code with src/exits: the model is read back from its
// safetensors file (the documented tensors: row_ptr, col_idx, values, bias per layer; a dense layer's values
// row-major), run in float64 in the test, and each classifier's softmax, max probability and entropy −Σ p·log p
// computed here. Exits sit after non-consecutive layers, two or three of them, with shared and per-exit thresholds.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { ExitRunner, exitMacs, parseExitPolicy } from "../src/exits/runner.js";
import { encodeModel } from "../src/io/model_io.js";
import { decodeSafetensors } from "../src/io/safetensors.js";
import { Model } from "../src/nn/model.js";
import { feasibleOutDegrees } from "../src/sparsity/pattern.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();

interface Spec {
  sizes: number[];
  outDegrees: number[];
  exits: { after: number; outDegree?: number }[];
  seed: number;
}

/** One layer of the file: y = W·x + b over the stored connections (CSR rows = outputs). */
interface FileLayer {
  inputs: number;
  outputs: number;
  rowPtr: ArrayLike<number>;
  colIdx: ArrayLike<number>;
  values: Float32Array;
  bias: Float32Array;
}

function layersOf(bytes: Uint8Array): { trunk: FileLayer[]; exits: FileLayer[][] } {
  const t = decodeSafetensors(bytes, { copy: true }).tensors;
  const layer = (prefix: string): FileLayer | undefined => {
    const values = t.get(`${prefix}.values`)?.data as Float32Array | undefined;
    if (!values) return undefined;
    const bias = t.get(`${prefix}.bias`)!.data as Float32Array;
    const outputs = bias.length;
    const rp = t.get(`${prefix}.row_ptr`)?.data as Int32Array | undefined;
    if (rp)
      return {
        inputs: NaN,
        outputs,
        rowPtr: rp,
        colIdx: t.get(`${prefix}.col_idx`)!.data as ArrayLike<number>,
        values,
        bias,
      };
    const inputs = values.length / outputs; // dense: row-major [outputs, inputs]
    return {
      inputs,
      outputs,
      rowPtr: Array.from({ length: outputs + 1 }, (_, r) => r * inputs),
      colIdx: Array.from(values, (_, p) => p % inputs),
      values,
      bias,
    };
  };
  const trunk: FileLayer[] = [];
  for (let i = 0, l; (l = layer(`trunk.${i}`)); i++) trunk.push(l);
  const exits: FileLayer[][] = [];
  for (let e = 0; layer(`exit.${e}.0`); e++) {
    const heads: FileLayer[] = [];
    for (let j = 0, l; (l = layer(`exit.${e}.${j}`)); j++) heads.push(l);
    exits.push(heads);
  }
  return { trunk, exits };
}

function apply(l: FileLayer, x: Float64Array, relu: boolean): Float64Array {
  const y = new Float64Array(l.outputs);
  for (let r = 0; r < l.outputs; r++) {
    let s = l.bias[r]!;
    for (let p = l.rowPtr[r]!; p < l.rowPtr[r + 1]!; p++) s += l.values[p]! * x[l.colIdx[p]!]!;
    y[r] = relu ? Math.max(0, s) : s;
  }
  return y;
}

function softmaxStats(z: Float64Array): { label: number; maxprob: number; entropy: number } {
  const m = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / s);
  let label = 0;
  for (let c = 1; c < z.length; c++) if (z[c]! > z[label]!) label = c;
  return { label, maxprob: Math.max(...p), entropy: -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0) };
}

/** Every classifier's logits for one sample: exits in order, the final classifier last. */
function oracleLogits(file: ReturnType<typeof layersOf>, afters: number[], x: Float64Array): Float64Array[] {
  const out: Float64Array[] = [];
  let h = x;
  file.trunk.forEach((l, i) => {
    h = apply(l, h, i < file.trunk.length - 1);
    afters.forEach((a, e) => {
      if (a === i) out[e] = file.exits[e]!.reduce((v, head) => apply(head, v, false), h);
    });
  });
  out[afters.length] = h;
  return out;
}

const specArb: fc.Arbitrary<Spec> = fc
  .record({
    hidden: fc.array(fc.integer({ min: 3, max: 12 }), { minLength: 3, maxLength: 5 }),
    inputs: fc.integer({ min: 3, max: 16 }),
    classes: fc.integer({ min: 2, max: 6 }),
    picks: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
    exitMask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    sparseHead: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    seed: fc.integer({ min: 0, max: 10_000 }),
  })
  .map((r) => {
    const sizes = [r.inputs, ...r.hidden, r.classes];
    const outDegrees = sizes.slice(0, -1).map((s, i) => {
      const f = feasibleOutDegrees(s, sizes[i + 1]!);
      return f[r.picks[i]! % f.length]!;
    });
    // exits after hidden layers 0 … H−1 chosen by the mask, at least two, never all consecutive from 0
    let afters = r.exitMask.slice(0, r.hidden.length).flatMap((b, i) => (b ? [i] : []));
    if (afters.length < 2) afters = [0, r.hidden.length - 1];
    if (afters.every((a, i) => a === i))
      afters = [...afters.slice(0, -1), r.hidden.length - 1].filter((a, i, s) => s.indexOf(a) === i);
    if (afters.length < 2) afters = [0, r.hidden.length - 1];
    const exits = afters.map((after, k) => {
      const f = feasibleOutDegrees(sizes[after + 1]!, r.classes);
      return r.sparseHead[k] ? { after, outDegree: f[r.picks[6 + k]! % f.length]! } : { after };
    });
    return { sizes, outDegrees, exits, seed: r.seed };
  });

const build = (s: Spec) =>
  Model.mlp(engine, {
    sizes: s.sizes,
    outDegrees: s.outDegrees,
    seed: s.seed,
    exits: s.exits.map((e) => ({ ...e, weight: 1 })),
  });

function inputs(features: number, B: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from(
    { length: features * B },
    () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 6 - 3,
  );
}

describe("ExitRunner against a plain softmax / entropy oracle", () => {
  it("answers at the first exit whose max probability or entropy passes, with its class and logits", () => {
    let compared = 0,
      early = 0,
      total = 0;
    const answeredBy = new Set<string>();
    fc.assert(
      fc.property(
        specArb,
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        fc.boolean(),
        fc.array(fc.double({ min: 0.05, max: 0.95, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.boolean(),
        (spec, B, seed, entropy, quantiles, shared) => {
          const model = build(spec);
          const E = spec.exits.length,
            C = spec.sizes[spec.sizes.length - 1]!,
            F = spec.sizes[0]!;
          const x = inputs(F, B, seed);
          const file = layersOf(encodeModel(model).bytes);
          const afters = spec.exits.map((e) => e.after);
          const stats = Array.from({ length: B }, (_, b) =>
            oracleLogits(
              file,
              afters,
              Float64Array.from({ length: F }, (_, f) => x[f * B + b]!),
            ).map((z) => ({ z, ...softmaxStats(z) })),
          );
          // thresholds at quantiles of the oracle's own statistics, so every exit both answers and passes samples on
          const thresholds = quantiles.slice(0, E).map((q, e) => {
            const v = stats.map((s) => (entropy ? s[e]!.entropy : s[e]!.maxprob)).sort((a, b) => a - b);
            return Number(v[Math.min(B - 1, Math.floor(q * B))]!.toPrecision(6));
          });
          const text = `${entropy ? "entropy" : "maxprob"}:${shared ? thresholds[0] : thresholds.join(",")}`;
          const policy = parseExitPolicy(text, E);
          expect(policy.thresholds).toEqual(shared ? new Array(E).fill(thresholds[0]) : thresholds);
          const passes = (s: { maxprob: number; entropy: number }, e: number) =>
            entropy ? s.entropy <= policy.thresholds[e]! : s.maxprob >= policy.thresholds[e]!;
          const margin = (s: { maxprob: number; entropy: number }, e: number) =>
            Math.abs((entropy ? s.entropy : s.maxprob) - policy.thresholds[e]!);

          const X = Matrix.from(engine, F, B, x);
          const runner = new ExitRunner(model, policy);
          const r = runner.run(X);
          for (let b = 0; b < B; b++) {
            total++;
            const s = stats[b]!;
            let k = 0;
            while (k < E && !passes(s[k]!, k)) k++;
            // float32 kernels against float64 here: a statistic within 1e-4 of its threshold may fall either side
            if (s.slice(0, Math.min(k + 1, E)).some((st, e) => margin(st, e) < 1e-4)) continue;
            compared++;
            if (k < E) early++;
            answeredBy.add(`${k === E ? "final" : "exit"}`);
            expect(r.exit[b], `sample ${b} (${text})`).toBe(k);
            const want = s[k]!;
            const zmax = Math.max(...want.z.map(Math.abs));
            for (let c = 0; c < C; c++)
              expect(Math.abs(r.logits[b * C + c]! - want.z[c]!)).toBeLessThanOrEqual(1e-4 * (1 + zmax));
            const [top, second] = [...want.z].sort((p, q) => q - p);
            if (second === undefined || top! - second > 1e-4 * (1 + zmax)) expect(r.label[b]).toBe(want.label);
            expect(Math.abs(r.confidence[b]! - want.maxprob)).toBeLessThanOrEqual(1e-4);
            expect(Math.abs(r.entropy[b]! - want.entropy)).toBeLessThanOrEqual(1e-4 * (1 + want.entropy));
          }
          runner.dispose();
          X.dispose();
          model.dispose();
        },
      ),
      { numRuns: 80 },
    );
    // the comparison was made on most samples, and covered both exits and the final classifier
    expect(compared).toBeGreaterThan(0.8 * total);
    expect(early).toBeGreaterThan(0.2 * compared);
    expect(early).toBeLessThan(0.9 * compared);
    expect([...answeredBy].sort()).toEqual(["exit", "final"]);
  });

  it("extreme policies: maxprob:0 answers all at the first exit; entropy:0, maxprob:1 (almost) none early", () => {
    const spec: Spec = {
      sizes: [10, 8, 6, 8, 4],
      outDegrees: [4, 3, 4, 4],
      exits: [{ after: 1 }, { after: 2, outDegree: 2 }],
      seed: 3,
    };
    const model = build(spec);
    const X = Matrix.from(engine, 10, 33, inputs(10, 33, 5));
    const run = (text: string) => Array.from(new ExitRunner(model, parseExitPolicy(text, 2)).run(X).exit);
    expect(run("maxprob:0")).toEqual(new Array(33).fill(0));
    expect(run("maxprob:1,0")).toEqual(new Array(33).fill(1));
    expect(run("entropy:0")).toEqual(new Array(33).fill(2));
    expect(run("maxprob:1")).toEqual(new Array(33).fill(2));
    expect(run(`entropy:${Math.log(4) + 1e-9}`)).toEqual(new Array(33).fill(0)); // log C bounds every entropy
    X.dispose();
    model.dispose();
  });
});

describe("the exit rules at exactly their thresholds", () => {
  it("maxprob ≥ q and entropy ≤ T include the threshold; equal logits answer the first class", () => {
    // zero inputs and zero biases: every logit is exactly 0, so max probability is 1/4 and entropy log 4, exactly
    const model = Model.mlp(engine, {
      sizes: [6, 4, 4, 4, 4],
      outDegrees: [2, 2, 2, 2],
      seed: 2,
      biasInit: 0,
      exits: [{ after: 0 }, { after: 2 }],
    });
    const X = Matrix.from(engine, 6, 5, new Float32Array(30));
    const run = (text: string) => new ExitRunner(model, parseExitPolicy(text, 2)).run(X);
    const at = run("maxprob:0.25");
    expect([...at.exit, ...at.label, ...at.confidence]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25, 0.25,
    ]);
    expect(Array.from(run(`maxprob:${0.25 + 2 ** -40},0.25`).exit)).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(run(`entropy:${Math.log(4)}`).exit)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(run(`entropy:${Math.log(4) - 2 ** -40}`).exit)).toEqual([2, 2, 2, 2, 2]);
    expect(Array.from(run(`entropy:${Math.log(4) - 2 ** -40}`).entropy)).toEqual(
      new Array(5).fill(Math.fround(Math.log(4))),
    );
    X.dispose();
    model.dispose();
  });
});

describe("exitMacs against a count from the sizes and out-degrees", () => {
  /** MACs per sample of one layer: its stored connections (inputs · out-degree; every connection when dense). */
  const layerMacs = (inputs: number, outputs: number, d: number) => inputs * Math.min(d, outputs);

  it("two or more exits at any layers: trunk to the branch plus every head passed; the final pays every head", () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const model = build(spec);
        const { sizes, outDegrees, exits } = spec;
        const C = sizes[sizes.length - 1]!;
        const trunk = outDegrees.map((d, i) => layerMacs(sizes[i]!, sizes[i + 1]!, d));
        const heads = exits.map((e) => layerMacs(sizes[e.after + 1]!, C, e.outDegree ?? C));
        const upTo = (i: number) => trunk.slice(0, i + 1).reduce((a, b) => a + b, 0);
        const m = exitMacs(model);
        expect(m.perExit).toEqual(
          exits.map((e, k) => upTo(e.after) + heads.slice(0, k + 1).reduce((a, b) => a + b, 0)),
        );
        expect(m.trunk).toBe(upTo(trunk.length - 1));
        expect(m.final).toBe(m.trunk + heads.reduce((a, b) => a + b, 0));
        // and the file agrees: the stored values are the connections
        const file = layersOf(encodeModel(model).bytes);
        expect(file.trunk.map((l) => l.values.length)).toEqual(trunk);
        expect(file.exits.map((h) => h[0]!.values.length)).toEqual(heads);
        model.dispose();
      }),
      { numRuns: 40 },
    );
  });

  it("a worked example: [20, 10, 10, 10, 5] at (2, 3, 4, 5), exits after layers 0 and 2, the second one sparse", () => {
    const model = Model.mlp(engine, {
      sizes: [20, 10, 10, 10, 5],
      outDegrees: [2, 3, 4, 5],
      seed: 1,
      exits: [{ after: 0 }, { after: 2, outDegree: 1 }],
    });
    // trunk: 40, 30, 40, 50; heads: 10·5 = 50 (dense) and 10·1 = 10
    expect(exitMacs(model)).toEqual({ perExit: [40 + 50, 40 + 30 + 40 + 50 + 10], final: 160 + 60, trunk: 160 });
    model.dispose();
  });
});
