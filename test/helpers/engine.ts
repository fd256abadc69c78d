// One engine per test process, plus a scope that frees every buffer a property run allocates.
import fc from "fast-check";
import { expect } from "vitest";
import { CsrWeights, Engine, Pattern, Rng, softmaxStats, type DenseWeights, type Matrix } from "../../src/index.js";
import { Scope as LibraryScope } from "../../src/engine/scope.js";

const engines = new Map<boolean, Promise<Engine>>();

/**
 * The shared engine of this test file: the release build unless `debug`. PRESPARSE_TEST_WASM (a path) replaces the
 * release build, so a kernel variant can be checked against the whole suite before it replaces the shipped one.
 */
export function getEngine(debug = false): Promise<Engine> {
  let e = engines.get(debug);
  if (!e) {
    const variant = debug ? undefined : process.env.PRESPARSE_TEST_WASM;
    e = Engine.load(variant ? { wasm: variant } : { debug });
    engines.set(debug, e);
  }
  return e;
}

/** The library's scope (frees everything a property run allocates) plus the ops' weight holders. */
export class Scope extends LibraryScope {
  csr(p: Pattern, values: ArrayLike<number>): CsrWeights {
    return this.keep(new CsrWeights(this.engine, p, values));
  }
  dense(outputs: number, inputs: number, values: ArrayLike<number>): DenseWeights {
    return { engine: this.engine, outputs, inputs, values: this.f32(values) };
  }
}

/** Runs fn with a fresh scope and frees the scope afterwards, whatever happens. */
export const scoped = <T>(engine: Engine, fn: (s: Scope) => T): T => Scope.run(engine, fn);

const CANARY = 1234.5;

/**
 * An output matrix filled with NaN (every entry must be written) followed by a canary block: `intact()` asserts
 * the canary still holds, so a kernel that writes past the end of its output is caught.
 */
export function guardedOutput(s: Scope, rows: number, cols: number): { m: Matrix; intact(): void } {
  const m = s.matrix(rows, cols);
  m.view().fill(NaN);
  const canary = s.f32(8);
  canary.view().fill(CANARY);
  return { m, intact: () => expect(Array.from(canary.view())).toEqual(new Array(8).fill(CANARY)) };
}

/** |a| elementwise in float64: the scale a float32 sum of a's terms is accurate to. */
export const abs = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, Math.abs);

/**
 * n float32-representable test values from a seed: about 1 in 8 exactly zero, the rest uniform in
 * [−scale, scale] with both signs, some of them small integers (exact sums catch indexing bugs sharply).
 */
export function values(seed: number, n: number, scale = 2): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    if (u < 0.125) out[i] = 0;
    else if (u < 0.25) out[i] = rng.int(7) - 3;
    else out[i] = (rng.next() * 2 - 1) * scale;
  }
  return out;
}

/** Batch sizes 1–67, biased towards the edges of the 4-, 8-, 16- and 32-wide SIMD loops. */
export const batchArb = fc.oneof(
  fc.integer({ min: 1, max: 67 }),
  fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67),
);

export type PatternKind = "empty" | "single" | "dense" | "random" | "fixedDegree" | "mask" | "emptyRowsCols";

/** The recipe for one generated pattern; `build` makes it, so fast-check can shrink the recipe. */
export interface PatternSpec {
  inputs: number;
  outputs: number;
  kind: PatternKind;
  seed: number;
  density: number;
  pick: number;
}

export const patternSpecArb = (maxDim = 70): fc.Arbitrary<PatternSpec> =>
  fc.record({
    inputs: fc.integer({ min: 1, max: maxDim }),
    outputs: fc.integer({ min: 1, max: maxDim }),
    kind: fc.constantFrom<PatternKind>("empty", "single", "dense", "random", "fixedDegree", "mask", "emptyRowsCols"),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    density: fc.double({ min: 0, max: 1, noNaN: true }),
    pick: fc.nat(),
  });

/** Builds the pattern a spec describes (every kind is a valid pattern for the spec's sizes). */
export function buildPattern(s: PatternSpec): Pattern {
  const { inputs, outputs } = s;
  const rng = new Rng(s.seed);
  switch (s.kind) {
    case "empty":
      return Pattern.fromCsr(inputs, outputs, new Int32Array(outputs + 1), []);
    case "single": {
      const r = s.pick % outputs, c = Math.floor(s.pick / outputs) % inputs;
      return Pattern.fromCsr(inputs, outputs, Array.from({ length: outputs + 1 }, (_, i) => (i > r ? 1 : 0)), [c]);
    }
    case "dense":
      return Pattern.dense(inputs, outputs);
    case "random":
      return Pattern.random(inputs, outputs, s.density, s.seed);
    case "fixedDegree": {
      const degrees = [0, ...fixedDegrees(inputs, outputs)];
      return Pattern.fixedDegree(inputs, outputs, degrees[s.pick % degrees.length]!, s.seed);
    }
    case "mask": {
      const mask = Array.from({ length: inputs * outputs }, () => (rng.next() < s.density ? 1 : 0));
      return Pattern.fromMask(inputs, outputs, mask);
    }
    case "emptyRowsCols": {
      // a dense-ish block with whole rows and columns knocked out
      const deadRow = Array.from({ length: outputs }, () => rng.next() < 0.4);
      const deadCol = Array.from({ length: inputs }, () => rng.next() < 0.4);
      const mask = Array.from({ length: inputs * outputs }, (_, i) =>
        !deadRow[Math.floor(i / inputs)] && !deadCol[i % inputs] && rng.next() < Math.max(s.density, 0.5) ? 1 : 0);
      return Pattern.fromMask(inputs, outputs, mask);
    }
  }
}

/** Out-degrees d ≤ outputs with inputs·d divisible by outputs, computed independently of the library. */
export function fixedDegrees(inputs: number, outputs: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= outputs; d++) if ((inputs * d) % outputs === 0) out.push(d);
  return out;
}

/**
 * Asserts |got − want| ≤ atol + rtol·scale elementwise (scale: the sum of absolute terms behind each entry,
 * which bounds float32 accumulation error); reports the first offending index.
 */
export function expectClose(
  what: string, got: ArrayLike<number>, want: ArrayLike<number>,
  scale?: ArrayLike<number> | number, rtol = 1e-4, atol = 1e-5,
): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const s = scale === undefined ? Math.abs(want[i]!) : typeof scale === "number" ? scale : scale[i]!;
    const tol = atol + rtol * s;
    const g = got[i]!, w = want[i]!;
    if (!(Math.abs(g - w) <= tol)) throw new Error(`${what}[${i}] = ${g}, expected ${w} (tolerance ${tol.toExponential(2)})`);
  }
}

/** Column b's softmax statistics of logits z [C, n] (the library's softmaxStats, one column picked). */
export function columnStats(z: Float32Array, C: number, n: number, b: number): { label: number; confidence: number; entropy: number } {
  const s = softmaxStats(z, C, n);
  return { label: s.label[b]!, confidence: s.confidence[b]!, entropy: s.entropy[b]! };
}
