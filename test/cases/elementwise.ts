// Cases of addInPlace, scaleInPlace, gatherColumns and the gatherSamples kernel (called by src/nn/batcher.ts):
// float32 arithmetic and copies, so every result is checked exactly.
import fc from "fast-check";
import { addInPlace, gatherColumns, scaleInPlace } from "../../src/ops/elementwise.js";
import { batchArb, expectEqual, guardedOutput, values, type KernelCase } from "./case.js";

const rows = fc.integer({ min: 1, max: 70 });

export const addInPlaceCase: KernelCase<{ rows: number; B: number; seed: number }> = {
  name: "addInPlace: Y += X in float32, exactly",
  op: "addInPlace",
  kernels: ["addInPlace"],
  arb: fc.record({ rows, B: batchArb, seed: fc.integer() }),
  runs: 50,
  setup(s, { rows: r, B, seed }) {
    const y = values(seed, r * B),
      x = values(seed + 1, r * B);
    const Y = s.matrix(r, B, y),
      X = s.matrix(r, B, x);
    return {
      flops: r * B,
      run: () => addInPlace(Y, X),
      check() {
        expectEqual(
          "Y",
          Y.view(),
          Array.from(y, (v, i) => Math.fround(v + x[i]!)),
        );
        expectEqual("X", X.view(), x);
      },
    };
  },
  perf: () => [{ label: "40×256", params: { rows: 40, B: 256, seed: 1 } }],
};

export const scaleInPlaceCase: KernelCase<{ rows: number; B: number; scale: number; seed: number }> = {
  name: "scaleInPlace: X *= s in float32, exactly",
  op: "scaleInPlace",
  kernels: ["scaleInPlace"],
  arb: fc.record({ rows, B: batchArb, scale: fc.constantFrom(0, -1, 0.3, 2.5), seed: fc.integer() }),
  runs: 50,
  setup(s, { rows: r, B, scale, seed }) {
    const x = values(seed, r * B);
    const X = s.matrix(r, B, x);
    return {
      flops: r * B,
      run: () => scaleInPlace(X, scale),
      check: () =>
        expectEqual(
          "X",
          X.view(),
          Array.from(x, (v) => Math.fround(v * Math.fround(scale))),
        ),
    };
  },
  perf: () => [{ label: "10×256", params: { rows: 10, B: 256, scale: 0.3, seed: 1 } }],
};

export const gatherColumnsCase: KernelCase<{ rows: number; B: number; cols: number[]; seed: number }> = {
  name: "gatherColumns: Dst = Src[:, cols], any columns in any order, repeats allowed",
  op: "gatherColumns",
  kernels: ["gatherColumns"],
  arb: fc
    .record({ rows, B: batchArb, seed: fc.integer() })
    .chain((r) => fc.array(fc.nat({ max: r.B - 1 }), { maxLength: 70 }).map((cols) => ({ ...r, cols }))),
  runs: 50,
  setup(s, { rows: r, B, cols, seed }) {
    const src = values(seed, r * B);
    const Src = s.matrix(r, B, src),
      C = s.i32(cols);
    const Dst = guardedOutput(s, r, cols.length);
    return {
      flops: r * cols.length,
      run: () => gatherColumns(Src, C, cols.length, Dst.m),
      check() {
        const n = cols.length;
        const want = Array.from({ length: r * n }, (_, i) => src[Math.floor(i / n) * B + cols[i % n]!]!);
        expectEqual("Dst", Dst.m.view(), want);
        Dst.intact();
      },
    };
  },
  perf: () => {
    const cols = Array.from({ length: 128 }, (_, i) => 2 * i);
    return [{ label: "40×256 → 128 columns", params: { rows: 40, B: 256, cols, seed: 1 } }];
  },
};

export const gatherSamplesCase: KernelCase<{ F: number; N: number; idx: number[]; seed: number }> = {
  name: "gatherSamples kernel: dst[f, j] = src[idx[j]·F + f], a feature-major batch of the listed samples",
  op: "gatherSamples",
  kernels: ["gatherSamples"],
  arb: fc
    .record({ F: fc.integer({ min: 1, max: 40 }), N: fc.integer({ min: 1, max: 40 }), seed: fc.integer() })
    .chain((r) => fc.array(fc.nat({ max: r.N - 1 }), { maxLength: 67 }).map((idx) => ({ ...r, idx }))),
  runs: 50,
  setup(s, { F, N, idx, seed }) {
    const src = values(seed, N * F);
    const Src = s.f32(src),
      I = s.i32(idx);
    const B = idx.length;
    const Dst = guardedOutput(s, F, B);
    return {
      flops: F * B,
      run: () => s.engine.kernels.gatherSamples(F, Src.ptr, I.ptr, B, Dst.m.ptr),
      check() {
        const want = Array.from({ length: F * B }, (_, i) => src[idx[i % B]! * F + Math.floor(i / B)]!);
        expectEqual("dst", Dst.m.view(), want);
        Dst.intact();
      },
    };
  },
  perf: () => {
    const idx = Array.from({ length: 256 }, (_, i) => (i * 389) % 1000);
    return [{ label: "256 of 1000 samples of 800", params: { F: 800, N: 1000, idx, seed: 1 } }];
  },
};

export const ELEMENTWISE_CASES = [addInPlaceCase, scaleInPlaceCase, gatherColumnsCase, gatherSamplesCase];
