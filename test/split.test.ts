// Head then tail is the model: bit-for-bit on f32 activations, within the propagated quantization bound on f16
// and int8 frames; exits on the edge answer exactly as the full model's exits would; bundles round-trip and
// refuse the wrong half, a plain model and a forged split record.
import type { SparseLinear } from "../src/nn/layers/sparse_linear.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { FormatError, ValidationError } from "../src/engine/errors.js";
import { ExitRunner, passes, type ExitPolicy } from "../src/exits/runner.js";
import { decodeModel, encodeModel } from "../src/io/model_io.js";
import type { Layer } from "../src/nn/layers/layer.js";
import { Model } from "../src/nn/model.js";
import { feasibleOutDegrees } from "../src/sparsity/pattern.js";
import { decodeFrame, encodeFrame, frameErrorBound, type FrameDtype } from "../src/split/frame.js";
import { split, type Head, type Tail } from "../src/split/split.js";
import { encodeSafetensors, decodeSafetensors } from "../src/io/safetensors.js";
import { columnStats, getEngine } from "./helpers/engine.js";

const engine = await getEngine();
const bytesOf = (m: Model) => encodeModel(m).bytes;
const loadHead = (bytes: Uint8Array) => decodeModel(engine, bytes, { role: "head" }).model;
const loadTail = (bytes: Uint8Array) => decodeModel(engine, bytes, { role: "tail" }).model;

/** The head's early-exit run to its cut (no exit head runs without a policy). */
function runHead(head: Head, X: Matrix, policy?: ExitPolicy) {
  const runner = new ExitRunner(head, policy);
  try {
    return runner.run(X);
  } finally {
    runner.dispose();
  }
}

/** Features per sample at the cut. */
const widthOf = (h: Head | Tail) => h.split.activationShape.reduce((a, b) => a * b, 1);

/** A small generated MLP: 1–3 hidden layers, feasible out-degrees, exits on any subset of hidden layers. */
const modelArb = fc
  .record({
    inputs: fc.integer({ min: 1, max: 24 }),
    widths: fc.array(fc.integer({ min: 1, max: 14 }), { minLength: 1, maxLength: 3 }),
    classes: fc.integer({ min: 2, max: 6 }),
    seed: fc.integer({ min: 0, max: 10_000 }),
    degPick: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
    exitMask: fc.nat({ max: 7 }),
    cutPick: fc.nat(),
  })
  .map((r) => {
    const sizes = [r.inputs, ...r.widths, r.classes];
    const outDegrees = sizes.slice(0, -1).map((s, i) => {
      const f = feasibleOutDegrees(s, sizes[i + 1]!);
      return f[r.degPick[i]! % f.length]!;
    });
    const hidden = r.widths.length;
    const exits = Array.from({ length: hidden }, (_, i) => i)
      .filter((i) => r.exitMask & (1 << i))
      .map((after) => ({ after, weight: 1 }));
    return { sizes, outDegrees, seed: r.seed, exits, after: 1 + (r.cutPick % hidden) };
  });

type Spec = {
  sizes: number[];
  outDegrees: number[];
  seed: number;
  exits: { after: number; weight: number }[];
  after: number;
};

function build(s: Spec): Model {
  return Model.mlp(engine, {
    sizes: s.sizes,
    outDegrees: s.outDegrees,
    seed: s.seed,
    exits: s.exits,
    finalWeight: 0.5,
  });
}

function randomInput(n: number, seed: number, scale = 2): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** Bitwise equality of two float arrays, reporting the first difference. */
function expectSameBits(what: string, got: Float32Array, want: Float32Array): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length),
    b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) throw new Error(`${what}[${i}] = ${got[i]}, expected ${want[i]} bit for bit`);
}

/** Columns `cols` of a feature-major [rows, n] array. */
function columns(z: Float32Array, rows: number, n: number, cols: ArrayLike<number>): Float32Array {
  const m = cols.length,
    out = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) out[r * m + j] = z[r * n + cols[j]!]!;
  return out;
}

/** Tail logits for an activation given as a plain array (a fresh matrix, disposed after). */
function tailLogits(tail: Tail, act: Float32Array, n: number): Float32Array {
  const X = Matrix.from(engine, tail.inputSize, n, act);
  const z = tail.forward(X).toArray();
  X.dispose();
  return z;
}

/**
 * A float64 bound on |tail(x + e) − tail(x)| computed in float32, for |e| ≤ δ elementwise. Each layer is
 * y = act(W·x + b) with act ReLU or identity (both 1-Lipschitz): δ' = |W|·δ, plus float32 rounding of both
 * runs. A float32 dot product of n terms is within n·u·Σ|w||x| of the exact one (u = 2^-24, n ≤ 24 here), so
 * 2·24·2^-24 < 3e-6 of the magnitude Σ|w||x| + |b| per run; 1e-5 of it covers both runs with room to spare.
 */
function propagatedBound(layers: Layer[], x: Float32Array, delta: Float64Array, n: number): Float64Array {
  let xs = Float64Array.from(x),
    d = delta;
  for (const l of layers) {
    const { pattern, weights, bias, activation } = l as SparseLinear;
    const { rowPtr, colIdx: col } = pattern;
    const w = weights.values.toArray(),
      b = bias.toArray();
    const outs = l.outputSize;
    const nd = new Float64Array(outs * n),
      nx = new Float64Array(outs * n);
    for (let r = 0; r < outs; r++) {
      for (let j = 0; j < n; j++) {
        let dz = 0,
          z = b[r]!,
          mag = Math.abs(b[r]!);
        for (let p = rowPtr[r]!; p < rowPtr[r + 1]!; p++) {
          const c = col[p]!;
          dz += Math.abs(w[p]!) * d[c * n + j]!;
          z += w[p]! * xs[c * n + j]!;
          mag += Math.abs(w[p]!) * (Math.abs(xs[c * n + j]!) + d[c * n + j]!);
        }
        nd[r * n + j] = dz + 1e-5 * mag;
        nx[r * n + j] = activation === "relu" ? Math.max(0, z) : z;
      }
    }
    xs = nx;
    d = nd;
  }
  return d;
}

/**
 * Per sample, what the full model's early-exit system answers: the first edge exit passing the policy, else (who
 * answered: the final classifier, number E) the final logits.
 */
function fullModelAnswers(model: Model, X: Matrix, policy: ExitPolicy | undefined, edgeExits: number) {
  const B = X.cols,
    C = model.classes;
  const all = model.forwardAll(X).map((z) => z.toArray());
  return Array.from({ length: B }, (_, b) => {
    if (policy) {
      for (let e = 0; e < edgeExits; e++) {
        const s = columnStats(all[e]!, C, B, b);
        if (passes(policy, e, s.confidence, s.entropy)) return { exit: e, ...s };
      }
    }
    return { exit: model.exits.length, final: all[all.length - 1]!, ...columnStats(all[all.length - 1]!, C, B, b) };
  });
}

describe("split: head then tail is the model", () => {
  it("f32: bit-for-bit the model's logits for every sample, directly, through a frame and through the bundles", () => {
    fc.assert(
      fc.property(modelArb, fc.integer({ min: 1, max: 37 }), fc.integer(), (spec, B, seed) => {
        const model = build(spec);
        const X = Matrix.from(engine, model.inputSize, B, randomInput(model.inputSize * B, seed));
        const want = model.forward(X).toArray();
        const { head, tail } = split(model, { cut: spec.after });
        const head2 = loadHead(bytesOf(head));
        const tail2 = loadTail(bytesOf(tail));
        for (const [h, t, how] of [
          [head, tail, "direct"],
          [head2, tail2, "bundles"],
        ] as const) {
          const r = runHead(h, X);
          expect(Array.from(r.indices)).toEqual(Array.from({ length: B }, (_, i) => i));
          expect(Array.from(r.exit)).toEqual(new Array(B).fill(model.exits.length));
          expectSameBits(`${how} logits`, tailLogits(t, r.activation, B), want);
          const sent = encodeFrame({
            data: r.activation,
            shape: [widthOf(h), B],
            dtype: "f32",
            kind: "activation",
            splitId: h.split.cut,
            modelHash: h.split.hash,
          });
          const frame = decodeFrame(sent, {}, { modelHash: t.split.hash, splitId: t.split.cut, kind: "activation" });
          expectSameBits(`${how} logits through an f32 frame`, tailLogits(t, frame.data, B), want);
        }
        for (const x of [head, tail, head2, tail2, model]) x.dispose();
        X.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it(
    "with a policy: edge exits answer exactly as the model's exits; " +
      "every other sample gets the model's final logits",
    () => {
      fc.assert(
        fc.property(
          modelArb.filter((s) => s.exits.some((e) => e.after < s.after)),
          fc.integer({ min: 1, max: 37 }),
          fc.integer(),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.boolean(),
          (spec, B, seed, q, entropy) => {
            const model = build(spec);
            const E = model.exits.length;
            const policy: ExitPolicy = entropy
              ? { kind: "entropy", thresholds: new Array(E).fill(q * 1.5) }
              : { kind: "maxprob", thresholds: new Array(E).fill(q) };
            const { head, tail } = split(model, { cut: spec.after, policy });
            const edge = head.exits.length;
            expect(edge).toBe(spec.exits.filter((e) => e.after <= spec.after - 1).length);
            expect(head.split.policy?.thresholds).toEqual(policy.thresholds.slice(0, edge));
            const X = Matrix.from(engine, model.inputSize, B, randomInput(model.inputSize * B, seed));
            const want = fullModelAnswers(model, X, head.split.policy, edge);
            const r = runHead(head, X, head.split.policy);
            const sent = Array.from(r.indices);
            expect(sent).toEqual(want.flatMap((w, b) => (w.exit === E ? [b] : [])));
            const z = sent.length ? tailLogits(tail, r.activation, sent.length) : new Float32Array(0);
            sent.forEach((b, j) => {
              const w = want[b]!;
              expectSameBits(
                `sample ${b} final logits`,
                columns(z, model.classes, sent.length, [j]),
                columns(w.final!, model.classes, B, [b]),
              );
            });
            want.forEach((w, b) => {
              expect(r.exit[b]).toBe(w.exit);
              if (w.exit < E) {
                expect(r.label[b]).toBe(w.label);
                expect(r.confidence[b]).toBe(Math.fround(w.confidence));
              }
            });
            for (const x of [head, tail, model]) x.dispose();
            X.dispose();
          },
        ),
        { numRuns: 60 },
      );
    },
  );

  it(
    "f16 and int8 frames: the activation within the frame's bound, the tail exact on it, " +
      "the logits within the propagated bound",
    () => {
      fc.assert(
        fc.property(
          modelArb,
          fc.integer({ min: 1, max: 23 }),
          fc.integer(),
          fc.constantFrom<FrameDtype>("f16", "int8"),
          (spec, B, seed, dtype) => {
            const model = build(spec);
            const X = Matrix.from(engine, model.inputSize, B, randomInput(model.inputSize * B, seed, 3));
            const want = model.forward(X).toArray();
            const { head, tail } = split(model, { cut: spec.after });
            const r = runHead(head, X);
            const w = widthOf(head);
            const frame = decodeFrame(
              encodeFrame({
                data: r.activation,
                shape: [w, B],
                dtype,
                kind: "activation",
                splitId: head.split.cut,
                modelHash: head.split.hash,
              }),
            );
            const delta = new Float64Array(w * B);
            for (let i = 0; i < delta.length; i++) {
              const bound = frameErrorBound(dtype, r.activation[i]!, frame.scale);
              expect(Math.abs(frame.data[i]! - r.activation[i]!)).toBeLessThanOrEqual(bound);
              delta[i] = bound;
            }
            // the tail computes exactly what the full model computes from the dequantized activation
            const got = tailLogits(tail, frame.data, B);
            const tailLayersOfModel = model.trunk.slice(spec.after);
            const Xq = Matrix.from(engine, w, B, frame.data);
            let h = Xq;
            for (const l of tailLayersOfModel) h = l.forward(h);
            expectSameBits("tail on the dequantized activation", got, h.toArray());
            Xq.dispose();
            const bound = propagatedBound(tail.trunk, r.activation, delta, B);
            for (let i = 0; i < want.length; i++) {
              if (!(Math.abs(got[i]! - want[i]!) <= bound[i]!))
                throw new Error(`${dtype} logit ${i}: ${got[i]} vs ${want[i]}, bound ${bound[i]}`);
            }
            for (const x of [head, tail, model]) x.dispose();
            X.dispose();
          },
        ),
        { numRuns: 60 },
      );
    },
  );

  it(
    "a sample's output does not depend on the size of its batch or its place in it " +
      "(what lets a server batch requests)",
    () => {
      fc.assert(
        fc.property(modelArb, fc.integer({ min: 2, max: 37 }), fc.integer(), fc.nat(), (spec, B, seed, pick) => {
          const model = build(spec);
          const x = randomInput(model.inputSize * B, seed);
          const X = Matrix.from(engine, model.inputSize, B, x);
          const whole = model.forward(X).toArray();
          // every sample alone (batch 1: the kernels' dot-product path), and a random window of the batch
          const start = pick % B,
            n = 1 + ((pick >> 8) % (B - start));
          const windows = [...Array.from({ length: B }, (_, b) => [b, 1]), [start, n]];
          for (const [s0, m] of windows) {
            const Xs = Matrix.from(
              engine,
              model.inputSize,
              m!,
              columns(
                x,
                model.inputSize,
                B,
                Array.from({ length: m! }, (_, j) => s0! + j),
              ),
            );
            const got = model.forward(Xs).toArray();
            expectSameBits(
              `samples ${s0}…${s0! + m! - 1} of ${B}`,
              got,
              columns(
                whole,
                model.classes,
                B,
                Array.from({ length: m! }, (_, j) => s0! + j),
              ),
            );
            Xs.dispose();
          }
          X.dispose();
          model.dispose();
        }),
        { numRuns: 40 },
      );
    },
  );

  it("only non-exited samples reach the layers after an edge exit", () => {
    const model = build({
      sizes: [12, 8, 8, 6, 3],
      outDegrees: [2, 4, 3, 3],
      seed: 3,
      exits: [{ after: 0, weight: 1 }],
      after: 2,
    });
    const { head, tail } = split(model, { cut: 2 });
    const X = Matrix.from(engine, 12, 41, randomInput(12 * 41, 5));
    const seen: number[] = [];
    const deeper = head.trunk[1]!;
    const forward = deeper.forward.bind(deeper);
    deeper.forward = (x) => (seen.push(x.cols), forward(x));
    const r = runHead(head, X, { kind: "maxprob", thresholds: [0.45] });
    const stayed = r.indices.length;
    expect(stayed).toBeGreaterThan(0);
    expect(stayed).toBeLessThan(41);
    expect(seen).toEqual([stayed]);
    expect(r.activation.length).toBe(8 * stayed);
    const all = runHead(head, X, { kind: "maxprob", thresholds: [0] });
    expect(all.indices.length).toBe(0);
    expect(all.activation.length).toBe(0);
    for (const x of [head, tail, model]) x.dispose();
    X.dispose();
  });
});

/** The split record a bundle stores in its architecture's `extra.split` (the file format, unchanged). */
const fileRecord = (bytes: Uint8Array) => JSON.parse(decodeSafetensors(bytes).metadata.presparse!).extra.split;

describe("split bundles", () => {
  const paperish = () =>
    Model.mlp(engine, {
      sizes: [20, 8, 8, 4],
      outDegrees: [2, 4, 4],
      seed: 9,
      exits: [
        { after: 0, weight: 1 },
        { after: 1, weight: 1 },
      ],
      finalWeight: 0.3,
    });

  it("record the seed of the data split the model was trained on, and refuse a forged one", () => {
    const model = paperish();
    const { head, tail } = split(model, { cut: 2, dataSeed: 3 });
    const hb = bytesOf(head);
    expect(fileRecord(hb).dataSeed).toBe(3);
    expect(fileRecord(bytesOf(tail)).dataSeed).toBe(3);
    const again = loadHead(hb);
    expect(again.split.dataSeed).toBe(3);
    const json = JSON.parse(decodeSafetensors(hb).metadata.presparse!);
    json.extra.split.dataSeed = -1;
    const f = decodeSafetensors(hb);
    const forged = encodeSafetensors(Object.fromEntries(f.tensors), { ...f.metadata, presparse: JSON.stringify(json) });
    expect(() => loadHead(forged)).toThrow(/extra\.split\.dataSeed/);
    expect(() => split(model, { cut: 1, dataSeed: -2 })).toThrow(/dataSeed/);
    for (const x of [head, tail, again]) x.dispose();
    model.dispose();
  });

  it("carry the full model's hash, the cut, the role, the activation width and each half's policy share", () => {
    const model = paperish();
    const { bytes, hash } = encodeModel(model);
    const loaded = decodeModel(engine, bytes);
    const { head, tail } = split(loaded.model, { cut: 1, hash: loaded.hash, policy: "maxprob:0.8,0.9" });
    const hb = bytesOf(head),
      tb = bytesOf(tail);
    expect(fileRecord(hb)).toEqual({
      role: "head",
      after: 1,
      splitId: 1,
      activationWidth: 8,
      activationShape: [8],
      classes: 4,
      totalExits: 2,
    });
    expect(fileRecord(tb)).toMatchObject({ role: "tail", after: 1, splitId: 1, activationWidth: 8 });
    const h = loadHead(hb),
      t = loadTail(tb);
    expect(h.split).toEqual({
      role: "head",
      cut: 1,
      activationShape: [8],
      classes: 4,
      totalExits: 2,
      hash,
      policy: { kind: "maxprob", thresholds: [0.8] },
    });
    expect(t.split).toMatchObject({ role: "tail", cut: 1, activationShape: [8], hash });
    expect(h.split.hash).toBe(hash);
    expect(h.split.policy).toEqual({ kind: "maxprob", thresholds: [0.8] });
    expect(t.split.policy).toEqual({ kind: "maxprob", thresholds: [0.9] });
    // the server bundle is an ordinary model file: the tail's layers with the second exit re-indexed to after 0
    const asModel = decodeModel(engine, tb);
    expect(asModel.hash).toBe(hash);
    expect(asModel.model.inputSize).toBe(8);
    expect(asModel.model.exits.map((e) => e.after)).toEqual([0]);
    expect(asModel.model.trunk.length).toBe(2);
    // split without a hash computes the same one a saved file carries
    const again = split(model, { cut: 2 });
    expect(again.head.split.hash).toBe(hash);
    // a decoded half is written back byte for byte
    expect(Buffer.from(bytesOf(h)).equals(Buffer.from(hb))).toBe(true);
    expect(Buffer.from(bytesOf(t)).equals(Buffer.from(tb))).toBe(true);
    for (const x of [model, loaded.model, head, tail, h, t, asModel.model, again.head, again.tail]) x.dispose();
  });

  it("refuse the other half, a plain model, a forged split record and tensors the architecture does not use", () => {
    const model = paperish();
    const { head, tail } = split(model, { cut: 2 });
    const hb = bytesOf(head),
      tb = bytesOf(tail);
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        return (e as FormatError).field;
      }
      throw new Error("expected a FormatError");
    };
    expect(field(() => loadTail(hb))).toBe("extra.split.role");
    expect(field(() => loadHead(tb))).toBe("extra.split.role");
    expect(field(() => loadTail(encodeModel(model).bytes))).toBe("extra.split");
    const forge = (bytes: Uint8Array, edit: (spec: any, meta: Record<string, string>) => void, extraTensor = false) => {
      const f = decodeSafetensors(bytes, { copy: true });
      const spec = JSON.parse(f.metadata.presparse!);
      const meta = { ...f.metadata };
      edit(spec, meta);
      const tensors = Object.fromEntries(
        [...f.tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data }]),
      );
      if (extraTensor) tensors["trunk.9.values"] = { dtype: "F32", shape: [1], data: new Float32Array(1) };
      return encodeSafetensors(tensors as any, { ...meta, presparse: JSON.stringify(spec) });
    };
    expect(field(() => loadHead(forge(hb, (s) => (s.extra.split.activationWidth = 9))))).toBe(
      "extra.split.activationShape",
    );
    expect(
      field(() =>
        loadHead(forge(hb, (s) => ((s.extra.split.activationWidth = 9), (s.extra.split.activationShape = [9])))),
      ),
    ).toBe("presparse");
    expect(field(() => loadHead(forge(hb, (s) => (s.extra.split.after = 1))))).toBe("extra.split.splitId");
    expect(
      field(() =>
        loadHead(
          forge(hb, (s) => {
            s.extra.split.after = 1;
            s.extra.split.splitId = 1;
          }),
        ),
      ),
    ).toBe("presparse.trunk");
    expect(field(() => loadHead(forge(hb, (_s, m) => (m.model_hash = "nothex"))))).toBe("model_hash");
    expect(field(() => loadHead(forge(hb, (s) => (s.extra.policy = "maxprob:2"))))).toBe("extra.policy");
    expect(field(() => loadHead(forge(hb, () => {}, true)))).toBe("trunk.9.values");
    expect(field(() => loadTail(forge(tb, (s) => (s.extra.split.activationWidth = 7))))).toBe(
      "extra.split.activationShape",
    );
    expect(
      field(() =>
        loadTail(forge(tb, (s) => ((s.extra.split.activationWidth = 7), (s.extra.split.activationShape = [7])))),
      ),
    ).toBe("presparse");
    expect(loadHead(forge(hb, () => {})).split.hash).toBe(head.split.hash);
    // without a role asked for, the decoder reads either half as what its record says
    const either = [hb, tb].map((b) => decodeModel(engine, b).model);
    expect(either.map((m) => m.split?.role)).toEqual(["head", "tail"]);
    expect(
      field(() =>
        decodeModel(
          engine,
          forge(hb, (s) => (s.extra.split.role = "middle")),
        ),
      ),
    ).toBe("extra.split.role");
    for (const x of [model, head, tail, ...either]) x.dispose();
  });

  it("reject a cut outside 1…L−1, a model of one layer and a policy of the wrong length", () => {
    const model = paperish();
    for (const cut of [0, 3, 1.5, -1]) expect(() => split(model, { cut })).toThrow(ValidationError);
    expect(() => split(model, { cut: 1, policy: "maxprob:0.1,0.2,0.3" })).toThrow(ValidationError);
    expect(() => split(model, { cut: 1, hash: "xyz" })).toThrow(ValidationError);
    const one = Model.mlp(engine, { sizes: [4, 2], outDegrees: [2] });
    expect(() => split(one, { cut: 1 })).toThrow(ValidationError);
    const record = {
      role: "head" as const,
      cut: 1,
      activationShape: [1],
      classes: 2,
      totalExits: 0,
      hash: "0".repeat(16),
    };
    expect(() => new Model(engine, [], [], { split: record })).toThrow(ValidationError);
    // a half is not split again, and a head trains nothing (it has no final classifier)
    const { head, tail } = split(model, { cut: 1 });
    expect(() => split(tail, { cut: 1 })).toThrow(/already the tail/);
    expect(() => new Model(engine, head.trunk, [], { split: { ...head.split, cut: 2 } })).toThrow(ValidationError);
    expect(() => new Model(engine, head.trunk, [], { split: head.split, finalWeight: 1 })).toThrow(/finalWeight/);
    const X = new Matrix(engine, 20, 1);
    expect(() => head.trainStep(X, undefined as never, undefined as never)).toThrow(/no final classifier/);
    expect(() => head.forwardAll(X)).toThrow(/no final classifier/);
    X.dispose();
    for (const x of [model, one, head, tail]) x.dispose();
  });
});
