// Golden frames: fixed tensors and the exact bytes docs/frame-format.md makes of them, computed by
// test/golden/golden.py (struct, zlib.crc32 and IEEE binary16 from Python's standard library).
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, frameErrorBound } from "../src/split/frame.js";
import { fromHex, golden, toHex } from "./helpers/golden.js";

describe("golden frames", () => {
  for (const g of golden.frames) {
    const name = `${g.dtype} ${g.kind} [${g.shape.join(", ")}] split ${g.splitId}`;
    it(`${name}: encodeFrame writes the golden bytes`, () => {
      const bytes = encodeFrame({
        data: Float32Array.from(g.data),
        shape: g.shape,
        dtype: g.dtype,
        kind: g.kind,
        splitId: g.splitId,
        modelHash: g.modelHash,
      });
      expect(toHex(bytes)).toBe(g.hex);
    });
    it(`${name}: decodeFrame reads the golden bytes back to the golden values`, () => {
      const f = decodeFrame(fromHex(g.hex), {}, { modelHash: g.modelHash, splitId: g.splitId, kind: g.kind });
      expect({
        shape: f.shape,
        dtype: f.dtype,
        kind: f.kind,
        splitId: f.splitId,
        modelHash: f.modelHash,
        scale: f.scale,
      }).toEqual({
        shape: g.shape,
        dtype: g.dtype,
        kind: g.kind,
        splitId: g.splitId,
        modelHash: g.modelHash,
        scale: g.scale,
      });
      expect(Array.from(f.data)).toEqual(g.decoded);
      g.data.forEach((x, i) =>
        expect(Math.abs(x - f.data[i]!)).toBeLessThanOrEqual(frameErrorBound(g.dtype, x, g.scale)),
      );
    });
  }

  it("an upper-case model hash writes the same bytes and decodes lower-case", () => {
    const g = golden.frames.find((f) => /[a-f]/.test(f.modelHash))!;
    const bytes = encodeFrame({
      data: Float32Array.from(g.data),
      shape: g.shape,
      dtype: g.dtype,
      kind: g.kind,
      splitId: g.splitId,
      modelHash: g.modelHash.toUpperCase(),
    });
    expect(toHex(bytes)).toBe(g.hex);
    expect(decodeFrame(bytes).modelHash).toBe(g.modelHash);
  });
});
