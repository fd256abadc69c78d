// Hand-made safetensors files and the check of a refusal, for the codec's tests.
import { expect } from "vitest";
import { FormatError } from "../../src/engine/errors.js";
import { decodeSafetensors } from "../../src/io/safetensors.js";

/**
 * A file from a header (an object, or raw text taken as it is) and a data region. `pad` pads the header with spaces
 * to a multiple of 8; `declared` writes another header length than the header's own.
 */
export function safetensorsFile(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  { pad = false, declared }: { pad?: boolean; declared?: number } = {},
): Uint8Array {
  let json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  if (pad) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The FormatError("safetensors", field) decodeSafetensors throws; fails on success or any other exception. */
export function safetensorsRefusal(bytes: Uint8Array, field: string, options = {}): FormatError {
  try {
    decodeSafetensors(bytes, options);
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    expect([(e as FormatError).format, (e as FormatError).field]).toEqual(["safetensors", field]);
    return e as FormatError;
  }
  throw new Error("decodeSafetensors accepted the file");
}
