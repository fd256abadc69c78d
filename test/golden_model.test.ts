// Golden model numbers through the public API: the model hash of the README's network for seed 0, the first
// epoch's losses for a fixed seed, and the hash of the trained model. These are SNAPSHOTS of the current code (no
// independent script computes He-normal weights or a training run), recorded once at the commit that added them:
// a change here means every saved model and every published figure changes with it, so it must be on purpose.
// The checks and values live in test/cases/golden.ts; the Chromium suite runs them too (test/browser/golden.page.ts).
import { describe } from "vitest";
import { goldenTests } from "./helpers/golden.js";

describe("golden model (snapshot)", () => goldenTests("model"));
