// The csr ops beyond their kernel cases (test/cases/csr_spmm.ts, run by test/kernels.test.ts): NaN propagation, a
// finite-difference check of a two-layer sparse network's gradients, and the shape checks at the TypeScript boundary.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { Engine } from "../src/engine/engine.js";
import { ShapeError } from "../src/engine/errors.js";
import { reluBackward } from "../src/ops/activations.js";
import { csrSpmmBackwardWeights, csrSpmm, csrSpmmBackward } from "../src/ops/csr_spmm.js";
import { softmaxCrossEntropy } from "../src/ops/softmax_xent.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { buildPattern, getEngine, patternSpecArb, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";

describe("non-finite inputs", () => {
  it("a NaN input reaches every output it feeds, through the ReLU too, at every batch width", async () => {
    const engine = await getEngine();
    for (const B of [1, 3, 4, 5, 8, 13]) {
      scoped(engine, (s) => {
        // output 0 reads inputs 0 and 1, output 1 reads input 2 only
        const p = Pattern.fromCsr(3, 2, [0, 2, 3], [0, 1, 2]);
        const x = Float32Array.from({ length: 3 * B }, (_, i) => (i === 0 ? NaN : 1));
        const Y = s.matrix(2, B);
        csrSpmm(s.csr(p, [1, -1, 2]), s.matrix(3, B, x), Y, { relu: true });
        const y = Y.view();
        expect(Number.isNaN(y[0]!), `B = ${B}`).toBe(true);
        expect(Array.from(y.subarray(1, B))).toEqual(new Array(B - 1).fill(0));
        expect(Array.from(y.subarray(B))).toEqual(new Array(B).fill(2));
      });
    }
  });
});

// L(W1, b1, W2, b2, X) = xent(W2·relu(W1·X + b1) + b2, labels) in float64 on the stored values; also returns
// the first layer's pre-activations so a finite-difference step that crosses a ReLU kink can be skipped.
interface Net {
  p1: Pattern;
  v1: ArrayLike<number>;
  b1: ArrayLike<number>;
  p2: Pattern;
  v2: ArrayLike<number>;
  b2: ArrayLike<number>;
  x: ArrayLike<number>;
  B: number;
  labels: ArrayLike<number>;
}
function twoLayerLoss(n: Net): { loss: number; pre: Float64Array } {
  const pre = ref.matmul(ref.maskedDense(n.p1, n.v1), n.p1.outputs, n.p1.inputs, n.x, n.B, n.b1);
  const z = ref.matmul(ref.maskedDense(n.p2, n.v2), n.p2.outputs, n.p2.inputs, ref.relu(pre), n.B, n.b2);
  return { loss: ref.softmaxCrossEntropy(z, n.p2.outputs, n.B, n.labels).loss, pre };
}

describe("gradients of a two-layer sparse network", () => {
  it("match central finite differences of the float64 loss", async () => {
    const engine = await getEngine();
    let checked = 0;
    fc.assert(
      fc.property(
        patternSpecArb(30),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 19 }),
        fc.nat(),
        (spec1, hidden, C, B, seed) =>
          scoped(engine, (s) => {
            const p1 = buildPattern({ ...spec1, outputs: hidden });
            const p2 = Pattern.random(hidden, C, 0.7, seed);
            const net: Net = {
              p1,
              v1: values(seed, p1.nnz, 1),
              b1: values(seed + 2, hidden, 0.5),
              p2,
              v2: values(seed + 1, p2.nnz, 1),
              b2: values(seed + 3, C, 0.5),
              x: values(seed + 4, p1.inputs * B),
              B,
              labels: Int32Array.from({ length: B }, (_, b) => (seed + 7 * b) % C),
            };

            const A1 = s.csr(p1, net.v1),
              A2 = s.csr(p2, net.v2),
              c1 = s.f32(net.b1),
              c2 = s.f32(net.b2);
            const X = s.matrix(p1.inputs, B, net.x),
              H = s.matrix(hidden, B),
              Z = s.matrix(C, B);
            csrSpmm(A1, X, H, { bias: c1, relu: true });
            csrSpmm(A2, H, Z, { bias: c2 });
            const dZ = s.matrix(C, B),
              dH = s.matrix(hidden, B),
              dX = s.matrix(p1.inputs, B);
            const dV1 = s.f32(p1.nnz),
              dV2 = s.f32(p2.nnz),
              db1 = s.f32(hidden),
              db2 = s.f32(C);
            const loss = softmaxCrossEntropy(Z, s.i32(net.labels), dZ);
            csrSpmmBackwardWeights(A2, dZ, H, dV2, db2);
            csrSpmmBackward(A2, dZ, dH);
            reluBackward(H, dH, dH);
            csrSpmmBackwardWeights(A1, dH, X, dV1, db1);
            csrSpmmBackward(A1, dH, dX);
            expect(loss).toBeCloseTo(twoLayerLoss(net).loss, 4);

            const grads = {
              v1: dV1.toArray(),
              b1: db1.toArray(),
              v2: dV2.toArray(),
              b2: db2.toArray(),
              x: dX.toArray(),
            };
            const h = 1e-3;
            for (const name of ["v1", "b1", "v2", "b2", "x"] as const) {
              const theta = net[name];
              for (let trial = 0; trial < 3 && theta.length > 0; trial++) {
                const j = (seed + trial * 7919) % theta.length;
                const t = Float64Array.from(theta);
                t[j] = theta[j]! + h;
                const up = twoLayerLoss({ ...net, [name]: t });
                t[j] = theta[j]! - h;
                const down = twoLayerLoss({ ...net, [name]: t });
                if (up.pre.some((u, k) => u * down.pre[k]! <= 0 && u !== down.pre[k])) continue;
                const fd = (up.loss - down.loss) / (2 * h);
                const g = grads[name][j]!;
                if (!(Math.abs(g - fd) <= 1e-2 * Math.abs(fd) + 1e-4))
                  throw new Error(`dL/d${name}[${j}]: WASM ${g}, finite difference ${fd}`);
                checked++;
              }
            }
          }),
      ),
      { numRuns: 30 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});

describe("shape checks", () => {
  it("every csr op rejects mismatched operands with a ShapeError naming the op", async () => {
    const engine = await getEngine();
    scoped(engine, (s) => {
      const p = Pattern.random(6, 4, 0.5, 1);
      const A = s.csr(p, values(1, p.nnz));
      const X = s.matrix(6, 5),
        Y = s.matrix(4, 5);
      const cases: [RegExp, () => unknown][] = [
        [/csrSpmm: X has 5 rows, A has 6 columns/, () => csrSpmm(A, s.matrix(5, 5), Y)],
        [/csrSpmm: Y has 3 rows/, () => csrSpmm(A, X, s.matrix(3, 5))],
        [/csrSpmm: Y has 4 columns \(batch\), X has 5/, () => csrSpmm(A, X, s.matrix(4, 4))],
        [/csrSpmm: bias has 5 entries/, () => csrSpmm(A, X, Y, { bias: s.f32(5) })],
        [/csrSpmmBackward: dY has 6 rows/, () => csrSpmmBackward(A, s.matrix(6, 5), X)],
        [/csrSpmmBackward: dX has 4 rows/, () => csrSpmmBackward(A, Y, s.matrix(4, 5))],
        [/csrSpmmBackward: dX has 6 columns/, () => csrSpmmBackward(A, Y, s.matrix(6, 6))],
        [/csrSpmmBackwardWeights: dY has 5 rows/, () => csrSpmmBackwardWeights(A, s.matrix(5, 5), X, s.f32(p.nnz))],
        [/csrSpmmBackwardWeights: X has 4 rows/, () => csrSpmmBackwardWeights(A, Y, s.matrix(4, 5), s.f32(p.nnz))],
        [/csrSpmmBackwardWeights: X has 4 columns/, () => csrSpmmBackwardWeights(A, Y, s.matrix(6, 4), s.f32(p.nnz))],
        [/csrSpmmBackwardWeights: dValues has/, () => csrSpmmBackwardWeights(A, Y, X, s.f32(p.nnz + 1))],
        [/csrSpmmBackwardWeights: dBias has 3 entries/, () => csrSpmmBackwardWeights(A, Y, X, s.f32(p.nnz), s.f32(3))],
        [/CsrWeights: .* values for a pattern with nnz/, () => s.csr(p, new Float32Array(p.nnz + 2))],
      ];
      for (const [msg, call] of cases) {
        expect(call).toThrow(ShapeError);
        expect(call).toThrow(msg);
      }
    });
  });

  it("operands from two different engines are rejected", async () => {
    const engine = await getEngine();
    const other = await Engine.load();
    scoped(engine, (s) => {
      const p = Pattern.dense(3, 2);
      const A = s.csr(p, values(2, p.nnz));
      expect(() => csrSpmm(A, new Matrix(other, 3, 4), s.matrix(2, 4))).toThrow(
        /csrSpmm: operands live in different engines/,
      );
    });
  });
});

describe("batch invariance", () => {
  it("each sample's output is the same bits at batch B as alone, blocked patterns included", async () => {
    const engine = await getEngine();
    fc.assert(
      fc.property(patternSpecArb(40), fc.integer({ min: 1, max: 37 }), fc.boolean(), fc.nat(), (spec, B, relu, seed) =>
        scoped(engine, (s) => {
          const p = buildPattern(spec);
          const A = s.csr(p, values(seed, p.nnz));
          const bias = s.f32(values(seed + 1, p.outputs));
          const x = values(seed + 2, p.inputs * B);
          const Y = s.matrix(p.outputs, B);
          csrSpmm(A, s.matrix(p.inputs, B, x), Y, { bias, relu });
          const all = Y.view().slice();
          for (let b = 0; b < B; b++) {
            const xb = Float32Array.from({ length: p.inputs }, (_, i) => x[i * B + b]!);
            const y1 = s.matrix(p.outputs, 1);
            csrSpmm(A, s.matrix(p.inputs, 1, xb), y1, { bias, relu });
            const want = Array.from({ length: p.outputs }, (_, o) => all[o * B + b]!);
            expect(Array.from(y1.view()), `sample ${b} of ${B}, block ${p.block}`).toEqual(want);
          }
        }),
      ),
      { numRuns: 40 },
    );
  });
});
