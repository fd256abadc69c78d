// Model files beyond test/model_io.test.ts: each refusal's whole message (format, field, source, expected vs got),
// the records other readers rely on (conv taps, U16 indices up to 65,536 inputs), what older files may leave out
// (checksum, pattern hash and kind, a split bundle's activation shape), and every field of a split record at its
// edge (the split bundles' own round trip is test/split.test.ts).
import { describe, expect, it } from "vitest";
import { FormatError, ValidationError } from "../src/engine/errors.js";
import { decodeModel, encodeLayer, encodeModel, type DecodeModelOptions } from "../src/io/model_io.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../src/io/safetensors.js";
import { buildModel as buildArch } from "../src/nn/arch.js";
import type { Layer } from "../src/nn/layers/layer.js";
import { SparseConv2d } from "../src/nn/layers/sparse_conv2d.js";
import { SparseLinear } from "../src/nn/layers/sparse_linear.js";
import { Model } from "../src/nn/model.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { split } from "../src/split/split.js";
import { getEngine } from "./helpers/engine.js";

const engine = await getEngine();

/** [20, 8, 8, 4] at (2, 4, 4): trunk.0 and trunk.1 sparse, trunk.2 full (8×4, stored dense); exits after 0 and 1. */
const mlp = () =>
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

/** Built on first use inside a test: a fixture built while the file is collected would hide a mutant that breaks it. */
function lazy<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

const plain = lazy(() => {
  const model = mlp();
  return { model, bytes: encodeModel(model).bytes };
});

// cut 2: the head holds trunk layers 0, 1 and both exits; the tail holds trunk.2 and no exit
const halves = lazy(() => {
  const { model } = plain();
  const { head, tail } = split(model, { cut: 2, policy: "maxprob:0.8,0.9", dataSeed: 3 });
  return { model, head, hb: encodeModel(head).bytes, tb: encodeModel(tail).bytes };
});

type Spec = Record<string, any>;
type Tensors = Record<string, SafeTensor>;

/** The file with its architecture record, metadata and tensors edited (the checksum is left as it was). */
function edit(bytes: Uint8Array, fn: (spec: Spec, meta: Record<string, string | undefined>, t: Tensors) => void) {
  const f = decodeSafetensors(bytes, { copy: true });
  const meta: Record<string, string | undefined> = { ...f.metadata };
  const spec = JSON.parse(meta.presparse!) as Spec;
  const tensors = Object.fromEntries(
    [...f.tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data } as SafeTensor]),
  );
  fn(spec, meta, tensors);
  if (meta.presparse === f.metadata.presparse) meta.presparse = JSON.stringify(spec);
  const kept = Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return encodeSafetensors(tensors, kept);
}

/** The FormatError decoding throws. */
function refusal(bytes: Uint8Array, o?: DecodeModelOptions): FormatError {
  let e: unknown;
  try {
    decodeModel(engine, bytes, o).model.dispose();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(FormatError);
  return e as FormatError;
}

/** Its format, field and message. */
const told = (bytes: Uint8Array, o?: DecodeModelOptions) => {
  const e = refusal(bytes, o);
  return [e.format, e.field, e.message];
};

describe("the architecture record", () => {
  it("a missing or unreadable record names the source", () => {
    const { bytes } = plain();
    const none = edit(bytes, (_s, meta) => (meta.presparse = undefined));
    expect(told(none)).toEqual([
      "model",
      "__metadata__.presparse",
      "model: __metadata__.presparse: model: not a presparse model (no architecture record)",
    ]);
    expect(refusal(none, { source: "m.safetensors" }).message).toBe(
      "model: __metadata__.presparse: m.safetensors: not a presparse model (no architecture record)",
    );
    const bad = told(edit(bytes, (_s, meta) => (meta.presparse = "{trunk:")));
    expect([bad[1], (bad[2] as string).startsWith("model: __metadata__.presparse: model: invalid JSON: ")]).toEqual([
      "__metadata__.presparse",
      true,
    ]);
    for (const raw of ["null", "42", '"text"']) {
      expect(told(edit(bytes, (_s, meta) => (meta.presparse = raw)))).toEqual([
        "model",
        "presparse",
        "model: presparse: not a JSON object",
      ]);
    }
  });

  it("each top-level field, expected vs got", () => {
    const { bytes } = plain();
    const cases: [(s: Spec) => void, string, string][] = [
      [(s) => (s.format = "keras"), "presparse.format", 'expected "presparse", got "keras"'],
      [(s) => (s.version = 2), "presparse.version", "expected 1, got 2"],
      [(s) => (s.trunk = []), "presparse.trunk", "expected a non-empty array of layers"],
      [(s) => (s.trunk = "linear"), "presparse.trunk", "expected a non-empty array of layers"],
      [(s) => (s.exits = {}), "presparse.exits", "expected an array"],
      [(s) => (s.inputShape = [0]), "presparse.inputShape", "expected positive integers"],
      [(s) => (s.inputShape = [20, 0]), "presparse.inputShape", "expected positive integers"],
      [(s) => (s.inputShape = [2.5]), "presparse.inputShape", "expected positive integers"],
      [(s) => (s.trunk[0] = {}), "presparse.layers[0]", "expected an object with a kind"],
      [(s) => (s.trunk[1] = { ...s.trunk[1], kind: 3 }), "presparse.layers[1]", "expected an object with a kind"],
      [(s) => (s.exits = [null]), "presparse.layers[3]", "expected an object with a kind"],
      [(s) => (s.exits = [{ after: 0, weight: 1 }]), "presparse.layers[3]", "expected an object with a kind"],
      [(s) => (s.exits[1].layers = [7]), "presparse.layers[4]", "expected an object with a kind"],
      [(s) => (s.classes = 5), "presparse.classes", "says 5, layers give 4"],
      [(s) => (s.trunk[0].kind = "conv3d"), "trunk.0.kind", 'unknown layer kind "conv3d"'],
      [(s) => (s.exits[0].layers[0].kind = "toString"), "exit.0.0.kind", 'unknown layer kind "toString"'],
    ];
    for (const [fn, field, detail] of cases) {
      expect(told(edit(bytes, fn)), field).toEqual(["model", field, `model: ${field}: ${detail}`]);
    }
  });

  it("a model the layers cannot make names the source; a layer that cannot be built names only its part", () => {
    const { bytes } = plain();
    const after = edit(bytes, (s) => (s.exits[0].after = 5));
    const e = refusal(after, { source: "m.safetensors" });
    expect([e.field, e.message.startsWith("model: presparse: m.safetensors: Model: ")]).toEqual(["presparse", true]);
    expect(refusal(after).message.startsWith("model: presparse: model: Model: ")).toBe(true);
    // a full layer whose record says 0.5 × 800 = 400 connections: its sizes are refused before any pattern is built
    const half = edit(bytes, (s) => Object.assign(s.trunk[2], { inputs: 0.5, outputs: 800, nnz: 400 }));
    const full = edit(
      half,
      (_s, _m, t) => (t["trunk.2.values"] = { dtype: "F32", shape: [400], data: new Float32Array(400) }),
    );
    expect(told(full)).toEqual(["model", "trunk.2.inputs", "model: trunk.2.inputs: expected an integer, got 0.5"]);
  });

  it("the model hash, when the file has one, is 16 lowercase hex digits", () => {
    const { bytes } = plain();
    for (const h of ["not a hash", "ABCDEF0123456789", "abc"]) {
      expect(told(edit(bytes, (_s, meta) => (meta.model_hash = h)))).toEqual([
        "model",
        "__metadata__.model_hash",
        `model: __metadata__.model_hash: model: expected 16 lowercase hex digits, got ${JSON.stringify(h)}`,
      ]);
    }
  });

  it("extra may be null: a plain model, and no split record when a half is asked for", () => {
    const { bytes } = plain();
    const nul = edit(bytes, (s) => (s.extra = null));
    const loaded = decodeModel(engine, nul);
    expect(loaded.model.split).toBeUndefined();
    loaded.model.dispose();
    expect(told(nul, { role: "head" })).toEqual([
      "split",
      "extra.split",
      "split: extra.split: model: no split record: not a split bundle (use presparse split)",
    ]);
  });
});

describe("tensors", () => {
  const f32 = (n: number): SafeTensor => ({ dtype: "F32", shape: [n], data: new Float32Array(n) });

  it("the checksum, when the file has one, vouches for the weights; a file without one still loads", () => {
    const { model, bytes } = plain();
    const none = edit(bytes, (_s, meta) => (meta.tensors_crc32 = undefined));
    const loaded = decodeModel(engine, none);
    expect(loaded.hash).toBe(encodeModel(model).hash);
    loaded.model.dispose();
    const zero = edit(bytes, (_s, meta) => (meta.tensors_crc32 = "00000000"));
    const got = decodeSafetensors(bytes).metadata.tensors_crc32;
    expect(told(zero)).toEqual([
      "model",
      "__metadata__.tensors_crc32",
      `model: __metadata__.tensors_crc32: model: tensors checksum ${got}, the file says 00000000 (corrupted weights?)`,
    ]);
  });

  it("a dtype outside F32, I32 and U16 is refused by name wherever it is; an unused tensor is named", () => {
    const { bytes } = plain();
    const f64 = { dtype: "F64", shape: [3], data: new Float64Array(3) } as unknown as SafeTensor;
    const cases: [(t: Tensors) => void, string, string][] = [
      [
        (t) => (t["trunk.0.values"] = { ...f64, shape: [40], data: new Float64Array(40) } as never),
        "trunk.0.values",
        "dtype F64, expected F32, I32 or U16",
      ],
      [(t) => (t["trunk.0.extra"] = f64), "trunk.0.extra", "dtype F64, expected F32, I32 or U16"],
      [(t) => (t["trunk.0.extra"] = f32(3)), "trunk.0.extra", "tensor not used by the architecture"],
      [(t) => (t["trunk.0.values.copy"] = f64), "trunk.0.values.copy", "tensor not used by the architecture"],
      [(t) => (t["trunk.0.col_idx"] = f32(40)), "trunk.0.col_idx", "dtype F32, expected U16 or I32"],
      [
        (t) => (t["trunk.1.values"] = { ...f64, shape: [32], data: new Float64Array(32) } as never),
        "trunk.1.values",
        "dtype F64, expected F32, I32 or U16",
      ],
      [(t) => (t["trunk.1.bias"] = f32(9)), "trunk.1.bias", "9 entries for 8 outputs"],
      [
        (t) => {
          delete t["trunk.1.row_ptr"];
          delete t["trunk.1.col_idx"];
        },
        "trunk.1.row_ptr",
        "tensor missing",
      ],
    ];
    for (const [fn, field, detail] of cases) {
      expect(told(edit(bytes, (_s, _m, t) => fn(t))), field).toEqual(["model", field, `model: ${field}: ${detail}`]);
    }
  });

  it("a layer's record: activation, shape and layout must be its own", () => {
    const { bytes } = plain();
    const cases: [(s: Spec) => void, string, string][] = [
      [(s) => (s.trunk[0].activation = "gelu"), "trunk.0.activation", "unknown activation gelu"],
      [(s) => (s.trunk[1].shape = [8]), "trunk.1.shape", "expected [8, 8], got [8]"],
      [(s) => (s.trunk[1].shape = "88"), "trunk.1.shape", 'expected [8, 8], got "88"'],
      [(s) => (s.trunk[1].layout = "dense"), "trunk.1.layout", 'expected csr, got "dense"'],
    ];
    for (const [fn, field, detail] of cases) {
      expect(told(edit(bytes, fn)), field).toEqual(["model", field, `model: ${field}: ${detail}`]);
    }
    // a full layer read with index tensors is read as CSR: its record's dense layout then disagrees
    const p = Pattern.dense(8, 4);
    const indexed = edit(bytes, (_s, _m, t) => {
      t["trunk.2.row_ptr"] = { dtype: "I32", shape: [5], data: p.rowPtr };
      t["trunk.2.col_idx"] = { dtype: "I32", shape: [32], data: p.colIdx };
    });
    expect(told(indexed)).toEqual(["model", "trunk.2.layout", 'model: trunk.2.layout: expected csr, got "dense"']);
    // and one index tensor alone calls for the other
    const rowsOnly = edit(bytes, (_s, _m, t) => (t["trunk.2.row_ptr"] = { dtype: "I32", shape: [5], data: p.rowPtr }));
    expect(told(rowsOnly)).toEqual(["model", "trunk.2.col_idx", "model: trunk.2.col_idx: tensor missing"]);
    const colsOnly = edit(bytes, (_s, _m, t) => (t["trunk.2.col_idx"] = { dtype: "I32", shape: [32], data: p.colIdx }));
    expect(told(colsOnly)).toEqual(["model", "trunk.2.row_ptr", "model: trunk.2.row_ptr: tensor missing"]);
  });

  it("what a record may leave out: the pattern hash (then unchecked) and kind (then csr)", () => {
    const { model, bytes } = plain();
    const noHash = edit(bytes, (s) => delete s.trunk[1].patternHash);
    const a = decodeModel(engine, noHash);
    expect((a.model.trunk[1] as SparseLinear).pattern.hash).toBe((model.trunk[1] as SparseLinear).pattern.hash);
    a.model.dispose();
    const noKind = edit(bytes, (s) => delete s.trunk[1].pattern);
    const b = decodeModel(engine, noKind);
    expect((b.model.trunk[1] as SparseLinear).pattern.kind).toBe("csr");
    expect((b.model.trunk[0] as SparseLinear).pattern.kind).toBe((model.trunk[0] as SparseLinear).pattern.kind);
    b.model.dispose();
  });
});

describe("column indices as U16", () => {
  it("are written for a layer of exactly 65,536 inputs (index 65,535 fits), and not for 65,537", () => {
    for (const [inputs, dtype] of [
      [65536, "U16"],
      [65537, "I32"],
    ] as const) {
      const p = Pattern.fromCsr(inputs, 2, [0, 1, 2], [0, inputs - 1]);
      const layer = new SparseLinear(engine, p, { activation: "linear" });
      const t = encodeLayer(layer, { indexDtype: "u16" }).tensors.col_idx!;
      expect([t.dtype, Array.from(t.data)]).toEqual([dtype, [0, inputs - 1]]);
      layer.dispose();
    }
  });

  it("encodeLayer refuses a kind it has no codec for and an index dtype it does not know", () => {
    const kinds = "linear, conv2d, maxpool2d, avgpool2d, flatten";
    for (const kind of ["rnn", "toString"]) {
      expect(() => encodeLayer({ kind } as unknown as Layer)).toThrow(ValidationError);
      expect(() => encodeLayer({ kind } as unknown as Layer)).toThrow(
        `encodeLayer: kind must be one of ${kinds}, got ${JSON.stringify(kind)}`,
      );
    }
    const layer = new SparseLinear(engine, Pattern.dense(2, 2));
    expect(() => encodeLayer(layer, { indexDtype: "i16" as never })).toThrow(
      'encodeLayer: indexDtype must be i32 or u16, got "i16"',
    );
    layer.dispose();
  });
});

describe("image layers", () => {
  const conv = (taps?: number[]) =>
    new SparseConv2d(engine, {
      inC: 1,
      outC: 4,
      H: 6,
      W: 6,
      kh: 3,
      kw: 3,
      pattern: Pattern.dense(1, 4),
      taps,
      seed: 1,
    });
  const imageModel = (taps?: number[]) =>
    new Model(
      engine,
      [conv(taps), new SparseLinear(engine, Pattern.dense(64, 3), { activation: "linear", seed: 2 })],
      [],
      {
        inputShape: [1, 6, 6],
      },
    );

  it("a conv record says whether a tap mask is stored; mask, values and bias must agree with the pattern", () => {
    const all = imageModel(),
      masked = imageModel([1, 0, 1, 0, 1, 0, 1, 0, 1]);
    expect(encodeLayer(all.trunk[0]!).spec.taps).toBe("all");
    expect(encodeLayer(masked.trunk[0]!).spec.taps).toBe("mask");
    const bytes = encodeModel(masked).bytes;
    const back = decodeModel(engine, bytes);
    expect(back.model.trunk[0]!.macsPerSample()).toBe(masked.trunk[0]!.macsPerSample());
    back.model.dispose();
    const cases: [(t: Tensors) => void, string, string][] = [
      [
        (t) => (t["trunk.0.tap_mask"] = { dtype: "I32", shape: [5], data: new Int32Array(5).fill(1) }),
        "trunk.0.tap_mask",
        "5 entries for 4 connections × 9 taps",
      ],
      [
        (t) => (t["trunk.0.values"] = { dtype: "F32", shape: [3], data: new Float32Array(3) }),
        "trunk.0.values",
        "3 values for 20 stored taps",
      ],
      [
        (t) => (t["trunk.0.bias"] = { dtype: "F32", shape: [5], data: new Float32Array(5) }),
        "trunk.0.bias",
        "5 entries for 4 output channels",
      ],
    ];
    for (const [fn, field, detail] of cases) {
      expect(told(edit(bytes, (_s, _m, t) => fn(t))), field).toEqual(["model", field, `model: ${field}: ${detail}`]);
    }
    // without a mask every tap is stored: 4 connections × 9
    const unmasked = edit(
      encodeModel(all).bytes,
      (_s, _m, t) => (t["trunk.0.values"] = { dtype: "F32", shape: [35], data: new Float32Array(35) }),
    );
    expect(told(unmasked)).toEqual(["model", "trunk.0.values", "model: trunk.0.values: 35 values for 36 stored taps"]);
    expect(told(edit(bytes, (s) => (s.trunk[0].stride = 1.5)))).toEqual([
      "model",
      "trunk.0.stride",
      "model: trunk.0.stride: expected an integer, got 1.5",
    ]);
    for (const m of [all, masked]) m.dispose();
  });

  it("a flatten record's input shape: positive integers, 1 to 3 of them", () => {
    const model = buildArch(engine, "conv:1>2:3x3,flatten,fc:3", { inputShape: [1, 5, 5], seed: 1 });
    expect(model.trunk.map((l) => l.kind)).toEqual(["conv2d", "flatten", "linear"]);
    const bytes = encodeModel(model).bytes;
    for (const shape of [[0, 9], [2.5], "18", null]) {
      expect(told(edit(bytes, (s) => (s.trunk[1].inputShape = shape)))).toEqual([
        "model",
        "trunk.1.inputShape",
        `model: trunk.1.inputShape: expected positive integers, got ${JSON.stringify(shape)}`,
      ]);
    }
    expect(told(edit(bytes, (s) => (s.trunk[1].inputShape = [1, 2, 3, 3])))).toEqual([
      "model",
      "trunk.1.inputShape",
      "model: trunk.1.inputShape: Flatten: input shape must have 1–3 dimensions, got [1, 2, 3, 3]",
    ]);
    model.dispose();
  });
});

describe("split records", () => {
  const rec = (fn: (r: Spec, s: Spec) => void) => (bytes: Uint8Array) => edit(bytes, (s) => fn(s.extra.split, s));
  const loads = (bytes: Uint8Array, role?: "head" | "tail") => {
    const m = decodeModel(engine, bytes, role ? { role } : {}).model;
    const r = m.split;
    m.dispose();
    return r;
  };

  it("read back as written: role, cut, shape, classes, exits, hash, this half's policy and the data seed", () => {
    const { model, head, hb, tb } = halves();
    expect(loads(hb, "head")).toEqual({
      role: "head",
      cut: 2,
      activationShape: [8],
      classes: 4,
      totalExits: 2,
      hash: head.split.hash,
      policy: { kind: "maxprob", thresholds: [0.8, 0.9] },
      dataSeed: 3,
    });
    // the tail has no exit: no policy share; a bundle without a seed records none
    const plain = split(model, { cut: 1 });
    const r = loads(encodeModel(plain.tail).bytes, "tail")!;
    expect(["policy" in r, "dataSeed" in r, r.totalExits]).toEqual([false, false, 2]);
    expect(loads(tb)).toMatchObject({ role: "tail", cut: 2, totalExits: 2 });
    plain.head.dispose();
    plain.tail.dispose();
  });

  it("the role: the half asked for, or either when none is", () => {
    const { model, hb, tb } = halves();
    expect(told(hb, { role: "tail" })).toEqual([
      "split",
      "extra.split.role",
      'split: extra.split.role: model: expected a tail bundle, got "head"',
    ]);
    expect(refusal(tb, { role: "head", source: "t.safetensors" }).message).toBe(
      'split: extra.split.role: t.safetensors: expected a head bundle, got "tail"',
    );
    expect(told(rec((r) => (r.role = "middle"))(hb))).toEqual([
      "split",
      "extra.split.role",
      'split: extra.split.role: model: expected a head or tail bundle, got "middle"',
    ]);
    const plain = encodeModel(model).bytes;
    const none = "split: extra.split: model: no split record: not a split bundle (use presparse split)";
    expect(told(plain, { role: "tail" })).toEqual(["split", "extra.split", none]);
    expect(
      told(
        edit(plain, (s) => (s.extra = { split: "head" })),
        { role: "head" },
      ),
    ).toEqual(["split", "extra.split", none]);
    expect(
      told(
        edit(plain, (s) => (s.extra = { split: null })),
        { role: "head" },
      ),
    ).toEqual(["split", "extra.split", none]);
  });

  it("after, splitId, activationWidth and classes are integers ≥ 1, totalExits ≥ 0", () => {
    const { hb } = halves();
    for (const key of ["after", "splitId", "activationWidth", "classes", "totalExits"]) {
      for (const v of [key === "totalExits" ? -1 : 0, 1.5, "2", 2 ** 53]) {
        // a size past the model limits is refused as one, before anything of its size is allocated
        const [format, field, message] = told(rec((r) => (r[key] = v))(hb));
        if (v === 2 ** 53 && key !== "after" && key !== "splitId") {
          expect([format, field], `${key} = ${v}`).toEqual(["model", `extra.split.${key}`]);
          expect(message).toMatch(
            new RegExp(`^model: extra\\.split\\.${key}: model: ${key} ${v}, the limit is \\d+ \\(limits\\.max`),
          );
        } else
          expect([format, field, message], `${key} = ${v}`).toEqual([
            "split",
            `extra.split.${key}`,
            `split: extra.split.${key}: model: expected a positive integer, got ${JSON.stringify(v)}`,
          ]);
      }
    }
    // a head with no exits of its own may belong to a model without exits (totalExits 0)
    const bare = Model.mlp(engine, { sizes: [6, 4, 4, 3], outDegrees: [2, 2, 3], seed: 1 });
    const parts = split(bare, { cut: 1 });
    expect(loads(encodeModel(parts.head).bytes, "head")!.totalExits).toBe(0);
    for (const m of [bare, parts.head, parts.tail]) m.dispose();
  });

  it("splitId is the cut, a head holds exactly the cut's layers, and no half has more exits than the model", () => {
    const { hb } = halves();
    expect(told(rec((r) => (r.splitId = 1))(hb))).toEqual([
      "split",
      "extra.split.splitId",
      "split: extra.split.splitId: model: expected 2 (the cut), got 1",
    ]);
    expect(told(rec((r) => ((r.after = 1), (r.splitId = 1)))(hb))).toEqual([
      "split",
      "presparse.trunk",
      "split: presparse.trunk: model: expected 1 layers (the cut), got 2",
    ]);
    expect(told(rec((r) => (r.totalExits = 1))(hb))).toEqual([
      "split",
      "extra.split.totalExits",
      "split: extra.split.totalExits: model: 1, but the head alone has 2 exits",
    ]);
  });

  it("the activation shape: 1 to 3 positive integers, product the width; old bundles without it are flat", () => {
    const { hb } = halves();
    expect(loads(rec((r) => delete r.activationShape)(hb))!.activationShape).toEqual([8]);
    expect(loads(rec((r) => (r.activationShape = [2, 4]))(hb))!.activationShape).toEqual([2, 4]);
    expect(loads(rec((r) => (r.activationShape = [2, 2, 2]))(hb))!.activationShape).toEqual([2, 2, 2]);
    for (const shape of [[], [1, 1, 2, 4], [8.5], [-2, -4], [16, 0.5], [0, 8], [2, 2], "8"]) {
      expect(told(rec((r) => (r.activationShape = shape))(hb)), JSON.stringify(shape)).toEqual([
        "split",
        "extra.split.activationShape",
        `split: extra.split.activationShape: model: expected 1–3 positive integers whose product is the activation ` +
          `width 8, got ${JSON.stringify(shape)}`,
      ]);
    }
    // a cut of width 1: the empty shape's product is 1, and it is still refused
    const narrow = Model.mlp(engine, { sizes: [4, 1, 3, 2], outDegrees: [1, 3, 2], seed: 2 });
    const parts = split(narrow, { cut: 1 });
    const nb = encodeModel(parts.head).bytes;
    expect(loads(nb)!.activationShape).toEqual([1]);
    expect(refusal(rec((r) => (r.activationShape = []))(nb)).field).toBe("extra.split.activationShape");
    for (const m of [narrow, parts.head, parts.tail]) m.dispose();
  });

  it("the data seed, when there is one, is an integer ≥ 0", () => {
    const { hb } = halves();
    expect(loads(rec((r) => (r.dataSeed = 0))(hb))!.dataSeed).toBe(0);
    for (const seed of [-1, 1.5, "3"]) {
      expect(told(rec((r) => (r.dataSeed = seed))(hb))).toEqual([
        "split",
        "extra.split.dataSeed",
        `split: extra.split.dataSeed: model: expected a non-negative integer, got ${JSON.stringify(seed)}`,
      ]);
    }
  });

  it("a split bundle carries the full model's hash as 16 lowercase hex digits", () => {
    const { hb } = halves();
    for (const [h, shown] of [
      [undefined, "undefined"],
      ["ABCDEF0123456789", '"ABCDEF0123456789"'],
    ] as const) {
      expect(told(edit(hb, (_s, meta) => (meta.model_hash = h)))).toEqual([
        "split",
        "model_hash",
        `split: model_hash: model: expected 16 lowercase hex digits, got ${shown}`,
      ]);
    }
  });

  it("the policy share: a policy string for this half's exits", () => {
    const { hb } = halves();
    expect(told(edit(hb, (s) => (s.extra.policy = 5)))).toEqual([
      "split",
      "extra.policy",
      "split: extra.policy: model: expected a policy string, got 5",
    ]);
    expect(told(edit(hb, (s) => (s.extra.policy = "maxprob:2")))).toEqual([
      "split",
      "extra.policy",
      "split: extra.policy: model: exit policy: maxprob threshold must be in [0, 1], got 2",
    ]);
    expect(told(edit(hb, (s) => (s.extra.policy = "maxprob:0.5,0.5,0.5")))[1]).toBe("extra.policy");
    const without = loads(edit(hb, (s) => delete s.extra.policy))!;
    expect("policy" in without).toBe(false);
  });
});

describe("blocked patterns", () => {
  // [20, 8, 8, 4] with out-degrees (2, 4, 4) and blocks (2, 4, 1): trunk.0 and trunk.1 are blocked
  const blocked = lazy(() => {
    const model = Model.mlp(engine, { sizes: [20, 8, 8, 4], outDegrees: [2, 4, 4], blocks: [2, 4, 1], seed: 9 });
    return { model, bytes: encodeModel(model).bytes };
  });
  const blockOf = (m: Model, i: number) => (m.trunk[i] as SparseLinear).pattern.block;

  it("keep their block through a file: the record states it and the reader checks the rows against it", () => {
    const { model, bytes } = blocked();
    const back = decodeModel(engine, bytes).model;
    expect([0, 1, 2].map((i) => blockOf(back, i))).toEqual([2, 4, 1]);
    expect([0, 1, 2].map((i) => blockOf(model, i))).toEqual([2, 4, 1]);
    back.dispose();
  });

  it("a record without a block (an older file) loads unblocked; a block the rows do not have is refused", () => {
    const { bytes } = blocked();
    const old = decodeModel(
      engine,
      edit(bytes, (s) => delete s.trunk[1].block),
    ).model;
    expect(blockOf(old, 1)).toBe(1);
    old.dispose();
    const [format, field, message] = told(edit(bytes, (s) => (s.trunk[0].block = 4)));
    expect([format, field]).toEqual(["model", "trunk.0.pattern"]);
    expect(message).toMatch(/block 4: row 2 does not have the columns of row 0/);
    expect(told(edit(bytes, (s) => (s.trunk[0].block = "2")))).toEqual([
      "model",
      "trunk.0.block",
      'model: trunk.0.block: expected an integer, got "2"',
    ]);
  });
});
