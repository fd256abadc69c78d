// The public surface is a decision: "presparse" exports the nouns a user needs and the errors it throws, and a
// name joins it only by changing this list. Kernels and helpers live in "presparse/ops", which shares no name
// with the main entry.
import { describe, expect, it } from "vitest";
import * as api from "../src/index.js";
import * as ops from "../src/ops_index.js";

const NOUNS = [
  "Adam",
  "AvgPool2d",
  "Engine",
  "ExitRunner",
  "Flatten",
  "Matrix",
  "MaxPool2d",
  "Model",
  "Pattern",
  "Sgd",
  "SparseConv2d",
  "SparseLinear",
  "SplitClient",
  "buildModel",
  "calibrate",
  "decodeFrame",
  "decodeModel",
  "encodeFrame",
  "encodeModel",
  "evaluate",
  "frameBytes",
  "makeDataset",
  "measureCosts",
  "measurePolicy",
  "parseExitPolicy",
  "parseLink",
  "pickForAccuracy",
  "pickKnee",
  "plan",
  "split",
  "splitDataset",
  "train",
];
const ERRORS = [
  "ArchError",
  "FormatError",
  "FrameError",
  "FrameMismatchError",
  "FrameTooLargeError",
  "KernelAssertionError",
  "LinkSpecError",
  "PatternError",
  "PresparseError",
  "ShapeError",
  "SplitServerError",
  // what Engine.load({ threads }) throws when the pool cannot start, and a call when a worker dies mid-call
  "ThreadPoolError",
  "ValidationError",
  "WasmLoadError",
  "WorkerDiedError",
];

describe("the public surface", () => {
  it("presparse exports exactly the nouns and the errors", () => {
    expect(Object.keys(api).sort()).toEqual([...NOUNS, ...ERRORS].sort());
  });

  it("every error it exports is a PresparseError", () => {
    const exported = api as unknown as Record<string, { prototype: object }>;
    expect(Object.prototype.isPrototypeOf.call(Error.prototype, api.PresparseError.prototype)).toBe(true);
    for (const name of ERRORS.filter((n) => n !== "PresparseError")) {
      expect(Object.prototype.isPrototypeOf.call(api.PresparseError.prototype, exported[name]!.prototype), name).toBe(
        true,
      );
    }
  });

  it("presparse/ops holds the kernels and helpers, none of them a main-entry name", () => {
    for (const k of [
      "csrSpmm",
      "csrSpmmBackward",
      "csrSpmmBackwardWeights",
      "denseMatmul",
      "sparseConv2d",
      "F32Buffer",
      "Rng",
    ]) {
      expect(Object.keys(ops), k).toContain(k);
    }
    expect(Object.keys(ops).filter((k) => k in api)).toEqual([]);
  });
});
