// The golden values of test/golden/golden.json, computed by test/golden/golden.py without any presparse code.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export interface GoldenPattern {
  fixedDegree?: [number, number, number, number];
  random?: [number, number, number, number];
  dense?: [number, number];
  csr?: [number, number];
  kind: string;
  inputs: number;
  outputs: number;
  hash: string;
  rowPtrSha256: string;
  colIdxSha256: string;
  firstRow: number[];
  rowPtr?: number[];
  colIdx?: number[];
}

export interface GoldenFrame {
  dtype: "f32" | "f16" | "int8";
  kind: "activation" | "logits" | "probabilities";
  shape: number[];
  splitId: number;
  modelHash: string;
  data: number[];
  scale: number;
  decoded: number[];
  hex: string;
}

export interface GoldenTensor {
  name: string;
  dtype: string;
  shape: number[];
  values: number[];
}

export interface Golden {
  patterns: GoldenPattern[];
  frames: GoldenFrame[];
  safetensors: {
    tensors: GoldenTensor[];
    metadata: Record<string, string>;
    hex: string;
    sha256: string;
    otherWriterHex: string;
    noMetadataHex: string;
  };
}

export const golden: Golden = JSON.parse(readFileSync(new URL("../golden/golden.json", import.meta.url), "utf8"));

/** SHA-256 (hex) of an array's bytes; Int32Array bytes are little-endian on every platform Node runs on. */
export function sha256(a: ArrayBufferView): string {
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

export const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
