// The safetensors codec's refusals: each a FormatError("safetensors", field) whose message shows what was found
// (the reader) or a ValidationError naming the tensor (the writer); the reader never fails with anything else.
import { describe, expect, it } from "vitest";
import { FormatError, ValidationError } from "../src/engine/errors.js";
import { decodeSafetensors, encodeSafetensors, type Dtype, type SafeTensor } from "../src/io/safetensors.js";
import { safetensorsFile, safetensorsRefusal } from "./helpers/safetensors_files.js";

const file = (header: string, data?: Uint8Array) => safetensorsFile(header, data);
const message = (bytes: Uint8Array, field: string, options = {}) => safetensorsRefusal(bytes, field, options).message;

const t = (over = "") => `{"dtype":"F32","shape":[2],"data_offsets":[0,8]${over}}`;

describe("decodeSafetensors refusals say what they found", () => {
  it("invalid UTF-8 inside a JSON string (valid JSON once replaced) is refused, not repaired", () => {
    const bytes = file(`{"__metadata__":{"k":"v?"}}`);
    bytes[8 + 22] = 0xff;
    expect(message(bytes, "header")).toBe("safetensors: header: not valid UTF-8");
    // a byte-order mark is not whitespace to JSON: kept, and refused
    expect(message(file("\uFEFF{}"), "header")).toMatch(/^safetensors: header: not valid JSON \(/);
  });

  it("invalid JSON and non-objects", () => {
    expect(message(file('{"a":'), "header")).toMatch(/^safetensors: header: not valid JSON \(.+\)$/);
    for (const h of ["[]", "null", "7", '"x"'])
      expect(message(file(h), "header")).toBe("safetensors: header: JSON is not an object");
  });

  it("a tensor entry that is null, an array, a number or a string", () => {
    for (const v of ["null", "[1]", "3", '"x"'])
      expect(message(file(`{"w":${v}}`), "tensor")).toBe('safetensors: tensor: "w" is not an object');
  });

  it("dtype, shape and offsets, each naming the tensor and the value", () => {
    expect(message(file(`{"w":${t().replace('"F32"', '"F17"')}}`, new Uint8Array(8)), "dtype")).toBe(
      'safetensors: dtype: tensor "w": unknown dtype "F17"',
    );
    expect(message(file(`{"w":${t().replace("[2]", "[2,-1]")}}`, new Uint8Array(8)), "shape")).toBe(
      'safetensors: shape: tensor "w": expected an array of non-negative integers, got [2,-1]',
    );
    expect(message(file(`{"w":${t().replace("[0,8]", "[0,8,8]")}}`, new Uint8Array(8)), "data_offsets")).toBe(
      'safetensors: data_offsets: tensor "w": expected [begin, end] integers with begin ≤ end, got [0,8,8]',
    );
    expect(message(file(`{"w":${t().replace("[0,8]", "[4,16]")}}`, new Uint8Array(16)), "data_offsets")).toBe(
      'safetensors: data_offsets: tensor "w": F32 [2] needs 8 bytes, range [4, 16] has 12',
    );
  });

  it("gaps, overlaps and coverage of the data region, in data order", () => {
    const two = (b: string) =>
      file(`{"a":${t()},"b":{"dtype":"F32","shape":[1],"data_offsets":${b}}}`, new Uint8Array(16));
    expect(message(two("[12,16]"), "data_offsets")).toBe(
      'safetensors: data_offsets: tensor "b" starts at 12, expected 8 (gap)',
    );
    expect(message(two("[4,8]"), "data_offsets")).toBe(
      'safetensors: data_offsets: tensor "b" starts at 4, expected 8 (overlap)',
    );
    expect(message(file(`{"a":${t().replace("[0,8]", "[4,12]")}}`, new Uint8Array(12)), "data_offsets")).toBe(
      'safetensors: data_offsets: tensor "a" starts at 4, expected 0 (gap)',
    );
    expect(
      message(
        file(`{"a":${t()},"b":{"dtype":"F32","shape":[1],"data_offsets":[6,10]}}`, new Uint8Array(10)),
        "data_offsets",
      ),
    ).toBe('safetensors: data_offsets: tensor "b" starts at 6, expected 8 (overlap)');
    expect(message(two("[8,12]"), "data")).toBe("safetensors: data: tensors cover 12 bytes, data region has 16");
  });

  it("metadata that is not a string map names the key", () => {
    expect(message(file('{"__metadata__":{"k":1}}'), "__metadata__")).toBe(
      'safetensors: __metadata__: "k" must be a string, got 1',
    );
    expect(message(file('{"__metadata__":[]}'), "__metadata__")).toBe(
      "safetensors: __metadata__: expected an object of strings",
    );
  });

  it("names the source when given, and only then", () => {
    expect(message(new Uint8Array(3), "header length", { source: "m.safetensors" })).toBe(
      "safetensors: header length: need 8 bytes, buffer has 3 (in m.safetensors)",
    );
    expect(message(new Uint8Array(3), "header length")).toBe("safetensors: header length: need 8 bytes, buffer has 3");
  });
});

describe("encodeSafetensors refusals name the tensor", () => {
  const ok = { dtype: "F32" as Dtype, shape: [2], data: new Float32Array(2) };
  const cases: [string, Parameters<typeof encodeSafetensors>[0], Record<string, string> | undefined, string][] = [
    [
      "the reserved name",
      { __metadata__: ok },
      undefined,
      'encodeSafetensors: "__metadata__" is reserved and cannot name a tensor',
    ],
    [
      "an unknown dtype",
      { w: { ...ok, dtype: "F17" as Dtype } },
      undefined,
      'encodeSafetensors: tensor "w": dtype must be one of BOOL, U8, I8, F8_E5M2, F8_E4M3, U16, I16, F16, BF16, ' +
        "U32, I32, F32, U64, I64, F64, got F17",
    ],
    [
      "a negative dimension",
      { w: { ...ok, shape: [-2] } },
      undefined,
      'encodeSafetensors: tensor "w": shape must be non-negative integers, got [-2]',
    ],
    [
      "a fractional dimension",
      { w: { ...ok, shape: [0.5] } },
      undefined,
      'encodeSafetensors: tensor "w": shape must be non-negative integers, got [0.5]',
    ],
    [
      "another array type",
      { w: { ...ok, data: new Int32Array(2) as unknown as SafeTensor["data"] } },
      undefined,
      'encodeSafetensors: tensor "w": F32 data must be a Float32Array, got [object Int32Array]',
    ],
    [
      "a shape that misfits the data",
      { w: { ...ok, shape: [3] } },
      undefined,
      'encodeSafetensors: tensor "w": shape [3] needs 12 bytes, data has 8',
    ],
    [
      "a shape that overflows",
      { w: { ...ok, shape: [2 ** 30, 2 ** 30, 2 ** 30] } },
      undefined,
      'encodeSafetensors: tensor "w": shape [1073741824, 1073741824, 1073741824] needs too many bytes, data has 8',
    ],
    [
      "a metadata value that is not a string",
      { w: ok },
      { k: 1 as unknown as string },
      'encodeSafetensors: metadata "k" must be a string, got number',
    ],
  ];
  for (const [what, tensors, metadata, msg] of cases) {
    it(what, () => {
      expect(() => encodeSafetensors(tensors, metadata)).toThrow(ValidationError);
      expect(() => encodeSafetensors(tensors, metadata)).toThrow(msg);
    });
  }

  it("accepts every dtype with its own array type, and an empty set of tensors", () => {
    const arrays: Record<Dtype, ArrayBufferView> = {
      BOOL: new Uint8Array(1),
      U8: new Uint8Array(1),
      I8: new Int8Array(1),
      F8_E5M2: new Uint8Array(1),
      F8_E4M3: new Uint8Array(1),
      U16: new Uint16Array(1),
      I16: new Int16Array(1),
      F16: new Uint16Array(1),
      BF16: new Uint16Array(1),
      U32: new Uint32Array(1),
      I32: new Int32Array(1),
      F32: new Float32Array(1),
      U64: new BigUint64Array(1),
      I64: new BigInt64Array(1),
      F64: new Float64Array(1),
    };
    const tensors = Object.fromEntries(
      Object.entries(arrays).map(([d, data]) => [
        d.toLowerCase(),
        { dtype: d as Dtype, shape: [1], data: data as SafeTensor["data"] },
      ]),
    );
    const back = decodeSafetensors(encodeSafetensors(tensors));
    for (const [d, data] of Object.entries(arrays))
      expect(back.tensors.get(d.toLowerCase())!.data.constructor).toBe(data.constructor);
    const none = encodeSafetensors({});
    expect(new TextDecoder().decode(none.subarray(8))).toBe("{}      ");
    expect(decodeSafetensors(none).tensors.size).toBe(0);
  });
});

describe("more refusals that show the value", () => {
  const m = (header: string, data = new Uint8Array(0)) => {
    const json = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    try {
      decodeSafetensors(out);
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      return (e as Error).message;
    }
    throw new Error("accepted");
  };

  it("duplicates, overflowing and misfitting shapes of rank > 1, and a dtype that is not a string", () => {
    expect(
      m('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
    ).toBe('safetensors: header: duplicate key "a"');
    expect(m('{"w":{"dtype":"F32","shape":[67108864,67108864],"data_offsets":[0,8]}}', new Uint8Array(8))).toBe(
      'safetensors: shape: tensor "w": [67108864, 67108864] overflows',
    );
    expect(m('{"w":{"dtype":"F32","shape":[1,3],"data_offsets":[0,8]}}', new Uint8Array(8))).toBe(
      'safetensors: data_offsets: tensor "w": F32 [1, 3] needs 12 bytes, range [0, 8] has 8',
    );
    expect(m('{"w":{"dtype":["F32"],"shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8))).toBe(
      'safetensors: dtype: tensor "w": unknown dtype ["F32"]',
    );
  });
});

describe("the writer's layout with many tensors of one size", () => {
  it("puts them in name order whatever the insertion order (100 tensors, past the sort's insertion runs)", () => {
    const names = Array.from({ length: 100 }, (_, i) => `t${String((i * 37) % 100).padStart(3, "0")}`);
    const bytes = encodeSafetensors(
      Object.fromEntries(names.map((n, i) => [n, { dtype: "I32" as Dtype, shape: [1], data: Int32Array.of(i) }])),
    );
    const n = new DataView(bytes.buffer).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    const byOffset = Object.entries(header)
      .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])
      .map(([k]) => k);
    expect(byOffset).toEqual([...names].sort());
    expect(Object.keys(header)).toEqual([...names].sort());
  });
});
