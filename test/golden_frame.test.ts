// Golden frames: fixed tensors and the exact bytes docs/frame-format.md makes of them, computed by
// test/golden/golden.py (struct, zlib.crc32 and IEEE binary16 from Python's standard library).
// The checks live in test/cases/golden.ts; the Chromium suite runs them too (test/browser/golden.page.ts).
import { describe } from "vitest";
import { goldenTests } from "./helpers/golden.js";

describe("golden frames", () => goldenTests("frames"));
