// One engine per test process, and (from test/cases/case.ts, where the kernel cases share them with the page and
// the benchmark) the scope that frees every buffer a property run allocates and the generated operands.
import { Engine } from "../../src/engine/engine.js";
import { softmaxStats } from "../../src/ops/softmax_xent.js";

export {
  Scope,
  abs,
  batchArb,
  buildPattern,
  expectClose,
  fixedDegrees,
  guardedOutput,
  patternSpecArb,
  scoped,
  values,
  type PatternKind,
  type PatternSpec,
} from "../cases/case.js";

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

/** Column b's softmax statistics of logits z [C, n] (the library's softmaxStats, one column picked). */
export function columnStats(
  z: Float32Array,
  C: number,
  n: number,
  b: number,
): { label: number; confidence: number; entropy: number } {
  const s = softmaxStats(z, C, n);
  return { label: s.label[b]!, confidence: s.confidence[b]!, entropy: s.entropy[b]! };
}
