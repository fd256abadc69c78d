// The vitest setup of a mutation run: the project's config narrowed to the test files of the module under
// mutation (a comma-separated list in PRESPARSE_MUTATION_TESTS, set by scripts/mutation.mjs).
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

const tests = (process.env.PRESPARSE_MUTATION_TESTS ?? "").split(",").filter(Boolean);
if (tests.length === 0) throw new Error("stryker/vitest.config.ts: PRESPARSE_MUTATION_TESTS names no test files (run it through npm run test:mutation)");

export default defineConfig({ ...base, test: { ...base.test, include: tests, globalSetup: [] } });
