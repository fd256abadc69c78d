// The default limits met by frames and patterns of their full size: a 64 MiB frame, a dimension of 2^24, 2^24
// elements, patterns 2^24 wide and 2^24 · 127 in size. Each takes a fraction of a second, so the mutation runs
// leave this file out; test/limits.test.ts holds every limit's edge with small, custom limits.
import { describe, expect, it } from "vitest";
import { Pattern } from "../src/sparsity/pattern.js";
import { decodeFrame } from "../src/split/frame.js";
import { LIFTED, frame, header, rejection, tooLarge } from "./helpers/frame_limits.js";
import { resealed } from "./helpers/frame_mutations.js";

describe("default frame limits with frames of their size", () => {
  it("maxBytes default: a frame of exactly 64 MiB decodes; 64 MiB + 1 byte is 413 before anything is read", () => {
    const n = (2 ** 26 - 40) / 4; // f32 elements that make a rank-1 frame of 2^26 bytes
    const f = frame([n], "f32", new Float32Array(n).fill(0.5));
    expect(f.length).toBe(2 ** 26);
    const d = decodeFrame(f);
    expect([d.data.length, d.data[0], d.data[n - 1]]).toEqual([n, 0.5, 0.5]);
    tooLarge(new Uint8Array(2 ** 26 + 1), undefined, "length", 2 ** 26 + 1, 2 ** 26);
  }, 30_000);

  it("maxDim default: [2^24] decodes; a dimension of 2^24 + 1 is 413 whatever maxElements allows", () => {
    const n = 2 ** 24;
    expect(decodeFrame(frame([n], "int8", new Float32Array(n))).shape).toEqual([n]);
    tooLarge(resealed(header([n + 1])), { maxElements: 2 ** 30 }, "dims", n + 1, n);
    expect(rejection(resealed(header([n + 1])), { maxElements: 2 ** 30 }).message).toMatch(
      /dims\[0\] = 16777217 exceeds the limit of 16777216/,
    );
  }, 30_000);

  it("maxElements default: [2^12, 2^12] decodes; " +
    "[2^12, 2^12 + 1] is 413 though each dimension is far below maxDim", () => {
    const k = 2 ** 12;
    expect(decodeFrame(frame([k, k], "int8", new Float32Array(k * k))).shape).toEqual([k, k]);
    tooLarge(resealed(header([k, k + 1])), undefined, "dims", 2 ** 24);
    // the product is checked after each factor: four dims of 2^32 - 1 never overflow into an accepted size
    tooLarge(resealed(header([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1])), { maxDim: 2 ** 32 - 1 }, "dims");
    tooLarge(
      resealed(header([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1])),
      LIFTED,
      "dims",
      Number.MAX_SAFE_INTEGER,
    );
  }, 30_000);
});

describe("pattern size limits with patterns of their size", () => {
  const empty = (inputs: number, outputs: number) => Pattern.fromCsr(inputs, outputs, new Int32Array(outputs + 1), []);

  it("inputs and outputs of 2^24 each are built", () => {
    expect(empty(2 ** 24, 1).colPtr.length).toBe(2 ** 24 + 1);
    expect(empty(1, 2 ** 24).rowPtr.length).toBe(2 ** 24 + 1);
  }, 30_000);

  it("the largest pattern below 2^31 connections, 2^24 · 127 (2^31 − 1 is prime), is built", () => {
    expect(empty(2 ** 24, 127).nnz).toBe(0);
  }, 30_000);
});
