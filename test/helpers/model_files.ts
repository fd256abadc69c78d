// What decoding a model file gives, and the check of a refusal, for the model codec's tests.
import { expect } from "vitest";
import type { Engine } from "../../src/engine/engine.js";
import { FormatError } from "../../src/engine/errors.js";
import { decodeModel } from "../../src/io/model_io.js";

export type DecodeOptions = Parameters<typeof decodeModel>[2];

/** undefined when `bytes` decode (the model is disposed at once), else whatever was thrown. */
export function outcome(engine: Engine, bytes: Uint8Array, o: DecodeOptions = {}): unknown {
  try {
    decodeModel(engine, bytes, o).model.dispose();
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Expects a FormatError on `field` (a name or a pattern) whose message matches `detail`; `what` labels failures. */
export function modelRefusal(
  engine: Engine,
  bytes: Uint8Array,
  field: string | RegExp,
  { detail, options = {}, what = String(field) }: { detail?: RegExp; options?: DecodeOptions; what?: string } = {},
): FormatError {
  const e = outcome(engine, bytes, options);
  expect(e, what).toBeInstanceOf(FormatError);
  const f = e as FormatError;
  if (typeof field === "string") expect(f.field, what).toBe(field);
  else expect(f.field, what).toMatch(field);
  if (detail) expect(f.message, what).toMatch(detail);
  return f;
}
