// Every kernel case of test/cases — dense reference and tolerance written once — on the release and the debug
// build (whose kernels assert their preconditions); the Chromium suite and the kernel benchmark run the same cases.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KERNEL_ARITY } from "../src/engine/kernels.generated.js";
import { property } from "./cases/case.js";
import { KERNEL_CASES } from "./cases/index.js";
import { getEngine } from "./helpers/engine.js";

describe.each([false, true])("kernel cases (debug build: %s)", (debug) => {
  it.each(KERNEL_CASES)("$name", async (c) => {
    const engine = await getEngine(debug);
    const live = engine.stats().liveBlocks;
    fc.assert(property(c, engine), { numRuns: debug ? (c.debugRuns ?? c.runs) : c.runs });
    expect(engine.stats().liveBlocks, "blocks left live by the runs").toBe(live);
  });
});

describe("the list of cases", () => {
  it("has a case for every kernel the module exports, and unique names", () => {
    const covered = new Set(KERNEL_CASES.flatMap((c) => c.kernels));
    expect(Object.keys(KERNEL_ARITY).filter((k) => k !== "heapBase" && !covered.has(k))).toEqual([]);
    expect([...covered].filter((k) => !(k in KERNEL_ARITY))).toEqual([]);
    expect(new Set(KERNEL_CASES.map((c) => c.name)).size).toBe(KERNEL_CASES.length);
    expect(new Set(KERNEL_CASES.map((c) => c.op)).size).toBe(KERNEL_CASES.length);
  });
});
