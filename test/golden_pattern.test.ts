// Golden patterns: what "the same seed, sizes and degrees give the same pattern and hash on every machine" means.
// The expected arrays and hashes come from test/golden/golden.py, a second implementation of the documented
// algorithm (xoshiro128** seeded by splitmix32, shuffled cyclic tiling, 4·nnz seeded double-edge swaps) and hash.
// The checks live in test/cases/golden.ts; the Chromium suite runs them too (test/browser/golden.page.ts).
import { describe } from "vitest";
import { goldenTests } from "./helpers/golden.js";

describe("golden patterns", () => goldenTests("patterns"));
