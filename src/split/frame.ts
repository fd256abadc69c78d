// Split-computing activation frame, version 1 (little-endian; byte table in docs/frame-format.md):
//   0 magic "PSFR" | 4 version u8 | 5 dtype u8 | 6 kind u8 | 7 rank u8 | 8 headerLength u32
//  12 splitId u32 | 16 modelHash 8 bytes | 24 scale f32 | 28 payloadLength u32 | 32 dims u32 × rank
//  32+4·rank payload | CRC-32 u32 over everything before it.
// No Node modules: the edge half runs in browsers, so this file uses DataView and typed arrays only.

import { FormatError, HASH_FORMAT, ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { crc32 } from "../io/crc32.js";
import { F16_MIN_NORMAL, f16BitsToF32, f16IsFinite, f32ToF16Bits } from "../io/f16.js";

/** Payload element type: raw float32, IEEE half, or int8 with one float32 scale for the whole tensor. */
export type FrameDtype = "f32" | "f16" | "int8";
/** What the payload holds: an activation at the split (edge → server), or the server's answer. */
export type FrameKind = "activation" | "logits" | "probabilities";

/** The frame's first four bytes, ASCII. */
export const FRAME_MAGIC = "PSFR";
const MAGIC = Uint8Array.of(0x50, 0x53, 0x46, 0x52);
/** The only version this decoder reads and this encoder writes. */
export const FRAME_VERSION = 1;
/** Largest rank a frame carries (feature dims first, batch last). */
export const FRAME_MAX_RANK = 4;

/** Every payload dtype, in the order of their codes (byte 5 of the header). */
export const FRAME_DTYPES: readonly FrameDtype[] = ["f32", "f16", "int8"];
const KINDS: readonly FrameKind[] = ["activation", "logits", "probabilities"];
const DTYPE_BYTES: Record<FrameDtype, number> = { f32: 4, f16: 2, int8: 1 };
const FIXED_HEADER = 32;
const CRC_BYTES = 4;
const U32_MAX = 2 ** 32 - 1;

/** The media type of a frame on the wire (an HTTP body, a download), both ways. */
export const FRAME_MEDIA_TYPE = "application/x-presparse-frame";

/**
 * Why a frame was refused: its bytes are not a valid frame, it exceeds the decoder's limits, or it is a valid
 * frame for another model, cut or kind. A receiver maps the reason to its own answer (the tail server to a status).
 */
export type FrameErrorReason = "malformed" | "too_large" | "mismatch";

/** A frame the decoder rejects as malformed; `field` names the part. */
export class FrameError extends FormatError {
  override readonly name: string = "FrameError";
  readonly reason: FrameErrorReason = "malformed";
  constructor(field: string, detail: string) {
    super("frame", field, detail);
  }
}

/** The frame (its length, a dimension or its element count) exceeds the decoder's limits. */
export class FrameTooLargeError extends FrameError {
  override readonly name: string = "FrameTooLargeError";
  override readonly reason: FrameErrorReason = "too_large";
}

/** A well-formed frame for another model, split point or kind than the receiver expects. */
export class FrameMismatchError extends FrameError {
  override readonly name: string = "FrameMismatchError";
  override readonly reason: FrameErrorReason = "mismatch";
}

/** What `encodeFrame` writes. `data` is feature-major, its length is the product of `shape`. */
export interface FrameInput {
  data: Float32Array;
  /** Feature dims first, batch last: [features, batch] or [channels, height, width, batch]; rank 1..4. */
  shape: readonly number[];
  dtype: FrameDtype;
  kind: FrameKind;
  /** Index of the layer after which the model was split. */
  splitId: number;
  /** The model's 64-bit hash as 16 hex digits. */
  modelHash: string;
  /** NaN/±Inf in f32/f16 data: rejected by default; int8 rejects them always. */
  nonFinite?: "reject" | "allow";
}

/** A decoded frame: `data` is float32 (f16 widened, int8 dequantized), `modelHash` lowercase hex. */
export interface Frame {
  data: Float32Array;
  shape: number[];
  dtype: FrameDtype;
  kind: FrameKind;
  splitId: number;
  modelHash: string;
  /** The int8 scale (value = q · scale); 0 for f32 and f16. */
  scale: number;
}

/** Caps the decoder enforces before it allocates; defaults in `DEFAULT_FRAME_LIMITS`. */
export interface FrameLimits {
  maxBytes?: number;
  maxRank?: number;
  maxDim?: number;
  maxElements?: number;
  nonFinite?: "reject" | "allow";
}

/** What the receiver expects: another identity throws FrameMismatchError, another shape FrameError on `dims`. */
export interface FrameExpect {
  modelHash?: string;
  splitId?: number;
  kind?: FrameKind;
  /** The per-sample shapes accepted (every dimension but the last, the batch): e.g. [[40]] or [[6, 4, 4], [96]]. */
  sampleShapes?: readonly (readonly number[])[];
}

/** Decoder defaults: 64 MiB per frame, rank ≤ 4, 2^24 per dimension and in total, non-finite rejected. */
export const DEFAULT_FRAME_LIMITS: Readonly<Required<FrameLimits>> = Object.freeze({
  maxBytes: 64 * 2 ** 20,
  maxRank: FRAME_MAX_RANK,
  maxDim: 2 ** 24,
  maxElements: 2 ** 24,
  nonFinite: "reject",
});

/** Bytes before the payload for a frame of this rank: 32 fixed + 4 per dimension. */
export function frameHeaderBytes(rank: number): number {
  checkInt("frameHeaderBytes", "rank", rank, 1, FRAME_MAX_RANK);
  return FIXED_HEADER + 4 * rank;
}

/** Payload bytes one sample costs: features × element size (the header and CRC are per frame). */
export function frameBytesPerSample(features: number, dtype: FrameDtype): number {
  checkInt("frameBytesPerSample", "features", features, 1, U32_MAX);
  return features * dtypeBytes("frameBytesPerSample", dtype);
}

/** Total length of a frame with this shape and dtype: header + payload + 4-byte CRC. */
export function frameBytes(shape: readonly number[], dtype: FrameDtype): number {
  const n = shapeElements("frameBytes", shape);
  return frameHeaderBytes(shape.length) + n * dtypeBytes("frameBytes", dtype) + CRC_BYTES;
}

/**
 * Largest |x − decoded| the dtype allows for one finite value x. f32: 0. f16 (round to nearest even):
 * |x|·2^-11 for normal values, 2^-25 below 2^-14 (subnormal step 2^-24 / 2); values whose magnitude
 * rounds past 65504 are refused by the encoder, never saturated. int8: scale/2 from rounding q = x/scale,
 * plus the float32 rounding of q·scale on decode (< scale·2^-17), stated as scale·(1/2 + 2^-16).
 */
export function frameErrorBound(dtype: FrameDtype, x: number, scale = 0): number {
  if (dtype === "f32") return 0;
  if (dtype === "f16") return Math.max(Math.abs(x) * 2 ** -11, F16_MIN_NORMAL * 2 ** -11);
  return scale * (0.5 + 2 ** -16);
}

/** Serialises one tensor as a version-1 frame. Throws ShapeError/ValidationError on bad input. */
export function encodeFrame(input: FrameInput): Uint8Array {
  const op = "encodeFrame";
  const { data, shape, dtype, kind, splitId, modelHash } = input;
  if (!(data instanceof Float32Array)) throw new ValidationError(`${op}: data must be a Float32Array`);
  const n = shapeElements(op, shape);
  if (n !== data.length) {
    throw new ShapeError(`${op}: shape [${shape.join(", ")}] holds ${n} values, data has ${data.length}`);
  }
  const size = dtypeBytes(op, dtype);
  const kindCode = KINDS.indexOf(kind);
  if (kindCode < 0) throw new ValidationError(`${op}: kind must be one of ${KINDS.join(", ")}, got ${String(kind)}`);
  checkInt(op, "splitId", splitId, 0, U32_MAX);
  // any case on the way in; the frame holds the bytes, and decodes as lowercase
  if (typeof modelHash !== "string" || !HASH_FORMAT.test(modelHash.toLowerCase())) {
    throw new ValidationError(`${op}: modelHash must be 16 hex digits, got ${JSON.stringify(modelHash)}`);
  }
  const allowNonFinite = input.nonFinite === "allow" && dtype !== "int8";
  if (!allowNonFinite) {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(data[i]!))
        throw new ValidationError(`${op}: data[${i}] is ${data[i]}, frames carry finite values`);
    }
  }
  const payloadLength = n * size;
  if (payloadLength > U32_MAX) throw new ValidationError(`${op}: payload of ${payloadLength} bytes exceeds 2^32 - 1`);

  const headerLength = frameHeaderBytes(shape.length);
  const out = new Uint8Array(headerLength + payloadLength + CRC_BYTES);
  const dv = new DataView(out.buffer);
  const scale = dtype === "int8" ? int8Scale(op, data) : 0;
  out.set(MAGIC, 0);
  dv.setUint8(4, FRAME_VERSION);
  dv.setUint8(5, FRAME_DTYPES.indexOf(dtype));
  dv.setUint8(6, kindCode);
  dv.setUint8(7, shape.length);
  dv.setUint32(8, headerLength, true);
  dv.setUint32(12, splitId, true);
  for (let i = 0; i < 8; i++) out[16 + i] = parseInt(modelHash.slice(2 * i, 2 * i + 2), 16);
  dv.setFloat32(24, scale, true);
  dv.setUint32(28, payloadLength, true);
  shape.forEach((d, i) => dv.setUint32(FIXED_HEADER + 4 * i, d, true));

  let p = headerLength;
  if (dtype === "f32") {
    for (let i = 0; i < n; i++, p += 4) dv.setFloat32(p, data[i]!, true);
  } else if (dtype === "f16") {
    for (let i = 0; i < n; i++, p += 2) {
      const h = f32ToF16Bits(data[i]!);
      if (!f16IsFinite(h) && Number.isFinite(data[i]!)) {
        throw new ValidationError(`${op}: data[${i}] = ${data[i]} is beyond the f16 range (±65504); use f32 or int8`);
      }
      dv.setUint16(p, h, true);
    }
  } else if (scale > 0) {
    for (let i = 0; i < n; i++, p++) dv.setInt8(p, Math.max(-127, Math.min(127, Math.round(data[i]! / scale))));
  }
  const end = headerLength + payloadLength;
  dv.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}

/** What a frame's header says, checked; `decodeFrameHeader` returns it without reading the payload. */
export interface FrameHeader {
  dtype: FrameDtype;
  kind: FrameKind;
  shape: number[];
  splitId: number;
  modelHash: string;
  scale: number;
  /** Bytes before the payload (32 + 4·rank). */
  headerLength: number;
  payloadLength: number;
  /** The whole frame's length: header, payload and CRC. */
  totalLength: number;
}

/**
 * Parses a frame, trusting nothing: every length, count and code is checked against the buffer and
 * `limits` before any allocation, so the output is at most 4× the input's size. Throws FrameError
 * (reason `malformed`) for a malformed frame, FrameTooLargeError (`too_large`) past the limits,
 * FrameMismatchError (`mismatch`) when `expect` disagrees. A corrupt frame is malformed first, whatever it claims to
 * be: the checksum is checked before `expect`, and `expect` before the payload is decoded.
 */
export function decodeFrame(bytes: Uint8Array, limits: FrameLimits = {}, expect: FrameExpect = {}): Frame {
  const lim = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new ValidationError("decodeFrame: bytes must be a Uint8Array");
  const len = bytes.length;
  if (len > lim.maxBytes) throw new FrameTooLargeError("length", `${len} bytes exceeds the limit of ${lim.maxBytes}`);
  const h = readHeader(bytes, lim, CRC_BYTES);
  const { headerLength, payloadLength, totalLength: total, dtype, shape } = h;
  if (len < total) throw new FrameError("length", `truncated: ${len} bytes, the frame declares ${total}`);
  if (len > total) throw new FrameError("trailing", `${len - total} bytes after the frame's declared ${total}`);
  const end = headerLength + payloadLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  const stored = dv.getUint32(end, true);
  const actual = crc32(bytes.subarray(0, end));
  if (stored !== actual)
    throw new FrameError("checksum", `CRC-32 ${hex32(actual)} of the frame, stored ${hex32(stored)}`);
  checkScale(h);
  checkExpected(h, expect);

  // Only now is n known to match bytes this buffer really holds.
  const n = payloadLength / DTYPE_BYTES[dtype];
  const data = new Float32Array(n);
  const reject = lim.nonFinite === "reject";
  const scale = h.scale;
  let p = headerLength;
  if (dtype === "f32") {
    for (let i = 0; i < n; i++, p += 4) {
      const v = dv.getFloat32(p, true);
      if (reject && !Number.isFinite(v)) throw new FrameError("payload", `element ${i} is ${v}`);
      data[i] = v;
    }
  } else if (dtype === "f16") {
    for (let i = 0; i < n; i++, p += 2) {
      const hb = dv.getUint16(p, true);
      if (reject && !f16IsFinite(hb)) throw new FrameError("payload", `element ${i} is ${f16BitsToF32(hb)}`);
      data[i] = f16BitsToF32(hb);
    }
  } else {
    for (let i = 0; i < n; i++, p++) {
      const q = dv.getInt8(p);
      if (q === -128) throw new FrameError("payload", `element ${i} is -128, int8 codes are in [-127, 127]`);
      if (scale === 0 && q !== 0)
        throw new FrameError("payload", `element ${i} is ${q} with scale 0, which only an all-zero tensor has`);
      data[i] = q * scale;
    }
  }
  return { data, shape, dtype, kind: h.kind, splitId: h.splitId, modelHash: h.modelHash, scale };
}

/**
 * Checks what the first bytes of a frame can show — every header field, the declared total length against
 * `limits.maxBytes`, and `expect` (identity and per-sample shape) — without the payload or the checksum, so a
 * receiver can refuse a frame of the wrong shape or model as soon as its header arrives. `bytes` may be just the
 * start of a frame, at least its header (32 + 4·rank bytes). Throws as {@link decodeFrame} does.
 */
export function decodeFrameHeader(bytes: Uint8Array, limits: FrameLimits = {}, expect: FrameExpect = {}): FrameHeader {
  const lim = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new ValidationError("decodeFrameHeader: bytes must be a Uint8Array");
  const h = readHeader(bytes, lim, 0);
  if (h.totalLength > lim.maxBytes)
    throw new FrameTooLargeError("length", `the header declares ${h.totalLength} bytes, the limit is ${lim.maxBytes}`);
  checkScale(h);
  checkExpected(h, expect);
  return h;
}

/** The header's fields, each checked against the buffer (which must also hold `after` bytes past the header). */
function readHeader(bytes: Uint8Array, lim: Required<FrameLimits>, after: number): FrameHeader {
  const len = bytes.length;
  if (len < FIXED_HEADER + after) {
    throw new FrameError(
      "length",
      `truncated: ${len} bytes, a frame${after ? "" : " header"} has at least ${FIXED_HEADER + after}`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i])
      throw new FrameError("magic", `expected ${hex(MAGIC)} ("${FRAME_MAGIC}"), got ${hex(bytes.subarray(0, 4))}`);
  }
  const version = dv.getUint8(4);
  if (version !== FRAME_VERSION) throw new FrameError("version", `expected ${FRAME_VERSION}, got ${version}`);
  const dtype = FRAME_DTYPES[dv.getUint8(5)];
  if (dtype === undefined)
    throw new FrameError("dtype", `expected 0 (f32), 1 (f16) or 2 (int8), got ${dv.getUint8(5)}`);
  const kind = KINDS[dv.getUint8(6)];
  if (kind === undefined)
    throw new FrameError("kind", `expected 0 (activation), 1 (logits) or 2 (probabilities), got ${dv.getUint8(6)}`);
  const rank = dv.getUint8(7);
  if (rank < 1 || rank > lim.maxRank) throw new FrameError("rank", `expected 1..${lim.maxRank}, got ${rank}`);
  const headerLength = dv.getUint32(8, true);
  if (headerLength !== FIXED_HEADER + 4 * rank) {
    throw new FrameError("headerLength", `expected ${FIXED_HEADER + 4 * rank} for rank ${rank}, got ${headerLength}`);
  }
  if (len < headerLength + after) {
    throw new FrameError("length", `truncated: ${len} bytes, the header alone needs ${headerLength + after}`);
  }
  const shape: number[] = [];
  let n = 1;
  for (let i = 0; i < rank; i++) {
    const d = dv.getUint32(FIXED_HEADER + 4 * i, true);
    if (d < 1) throw new FrameError("dims", `dims[${i}] is 0`);
    if (d > lim.maxDim) throw new FrameTooLargeError("dims", `dims[${i}] = ${d} exceeds the limit of ${lim.maxDim}`);
    n *= d; // n ≤ maxElements ≤ 2^53 before, d < 2^32: a rounded product still compares correctly
    if (n > lim.maxElements)
      throw new FrameTooLargeError("dims", `${rank}-d shape holds more than ${lim.maxElements} elements`);
    shape.push(d);
  }
  const payloadLength = dv.getUint32(28, true);
  const expectedPayload = n * DTYPE_BYTES[dtype];
  if (payloadLength !== expectedPayload) {
    throw new FrameError(
      "payloadLength",
      `shape [${shape.join(", ")}] of ${dtype} needs ${expectedPayload} bytes, header says ${payloadLength}`,
    );
  }
  return {
    dtype,
    kind,
    shape,
    splitId: dv.getUint32(12, true),
    modelHash: hex(bytes.subarray(16, 24), ""),
    scale: dv.getFloat32(24, true),
    headerLength,
    payloadLength,
    totalLength: headerLength + payloadLength + CRC_BYTES,
  };
}

// int8: a finite scale, +0 only for the all-zero tensor (−0 is refused: the encoder never writes it, and one
// tensor has one encoding); f32 and f16 carry +0.
function checkScale(h: FrameHeader): void {
  const scale = h.scale;
  if (h.dtype === "int8") {
    if (!(scale >= 0) || Object.is(scale, -0) || !Number.isFinite(Math.fround(scale * 127))) {
      throw new FrameError(
        "scale",
        `expected a finite scale ≥ +0 with 127·scale finite, got ${Object.is(scale, -0) ? "-0" : scale}`,
      );
    }
  } else if (!Object.is(scale, 0)) {
    throw new FrameError("scale", `expected 0 for ${h.dtype}, got ${Object.is(scale, -0) ? "-0" : scale}`);
  }
}

function checkExpected(h: FrameHeader, expect: FrameExpect): void {
  if (expect.modelHash !== undefined && expect.modelHash.toLowerCase() !== h.modelHash) {
    throw new FrameMismatchError("modelHash", `expected model ${expect.modelHash.toLowerCase()}, got ${h.modelHash}`);
  }
  if (expect.splitId !== undefined && expect.splitId !== h.splitId) {
    throw new FrameMismatchError("splitId", `expected split after layer ${expect.splitId}, got ${h.splitId}`);
  }
  if (expect.kind !== undefined && expect.kind !== h.kind) {
    throw new FrameMismatchError("kind", `expected ${expect.kind}, got ${h.kind}`);
  }
  const shapes = expect.sampleShapes;
  if (shapes !== undefined) {
    const per = h.shape.slice(0, -1);
    const fits = h.shape.length >= 2 && shapes.some((s) => s.length === per.length && s.every((d, i) => d === per[i]));
    if (!fits) {
      const want = shapes.map((s) => `[${[...s, "batch"].join(", ")}]`).join(" or ");
      throw new FrameError("dims", `expected ${want} (features first, batch last), got [${h.shape.join(", ")}]`);
    }
  }
}

// Smallest float32 scale with 127·scale ≥ maxabs, so |x/scale| ≤ 127 and the clamp never bites.
function int8Scale(op: string, data: Float32Array): number {
  let maxabs = 0;
  for (let i = 0; i < data.length; i++) maxabs = Math.max(maxabs, Math.abs(data[i]!));
  if (maxabs === 0) return 0;
  let scale = Math.fround(maxabs / 127);
  if (scale * 127 < maxabs) scale = nextUpF32(scale);
  if (!Number.isFinite(Math.fround(scale * 127))) {
    throw new ValidationError(
      `${op}: max |x| = ${maxabs} is too close to the float32 limit for an int8 scale; use f32`,
    );
  }
  return scale;
}

function nextUpF32(x: number): number {
  const b = new Float32Array([x]);
  new Uint32Array(b.buffer)[0]! += 1; // x > 0 and finite: the next bit pattern is the next float
  return b[0]!;
}

function resolveLimits(l: FrameLimits): Required<FrameLimits> {
  const op = "decodeFrame";
  const r = { ...DEFAULT_FRAME_LIMITS, ...l };
  checkInt(op, "limits.maxBytes", r.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  checkInt(op, "limits.maxRank", r.maxRank, 1, FRAME_MAX_RANK);
  checkInt(op, "limits.maxDim", r.maxDim, 1, U32_MAX);
  checkInt(op, "limits.maxElements", r.maxElements, 1, Number.MAX_SAFE_INTEGER);
  if (r.nonFinite !== "reject" && r.nonFinite !== "allow") {
    throw new ValidationError(`${op}: limits.nonFinite must be "reject" or "allow", got ${String(r.nonFinite)}`);
  }
  return r;
}

function shapeElements(op: string, shape: readonly number[]): number {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > FRAME_MAX_RANK) {
    throw new ShapeError(`${op}: shape must have rank 1..${FRAME_MAX_RANK}, got ${JSON.stringify(shape)}`);
  }
  let n = 1;
  for (const d of shape) n *= checkInt(op, "shape dimension", d, 1, U32_MAX);
  if (!Number.isSafeInteger(n)) throw new ShapeError(`${op}: shape [${shape.join(", ")}] holds too many elements`);
  return n;
}

function dtypeBytes(op: string, dtype: FrameDtype): number {
  if (!FRAME_DTYPES.includes(dtype)) {
    throw new ValidationError(`${op}: dtype must be one of ${FRAME_DTYPES.join(", ")}, got ${String(dtype)}`);
  }
  return DTYPE_BYTES[dtype];
}

function hex(b: Uint8Array, sep = " "): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(sep);
}

function hex32(x: number): string {
  return `0x${x.toString(16).padStart(8, "0")}`;
}
