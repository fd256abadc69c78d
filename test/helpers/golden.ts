// The Node side of the golden checks of test/cases/golden.ts: test/golden/golden.json read from disk, vitest's
// toEqual as their comparison, the shared engine and the embedded digits as src/data loads them.
import { readFileSync } from "node:fs";
import { loadData } from "../../src/node/index.js";
import { expect, it } from "vitest";
import { type Golden, type GoldenContext, type GoldenGroup, goldenChecks } from "../cases/golden.js";
import { getEngine } from "./engine.js";

export * from "../cases/golden.js";

/** test/golden/golden.json, computed by test/golden/golden.py without any presparse code. */
export const golden: Golden = JSON.parse(readFileSync(new URL("../golden/golden.json", import.meta.url), "utf8"));

/** The context the Node suite runs the golden checks in. */
export async function nodeContext(): Promise<GoldenContext> {
  return {
    equal: (label, got, want) => expect(got, label).toEqual(want),
    engine: await getEngine(),
    digits: () => loadData("mnist", { seed: 0, padTo: 800 }).train,
  };
}

/** One vitest test per golden check of the group, under the check's name (the Chromium suite runs the same). */
export function goldenTests(group: GoldenGroup): void {
  const checks = goldenChecks(golden).filter((c) => c.group === group);
  if (checks.length === 0) throw new Error(`no golden checks in group ${group}`);
  for (const c of checks) it(c.name, async () => c.run(await nodeContext()));
}
