// Golden safetensors: a fixed set of tensors and the exact file encodeSafetensors makes of them, computed by
// test/golden/golden.py from the format and the documented layout (metadata first, tensors by element size then
// name, header space-padded to a multiple of 8); and a file from a writer with another layout, read back.
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors, type Dtype, type SafeTensor } from "../src/io/safetensors.js";
import { fromHex, golden, sha256, toHex, type GoldenTensor } from "./helpers/golden.js";

const ARRAYS: Record<string, (v: number[]) => SafeTensor["data"]> = {
  BOOL: (v) => Uint8Array.from(v),
  U8: (v) => Uint8Array.from(v),
  I8: (v) => Int8Array.from(v),
  U16: (v) => Uint16Array.from(v),
  I16: (v) => Int16Array.from(v),
  F16: (v) => Uint16Array.from(v),
  BF16: (v) => Uint16Array.from(v),
  U32: (v) => Uint32Array.from(v),
  I32: (v) => Int32Array.from(v),
  F32: (v) => Float32Array.from(v),
  F64: (v) => Float64Array.from(v),
  U64: (v) => BigUint64Array.from(v, BigInt),
  I64: (v) => BigInt64Array.from(v, BigInt),
};

const tensor = (t: GoldenTensor): SafeTensor => ({
  dtype: t.dtype as Dtype,
  shape: t.shape,
  data: ARRAYS[t.dtype]!(t.values),
});
const st = golden.safetensors;

function expectGoldenTensors(bytes: Uint8Array): void {
  const file = decodeSafetensors(bytes);
  expect(file.metadata).toEqual(st.metadata);
  expect([...file.tensors.keys()].sort()).toEqual(st.tensors.map((t) => t.name).sort());
  for (const t of st.tensors) {
    const got = file.tensors.get(t.name)!;
    const want = tensor(t);
    expect([got.dtype, got.shape], t.name).toEqual([want.dtype, want.shape]);
    expect(got.data.constructor, t.name).toBe(want.data.constructor);
    expect(Array.from(got.data as ArrayLike<number | bigint>), t.name).toEqual(
      Array.from(want.data as ArrayLike<number | bigint>),
    );
  }
}

describe("golden safetensors file", () => {
  it("encodeSafetensors writes the golden bytes, whatever the order the tensors are given in", () => {
    const tensors = st.tensors.map((t) => [t.name, tensor(t)] as const);
    for (const order of [tensors, [...tensors].reverse()]) {
      const bytes = encodeSafetensors(Object.fromEntries(order), st.metadata);
      expect(sha256(bytes)).toBe(st.sha256);
      expect(toHex(bytes)).toBe(st.hex);
    }
  });

  it("decodeSafetensors reads the golden file back to the golden tensors and metadata", () => {
    expectGoldenTensors(fromHex(st.hex));
  });

  it("reads a file of another writer: unpadded, indented, escaped names, metadata last, data in another order", () => {
    const other = fromHex(st.otherWriterHex);
    expect(toHex(other)).not.toBe(st.hex);
    expectGoldenTensors(other);
  });

  it("a file without metadata has no __metadata__ entry at all", () => {
    const bytes = encodeSafetensors({
      x: { dtype: "F32", shape: [2], data: Float32Array.of(1.5, -2) },
      i: { dtype: "I8", shape: [3], data: Int8Array.of(1, -1, 0) },
    });
    expect(toHex(bytes)).toBe(st.noMetadataHex);
    expect(decodeSafetensors(bytes).metadata).toEqual({});
  });
});
