// Each class names itself in a string: minifiers rename classes, so `new.target.name` would read `s` in a bundle.

/** Base class of every error presparse throws on purpose. */
export class PresparseError extends Error {
  override readonly name: string = "PresparseError";
}

/** Operand shapes disagree: `ShapeError: csrSpmm: X has 63 rows, A has 64 columns`. */
export class ShapeError extends PresparseError {
  override readonly name: string = "ShapeError";
}

/** A connectivity pattern is infeasible or its CSR arrays break an invariant. */
export class PatternError extends PresparseError {
  override readonly name: string = "PatternError";
}

/** An argument (size, option, flag) is out of its domain. */
export class ValidationError extends PresparseError {
  override readonly name: string = "ValidationError";
}

/** The WebAssembly module could not be loaded or is not a presparse module. */
export class WasmLoadError extends PresparseError {
  override readonly name: string = "WasmLoadError";
}

/**
 * A kernel of the debug build found a precondition broken — an operand outside memory, an output overlapping an
 * input, CSR offsets that decrease: `assertion` is the kernel's own message and `file:line:column` its place in
 * assembly/. The ops validate every call first, so this is a bug below them; the release build does not check.
 */
export class KernelAssertionError extends PresparseError {
  override readonly name: string = "KernelAssertionError";
  constructor(
    readonly assertion: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${assertion} (${file}:${line}:${column})`);
  }
}

/** A file or wire format is malformed; `field` names the part that was rejected. */
export class FormatError extends PresparseError {
  override readonly name: string = "FormatError";
  constructor(
    readonly format: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${format}: ${field}: ${detail}`);
  }
}

/** Throws ValidationError unless n is an integer in [min, max]. */
export function checkInt(op: string, name: string, n: unknown, min = 0, max = 2 ** 31 - 1): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(`${op}: ${name} must be an integer in [${min}, ${max}], got ${String(n)}`);
  }
  return n;
}

/** The one form of every hash presparse writes (a pattern's, a model's): 64 bits as 16 lowercase hex digits. */
export const HASH_FORMAT = /^[0-9a-f]{16}$/;

/** Two 32-bit halves as a hash in {@link HASH_FORMAT}. */
export function hashHex(h1: number, h2: number): string {
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}
