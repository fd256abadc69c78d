// Model files from an attacker: every size a file declares is held to a limit before anything is built, nothing is
// allocated that the file's bytes do not pay for, a refused file leaves no memory behind, validation is linear, and
// a structural fuzzer — headers and data mutated, the checksum recomputed so the checks behind it run — gets a
// model or a typed error every time, within a memory bound.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine/engine.js";
import { FormatError, PresparseError, ValidationError } from "../src/engine/errors.js";
import { Rng } from "../src/engine/random.js";
import { DEFAULT_MODEL_LIMITS, decodeModel, encodeModel } from "../src/io/model_io.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../src/io/safetensors.js";
import { buildModel } from "../src/nn/arch.js";
import { Model } from "../src/nn/model.js";
import { split } from "../src/split/split.js";
import { tensorsChecksum } from "../src/io/model_io.js";
import { getEngine } from "./helpers/engine.js";
import { type DecodeOptions, modelRefusal, outcome } from "./helpers/model_files.js";

/** A model file taken apart: its tensors, its metadata and its architecture record, to edit and put back. */
interface Parts {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
  spec: Record<string, any>;
}

function parts(bytes: Uint8Array): Parts {
  const f = decodeSafetensors(bytes, { copy: true });
  return {
    tensors: Object.fromEntries(f.tensors),
    metadata: { ...f.metadata },
    spec: JSON.parse(f.metadata.presparse!),
  };
}

/** The file again, with `tensors_crc32` recomputed so that a mutation meets the structural checks, not the checksum. */
function assemble(p: Parts, rawSpec?: string): Uint8Array {
  const metadata = {
    ...p.metadata,
    presparse: rawSpec ?? JSON.stringify(p.spec),
    tensors_crc32: tensorsChecksum(Object.entries(p.tensors)),
  };
  return encodeSafetensors(p.tensors, metadata);
}

const rejected = (
  engine: Engine,
  bytes: Uint8Array,
  field: string | RegExp,
  detail?: RegExp,
  options: DecodeOptions = {},
): FormatError => modelRefusal(engine, bytes, field, { detail, options });

const MiB = 2 ** 20;

let engine: Engine;
let paper: Model, conv: Model;
let paperBytes: Uint8Array, convBytes: Uint8Array, headBytes: Uint8Array, tailBytes: Uint8Array;

beforeAll(async () => {
  engine = await getEngine();
  paper = Model.mlp(engine, {
    sizes: [800, 40, 40, 10],
    outDegrees: [2, 9, 10],
    seed: 3,
    exits: [{ after: 0, weight: 1 }],
    finalWeight: 0.3,
  });
  conv = buildModel(engine, "conv:1>4:3x3,maxpool:2,conv:4>6:3x3:deg3,avgpool:2,flatten,fc:3", {
    inputShape: [1, 12, 12],
    seed: 5,
    exits: [{ after: 1, weight: 1 }],
  });
  paperBytes = encodeModel(paper).bytes;
  convBytes = encodeModel(conv).bytes;
  const { head, tail } = split(paper, { cut: 1, policy: "maxprob:0.9" });
  headBytes = encodeModel(head).bytes;
  tailBytes = encodeModel(tail).bytes;
  head.dispose();
  tail.dispose();
});

afterAll(() => {
  paper?.dispose();
  conv?.dispose();
});

describe("declared sizes", () => {
  it("a tiny file declaring one huge pooling layer is refused before anything is allocated", () => {
    const spec = {
      format: "presparse",
      version: 1,
      classes: 4,
      inputShape: [128, 2048, 2048],
      finalWeight: 1,
      trunk: [{ kind: "maxpool2d", C: 128, H: 2048, W: 2048, k: 1, stride: 1 }],
      exits: [],
    };
    const bytes = encodeSafetensors({}, { presparse: JSON.stringify(spec) });
    expect(bytes.length).toBeLessThan(400);
    const before = engine.stats();
    rejected(engine, bytes, "presparse.inputShape", /536870912, the limit is 4194304 \(limits\.maxFeatures\)/);
    // the same layer behind a small declared input: the layer's own record is held to the limit
    spec.inputShape = [4];
    rejected(
      engine,
      encodeSafetensors({}, { presparse: JSON.stringify(spec) }),
      "trunk.0",
      /declares features per sample: 536870912/,
    );
    const after = engine.stats();
    expect(after.allocations).toBe(before.allocations);
    expect(after.memoryBytes).toBe(before.memoryBytes);
  });

  it("a head bundle with a huge tensorless layer in its exit is refused before its other layers are built", () => {
    const p = parts(headBytes);
    p.spec.exits[0].layers.unshift({ kind: "avgpool2d", C: 64, H: 4096, W: 4096, k: 1, stride: 1 });
    const before = engine.stats();
    rejected(engine, assemble(p), "exit.0.0", /declares features per sample: 1073741824/, { role: "head" });
    expect(engine.stats().allocations).toBe(before.allocations);
    expect(engine.stats().memoryBytes).toBe(before.memoryBytes);
  });

  it("a pooling layer within the limits allocates nothing until it runs", () => {
    const spec = {
      format: "presparse",
      version: 1,
      classes: 2 ** 22 / 4,
      inputShape: [64, 256, 256],
      finalWeight: 1,
      trunk: [{ kind: "maxpool2d", C: 64, H: 256, W: 256, k: 2, stride: 2 }],
      exits: [],
    };
    const before = engine.stats();
    const m = decodeModel(engine, encodeSafetensors({}, { presparse: JSON.stringify(spec) })).model;
    expect(m.inputSize).toBe(2 ** 22);
    expect(engine.stats().allocations).toBe(before.allocations);
    m.dispose();
  });

  it("every other declared size has its limit: layers, classes, the cut's width, the split's exits", () => {
    const many = parts(paperBytes);
    many.spec.trunk.push(
      ...Array.from({ length: DEFAULT_MODEL_LIMITS.maxLayers }, () => ({ kind: "flatten", inputShape: [10] })),
    );
    rejected(engine, assemble(many), "presparse.trunk", /layers \(trunk and exits\) 4100, the limit is 4096/);
    const classes = parts(paperBytes);
    classes.spec.classes = 2 ** 30;
    rejected(engine, assemble(classes), "presparse.classes", /classes 1073741824, the limit/);
    const width = parts(tailBytes);
    width.spec.extra.split.activationWidth = 2 ** 23;
    rejected(engine, assemble(width), "extra.split.activationWidth", /8388608, the limit is 4194304/, { role: "tail" });
    const exits = parts(tailBytes);
    exits.spec.extra.split.totalExits = 1e9;
    rejected(engine, assemble(exits), "extra.split.totalExits", /the limit is 4096 \(limits\.maxLayers\)/, {
      role: "tail",
    });
    const inputs = parts(paperBytes);
    inputs.spec.trunk[0].inputs = 2 ** 24;
    rejected(engine, assemble(inputs), "trunk.0", /declares features per sample: 16777216/);
    // many layers each within the limit, together past the total: a sparse layer's column pointers are 4 bytes per
    // input that no tensor pays for
    const wide = {
      format: "presparse",
      version: 1,
      classes: 2 ** 22,
      inputShape: [2 ** 22],
      finalWeight: 1,
      trunk: Array.from({ length: 9 }, () => ({ kind: "flatten", inputShape: [2 ** 22] })),
      exits: [],
    };
    const before = engine.stats().allocations;
    rejected(
      engine,
      encodeSafetensors({}, { presparse: JSON.stringify(wide) }),
      "trunk.8",
      /input features per sample to 37748736, the limit is 33554432 \(limits\.maxTotalFeatures\)/,
    );
    expect(engine.stats().allocations).toBe(before);
  });

  it("the limits are the decoder's options: lower ones refuse the paper's network, higher take a bigger file", () => {
    rejected(engine, paperBytes, "presparse.inputShape", /800, the limit is 100/, { limits: { maxFeatures: 100 } });
    rejected(engine, paperBytes, "presparse.trunk", /layers \(trunk and exits\) 4, the limit is 3/, {
      limits: { maxLayers: 3 },
    });
    const deep = parts(paperBytes);
    deep.spec.extra = { note: [[["x"]]] };
    rejected(engine, assemble(deep), "__metadata__.presparse", /nested deeper than 3 levels/, {
      limits: { maxJsonDepth: 3 },
    });
    expect(outcome(engine, assemble(deep))).toBeUndefined();
    expect(outcome(engine, paperBytes, { limits: { maxFeatures: 800, maxLayers: 4 } })).toBeUndefined();
    expect(() => decodeModel(engine, paperBytes, { limits: { maxFeatures: 0 } })).toThrow(ValidationError);
  });
});

describe("hostile JSON", () => {
  it("nesting past the depth limit is a FormatError, not a RangeError, in the header and in the architecture", () => {
    const nest = (n: number) => "[".repeat(n) + "]".repeat(n);
    const p = parts(paperBytes);
    for (const where of ["extra", "trunk.0.activation", "exits.0.weight"]) {
      const raw = JSON.stringify({ ...p.spec, extra: "HOLE" }).replace('"HOLE"', nest(100_000));
      const edited =
        where === "extra"
          ? raw
          : JSON.stringify(p.spec).replace(
              where === "trunk.0.activation" ? '"activation":"relu"' : '"weight":1',
              where === "trunk.0.activation" ? `"activation":${nest(100_000)}` : `"weight":${nest(100_000)}`,
            );
      rejected(engine, assemble(p, edited), "__metadata__.presparse", /JSON nested deeper than 64 levels/);
    }
    const header = new TextEncoder().encode(`{"__metadata__":{"a":"b"},"t":${nest(200_000)}}`);
    const file = new Uint8Array(8 + header.length);
    new DataView(file.buffer).setUint32(0, header.length, true);
    file.set(header, 8);
    const e = outcome(engine, file);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).message).toMatch(/^safetensors: header: JSON nested deeper than 64 levels/);
    // brackets inside strings are not nesting
    const quoted = parts(paperBytes);
    quoted.spec.extra = { note: `${"[[[[".repeat(100)}\\"{{{{` };
    expect(outcome(engine, assemble(quoted))).toBeUndefined();
  });
});

describe("validation is linear", () => {
  /** L one-to-one layers (two tensors each), the last one's bias the wrong length so the file is refused at the end. */
  function manyLayers(L: number): Uint8Array {
    const trunk: object[] = [];
    const tensors: Record<string, SafeTensor> = {};
    for (let i = 0; i < L; i++) {
      trunk.push({
        kind: "linear",
        inputs: 1,
        outputs: 1,
        activation: i < L - 1 ? "relu" : "linear",
        pattern: "dense",
        nnz: 1,
      });
      tensors[`trunk.${i}.values`] = { dtype: "F32", shape: [1], data: Float32Array.of(1) };
      tensors[`trunk.${i}.bias`] = {
        dtype: "F32",
        shape: [i === L - 1 ? 2 : 1],
        data: new Float32Array(i === L - 1 ? 2 : 1),
      };
    }
    const spec = { format: "presparse", version: 1, classes: 1, inputShape: [1], finalWeight: 1, trunk, exits: [] };
    return encodeSafetensors(tensors, { presparse: JSON.stringify(spec) });
  }

  it("a 5 MB file of 19,000 layers: refused at once by default, validated to the end in linear time if allowed", () => {
    const big = manyLayers(19_000);
    expect(big.length).toBeGreaterThan(5e6);
    let t = performance.now();
    rejected(engine, big, "presparse.trunk", /19000, the limit is 4096/);
    expect(performance.now() - t).toBeLessThan(2000);
    // with the limit raised every layer is built and checked; each layer used to scan every tensor (27 s here)
    const before = engine.stats().liveBytes;
    t = performance.now();
    rejected(engine, big, "trunk.18999.bias", /2 entries for 1 outputs/, { limits: { maxLayers: 20_000 } });
    expect(performance.now() - t).toBeLessThan(8000);
    expect(engine.stats().liveBytes).toBe(before);
  });
});

describe("weights", () => {
  it("NaN or infinite weights and biases are refused with the tensor named, though the checksum matches", () => {
    for (const [name, at, v] of [
      ["trunk.0.values", 17, NaN],
      ["trunk.2.values", 0, Infinity],
      ["exit.0.0.bias", 9, -Infinity],
      ["trunk.1.bias", 3, NaN],
    ] as const) {
      const p = parts(paperBytes);
      (p.tensors[name]!.data as Float32Array)[at] = v;
      rejected(engine, assemble(p), name, new RegExp(`element ${at} is ${v}; weights and biases must be finite`));
    }
    const c = parts(convBytes);
    (c.tensors["trunk.2.values"]!.data as Float32Array)[5] = NaN;
    rejected(engine, assemble(c), "trunk.2.values", /element 5 is NaN/);
  });

  it("the encoder refuses to write them, naming the tensor (a file nobody could read back)", () => {
    const m = Model.mlp(engine, { sizes: [6, 4, 2], outDegrees: [2, 2], seed: 1 });
    try {
      m.trunk[1]!.params()[1]!.values.view()[1] = NaN;
      expect(() => encodeModel(m)).toThrow(/encodeModel: trunk\.1\.bias\[1\] is NaN/);
    } finally {
      m.dispose();
    }
  });
});

// ---------------------------------------------------------------- the structural fuzzer

const NUMBERS = [
  0,
  -1,
  1,
  2,
  3,
  7,
  0.5,
  -0,
  65535,
  65536,
  65537,
  2 ** 22,
  2 ** 22 + 1,
  2 ** 24,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  1e300,
];
const VALUES: unknown[] = [
  ...NUMBERS,
  null,
  "",
  "relu",
  "linear",
  "maxpool2d",
  "conv2d",
  [],
  [1],
  [2 ** 31, 2 ** 31],
  {},
  true,
];

/** Every [container, key] in a JSON value, depth first. */
function slots(x: unknown, out: [any, string | number][] = []): [any, string | number][] {
  if (Array.isArray(x)) x.forEach((v, i) => (out.push([x, i]), slots(v, out)));
  else if (x && typeof x === "object") for (const [k, v] of Object.entries(x)) out.push([x, k]), slots(v, out);
  return out;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/** A huge tensorless layer: the geometry alone asks for gigabytes, or for exactly the limit. */
function hugeLayer(rng: Rng): object {
  return pick(rng, [
    { kind: "maxpool2d", C: 128, H: 2048, W: 2048, k: 1, stride: 1 },
    { kind: "avgpool2d", C: 64, H: 256, W: 256, k: 1, stride: 1 },
    { kind: "flatten", inputShape: [1024, 1024, 1024] },
    { kind: "flatten", inputShape: [2 ** 22] },
    {
      kind: "conv2d",
      inC: 1,
      outC: 1024,
      H: 65536,
      W: 65536,
      kh: 1,
      kw: 1,
      stride: 1,
      padding: 0,
      activation: "relu",
      pattern: "dense",
      taps: "all",
      nnz: 1,
    },
  ]);
}

/** One mutation of a file's parts: its architecture record, its tensors' headers or its tensors' data. */
function mutate(p: Parts, rng: Rng): void {
  const kind = rng.int(9);
  const names = Object.keys(p.tensors);
  if (kind <= 2) {
    // a value anywhere in the architecture record: sizes, geometry, kinds, counts, the split record
    const s = slots(p.spec);
    const [obj, key] = pick(rng, s);
    obj[key] = structuredClone(pick(rng, VALUES));
  } else if (kind === 3) {
    const s = slots(p.spec).filter(([o]) => !Array.isArray(o));
    const [obj, key] = pick(rng, s);
    delete obj[key];
  } else if (kind === 4) {
    // a layer inserted, duplicated or moved, in the trunk or an exit head
    const exits = Array.isArray(p.spec.exits) ? p.spec.exits.map((e: any) => e?.layers) : [];
    const lists: any[][] = [p.spec.trunk, ...exits].filter(Array.isArray);
    if (lists.length === 0) return;
    const list = pick(rng, lists);
    const known = lists.flat().filter((l) => l && typeof l === "object");
    const layer = rng.next() < 0.5 || known.length === 0 ? hugeLayer(rng) : structuredClone(pick(rng, known));
    list.splice(rng.int(list.length + 1), 0, layer);
  } else if (kind === 5 && names.length > 0) {
    // a tensor's header: another dtype or shape for bytes of a consistent length, removed, or a stray one added
    const name = pick(rng, names),
      t = p.tensors[name]!;
    const r = rng.int(4);
    if (r === 0)
      p.tensors[name] = {
        dtype: "I32",
        shape: [(t.data.byteLength / 4) | 0],
        data: new Int32Array((t.data.byteLength / 4) | 0),
      };
    else if (r === 1)
      p.tensors[name] = {
        dtype: "U16",
        shape: [(t.data.byteLength / 2) | 0],
        data: new Uint16Array((t.data.byteLength / 2) | 0).fill(rng.int(65536)),
      };
    else if (r === 2) delete p.tensors[name];
    else
      p.tensors[`${name.slice(0, name.lastIndexOf("."))}.${pick(rng, ["extra", "tap_mask", "row_ptr", "col_idx"])}`] = {
        dtype: "I32",
        shape: [3],
        data: Int32Array.of(0, 1, 2),
      };
  } else if (kind === 6 && names.length > 0) {
    // a tensor's length: one element more or fewer, or none at all
    const name = pick(rng, names),
      t = p.tensors[name]!;
    const n = Math.max(0, t.shape.reduce((a, b) => a * b, 1) + pick(rng, [-1, 1, -t.data.length]));
    const Ctor = t.data.constructor as new (n: number) => SafeTensor["data"];
    p.tensors[name] = { dtype: t.dtype, shape: [n], data: new Ctor(n) };
  } else if (names.length > 0) {
    // the data: index arrays and weights set to edge values
    const name = pick(rng, names),
      d = p.tensors[name]!.data;
    if (d.length === 0) return;
    const at = rng.int(d.length);
    if (d instanceof Float32Array) d[at] = pick(rng, [NaN, Infinity, -Infinity, 3.4e38, -0, 1e-45]);
    else if (d instanceof Int32Array)
      d[at] = pick(rng, [-1, 0, 1, 2 ** 31 - 1, -(2 ** 31), d.length, d[Math.max(0, at - 1)]!]);
    else if (d instanceof Uint16Array) d[at] = pick(rng, [0, 65535, 800, 40, d[Math.max(0, at - 1)]!]);
  }
}

describe("the model decoder under structural fuzzing", () => {
  it("mutated headers and data, checksum recomputed: a model or a typed error, no engine memory kept, bounded", () => {
    const bases: [string, Uint8Array, Parameters<typeof decodeModel>[2]][] = [
      ["paper", paperBytes, {}],
      ["conv", convBytes, {}],
      ["head", headBytes, { role: "head" }],
      ["tail", tailBytes, { role: "tail" }],
    ];
    const baseline = engine.stats();
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0,
      files = 0,
      accepted = 0,
      checksum = 0;
    const fields = new Map<string, number>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 3 }), (seed, count) => {
        const rng = new Rng(seed);
        const [, bytes, o] = bases[seed % bases.length]!;
        const p = parts(bytes);
        for (let i = 0; i < count; i++) mutate(p, rng);
        let file: Uint8Array;
        try {
          file = assemble(p);
        } catch (e) {
          // the writer refused the edit (a shape that does not fit its data): not a file an attacker could send
          if (e instanceof ValidationError) return;
          throw e;
        }
        files++;
        const e = outcome(engine, file, o);
        if (e === undefined) accepted++;
        else if (!(e instanceof PresparseError)) throw e;
        else if (e instanceof FormatError) {
          fields.set(e.field.replace(/\d+/g, "#"), (fields.get(e.field.replace(/\d+/g, "#")) ?? 0) + 1);
          if (e.field === "__metadata__.tensors_crc32") checksum++;
        }
        // whatever was built for a file and refused is freed with it
        expect(engine.stats().liveBytes).toBe(baseline.liveBytes);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }),
      { numRuns: 2000, seed: 13 },
    );
    expect(files).toBeGreaterThan(1500);
    // the checksum was recomputed, so the structural checks did the refusing, across many fields
    expect(checksum).toBe(0);
    expect(fields.size).toBeGreaterThan(15);
    expect(accepted).toBeGreaterThan(0);
    // before the limits, one mutated file grew the engine to 2 GiB and the process with it
    expect(engine.stats().memoryBytes - baseline.memoryBytes).toBeLessThanOrEqual(16 * MiB);
    expect(peakRss - rss0).toBeLessThan(256 * MiB);
  });
});
