// The dense ops beyond their kernel cases (test/cases/dense_matmul.ts, run by test/kernels.test.ts): agreement with
// the CSR kernels on a full pattern, a finite-difference check, and the shape checks.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError, ValidationError } from "../src/engine/errors.js";
import { csrSpmmBackwardWeights, csrSpmm } from "../src/ops/csr_spmm.js";
import { denseMatmulBackwardWeights, denseMatmul, denseMatmulBackward } from "../src/ops/dense_matmul.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { batchArb, expectClose, getEngine, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";
import { dim } from "./cases/dense_matmul.js";

describe("dense and sparse agree", () => {
  it("denseMatmul on W equals csrSpmm on Pattern.dense with the same row-major values", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(dim, dim, batchArb, fc.integer(), (m, k, B, seed) =>
        scoped(engine, (s) => {
          const w = values(seed, m * k),
            x = values(seed + 1, k * B),
            bias = s.f32(values(seed + 2, m));
          const X = s.matrix(k, B, x),
            Yd = s.matrix(m, B),
            Ys = s.matrix(m, B);
          denseMatmul(s.dense(m, k, w), X, Yd, { bias, relu: true });
          csrSpmm(s.csr(Pattern.dense(k, m), w), X, Ys, { bias, relu: true });
          expectClose("Y", Ys.view(), Yd.view(), ref.matmulScale(w, m, k, x, B));
        }),
      ),
      { numRuns: 30 },
    );
  });

  it(
    "denseMatmulBackwardWeights's bias gradient is csrSpmmBackwardWeights's on Pattern.dense, " +
      "bit for bit (one row-sum kernel)",
    async () => {
      const engine = await getEngine();
      fc.assert(
        fc.property(dim, dim, batchArb, fc.integer(), (m, k, B, seed) =>
          scoped(engine, (s) => {
            const w = values(seed, m * k),
              X = s.matrix(k, B, values(seed + 1, k * B)),
              dY = s.matrix(m, B, values(seed + 2, m * B));
            const dBd = s.f32(m),
              dBs = s.f32(m);
            denseMatmulBackwardWeights(s.dense(m, k, w), dY, X, s.f32(m * k), dBd);
            csrSpmmBackwardWeights(s.csr(Pattern.dense(k, m), w), dY, X, s.f32(m * k), dBs);
            expect(Array.from(dBd.view())).toEqual(Array.from(dBs.view()));
          }),
        ),
        { numRuns: 30 },
      );
    },
  );
});

describe("finite differences", () => {
  it("dW, dX and dBias of L = Σ G ⊙ relu(W·X + b) match central differences", async () => {
    const engine = await getEngine();
    let checked = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 19 }),
        fc.nat(),
        (m, k, B, seed) =>
          scoped(engine, (s) => {
            const w = values(seed, m * k),
              x = values(seed + 1, k * B),
              bias = values(seed + 2, m),
              g = values(seed + 3, m * B);
            const loss = (w_: ArrayLike<number>, x_: ArrayLike<number>, b_: ArrayLike<number>) => {
              const pre = ref.matmul(w_, m, k, x_, B, b_);
              return { L: ref.relu(pre).reduce((a, y, i) => a + y * g[i]!, 0), pre };
            };
            const W = s.dense(m, k, w),
              X = s.matrix(k, B, x),
              b = s.f32(bias),
              Y = s.matrix(m, B);
            denseMatmul(W, X, Y, { bias: b, relu: true });
            // dPre = G ⊙ [Y > 0]
            const dPre = s.matrix(
              m,
              B,
              Float32Array.from(g, (gi, i) => (Y.view()[i]! > 0 ? gi : 0)),
            );
            const dW = s.f32(m * k),
              dBias = s.f32(m),
              dX = s.matrix(k, B);
            denseMatmulBackwardWeights(W, dPre, X, dW, dBias);
            denseMatmulBackward(W, dPre, dX);
            const grads = { w: dW.toArray(), x: dX.toArray(), b: dBias.toArray() };
            const h = 1e-3;
            for (const [name, theta] of [
              ["w", w],
              ["x", x],
              ["b", bias],
            ] as const) {
              for (let trial = 0; trial < 3; trial++) {
                const j = (seed + 104729 * trial) % theta.length;
                const t = Float64Array.from(theta);
                const at = (v: number) => {
                  t[j] = v;
                  return name === "w" ? loss(t, x, bias) : name === "x" ? loss(w, t, bias) : loss(w, x, t);
                };
                const up = at(theta[j]! + h),
                  down = at(theta[j]! - h);
                if (up.pre.some((u, i) => u * down.pre[i]! <= 0 && u !== down.pre[i])) continue;
                const fd = (up.L - down.L) / (2 * h);
                const got = grads[name][j]!;
                if (!(Math.abs(got - fd) <= 1e-2 * Math.abs(fd) + 1e-4))
                  throw new Error(`dL/d${name}[${j}]: WASM ${got}, finite difference ${fd}`);
                checked++;
              }
            }
          }),
      ),
      { numRuns: 40 },
    );
    expect(checked).toBeGreaterThan(60);
  });
});

describe("shape checks", () => {
  it("every dense op rejects mismatched operands with a ShapeError naming the op", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const W = s.dense(4, 6, values(1, 24));
      const X = s.matrix(6, 5),
        Y = s.matrix(4, 5);
      const cases: [RegExp, () => unknown][] = [
        [/denseMatmul: W has 23 values, expected 4×6/, () => denseMatmul({ ...W, values: s.f32(23) }, X, Y)],
        [/denseMatmul: X has 5 rows, W has 6 columns/, () => denseMatmul(W, s.matrix(5, 5), Y)],
        [/denseMatmul: Y has 3 rows/, () => denseMatmul(W, X, s.matrix(3, 5))],
        [/denseMatmul: Y has 4 columns \(batch\), X has 5/, () => denseMatmul(W, X, s.matrix(4, 4))],
        [/denseMatmul: bias has 3 entries/, () => denseMatmul(W, X, Y, { bias: s.f32(3) })],
        [/denseMatmulBackward: dY has 6 rows/, () => denseMatmulBackward(W, s.matrix(6, 5), X)],
        [/denseMatmulBackward: dX has 4 rows/, () => denseMatmulBackward(W, Y, s.matrix(4, 5))],
        [/denseMatmulBackward: dX has 6 columns/, () => denseMatmulBackward(W, Y, s.matrix(6, 6))],
        [
          /denseMatmulBackwardWeights: dY has 5 rows/,
          () => denseMatmulBackwardWeights(W, s.matrix(5, 5), X, s.f32(24)),
        ],
        [/denseMatmulBackwardWeights: X has 4 rows/, () => denseMatmulBackwardWeights(W, Y, s.matrix(4, 5), s.f32(24))],
        [
          /denseMatmulBackwardWeights: X has 4 columns/,
          () => denseMatmulBackwardWeights(W, Y, s.matrix(6, 4), s.f32(24)),
        ],
        [/denseMatmulBackwardWeights: dW has 25 entries/, () => denseMatmulBackwardWeights(W, Y, X, s.f32(25))],
        [
          /denseMatmulBackwardWeights: dBias has 5 entries/,
          () => denseMatmulBackwardWeights(W, Y, X, s.f32(24), s.f32(5)),
        ],
      ];
      for (const [msg, call] of cases) {
        expect(call).toThrow(ShapeError);
        expect(call).toThrow(msg);
      }
      for (const bad of [NaN, -1, 2.5]) {
        expect(() => denseMatmul({ ...W, outputs: bad }, X, Y)).toThrow(ValidationError);
      }
    });
  });
});
