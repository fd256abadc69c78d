// Golden safetensors: a fixed set of tensors and the exact file encodeSafetensors makes of them, computed by
// test/golden/golden.py from the format and the documented layout (metadata first, tensors by element size then
// name, header space-padded to a multiple of 8); and a file from a writer with another layout, read back.
// The checks live in test/cases/golden.ts; the Chromium suite runs them too (test/browser/golden.page.ts).
import { describe } from "vitest";
import { goldenTests } from "./helpers/golden.js";

describe("golden safetensors file", () => goldenTests("safetensors"));
