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
