// The ops' TypeScript boundary beyond each op's own tests: every refusal names the op, the operand or field and
// expected vs got; limits are met at their value and one past; optional operands may be left out; weights made
// without values are zeros; a disposed weight holder is refused and its buffers are given back.
import { describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { Engine } from "../src/engine/engine.js";
import { PatternError, ShapeError, ValidationError } from "../src/engine/errors.js";
import { CsrWeights, csrSpmm } from "../src/ops/csr_spmm.js";
import { denseMatmul, denseMatmulBackward, type DenseWeights } from "../src/ops/dense_matmul.js";
import {
  ConvWeights,
  sparseConv2d,
  sparseConv2dBackward,
  sparseConv2dBackwardWeights,
  type Conv2dGeometry,
} from "../src/ops/sparse_conv2d.js";
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, pool2dShape } from "../src/ops/pool2d.js";
import { addInPlace, gatherColumns } from "../src/ops/elementwise.js";
import { softmax, softmaxCrossEntropy, softmaxStats } from "../src/ops/softmax_xent.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { getEngine, scoped, values } from "./helpers/engine.js";

const engine = await getEngine();

/** Each call throws an error of class `type` whose message is exactly `message`. */
function expectRefusals(type: new (...a: never[]) => Error, cases: [string, () => unknown][]): void {
  for (const [message, call] of cases) {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown, message).toBeInstanceOf(type);
    expect((thrown as Error).message).toBe(message);
  }
}

describe("CsrWeights", () => {
  it("made without values holds nnz zeros: the product is the bias alone", () => {
    scoped(engine, (s) => {
      const p = Pattern.random(5, 3, 0.6, 2);
      const A = s.keep(new CsrWeights(engine, p));
      expect(Array.from(A.values.view())).toEqual(new Array(p.nnz).fill(0));
      const Y = csrSpmm(A, s.matrix(5, 2, values(1, 10)), s.matrix(3, 2), { bias: s.f32([1, -2, 3]) });
      expect(Array.from(Y.view())).toEqual([1, 1, -2, -2, 3, 3]);
    });
  });
});

describe("denseMatmul", () => {
  it("refuses weights whose values live in another engine, and sizes that are not integers, naming them", async () => {
    const other = await Engine.load();
    scoped(engine, (s) => {
      const X = s.matrix(3, 2),
        Y = s.matrix(2, 2);
      const foreign: DenseWeights = { engine, outputs: 2, inputs: 3, values: s.keep(new Matrix(other, 1, 6)) as never };
      const fractional: DenseWeights = { engine, outputs: 2.5, inputs: 3, values: s.f32(6) };
      const negative: DenseWeights = { engine, outputs: 2, inputs: -3, values: s.f32(6) };
      expectRefusals(ShapeError, [
        ["denseMatmul: W's values live in another engine", () => denseMatmul(foreign, X, Y)],
        ["denseMatmulBackward: W's values live in another engine", () => denseMatmulBackward(foreign, Y, X)],
      ]);
      expectRefusals(ValidationError, [
        ["denseMatmul: outputs must be an integer in [0, 2147483647], got 2.5", () => denseMatmul(fractional, X, Y)],
        ["denseMatmul: inputs must be an integer in [0, 2147483647], got -3", () => denseMatmul(negative, X, Y)],
      ]);
    });
  });
});

describe("ConvWeights", () => {
  const g: Conv2dGeometry = { inC: 2, outC: 3, H: 4, W: 4, kh: 3, kw: 3 };

  it("refuses each geometry field outside its range, naming it", () => {
    const p = Pattern.dense(2, 3);
    const bad = (field: string, value: number, range: string): [string, () => unknown] => [
      `ConvWeights: ${field} must be an integer in ${range}, got ${value}`,
      () => new ConvWeights(engine, { ...g, [field]: value }, p),
    ];
    expectRefusals(ValidationError, [
      bad("inC", 0, "[1, 1048576]"),
      bad("outC", 1.5, "[1, 1048576]"),
      bad("H", 0, "[1, 65536]"),
      bad("W", 65537, "[1, 65536]"),
      bad("kh", 0, "[1, 65535]"),
      bad("kw", 65536, "[1, 65535]"),
      bad("stride", 0, "[1, 65536]"),
      bad("padding", -1, "[0, 65536]"),
    ]);
  });

  it("a kernel fits the padded input exactly, and not one past it, in either direction", () => {
    const p = Pattern.dense(2, 3);
    // padding 2: 4 + 2·2 = 8 fits a kernel of 8, not of 9
    for (const k of [{ kh: 8 }, { kw: 8 }]) {
      const w = new ConvWeights(engine, { ...g, ...k, padding: 2 }, p);
      expect([w.outH, w.outW]).toEqual([k.kh ? 1 : 6, k.kw ? 1 : 6]);
      w.dispose();
    }
    expectRefusals(ShapeError, [
      [
        "ConvWeights: kernel 9×3 is larger than the padded input 8×8 (H 4, W 4, padding 2)",
        () => new ConvWeights(engine, { ...g, kh: 9, padding: 2 }, p),
      ],
      [
        "ConvWeights: kernel 3×9 is larger than the padded input 8×8 (H 4, W 4, padding 2)",
        () => new ConvWeights(engine, { ...g, kw: 9, padding: 2 }, p),
      ],
      [
        "ConvWeights: kernel 1×3 is larger than the padded input 4×2 (H 4, W 2, padding 0)",
        () => new ConvWeights(engine, { ...g, W: 2, kh: 1 }, p),
      ],
    ]);
  });

  it("activations of 2^31 features, in or out, are refused before any index is built (2^31 − 1 is prime)", () => {
    const p = Pattern.dense(1, 1);
    expectRefusals(ValidationError, [
      [
        "ConvWeights: activations of 1048576×1024×2 or 2048 features exceed 2^31 − 1",
        () => new ConvWeights(engine, { inC: 2 ** 20, outC: 1, H: 1024, W: 2, kh: 1, kw: 1 }, p),
      ],
      [
        "ConvWeights: activations of 1×2048×1 or 2147483648 features exceed 2^31 − 1",
        () => new ConvWeights(engine, { inC: 1, outC: 2 ** 20, H: 2048, W: 1, kh: 1, kw: 1 }, p),
      ],
      [
        "ConvWeights: activations of 1×1×1 or 6400160001 features exceed 2^31 − 1",
        () => new ConvWeights(engine, { inC: 1, outC: 1, H: 1, W: 1, kh: 1, kw: 1, padding: 40000 }, p),
      ],
    ]);
  });

  it("refuses a channel pattern of other sizes, naming both", () => {
    expectRefusals(PatternError, [
      [
        "ConvWeights: channel pattern is 2→4, layer is 2→3 channels",
        () => new ConvWeights(engine, g, Pattern.dense(2, 4)),
      ],
      [
        "ConvWeights: channel pattern is 3→3, layer is 2→3 channels",
        () => new ConvWeights(engine, g, Pattern.dense(3, 3)),
      ],
    ]);
  });

  it("a tap mask with every tap set is no mask; one with none set stores nothing", () => {
    const p = Pattern.dense(2, 3);
    const all = new ConvWeights(engine, g, p, { taps: new Array(9).fill(true) });
    expect([all.tapMask, all.nnz]).toEqual([undefined, 6 * 9]);
    const none = new ConvWeights(engine, g, p, { taps: new Array(9).fill(0) });
    expect([none.tapMask?.length, none.nnz, none.macsPerSample()]).toEqual([6 * 9, 0, 0]);
    const some = new ConvWeights(engine, g, p, { taps: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
    expect([some.tapMask?.length, some.nnz]).toEqual([6 * 9, 6 * 3]);
    for (const w of [all, none, some]) w.dispose();
  });

  it("once disposed is refused by every op, and has given back all its buffers", () => {
    scoped(engine, (s) => {
      const live = engine.stats().liveBlocks;
      const w = new ConvWeights(engine, g, Pattern.dense(2, 3), { values: values(3, 54) });
      expect(w.disposed).toBe(false);
      w.dispose();
      expect(w.disposed).toBe(true);
      expect(engine.stats().liveBlocks).toBe(live);
      const X = s.matrix(32, 2),
        Y = s.matrix(12, 2);
      expectRefusals(ValidationError, [
        ["sparseConv2d: an operand was disposed", () => sparseConv2d(w, X, Y)],
        ["sparseConv2dBackward: an operand was disposed", () => sparseConv2dBackward(w, Y, X)],
        ["sparseConv2dBackwardWeights: an operand was disposed", () => sparseConv2dBackwardWeights(w, Y, X, s.f32(54))],
      ]);
    });
  });
});

describe("the sparse convolution ops", () => {
  // [2, 4, 4] → [3, 2, 2] with 3×3 kernels: X has 32 rows, Y 12
  const g: Conv2dGeometry = { inC: 2, outC: 3, H: 4, W: 4, kh: 3, kw: 3 };

  it("refuse operands of the wrong size, naming the op, the operand and expected vs got", () => {
    scoped(engine, (s) => {
      const w = s.keep(new ConvWeights(engine, g, Pattern.dense(2, 3), { values: values(4, 54) }));
      const X = s.matrix(32, 2),
        Y = s.matrix(12, 2);
      expectRefusals(ShapeError, [
        ["sparseConv2d: X has 31 rows, expected 32", () => sparseConv2d(w, s.matrix(31, 2), Y)],
        ["sparseConv2d: Y has 13 rows, expected 12", () => sparseConv2d(w, X, s.matrix(13, 2))],
        ["sparseConv2d: Y has 3 columns (batch), X has 2", () => sparseConv2d(w, X, s.matrix(12, 3))],
        [
          "sparseConv2d: bias has 2 entries, layer has 3 output channels",
          () => sparseConv2d(w, X, Y, { bias: s.f32(2) }),
        ],
        ["sparseConv2dBackward: dY has 32 rows, expected 12", () => sparseConv2dBackward(w, s.matrix(32, 2), X)],
        ["sparseConv2dBackward: dX has 12 rows, expected 32", () => sparseConv2dBackward(w, Y, s.matrix(12, 2))],
        ["sparseConv2dBackward: dX has 1 columns (batch), dY has 2", () => sparseConv2dBackward(w, Y, s.matrix(32, 1))],
        [
          "sparseConv2dBackwardWeights: X has 12 rows, expected 32",
          () => sparseConv2dBackwardWeights(w, Y, s.matrix(12, 2), s.f32(54)),
        ],
        [
          "sparseConv2dBackwardWeights: dY has 11 rows, expected 12",
          () => sparseConv2dBackwardWeights(w, s.matrix(11, 2), X, s.f32(54)),
        ],
        [
          "sparseConv2dBackwardWeights: dValues has 53 entries, layer stores 54 taps",
          () => sparseConv2dBackwardWeights(w, Y, X, s.f32(53)),
        ],
        [
          "sparseConv2dBackwardWeights: dBias has 4 entries, layer has 3 output channels",
          () => sparseConv2dBackwardWeights(w, Y, X, s.f32(54), s.f32(4)),
        ],
      ]);
    });
  });

  it("the weight gradient without dBias is the same as with it", () => {
    scoped(engine, (s) => {
      const w = s.keep(new ConvWeights(engine, g, Pattern.random(2, 3, 0.5, 1), { taps: [1, 1, 0, 0, 1, 0, 1, 0, 1] }));
      const X = s.matrix(32, 3, values(5, 96)),
        dY = s.matrix(12, 3, values(6, 36));
      const a = sparseConv2dBackwardWeights(w, dY, X, s.f32(w.nnz)).toArray();
      const b = sparseConv2dBackwardWeights(w, dY, X, s.f32(w.nnz), s.f32(3)).toArray();
      expect(a.length).toBeGreaterThan(0);
      expect(a).toEqual(b);
    });
  });
});

describe("pooling", () => {
  it("refuses each geometry field outside its range, naming it, and a window wider or taller than the input", () => {
    const g = { C: 2, H: 4, W: 4, k: 2 };
    const bad = (field: string, value: number, range: string): [string, () => unknown] => [
      `pool: ${field} must be an integer in ${range}, got ${value}`,
      () => pool2dShape("pool", { ...g, [field]: value }),
    ];
    expectRefusals(ValidationError, [
      bad("C", 0, "[1, 1048576]"),
      bad("H", 65537, "[1, 65536]"),
      bad("W", 0.5, "[1, 65536]"),
      bad("k", 0, "[1, 65536]"),
      bad("stride", 0, "[1, 65536]"),
    ]);
    expectRefusals(ShapeError, [
      ["pool: window 3×3 is larger than the input 4×2", () => pool2dShape("pool", { C: 1, H: 4, W: 2, k: 3 })],
      ["pool: window 3×3 is larger than the input 2×4", () => pool2dShape("pool", { C: 1, H: 2, W: 4, k: 3 })],
    ]);
    expect(pool2dShape("pool", { C: 1, H: 3, W: 3, k: 3 })).toMatchObject({ outH: 1, outW: 1, stride: 3 });
  });

  it("2^31 input features are refused (2^31 − 1 is prime: no edge)", () => {
    expectRefusals(ValidationError, [
      ["pool: 1048576×1024×2 features exceed 2^31 − 1", () => pool2dShape("pool", { C: 2 ** 20, H: 1024, W: 2, k: 1 })],
    ]);
  });

  it("a shape whose output size does not follow from its input is refused by every op, either side", () => {
    scoped(engine, (s) => {
      const g = pool2dShape("t", { C: 1, H: 4, W: 4, k: 2 });
      const X = s.matrix(16, 2),
        Y = s.matrix(4, 2);
      for (const [edited, got] of [
        [{ ...g, outH: 3 }, "3×2"],
        [{ ...g, outW: 3 }, "2×3"],
      ] as const) {
        const detail = `output ${got} does not follow from 4×4, window 2, stride 2 (expected 2×2)`;
        expectRefusals(ShapeError, [
          [`maxPool2d: ${detail}`, () => maxPool2d(edited, X, Y)],
          [`maxPool2dBackward: ${detail}`, () => maxPool2dBackward(edited, X, Y, Y, X)],
          [`avgPool2d: ${detail}`, () => avgPool2d(edited, X, Y)],
          [`avgPool2dBackward: ${detail}`, () => avgPool2dBackward(edited, Y, X)],
        ]);
      }
    });
  });

  it("refuse operands of the wrong size, naming the op, the operand and expected vs got", async () => {
    const other = await Engine.load();
    scoped(engine, (s) => {
      const g = pool2dShape("t", { C: 1, H: 4, W: 4, k: 2 });
      const X = s.matrix(16, 2),
        Y = s.matrix(4, 2);
      const rows = "(1×4×4 or 1×2×2)";
      expectRefusals(ShapeError, [
        [`maxPool2d: X has 15 rows, expected 16 ${rows}`, () => maxPool2d(g, s.matrix(15, 2), Y)],
        ["maxPool2d: Y has 5 rows, expected 4", () => maxPool2d(g, X, s.matrix(5, 2))],
        ["maxPool2d: Y has 3 columns (batch), X has 2", () => maxPool2d(g, X, s.matrix(4, 3))],
        [`avgPool2d: X has 4 rows, expected 16 ${rows}`, () => avgPool2d(g, s.matrix(4, 2), Y)],
        ["avgPool2d: Y has 16 rows, expected 4", () => avgPool2d(g, X, s.matrix(16, 2))],
        [`maxPool2dBackward: X has 17 rows, expected 16 ${rows}`, () => maxPool2dBackward(g, s.matrix(17, 2), Y, Y, X)],
        ["maxPool2dBackward: Y has 3 rows, expected 4", () => maxPool2dBackward(g, X, s.matrix(3, 2), Y, X)],
        [`maxPool2dBackward: dX has 4 rows, expected 16 ${rows}`, () => maxPool2dBackward(g, X, Y, Y, s.matrix(4, 2))],
        ["maxPool2dBackward: dY has 2 rows, expected 4", () => maxPool2dBackward(g, X, Y, s.matrix(2, 2), X)],
        [
          "maxPool2dBackward: dY has 3 columns (batch), X has 2",
          () => maxPool2dBackward(g, X, Y, s.matrix(4, 3), s.matrix(16, 3)),
        ],
        [`avgPool2dBackward: dX has 15 rows, expected 16 ${rows}`, () => avgPool2dBackward(g, Y, s.matrix(15, 2))],
        ["avgPool2dBackward: dY has 5 rows, expected 4", () => avgPool2dBackward(g, s.matrix(5, 2), X)],
        ["avgPool2dBackward: dY has 1 columns (batch), dX has 2", () => avgPool2dBackward(g, s.matrix(4, 1), X)],
        [
          "maxPool2dBackward: operands live in different engines",
          () => maxPool2dBackward(g, s.keep(new Matrix(other, 16, 2)), s.keep(new Matrix(other, 4, 2)), Y, X),
        ],
      ]);
    });
  });
});

describe("softmax and its statistics", () => {
  it("refuse operands and sizes that disagree, naming the op and expected vs got", () => {
    scoped(engine, (s) => {
      const Z = s.matrix(3, 4, values(7, 12));
      expectRefusals(ShapeError, [
        ["softmax: P is 3×5, Z is 3×4", () => softmax(Z, s.matrix(3, 5))],
        ["softmax: P is 2×4, Z is 3×4", () => softmax(Z, s.matrix(2, 4))],
        ["softmaxCrossEntropy: 3 labels for a batch of 4", () => softmaxCrossEntropy(Z, s.i32([0, 1, 2]))],
        ["softmaxCrossEntropy: dZ is 2×4, Z is 3×4", () => softmaxCrossEntropy(Z, s.i32([0, 1, 2, 0]), s.matrix(2, 4))],
        ["softmaxCrossEntropy: dZ is 3×5, Z is 3×4", () => softmaxCrossEntropy(Z, s.i32([0, 1, 2, 0]), s.matrix(3, 5))],
        ["softmaxStats: 5 logits, expected 2×3 = 6", () => softmaxStats(new Float32Array(5), 2, 3)],
        ["softmaxStats: 12 logits, expected 4×2 = 8", () => softmaxStats(new Float32Array(12), 4, 2)],
      ]);
      expectRefusals(ValidationError, [
        [
          "softmaxStats: classes must be an integer in [1, 2147483647], got 0",
          () => softmaxStats(new Float32Array(0), 0, 3),
        ],
        [
          "softmaxStats: columns must be an integer in [0, 2147483647], got -1",
          () => softmaxStats(new Float32Array(0), 2, -1),
        ],
      ]);
    });
  });
});

describe("elementwise ops", () => {
  it("addInPlace refuses another shape, in rows or in columns", () => {
    scoped(engine, (s) => {
      const Y = s.matrix(2, 3);
      expectRefusals(ShapeError, [
        ["addInPlace: Y is 2×3, X is 3×3", () => addInPlace(Y, s.matrix(3, 3))],
        ["addInPlace: Y is 2×3, X is 2×4", () => addInPlace(Y, s.matrix(2, 4))],
      ]);
    });
  });

  it("gatherColumns checks the first n indices against [0, Src.cols), at both ends, and its operands", () => {
    scoped(engine, (s) => {
      const Src = s.matrix(2, 4, [0, 1, 2, 3, 10, 11, 12, 13]),
        Dst = s.matrix(2, 1);
      // the last column and the first are inside; an index past n is not read
      expect(Array.from(gatherColumns(Src, s.i32([3, 0, 99]), 2, Dst).view())).toEqual([3, 0, 13, 10]);
      expect(Dst.cols).toBe(2);
      expect(Array.from(gatherColumns(Src, s.i32([2, 1]), 2, Dst).view())).toEqual([2, 1, 12, 11]);
      expectRefusals(ValidationError, [
        ["gatherColumns: column 4 outside [0, 4)", () => gatherColumns(Src, s.i32([1, 4]), 2, Dst)],
        ["gatherColumns: column -1 outside [0, 4)", () => gatherColumns(Src, s.i32([-1]), 1, Dst)],
        ["gatherColumns: Dst must not be Src", () => gatherColumns(Src, s.i32([0]), 1, Src)],
      ]);
      expectRefusals(ShapeError, [
        ["gatherColumns: Dst has 3 rows, Src has 2", () => gatherColumns(Src, s.i32([0]), 1, s.matrix(3, 1))],
        ["gatherColumns: 3 columns requested, index buffer holds 2", () => gatherColumns(Src, s.i32([0, 1]), 3, Dst)],
      ]);
    });
  });
});
