// Every kernel case of test/cases — dense reference and tolerance written once — on the release and the debug
// build (whose kernels assert their preconditions); the Chromium suite and the kernel benchmarks run the same cases.
import { test } from "@fast-check/vitest";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine/engine.js";
import { KERNEL_ARITY } from "../src/engine/kernels.generated.js";
import { runCase, scoped } from "./cases/case.js";
import { KERNEL_CASES } from "./cases/index.js";
import { getEngine } from "./helpers/engine.js";

describe.each([false, true])("kernel cases (debug build: %s)", (debug) => {
  let engine: Engine;
  let live = 0;
  beforeAll(async () => {
    engine = await getEngine(debug);
  });
  beforeEach(() => {
    live = engine.stats().liveBlocks;
  });
  // every buffer a case makes lives in its scope
  afterEach(() => expect(engine.stats().liveBlocks, "blocks left live by the runs").toBe(live));

  for (const c of KERNEL_CASES) {
    test.prop([c.arb], { numRuns: debug ? (c.debugRuns ?? c.runs) : c.runs })(c.name, (p) => runCase(c, engine, p));
  }
});

describe("the list of cases", () => {
  it("has a case for every kernel the module exports, and unique names", () => {
    const covered = new Set(KERNEL_CASES.flatMap((c) => c.kernels));
    expect(Object.keys(KERNEL_ARITY).filter((k) => k !== "heapBase" && !covered.has(k))).toEqual([]);
    expect([...covered].filter((k) => !(k in KERNEL_ARITY))).toEqual([]);
    expect(new Set(KERNEL_CASES.map((c) => c.name)).size).toBe(KERNEL_CASES.length);
    expect(new Set(KERNEL_CASES.map((c) => c.op)).size).toBe(KERNEL_CASES.length);
  });

  it("every case has benchmark parameters that make operands and run (bench --check compares them)", async () => {
    const engine = await getEngine();
    for (const c of KERNEL_CASES) {
      const perf = c.perf();
      expect(perf.length, c.op).toBeGreaterThan(0);
      for (const { label, params } of perf) {
        scoped(engine, (s) => {
          const t = c.setup(s, params);
          expect(t.flops, `${c.op} ${label}`).toBeGreaterThan(0);
          t.run();
        });
      }
    }
  });
});
