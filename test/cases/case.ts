// One kernel test case, written once and run three ways (after ggml's test-backend-ops): the Node suite checks it
// under fast-check on the release and the debug build (test/kernels.test.ts), the Chromium suite runs the same
// source bundled into a page (test/browser/kernels.page.ts), and the kernel benchmarks time it at benchmark sizes
// (bench/kernels.mjs, bench/conv.mjs). So nothing here imports Node or vitest: a failed check throws an Error
// that names the entry and the tolerance. Also the operand helpers every kernel test uses.
import fc from "fast-check";
import { F32Buffer, I32Buffer, Matrix } from "../../src/engine/buffers.js";
import type { Engine } from "../../src/engine/engine.js";
import { Rng } from "../../src/engine/random.js";
import type { Disposable } from "../../src/engine/scope.js";
import { CsrWeights } from "../../src/ops/csr_spmm.js";
import type { DenseWeights } from "../../src/ops/dense_matmul.js";
import { ConvWeights } from "../../src/ops/sparse_conv2d.js";
import { Pattern } from "../../src/sparsity/pattern.js";
import { Scope as LibraryScope } from "../../src/engine/scope.js";

/** One call of an op on operands in WASM memory, and its check against the dense reference. */
export interface Trial {
  /** Calls the op (what the benchmark times; it may call it again and again). */
  run(): void;
  /** Throws unless what the last run wrote matches the dense reference; called after the first run (and each round). */
  check(): void;
  /** Floating-point operations of one run (counted on stored connections), for GFLOP/s. */
  flops: number;
  /** Rounds of run and check in one property run, for kernels that update state (an optimizer's steps); default 1. */
  rounds?: number;
}

/** A kernel case: generated parameters, and the operands, call and check they make. */
export interface KernelCase<P = never> {
  /** What the case asserts, as a specification; the test's name in every suite. */
  readonly name: string;
  /** The op (or the kernel, for kernels without an op) it calls, as the benchmarks name it. */
  readonly op: string;
  /** The module exports the call reaches (test/kernels.test.ts checks that every export has a case). */
  readonly kernels: readonly string[];
  /** Parameters of one property run; fast-check shrinks them. */
  readonly arb: fc.Arbitrary<P>;
  /** Property runs on the release build, and on the debug build (default: as many). */
  readonly runs: number;
  readonly debugRuns?: number;
  /** Makes the operands in the scope's engine. */
  setup(s: Scope, p: P): Trial;
  /** Parameters at benchmark size, each with a label: bench/kernels.mjs times every case at these. */
  perf(): { label: string; params: P }[];
}

/** Any kernel case, whatever its parameters. */
export type AnyCase = KernelCase<any>;

/** One property run of a case: set up in a fresh scope, then run and check (each round), then free everything. */
export function runCase<P>(c: KernelCase<P>, engine: Engine, p: P): void {
  scoped(engine, (s) => {
    const t = c.setup(s, p);
    for (let i = 0; i < (t.rounds ?? 1); i++) {
      t.run();
      t.check();
    }
  });
}

/** The property of a case on an engine: {@link runCase} for every generated parameter set. */
export function property<P>(c: KernelCase<P>, engine: Engine): fc.IPropertyWithHooks<[P]> {
  return fc.property(c.arb, (p) => runCase(c, engine, p));
}

/** Allocates engine buffers and frees them all at once, so a property's runs leave the allocator as they found it. */
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

/** A case's scope that remembers what it made, so every array a run leaves can be compared across engines. */
class Recording extends Scope {
  readonly made: Disposable[] = [];
  override keep<T extends Disposable>(x: T): T {
    this.made.push(x);
    return super.keep(x);
  }
}

/**
 * One property run of a case (set up, then run and check each round), returning every array it left in WASM memory —
 * operands, outputs, canaries, weights — so two engines' runs can be compared bit for bit (threads never change a
 * result).
 */
export function runAndKeep<P>(c: KernelCase<P>, engine: Engine, p: P): Float32Array[] {
  return Recording.run(engine, (s) => {
    const t = c.setup(s, p);
    for (let i = 0; i < (t.rounds ?? 1); i++) {
      t.run();
      t.check();
    }
    const out: Float32Array[] = [];
    for (const x of (s as Recording).made) {
      if (x instanceof Matrix || x instanceof F32Buffer) out.push(x.toArray());
      else if (x instanceof I32Buffer) out.push(new Float32Array(x.toArray().buffer));
      else if (x instanceof CsrWeights || x instanceof ConvWeights) out.push(x.values.toArray());
    }
    return out;
  });
}

/** Throws unless both runs left the same arrays holding the same bits (Object.is: NaN equals NaN, −0 is not 0). */
export function expectSameBits(what: string, got: ArrayLike<number>[], want: ArrayLike<number>[]): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} arrays, expected ${want.length}`);
  want.forEach((w, a) => expectEqual(`${what}: array ${a}`, got[a]!, w));
}

const CANARY = 1234.5;

/**
 * An output matrix filled with NaN (every entry must be written) followed by a canary block: `intact()` throws
 * unless the canary still holds, so a kernel that writes past the end of its output is caught.
 */
export function guardedOutput(s: Scope, rows: number, cols: number): { m: Matrix; intact(): void } {
  const m = s.matrix(rows, cols);
  m.view().fill(NaN);
  const canary = s.f32(8);
  canary.view().fill(CANARY);
  return { m, intact: () => expectEqual("canary after the output", canary.view(), new Float32Array(8).fill(CANARY)) };
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

export type PatternKind =
  | "empty"
  | "single"
  | "dense"
  | "random"
  | "fixedDegree"
  | "mask"
  | "emptyRowsCols"
  | "blocked";

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
    kind: fc.constantFrom<PatternKind>(
      "empty",
      "single",
      "dense",
      "random",
      "fixedDegree",
      "mask",
      "emptyRowsCols",
      "blocked",
    ),
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
      const r = s.pick % outputs,
        c = Math.floor(s.pick / outputs) % inputs;
      return Pattern.fromCsr(
        inputs,
        outputs,
        Array.from({ length: outputs + 1 }, (_, i) => (i > r ? 1 : 0)),
        [c],
      );
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
    case "blocked": {
      // blocks of 4 or 2 consecutive rows with the same columns (1 when the outputs are odd), empty blocks included
      const r = outputs % 4 === 0 && s.pick % 2 === 0 ? 4 : outputs % 2 === 0 ? 2 : 1;
      const g = Pattern.random(inputs, outputs / r, s.density, s.seed);
      const rowPtr = [0],
        colIdx: number[] = [];
      for (let o = 0; o < outputs; o++) {
        const q = Math.floor(o / r);
        colIdx.push(...g.colIdx.subarray(g.rowPtr[q], g.rowPtr[q + 1]));
        rowPtr.push(colIdx.length);
      }
      return Pattern.fromCsr(inputs, outputs, rowPtr, colIdx, "blocked", { block: r });
    }
    case "emptyRowsCols": {
      // a dense-ish block with whole rows and columns knocked out
      const deadRow = Array.from({ length: outputs }, () => rng.next() < 0.4);
      const deadCol = Array.from({ length: inputs }, () => rng.next() < 0.4);
      const mask = Array.from({ length: inputs * outputs }, (_, i) =>
        !deadRow[Math.floor(i / inputs)] && !deadCol[i % inputs] && rng.next() < Math.max(s.density, 0.5) ? 1 : 0,
      );
      return Pattern.fromMask(inputs, outputs, mask);
    }
  }
}

/** A generated recipe, or a pattern given as it is (the benchmarks' shapes). */
export type PatternArg = PatternSpec | Pattern;

export const patternOf = (a: PatternArg): Pattern => (a instanceof Pattern ? a : buildPattern(a));

/** Out-degrees d ≤ outputs with inputs·d divisible by outputs, computed independently of the library. */
export function fixedDegrees(inputs: number, outputs: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= outputs; d++) if ((inputs * d) % outputs === 0) out.push(d);
  return out;
}

/**
 * Throws unless |got − want| ≤ atol + rtol·scale elementwise (scale: the sum of absolute terms behind each entry,
 * which bounds float32 accumulation error; default |want|); names the first offending index.
 */
export function expectClose(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale?: ArrayLike<number> | number,
  rtol = 1e-4,
  atol = 1e-5,
): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const s = scale === undefined ? Math.abs(want[i]!) : typeof scale === "number" ? scale : scale[i]!;
    const tol = atol + rtol * s;
    const g = got[i]!,
      w = want[i]!;
    if (!(Math.abs(g - w) <= tol)) {
      throw new Error(`${what}[${i}] = ${g}, expected ${w} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

/** Throws unless the arrays hold exactly the same numbers (Object.is: NaN equals NaN, −0 is not 0). */
export function expectEqual(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}[${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

/** Throws unless |got − want| < 10^−digits / 2 (vitest's toBeCloseTo). */
export function expectNear(what: string, got: number, want: number, digits: number): void {
  if (!(Math.abs(got - want) < 10 ** -digits / 2)) {
    throw new Error(`${what} = ${got}, expected ${want} to ${digits} digits`);
  }
}

/** Throws unless |got − want| ≤ tol. */
export function expectWithin(what: string, got: number, want: number, tol: number): void {
  if (!(Math.abs(got - want) <= tol)) {
    throw new Error(`${what} = ${got}, expected ${want} (tolerance ${tol.toExponential(2)})`);
  }
}
