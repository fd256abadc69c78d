// @ts-check
// One module per run, named by PRESPARSE_MUTATION_MODULE (scripts/mutation.mjs sets it and the test list).
import { findModule, stem } from "./modules.mjs";

const module = findModule(process.env.PRESPARSE_MUTATION_MODULE ?? "");
process.env.PRESPARSE_MUTATION_TESTS = module.tests.join(",");

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [module.mutate],
  testRunner: "vitest",
  vitest: { configFile: "stryker/vitest.config.ts", related: false },
  coverageAnalysis: "perTest",
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: `reports/mutation/${stem(module)}.json` },
  htmlReporter: { fileName: `reports/mutation/${stem(module)}.html` },
  clearTextReporter: { logTests: false, reportScoreTable: true },
  concurrency: Number(process.env.PRESPARSE_MUTATION_CONCURRENCY ?? 2),
  // a shared machine slows runs unevenly: a short timeout marks equivalent mutants "timed out" (detected)
  timeoutMS: 15_000,
  timeoutFactor: 2,
  // dist is copied: a test that runs the built CLI (model_io_compat.test.ts) needs it; it runs unmutated code and
  // so covers no mutant
  ignorePatterns: ["results", "bench/results", "reports", ".ci", "test/artifacts"],
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
};
