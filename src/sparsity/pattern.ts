import { PatternError, ValidationError, checkInt, hashHex } from "../engine/errors.js";
import { Rng } from "../engine/random.js";

const MAX_DIM = 1 << 24;

/** Options of {@link Pattern.fixedDegree}. */
export interface FixedDegreeOptions {
  /** Groups of this many consecutive outputs read the same inputs (default 1); see {@link feasibleBlocks}. */
  block?: number;
}

/**
 * A fixed connectivity pattern between `inputs` and `outputs` neurons: CSR with rows = outputs (column
 * indices strictly increasing within each row) and a CSC view (colPtr, rowIdx, perm → position in the CSR
 * arrays) for the transposed product. Immutable once built; validated on construction.
 */
export class Pattern {
  readonly nnz: number;
  readonly density: number;
  readonly colPtr: Int32Array;
  readonly rowIdx: Int32Array;
  readonly perm: Int32Array;
  /** 16 hex digits identifying sizes and connections; equal patterns have equal hashes on every machine. */
  readonly hash: string;

  private constructor(
    readonly inputs: number,
    readonly outputs: number,
    readonly rowPtr: Int32Array,
    readonly colIdx: Int32Array,
    readonly kind: string,
    /** Groups of this many consecutive outputs read the same inputs (1: no groups); the kernels use it. */
    readonly block = 1,
  ) {
    this.nnz = colIdx.length;
    this.density = inputs * outputs === 0 ? 0 : this.nnz / (inputs * outputs);
    // CSC view by counting sort over columns; rows come out increasing within each column
    const colPtr = new Int32Array(inputs + 1);
    for (let p = 0; p < this.nnz; p++) colPtr[colIdx[p]! + 1]!++;
    for (let c = 0; c < inputs; c++) colPtr[c + 1]! += colPtr[c]!;
    const next = colPtr.slice(0, inputs);
    const rowIdx = new Int32Array(this.nnz);
    const perm = new Int32Array(this.nnz);
    for (let r = 0; r < outputs; r++) {
      for (let p = rowPtr[r]!; p < rowPtr[r + 1]!; p++) {
        const q = next[colIdx[p]!]!++;
        rowIdx[q] = r;
        perm[q] = p;
      }
    }
    this.colPtr = colPtr;
    this.rowIdx = rowIdx;
    this.perm = perm;
    this.hash = hashPattern(inputs, outputs, rowPtr, colIdx);
  }

  /**
   * Dey et al.'s fixed-degree ("basic") pattern: every input has exactly `outDegree` connections and every
   * output exactly inputs·outDegree/outputs. Built from a cyclic tiling (always valid) then randomized by
   * seeded degree-preserving edge swaps. With `block: r`, groups of r consecutive outputs read the same inputs
   * (the fixed-degree pattern of inputs → outputs/r at out-degree outDegree/r, each output row repeated r times):
   * the degrees are unchanged and the kernels load each input row once for the r outputs of a group.
   */
  static fixedDegree(
    inputs: number,
    outputs: number,
    outDegree: number,
    seed = 0,
    opts: FixedDegreeOptions = {},
  ): Pattern {
    const op = "Pattern.fixedDegree";
    checkDims(op, inputs, outputs);
    checkInt(op, "outDegree", outDegree, 0, outputs);
    if ((inputs * outDegree) % outputs !== 0) {
      throw new PatternError(
        `${op}: out-degree ${outDegree} infeasible for ${inputs}→${outputs}: inputs·outDegree must be divisible by ` +
          `outputs; ` +
          `feasible out-degrees: ${feasibleOutDegrees(inputs, outputs).join(", ")} (densities ` +
          `k/${gcd(inputs, outputs)})`,
      );
    }
    const r = checkInt(op, "block", opts.block ?? 1, 1, outputs);
    if (outputs % r !== 0 || outDegree % r !== 0) {
      throw new PatternError(
        `${op}: block ${r} infeasible for ${inputs}→${outputs} at out-degree ${outDegree}: a group of ${r} outputs ` +
          `shares its inputs, so the outputs and the out-degree must be multiples of ${r}; ` +
          `feasible blocks: ${feasibleBlocks(outputs, outDegree).join(", ")}`,
      );
    }
    const [eOut, eIn] = fixedDegreeEdges(inputs, outputs / r, outDegree / r, seed);
    if (r === 1) return Pattern.fromEdges(inputs, outputs, eOut, eIn, `fixed-degree:${outDegree}`);
    const bOut = new Int32Array(eOut.length * r),
      bIn = new Int32Array(eOut.length * r);
    for (let e = 0; e < eOut.length; e++) {
      for (let i = 0; i < r; i++) {
        bOut[e * r + i] = eOut[e]! * r + i;
        bIn[e * r + i] = eIn[e]!;
      }
    }
    return Pattern.fromEdges(inputs, outputs, bOut, bIn, `fixed-degree:${outDegree}:block:${r}`, r);
  }

  /** Each connection present independently with probability `density` (degrees not fixed). */
  static random(inputs: number, outputs: number, density: number, seed = 0): Pattern {
    checkDims("Pattern.random", inputs, outputs);
    if (!(density >= 0 && density <= 1))
      throw new ValidationError(`Pattern.random: density must be in [0, 1], got ${density}`);
    const rng = new Rng(seed);
    const rowPtr = new Int32Array(outputs + 1);
    const cols: number[] = [];
    for (let r = 0; r < outputs; r++) {
      for (let c = 0; c < inputs; c++) if (rng.next() < density) cols.push(c);
      rowPtr[r + 1] = cols.length;
    }
    return new Pattern(inputs, outputs, rowPtr, Int32Array.from(cols), `random:${density}`);
  }

  /** Every connection (100% density). */
  static dense(inputs: number, outputs: number): Pattern {
    checkDims("Pattern.dense", inputs, outputs);
    const rowPtr = Int32Array.from({ length: outputs + 1 }, (_, r) => r * inputs);
    const colIdx = Int32Array.from({ length: inputs * outputs }, (_, p) => p % inputs);
    return new Pattern(inputs, outputs, rowPtr, colIdx, "dense");
  }

  /** From a row-major 0/1 mask [outputs, inputs] (any non-zero counts as a connection). */
  static fromMask(inputs: number, outputs: number, mask: ArrayLike<number | boolean>): Pattern {
    checkDims("Pattern.fromMask", inputs, outputs);
    if (mask.length !== inputs * outputs) {
      throw new PatternError(
        `Pattern.fromMask: mask has ${mask.length} entries, expected outputs·inputs = ${outputs}·${inputs} = ` +
          `${inputs * outputs}`,
      );
    }
    const rowPtr = new Int32Array(outputs + 1);
    const cols: number[] = [];
    for (let r = 0; r < outputs; r++) {
      for (let c = 0; c < inputs; c++) if (mask[r * inputs + c]) cols.push(c);
      rowPtr[r + 1] = cols.length;
    }
    return new Pattern(inputs, outputs, rowPtr, Int32Array.from(cols), "mask");
  }

  /**
   * From CSR index arrays (copied), after checking every invariant the kernels rely on; `block: r` declares that
   * groups of r consecutive rows have the same columns, which is checked too.
   */
  static fromCsr(
    inputs: number,
    outputs: number,
    rowPtr: ArrayLike<number>,
    colIdx: ArrayLike<number>,
    kind = "csr",
    opts: { block?: number } = {},
  ): Pattern {
    checkDims("Pattern.fromCsr", inputs, outputs);
    validateCsr("Pattern.fromCsr", inputs, outputs, rowPtr, colIdx);
    const block = checkInt("Pattern.fromCsr", "block", opts.block ?? 1, 1, outputs);
    if (block > 1) validateBlocks("Pattern.fromCsr", outputs, rowPtr, colIdx, block);
    return new Pattern(inputs, outputs, Int32Array.from(rowPtr), Int32Array.from(colIdx), kind, block);
  }

  private static fromEdges(
    inputs: number,
    outputs: number,
    eOut: Int32Array,
    eIn: Int32Array,
    kind: string,
    block = 1,
  ): Pattern {
    const rowPtr = new Int32Array(outputs + 1);
    for (let e = 0; e < eOut.length; e++) rowPtr[eOut[e]! + 1]!++;
    for (let r = 0; r < outputs; r++) rowPtr[r + 1]! += rowPtr[r]!;
    const next = rowPtr.slice(0, outputs);
    const colIdx = new Int32Array(eOut.length);
    for (let e = 0; e < eOut.length; e++) colIdx[next[eOut[e]!]!++] = eIn[e]!;
    for (let r = 0; r < outputs; r++) colIdx.subarray(rowPtr[r], rowPtr[r + 1]).sort();
    return new Pattern(inputs, outputs, rowPtr, colIdx, kind, block);
  }

  /** Number of connections into output r. */
  inDegree(r: number): number {
    return this.rowPtr[r + 1]! - this.rowPtr[r]!;
  }

  /** Number of connections out of input c. */
  outDegree(c: number): number {
    return this.colPtr[c + 1]! - this.colPtr[c]!;
  }

  /** Row-major 0/1 mask [outputs, inputs] (dense: for tests and small reports only). */
  toMask(): Uint8Array {
    const m = new Uint8Array(this.inputs * this.outputs);
    for (let r = 0; r < this.outputs; r++)
      for (let p = this.rowPtr[r]!; p < this.rowPtr[r + 1]!; p++) m[r * this.inputs + this.colIdx[p]!] = 1;
    return m;
  }
}

/**
 * The edges (output, input) of the fixed-degree pattern: a cyclic tiling — output o takes inputs
 * (o·inDegree + t) mod inputs, t < inDegree, both sides shuffled — then seeded degree-preserving edge swaps.
 */
function fixedDegreeEdges(inputs: number, outputs: number, outDegree: number, seed: number): [Int32Array, Int32Array] {
  const inDegree = (inputs * outDegree) / outputs;
  const rng = new Rng(seed);
  const inPerm = rng.shuffle(Int32Array.from({ length: inputs }, (_, i) => i));
  const outPerm = rng.shuffle(Int32Array.from({ length: outputs }, (_, i) => i));
  const nnz = outputs * inDegree;
  const eOut = new Int32Array(nnz);
  const eIn = new Int32Array(nnz);
  // which (output, input) pairs are edges: a byte per pair up to 16 MiB of them, else a set of the edges. The bytes
  // make a cold process's first fixedDegree(800, 40, 2) a third faster than the set alone (median of 31 runs); the
  // tests below are written out rather than called, and the swaps' random indices drawn in one loop: in a process
  // that has just started, before the JIT, each call costs more than the work (3.1 against 5.6 ms, 11 cold runs)
  const byte = inputs * outputs <= 1 << 24 ? new Uint8Array(inputs * outputs) : undefined;
  const set = byte ? undefined : new Set<number>();
  for (let o = 0, e = 0; o < outputs; o++) {
    for (let t = 0; t < inDegree; t++, e++) {
      eOut[e] = outPerm[o]!;
      eIn[e] = inPerm[(o * inDegree + t) % inputs]!;
      const k = eOut[e]! * inputs + eIn[e]!;
      if (byte) byte[k] = 1;
      else set!.add(k);
    }
  }
  // degree-preserving double-edge swaps: (a→x),(b→y) → (a→y),(b→x) when neither exists yet
  if (nnz > 1 && inDegree < inputs) {
    // the indices come in chunks of 4,096 swaps (32 KiB), so a large layer holds no more of them than that
    let draws: Int32Array = new Int32Array(0);
    for (let s = 0; s < 4 * nnz; s++) {
      const c = s % 4096;
      if (c === 0) draws = rng.ints(nnz, 2 * Math.min(4096, 4 * nnz - s));
      const i = draws[2 * c]!,
        j = draws[2 * c + 1]!;
      const a = eOut[i]!,
        x = eIn[i]!,
        b = eOut[j]!,
        y = eIn[j]!;
      const ay = a * inputs + y,
        bx = b * inputs + x;
      if (a === b || x === y || (byte ? byte[ay] === 1 || byte[bx] === 1 : set!.has(ay) || set!.has(bx))) continue;
      const ax = a * inputs + x,
        by = b * inputs + y;
      if (byte) {
        byte[ax] = 0;
        byte[by] = 0;
        byte[ay] = 1;
        byte[bx] = 1;
      } else {
        set!.delete(ax);
        set!.delete(by);
        set!.add(ay);
        set!.add(bx);
      }
      eIn[i] = y;
      eIn[j] = x;
    }
  }
  return [eOut, eIn];
}

/**
 * Block sizes r that `Pattern.fixedDegree(inputs, outputs, outDegree, seed, { block: r })` accepts: the divisors of
 * both the outputs and the out-degree (a group of r outputs shares its inputs, so each input feeds whole groups).
 */
export function feasibleBlocks(outputs: number, outDegree: number): number[] {
  const g = gcd(outputs, outDegree);
  const out: number[] = [];
  for (let r = 1; r <= g; r++) if (g % r === 0) out.push(r);
  return out;
}

/** Out-degrees d ≤ outputs with inputs·d divisible by outputs: the multiples of outputs/gcd(inputs, outputs). */
export function feasibleOutDegrees(inputs: number, outputs: number): number[] {
  const step = outputs / gcd(inputs, outputs);
  const out: number[] = [];
  for (let d = step; d <= outputs; d += step) out.push(d);
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function checkDims(op: string, inputs: number, outputs: number): void {
  checkInt(op, "inputs", inputs, 1, MAX_DIM);
  checkInt(op, "outputs", outputs, 1, MAX_DIM);
  if (inputs * outputs > 2 ** 31 - 1)
    throw new ValidationError(`${op}: ${inputs}×${outputs} connections exceed 2^31 − 1`);
}

/** Throws PatternError unless rowPtr/colIdx form a CSR matrix with sorted, unique, in-range column indices. */
export function validateCsr(
  op: string,
  inputs: number,
  outputs: number,
  rowPtr: ArrayLike<number>,
  colIdx: ArrayLike<number>,
): void {
  if (rowPtr.length !== outputs + 1)
    throw new PatternError(`${op}: rowPtr has ${rowPtr.length} entries, expected outputs + 1 = ${outputs + 1}`);
  if (rowPtr[0] !== 0) throw new PatternError(`${op}: rowPtr[0] must be 0, got ${rowPtr[0]}`);
  if (rowPtr[outputs] !== colIdx.length)
    throw new PatternError(`${op}: rowPtr[${outputs}] = ${rowPtr[outputs]} but colIdx has ${colIdx.length} entries`);
  for (let r = 0; r < outputs; r++) {
    const a = rowPtr[r]!,
      b = rowPtr[r + 1]!;
    if (!Number.isInteger(b) || b < a) throw new PatternError(`${op}: rowPtr not monotone at row ${r}: ${a} then ${b}`);
    if (b > colIdx.length)
      throw new PatternError(
        `${op}: rowPtr not monotone: rowPtr[${r + 1}] = ${b} exceeds rowPtr[${outputs}] = ${colIdx.length}`,
      );
    for (let p = a; p < b; p++) {
      const c = colIdx[p]!;
      if (!Number.isInteger(c) || c < 0 || c >= inputs)
        throw new PatternError(`${op}: colIdx[${p}] = ${c} out of range [0, ${inputs})`);
      if (p > a && c <= colIdx[p - 1]!)
        throw new PatternError(
          `${op}: colIdx not strictly increasing in row ${r} at position ${p} (${colIdx[p - 1]} then ${c})`,
        );
    }
  }
}

/** Throws PatternError unless the outputs come in groups of `block` consecutive rows with the same columns. */
function validateBlocks(
  op: string,
  outputs: number,
  rowPtr: ArrayLike<number>,
  colIdx: ArrayLike<number>,
  block: number,
): void {
  if (outputs % block !== 0) throw new PatternError(`${op}: ${outputs} outputs do not split into blocks of ${block}`);
  for (let r = 0; r < outputs; r++) {
    const first = r - (r % block);
    if (first === r) continue;
    const a = rowPtr[first]!,
      n = rowPtr[first + 1]! - a,
      b = rowPtr[r]!;
    const same =
      rowPtr[r + 1]! - b === n && Array.from({ length: n }, (_, t) => t).every((t) => colIdx[a + t] === colIdx[b + t]);
    if (!same) throw new PatternError(`${op}: block ${block}: row ${r} does not have the columns of row ${first}`);
  }
}

function hashPattern(inputs: number, outputs: number, rowPtr: Int32Array, colIdx: Int32Array): string {
  // two independent 32-bit multiplicative hashes (FNV-1a and a murmur-style mix) → 64 bits
  let h1 = 0x811c9dc5,
    h2 = 0x9747b28c;
  const mix = (v: number) => {
    h1 = Math.imul(h1 ^ v, 0x01000193);
    let k = Math.imul(v, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h2 = Math.imul(h2 ^ Math.imul(k, 0x1b873593), 5) + 0xe6546b64;
  };
  mix(inputs);
  mix(outputs);
  for (let i = 0; i < rowPtr.length; i++) mix(rowPtr[i]!);
  for (let i = 0; i < colIdx.length; i++) mix(colIdx[i]!);
  return hashHex(h1, h2);
}
