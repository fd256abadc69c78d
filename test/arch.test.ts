// Architecture strings: parse ↔ format round trips, shape planning against independently computed sizes, typed
// errors that name the bad token, and a model built from a string that learns a small problem.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { I32Buffer, Matrix } from "../src/engine/buffers.js";
import { ValidationError } from "../src/engine/errors.js";
import { encodeModel } from "../src/io/model_io.js";
import { ArchError, buildModel, parseArch, parseShape, planArch, type ArchToken } from "../src/nn/arch.js";
import type { MaxPool2d } from "../src/nn/layers/pool2d.js";
import type { SparseConv2d } from "../src/nn/layers/sparse_conv2d.js";
import type { SparseLinear } from "../src/nn/layers/sparse_linear.js";
import { Model } from "../src/nn/model.js";
import { Adam } from "../src/nn/optimizers.js";
import { encodeLayer } from "../src/io/model_io.js";
import { getEngine } from "./helpers/engine.js";

type Tok =
  | {
      kind: "conv";
      inC?: number;
      outC: number;
      kh: number;
      kw: number;
      stride: number;
      padding: number;
      degree?: number;
      activation?: "relu" | "linear";
    }
  | { kind: "maxpool" | "avgpool"; k: number; stride?: number }
  | { kind: "fc"; inputs?: number; outputs: number; degree?: number; activation?: "relu" | "linear" };

function format(t: Tok): string {
  const act = (a?: string) => (a ? `:${a}` : "");
  const from = (n?: number) => (n !== undefined ? `${n}>` : "");
  const deg = (d?: number) => (d !== undefined ? `:deg${d}` : "");
  switch (t.kind) {
    case "conv":
      return (
        `conv:${from(t.inC)}${t.outC}:${t.kh}x${t.kw}${deg(t.degree)}` +
        `:s${t.stride}:p${t.padding}${act(t.activation)}`
      );
    case "maxpool":
    case "avgpool":
      return `${t.kind}:${t.k}${t.stride !== undefined ? `:s${t.stride}` : ""}`;
    case "fc":
      return `fc:${from(t.inputs)}${t.outputs}${deg(t.degree)}${act(t.activation)}`;
  }
}

const small = fc.integer({ min: 1, max: 64 });
const tokArb: fc.Arbitrary<Tok> = fc.oneof(
  fc.record(
    {
      kind: fc.constant("conv" as const),
      inC: fc.option(small, { nil: undefined }),
      outC: small,
      kh: fc.integer({ min: 1, max: 7 }),
      kw: fc.integer({ min: 1, max: 7 }),
      stride: fc.integer({ min: 1, max: 3 }),
      padding: fc.integer({ min: 0, max: 3 }),
      degree: fc.option(small, { nil: undefined }),
      activation: fc.option(fc.constantFrom("relu" as const, "linear" as const), { nil: undefined }),
    },
    { requiredKeys: ["kind", "outC", "kh", "kw", "stride", "padding"] },
  ),
  fc.record(
    {
      kind: fc.constantFrom("maxpool" as const, "avgpool" as const),
      k: fc.integer({ min: 1, max: 4 }),
      stride: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    },
    { requiredKeys: ["kind", "k"] },
  ),
  fc.record(
    {
      kind: fc.constant("fc" as const),
      inputs: fc.option(small, { nil: undefined }),
      outputs: small,
      degree: fc.option(small, { nil: undefined }),
      activation: fc.option(fc.constantFrom("relu" as const, "linear" as const), { nil: undefined }),
    },
    { requiredKeys: ["kind", "outputs"] },
  ),
);

const strip = (t: ArchToken) => {
  const { token: _t, position: _p, column: _c, ...rest } = t;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
};
const clean = (t: Tok) => Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined));

describe("parseArch", () => {
  it("reads back every token it is given, with positions and columns", () => {
    fc.assert(
      fc.property(fc.array(tokArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (toks, spaced) => {
        const parts = toks.map(format);
        const arch = parts.join(spaced ? " , " : ",");
        const parsed = parseArch(arch);
        expect(parsed.map(strip)).toEqual(toks.map(clean));
        parsed.forEach((p, i) => {
          expect(p.position).toBe(i);
          expect(arch.slice(p.column, p.column + parts[i]!.length)).toBe(parts[i]);
        });
      }),
      { numRuns: 200 },
    );
  });

  it("accepts the short forms: pool = maxpool, K for K×K, dense", () => {
    expect(parseArch("conv:8:3,pool:2,fc:10:dense").map(strip)).toEqual([
      { kind: "conv", outC: 8, kh: 3, kw: 3, stride: 1, padding: 0 },
      { kind: "maxpool", k: 2 },
      { kind: "fc", outputs: 10 },
    ]);
  });

  it.each([
    ["", 0, /empty architecture/],
    ["conv:1>8:3x3,,fc:10", 1, /empty token/],
    ["conv:1>8:3x3,fc:10,", 2, /empty token/],
    ["conv:1>8", 0, /missing kernel size/],
    ["conv:1>8:3x3x3", 0, /kernel size must be KHxKW or K/],
    ["conv:1>8:0x3", 0, /kernel height must be a positive integer, got "0"/],
    ["conv:1>8:3x3:deg", 0, /degree must be a positive integer, got ""/],
    ["conv:1>8:3x3:q2", 0, /unknown conv option "q2"/],
    ["conv:1>>8:3x3", 0, /expected \[IN>\]OUT/],
    ["pool:2,pool:x", 1, /pool size must be a positive integer, got "x"/],
    ["maxpool:2:p1", 0, /unknown pool option "p1"/],
    ["fc:10:deg-1", 0, /degree must be a positive integer/],
    ["fc:10:softmax", 0, /unknown fc option "softmax"/],
    ["conv:1>8:3x3,dropout:0.5", 1, /unknown layer "dropout"/],
    ["fc:99999999999", 0, /too large/],
  ])("rejects %j at token %i", (arch, position, message) => {
    let err: unknown;
    try {
      parseArch(arch);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArchError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ArchError).position).toBe(position);
    expect((err as ArchError).message).toMatch(message);
    if (arch)
      expect(arch.slice((err as ArchError).column)).toMatch(
        new RegExp(`^${(err as ArchError).token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
      );
  });

  it("parses shapes", () => {
    expect(parseShape("1x28x28")).toEqual([1, 28, 28]);
    expect(parseShape("784")).toEqual([784]);
    expect(() => parseShape("1x28x")).toThrow(ValidationError);
    expect(() => parseShape("0x28x28")).toThrow(ValidationError);
  });
});

describe("planArch", () => {
  it("tracks [C, H, W] through convs and pools as ⌊(n + 2p − k)/s⌋ + 1 and ⌊(n − k)/s⌋ + 1", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 8, max: 40 }),
        fc.integer({ min: 8, max: 40 }),
        fc.array(
          fc.record({
            conv: fc.boolean(),
            c: fc.integer({ min: 1, max: 8 }),
            k: fc.integer({ min: 1, max: 3 }),
            s: fc.integer({ min: 1, max: 2 }),
            p: fc.integer({ min: 0, max: 1 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (C0, H0, W0, layers) => {
          let [C, H, W] = [C0, H0, W0];
          const toks: string[] = [];
          const shapes: number[][] = [];
          for (const l of layers) {
            if (l.conv) {
              if (H + 2 * l.p < l.k || W + 2 * l.p < l.k) continue;
              toks.push(`conv:${C}>${l.c}:${l.k}x${l.k}:s${l.s}:p${l.p}`);
              let h = H + 2 * l.p - l.k,
                w = W + 2 * l.p - l.k;
              h = (h - (h % l.s)) / l.s + 1;
              w = (w - (w % l.s)) / l.s + 1;
              [C, H, W] = [l.c, h, w];
            } else {
              if (l.k > H || l.k > W) continue;
              toks.push(`avgpool:${l.k}:s${l.s}`);
              [H, W] = [(H - l.k - ((H - l.k) % l.s)) / l.s + 1, (W - l.k - ((W - l.k) % l.s)) / l.s + 1];
            }
            shapes.push([C, H, W]);
          }
          toks.push(`fc:${C * H * W}>3`);
          const plan = planArch(toks.join(","), [C0, H0, W0]);
          expect(plan.slice(0, -1).map((p) => p.outShape)).toEqual(shapes);
          expect(plan[plan.length - 1]!.inShape).toEqual([C, H, W]);
          expect(plan.map((p) => p.activationResolved)).toEqual(
            plan.map((p, i) =>
              p.kind === "conv" || p.kind === "fc" ? (i === plan.length - 1 ? "linear" : "relu") : undefined,
            ),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each([
    ["conv:3>8:3x3,fc:10", [1, 28, 28], 0, /says 3 input channels, the incoming activation has 1/],
    [
      "conv:1>8:3x3,fc:6000>10",
      [1, 28, 28],
      1,
      /says 6000 inputs, the incoming activation has 5408 features \(\[8, 26, 26\]\)/,
    ],
    ["conv:1>8:3x3,pool:2,conv:8>16:30x30", [1, 28, 28], 2, /kernel 30×30 is larger than the padded input 13×13/],
    ["fc:100,conv:1>8:3x3", [1, 28, 28], 1, /needs an image \[C, H, W\] input, got 100 flat features/],
    ["pool:2", [784], 0, /needs an image/],
    ["conv:1>4:3x3,pool:30", [1, 28, 28], 1, /window 30×30 is larger than the input 26×26/],
    [
      "conv:1>16:3x3:deg4,fc:10",
      [1, 28, 28],
      0,
      /out-degree 4 infeasible for 1→16: input channels·degree must be divisible by 16; feasible degrees: 16/,
    ],
    [
      "conv:1>8:3x3,conv:8>16:3x3:deg5",
      [1, 28, 28],
      1,
      /out-degree 5 infeasible for 8→16.*feasible degrees: 2, 4, 6, 8, 10, 12, 14, 16/,
    ],
    ["fc:10:deg11", [784], 0, /out-degree 11 exceeds the 10 outputs/],
  ])("rejects %j on input %j at token %i", (arch, shape, position, message) => {
    let err: unknown;
    try {
      planArch(arch, shape);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArchError);
    expect((err as ArchError).position).toBe(position);
    expect((err as ArchError).message).toMatch(message);
  });

  it("rejects a bad input shape", () => {
    expect(() => planArch("fc:10", [1, 28])).toThrow(ValidationError);
    expect(() => planArch("fc:10", [0])).toThrow(ValidationError);
  });
});

describe("buildModel", () => {
  it(
    "builds from an fc-only string, for the same seed, the network Model.mlp builds: exits included, " +
      "byte for byte",
    async () => {
      const engine = await getEngine();
      for (const seed of [0, 3]) {
        const mlp = Model.mlp(engine, {
          sizes: [800, 40, 40, 10],
          outDegrees: [2, 9, 10],
          seed,
          finalWeight: 0.3,
          exits: [
            { after: 0, weight: 1 },
            { after: 1, weight: 0.5, outDegree: 5 },
          ],
        });
        const arch = buildModel(engine, "fc:40:deg2,fc:40:deg9,fc:10", {
          inputShape: [800],
          seed,
          finalWeight: 0.3,
          exits: [{ after: 0 }, { after: 1, weight: 0.5, arch: "fc:10:deg5" }],
        });
        const [a, b] = [encodeModel(mlp), encodeModel(arch)];
        expect(b.hash).toBe(a.hash);
        expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
        mlp.dispose();
        arch.dispose();
      }
    },
  );

  it("builds the layers the string names, with exits, and their shapes chain", async () => {
    const engine = await getEngine();
    const before = engine.stats().liveBytes;
    const m = buildModel(engine, "conv:1>8:3x3:p1,pool:2,conv:8>16:3x3:deg4,pool:2,fc:10", {
      inputShape: [1, 28, 28],
      seed: 3,
      exits: [{ after: 1 }, { after: 3, arch: "fc:20:relu,fc:10", weight: 0.5 }],
    });
    try {
      expect(m.trunk.map((l) => l.kind)).toEqual(["conv2d", "maxpool2d", "conv2d", "maxpool2d", "linear"]);
      expect(m.trunk.map((l) => l.outputSize)).toEqual([8 * 28 * 28, 8 * 14 * 14, 16 * 12 * 12, 16 * 6 * 6, 10]);
      const c2 = m.trunk[2] as SparseConv2d;
      expect(c2.pattern.nnz).toBe(8 * 4);
      expect(encodeLayer(c2).spec).toMatchObject({
        inC: 8,
        outC: 16,
        H: 14,
        W: 14,
        kh: 3,
        kw: 3,
        stride: 1,
        padding: 0,
        outH: 12,
        outW: 12,
        activation: "relu",
      });
      expect((m.trunk[4] as SparseLinear).activation).toBe("linear");
      expect((m.trunk[1] as MaxPool2d).outputShape).toEqual([8, 14, 14]);
      expect(m.exits.map((e) => e.layers.map((l) => l.outputSize))).toEqual([[10], [20, 10]]);
      expect(m.exits[1]!.weight).toBe(0.5);
      expect(m.inputShape).toEqual([1, 28, 28]);
      expect(m.trunkMacs()[0]).toBe(8 * 9 * 28 * 28 - 8 * (4 * 3 * 28 - 4));
    } finally {
      m.dispose();
    }
    expect(engine.stats().liveBytes).toBe(before);
    expect(() => buildModel(engine, "fc:10,fc:5", { inputShape: [8], exits: [{ after: 1 }] })).toThrow(
      /exit 0 after token 1/,
    );
    expect(() =>
      buildModel(engine, "conv:1>4:3x3,fc:5", { inputShape: [1, 6, 6], exits: [{ after: 0, arch: "pool:9" }] }),
    ).toThrow(ArchError);
    expect(engine.stats().liveBytes).toBe(before);
  });

  it("fc:OUT:degD:blockR builds a blocked pattern; a block without degD, or not dividing, is refused", async () => {
    const engine = await getEngine();
    const m = buildModel(engine, "fc:40:deg2:block2,fc:10", { inputShape: [800], seed: 3 });
    try {
      const p = (m.trunk[0] as SparseLinear).pattern;
      expect([p.block, p.nnz, p.kind]).toEqual([2, 1600, "fixed-degree:2:block:2"]);
      expect((m.trunk[1] as SparseLinear).pattern.block).toBe(1);
    } finally {
      m.dispose();
    }
    expect(() => planArch("fc:40:block2,fc:10", [800])).toThrow(/block 2 needs an out-degree \(degD\)/);
    expect(() => planArch("fc:40:deg2:block4,fc:10", [800])).toThrow(
      /block 4 infeasible for 40 outputs at out-degree 2; feasible: 1, 2$/,
    );
  });

  it("the same string, shape and seed give the same weights", async () => {
    const engine = await getEngine();
    const make = (seed: number) => buildModel(engine, "conv:2>6:3x3:deg3,fc:4", { inputShape: [2, 5, 5], seed });
    const [a, b, c] = [make(1), make(1), make(2)];
    try {
      const w = (m: typeof a) => m.params().map((p) => Array.from(p.values.view()));
      expect(w(a)).toEqual(w(b));
      expect(w(a)).not.toEqual(w(c));
    } finally {
      for (const m of [a, b, c]) m.dispose();
    }
  });

  it("a sparse CNN built from a string learns a small image problem", async () => {
    const engine = await getEngine();
    // 3 classes: which third of a noisy 8×8 image (top, middle, bottom rows) is bright
    const B = 48,
      F = 64;
    const x = new Float32Array(F * B),
      y = new Int32Array(B);
    let s = 12345;
    const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let b = 0; b < B; b++) {
      y[b] = b % 3;
      for (let r = 0; r < 8; r++)
        for (let c = 0; c < 8; c++)
          x[(r * 8 + c) * B + b] = rnd() * 0.5 + (Math.floor(r / 3) === y[b] || (r === 7 && y[b] === 2) ? 1 : 0);
    }
    const m = buildModel(engine, "conv:1>6:3x3:p1,pool:2,conv:6>8:3x3:deg4:p1,avgpool:2,fc:3", {
      inputShape: [1, 8, 8],
      seed: 5,
    });
    const X = Matrix.from(engine, F, B, x),
      labels = I32Buffer.from(engine, y);
    try {
      const opt = new Adam({ lr: 0.01 });
      const losses: number[] = [];
      for (let i = 0; i < 40; i++) losses.push(m.trainStep(X, labels, opt).final);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
    } finally {
      m.dispose();
      X.dispose();
      labels.dispose();
    }
  });
});
