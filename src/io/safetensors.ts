import { FormatError, ValidationError } from "../engine/errors.js";

// safetensors: u64 LE header length N | N bytes of UTF-8 JSON | raw little-endian tensor data.
// Pure bytes in, bytes out: no file system, so browsers can read and write models too.

type ArrayCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** The typed array that holds each dtype; 16- and 8-bit floats are kept as raw bits (Uint16Array / Uint8Array). */
const DTYPES = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  U16: Uint16Array,
  I16: Int16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  U32: Uint32Array,
  I32: Int32Array,
  F32: Float32Array,
  U64: BigUint64Array,
  I64: BigInt64Array,
  F64: Float64Array,
} satisfies Record<string, ArrayCtor>;

/** A safetensors element type. */
export type Dtype = keyof typeof DTYPES;

/** Every dtype this codec reads and writes. */
export const SAFETENSORS_DTYPES = Object.keys(DTYPES) as Dtype[];

/** The typed array a tensor's data is held in. */
export type TensorData = InstanceType<(typeof DTYPES)[Dtype]>;

/** One named tensor: dtype, shape and its elements in row-major order. */
export interface SafeTensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

/** A decoded file: tensors in data order, and the string map of `__metadata__`. */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Options of {@link decodeSafetensors}. */
export interface DecodeOptions {
  /** Largest header accepted, in bytes (the reference reader's 100 MB by default). */
  maxHeaderBytes?: number;
  /** Copy every tensor out of `bytes`; otherwise aligned tensors are views sharing its memory. */
  copy?: boolean;
  /** Named in error messages (e.g. the file path). */
  source?: string;
  /** Deepest nesting of arrays and objects accepted in the header (default 64; a valid file needs 3). */
  maxJsonDepth?: number;
}

const METADATA = "__metadata__";

function isDtype(d: unknown): d is Dtype {
  return typeof d === "string" && Object.hasOwn(DTYPES, d);
}

/** prod(shape) × element size, or undefined if it leaves the safe integers. */
function byteLength(shape: readonly number[], size: number): number | undefined {
  let n = size;
  for (const d of shape) {
    if (d !== 0 && n > Number.MAX_SAFE_INTEGER / d) return undefined;
    n *= d;
  }
  return n;
}

function isShape(s: unknown): s is number[] {
  return Array.isArray(s) && s.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Encodes tensors as one safetensors file. Tensors are laid out by element size, largest first, then by
 * name, and the header is space-padded to a multiple of 8, so every tensor starts aligned to its element
 * size and decodes as a view. The same input always gives the same bytes.
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const op = "encodeSafetensors";
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA) throw new ValidationError(`${op}: "${METADATA}" is reserved and cannot name a tensor`);
    if (!isDtype(t.dtype))
      throw new ValidationError(
        `${op}: tensor "${name}": dtype must be one of ${SAFETENSORS_DTYPES.join(", ")}, got ${String(t.dtype)}`,
      );
    const ctor = DTYPES[t.dtype];
    if (!isShape(t.shape))
      throw new ValidationError(
        `${op}: tensor "${name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`,
      );
    const tag = Object.prototype.toString.call(t.data);
    if (tag !== `[object ${ctor.name}]`)
      throw new ValidationError(`${op}: tensor "${name}": ${t.dtype} data must be a ${ctor.name}, got ${tag}`);
    const bytes = byteLength(t.shape, ctor.BYTES_PER_ELEMENT);
    if (bytes !== t.data.byteLength) {
      throw new ValidationError(
        `${op}: tensor "${name}": shape [${t.shape.join(", ")}] needs ${bytes ?? "too many"} bytes, ` +
          `data has ${t.data.byteLength}`,
      );
    }
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") throw new ValidationError(`${op}: metadata "${k}" must be a string, got ${typeof v}`);
  }
  const size = (t: SafeTensor) => DTYPES[t.dtype].BYTES_PER_ELEMENT;
  entries.sort(([a, ta], [b, tb]) => size(tb) - size(ta) || (a < b ? -1 : a > b ? 1 : 0));

  const header: [string, unknown][] = [];
  if (Object.keys(metadata).length > 0) header.push([METADATA, metadata]);
  let offset = 0;
  for (const [name, t] of entries) {
    header.push([name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n % 2 ** 32, true);
  view.setUint32(4, Math.floor(n / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Decodes a safetensors file, checking every header field against the buffer before any data is read
 * (the reference reader's rules: header cap, UTF-8 JSON object, known dtypes, shapes that fit their byte
 * ranges, ranges contiguous from 0 that cover the data exactly, no duplicate names, string metadata).
 * Throws FormatError("safetensors", field, detail) on any violation.
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeOptions = {}): SafetensorsFile {
  const { maxHeaderBytes = 100_000_000, copy = false, source, maxJsonDepth = 64 } = options;
  const fail = (field: string, detail: string): never => {
    throw new FormatError("safetensors", field, source === undefined ? detail : `${detail} (in ${source})`);
  };
  if (bytes.length < 8) fail("header length", `need 8 bytes, buffer has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (n > maxHeaderBytes) fail("header length", `${n} bytes exceeds the ${maxHeaderBytes}-byte cap`);
  if (8 + n > bytes.length) fail("header length", `${n} bytes of header but only ${bytes.length - 8} follow`);

  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header", "not valid UTF-8");
  }
  checkJsonDepth(
    text,
    maxJsonDepth,
    (detail) => new FormatError("safetensors", "header", source === undefined ? detail : `${detail} (in ${source})`),
  );
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail("header", `not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header", "JSON is not an object");
  const dup = duplicateKey(text);
  if (dup !== undefined) fail("header", `duplicate key ${JSON.stringify(dup)}`);

  let metadata: Record<string, string> = {};
  const infos: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      metadata = readMetadata(info, fail);
      continue;
    }
    if (typeof info !== "object" || info === null || Array.isArray(info)) fail("tensor", `"${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDtype(dtype)) fail("dtype", `tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
    if (!isShape(shape))
      fail("shape", `tensor "${name}": expected an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(
        "data_offsets",
        `tensor "${name}": expected [begin, end] integers with begin ≤ end, got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const want = byteLength(shape as number[], DTYPES[dtype as Dtype].BYTES_PER_ELEMENT);
    if (want === undefined) fail("shape", `tensor "${name}": [${(shape as number[]).join(", ")}] overflows`);
    if (want !== end - begin)
      fail(
        "data_offsets",
        `tensor "${name}": ${dtype} [${(shape as number[]).join(", ")}] needs ${want} bytes, ` +
          `range [${begin}, ${end}] has ${end - begin}`,
      );
    infos.push({ name, dtype: dtype as Dtype, shape: shape as number[], begin, end });
  }

  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let expected = 0;
  for (const t of infos) {
    if (t.begin !== expected) {
      fail(
        "data_offsets",
        `tensor "${t.name}" starts at ${t.begin}, expected ${expected} (${t.begin < expected ? "overlap" : "gap"})`,
      );
    }
    expected = t.end;
  }
  if (expected !== dataLength) fail("data", `tensors cover ${expected} bytes, data region has ${dataLength}`);

  const tensors = new Map<string, SafeTensor>();
  for (const t of infos) {
    const ctor = DTYPES[t.dtype];
    const at = bytes.byteOffset + dataStart + t.begin;
    const count = (t.end - t.begin) / ctor.BYTES_PER_ELEMENT;
    const data =
      !copy && at % ctor.BYTES_PER_ELEMENT === 0
        ? new ctor(bytes.buffer as ArrayBuffer, at, count)
        : // Uint8Array's slice copies; a Node Buffer's slice would be a view of a shared pool
          new ctor(Uint8Array.prototype.slice.call(bytes, dataStart + t.begin, dataStart + t.end).buffer, 0, count);
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  return { tensors, metadata };
}

function readMetadata(info: unknown, fail: (field: string, detail: string) => never): Record<string, string> {
  if (info === null) return {};
  if (typeof info !== "object" || Array.isArray(info)) fail(METADATA, "expected an object of strings");
  const entries = Object.entries(info as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== "string") fail(METADATA, `"${k}" must be a string, got ${JSON.stringify(v)}`);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * Throws `fail(detail)` when a JSON text nests arrays and objects deeper than `max`. One pass, before parsing:
 * JSON.parse itself copes with any depth, but whatever walks the result recursively (String(), JSON.stringify
 * in an error message) would overflow the stack and throw a RangeError instead of a format error.
 */
export function checkJsonDepth(json: string, max: number, fail: (detail: string) => Error): void {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < json.length && json.charCodeAt(i) !== 0x22) i += json.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) throw fail(`JSON nested deeper than ${max} levels`);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
}

/**
 * The first key repeated within one object of a valid JSON text, if any. JSON.parse silently keeps the
 * last of duplicate keys, so a reader that trusts it could see a different tensor than another reader.
 */
function duplicateKey(json: string): string | undefined {
  const stack: (Set<string> | null)[] = []; // one key set per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (json.charCodeAt(j) !== 0x22) j += json.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        const keys = stack[stack.length - 1]!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}
