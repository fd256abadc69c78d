// How each kernel's work splits over threads: by its outputs (rows of Y for the forward product, rows of dX through the
// CSC view for the transposed one, rows of dY for the weight gradient, output channels for convolutions and pools,
// columns for softmax, the cross-entropy and the batch gather, rows for the column gather, index ranges for
// elementwise kernels and optimizers). A chunk is the same kernel called
// on a slice of its outputs — pointers moved to the slice, a CSR row slice keeps its absolute offsets — so every output
// element is computed by one thread with the instructions and in the order of the single-thread call: any thread
// count gives the same bits. Elementwise slices start at multiples of 4, so each element takes the same SIMD or scalar
// path as in one call; dense row slices at multiples of the kernel's row blocking.
import type { Kernels } from "./kernels.generated.js";
import { MAX_CHUNKS } from "./pool_protocol.js";
import type { ThreadPool } from "./pool.js";

type Args = number[];
type KernelName = Exclude<keyof Kernels, "memory">;

interface Rule {
  /** Output units (rows, channels, elements) the call splits into. */
  units(a: Args): number;
  /** Slices start at multiples of this many units (or of what the call's arguments say). */
  quantum?: number | ((a: Args) => number);
  /** Work of the whole call, in the units of its threshold. */
  work(a: Args, i32: Int32Array): number;
  /** Cumulative cost of units [0, u), to balance chunks (default: u); ptr: index of the CSR offsets argument. */
  ptr?: number;
  /** The arguments of the call on units [lo, hi); `scratch` is the block asked for by `scratch`, if any. */
  part(a: Args, lo: number, hi: number, scratch: number): Args;
  /** Bytes of scratch the split call needs (in WASM memory, the engine's). */
  scratch?(a: Args): number;
  /** The call's return value, from the scratch the chunks filled (f64 view of memory). */
  finish?(a: Args, scratch: number, f64: Float64Array): number;
}

const F = 4;
const nnzOf = (a: Args, i32: Int32Array, ptr: number, rows: number): number =>
  i32[(a[ptr]! >>> 2) + a[rows]!]! - i32[a[ptr]! >>> 2]!;
const opt = (p: number, offset: number): number => (p === 0 ? 0 : p + offset);

/** Every kernel that splits, and how (heapBase is the only export that does not). */
export const SPLIT_RULES: Partial<Record<KernelName, Rule>> = {
  // (C, B, z, p, ld): columns
  softmax: {
    units: (a) => a[1]!,
    work: (a) => a[0]! * a[1]!,
    part: (a, lo, hi) => [a[0]!, hi - lo, a[2]! + lo * F, a[3]! + lo * F, a[4]!],
  },
  // (C, B, z, labels, dz, ld, n, losses): columns; each column's loss term lands in scratch (or the caller's losses),
  // and the mean is their sum in column order over n — the single call's float64 sum, term for term
  softmaxCrossEntropy: {
    units: (a) => a[1]!,
    work: (a) => 2 * a[0]! * a[1]!,
    scratch: (a) => (a[7] === 0 ? 8 * a[1]! : 0),
    part: (a, lo, hi, scratch) => [
      a[0]!,
      hi - lo,
      a[2]! + lo * F,
      a[3]! + lo * F,
      opt(a[4]!, lo * F),
      a[5]!,
      a[6]!,
      (a[7] || scratch) + lo * 8,
    ],
    finish: (a, scratch, f64) => {
      const at = (a[7] || scratch) >>> 3;
      let total = 0;
      for (let b = 0; b < a[1]!; b++) total += f64[at + b]!;
      return total / a[6]!;
    },
  },
  // (F, src, idx, B, dst, ld): columns of the batch
  gatherSamples: {
    units: (a) => a[3]!,
    quantum: 4,
    work: (a) => a[0]! * a[3]!,
    part: (a, lo, hi) => [a[0]!, a[1]!, a[2]! + lo * F, hi - lo, a[4]! + lo * F, a[5]!],
  },
  // (m, B, rowPtr, colIdx, values, x, bias, y, relu)
  csrSpmm: csrRule(2, 7, 6),
  // (m, B, r, rowPtr, colIdx, values, x, bias, y, relu): whole blocks of r rows
  csrSpmmBlock: { ...csrRule(3, 8, 7), quantum: (a) => a[2]! },
  // (k, B, colPtr, rowIdx, perm, values, dy, dx)
  csrSpmmT: csrRule(2, 7),
  // (m, B, rowPtr, colIdx, dy, x, dValues, dBias)
  csrSddmm: csrRule(2, 4, 7),
  // (m, B, y, out)
  rowSums: {
    units: (a) => a[0]!,
    work: (a) => a[0]! * a[1]!,
    part: (a, lo, hi) => [hi - lo, a[1]!, a[2]! + lo * a[1]! * F, a[3]! + lo * F],
  },
  // (m, k, B, a, rs, cs, x, bias, y, relu): blocks of 4 rows
  denseMatmul: {
    units: (a) => a[0]!,
    quantum: 4,
    work: (a) => a[0]! * a[1]! * a[2]!,
    part: (a, lo, hi) => [
      hi - lo,
      a[1]!,
      a[2]!,
      a[3]! + lo * a[4]! * F,
      a[4]!,
      a[5]!,
      a[6]!,
      opt(a[7]!, lo * F),
      a[8]! + lo * a[2]! * F,
      a[9]!,
    ],
  },
  // (m, k, B, dy, x, dw, dBias): blocks of 2 rows
  denseGradW: {
    units: (a) => a[0]!,
    quantum: 2,
    work: (a) => a[0]! * a[1]! * a[2]!,
    part: (a, lo, hi) => [
      hi - lo,
      a[1]!,
      a[2]!,
      a[3]! + lo * a[2]! * F,
      a[4]!,
      a[5]! + lo * a[1]! * F,
      opt(a[6]!, lo * F),
    ],
  },
  // (n, y)
  reluForward: stream(1),
  // (n, y, dy, dx)
  reluBackward: stream(3),
  // (n, y, x)
  addInPlace: stream(2),
  // (n, x, s)
  scaleInPlace: stream(1),
  // (n, w, g, m, v, lrT, b1, b2, eps, l2)
  adamStep: stream(4),
  // (n, w, g, u, lr, mu, l2)
  sgdStep: stream(3),
  // (rows, B, src, cols, n, dst)
  gatherColumns: {
    units: (a) => a[0]!,
    work: (a) => a[0]! * a[4]!,
    part: (a, lo, hi) => [hi - lo, a[1]!, a[2]! + lo * a[1]! * F, a[3]!, a[4]!, a[5]! + lo * a[4]! * F],
  },
  // (O, OH, OW, H, W, kh, kw, s, py, px, B, ptr, off, tap, values, x, bias, y, relu)
  sparseConv2d: convRule(11, 10, 17, 16),
  // (C, H, W, OH, OW, kh, kw, s, py, px, B, ptr, off, tap, perm, values, dy, dx)
  sparseConv2dBackwardInput: convRule(11, 10, 17),
  // (O, OH, OW, H, W, s, py, px, B, ptr, off, tap, dy, x, dValues, dBias)
  sparseConv2dBackwardWeights: convRule(9, 8, 12, 15),
  // (C, H, W, OH, OW, k, s, B, x, y)
  maxPool2d: poolRule("in", "out"),
  avgPool2d: poolRule("in", "out"),
  // (C, H, W, OH, OW, k, s, B, x, y, dy, dx)
  maxPool2dBackward: poolRule("in", "out", "out", "in"),
  // (C, H, W, OH, OW, k, s, B, dy, dx)
  avgPool2dBackward: poolRule("out", "in"),
};

// The arguments of a call on rows [lo, hi) of a kernel that splits by CSR rows: the offsets at `ptr` and the array
// at `out` (rowBytes per row) start at row lo, and so does the optional per-row vector at `vec` (0 stays 0).
function rowSlice(a: Args, lo: number, hi: number, ptr: number, out: number, rowBytes: number, vec?: number): Args {
  const r = a.slice();
  r[0] = hi - lo;
  r[ptr] = a[ptr]! + lo * F;
  r[out] = a[out]! + lo * rowBytes;
  if (vec !== undefined) r[vec] = opt(a[vec]!, lo * F);
  return r;
}

// CSR kernels (m, B, ...): rows costed by their entries, the [m, B] array at `out`.
function csrRule(ptr: number, out: number, vec?: number): Rule {
  return {
    units: (a) => a[0]!,
    ptr,
    work: (a, m) => (nnzOf(a, m, ptr, 0) + a[0]!) * a[1]!,
    part: (a, lo, hi) => rowSlice(a, lo, hi, ptr, out, a[1]! * F, vec),
  };
}

// Convolutions (C, OH/H, OW/W, ...): channels costed by their connections, each over a1·a2 positions of batch a[b].
function convRule(ptr: number, b: number, out: number, vec?: number): Rule {
  return {
    units: (a) => a[0]!,
    ptr,
    work: (a, m) => (nnzOf(a, m, ptr, 0) + a[0]!) * a[1]! * a[2]! * a[b]!,
    part: (a, lo, hi) => rowSlice(a, lo, hi, ptr, out, a[1]! * a[2]! * a[b]! * F, vec),
  };
}

// Element-wise kernels and optimizers: (n, p1..pk, scalars...), the k arrays sliced at the same index, in blocks of 4.
function stream(arrays: number): Rule {
  return {
    units: (a) => a[0]!,
    quantum: 4,
    work: (a) => a[0]!,
    part: (a, lo, hi) => a.map((v, i) => (i === 0 ? hi - lo : i <= arrays ? v + lo * F : v)),
  };
}

// Pools over channels: (C, H, W, OH, OW, k, s, B, p...), each p an input-shaped or output-shaped array.
function poolRule(...sides: ("in" | "out")[]): Rule {
  return {
    units: (a) => a[0]!,
    work: (a) => a[0]! * a[3]! * a[4]! * a[5]! * a[5]! * a[7]!,
    part: (a, lo, hi) => {
      const inC = a[1]! * a[2]! * a[7]! * F,
        outC = a[3]! * a[4]! * a[7]! * F;
      return [hi - lo, ...a.slice(1, 8), ...sides.map((side, i) => a[8 + i]! + lo * (side === "in" ? inC : outC))];
    },
  };
}

/**
 * Work below which a call runs on the calling thread alone, in the unit of each rule's `work`: (nnz + rows)·batch for
 * the CSR kernels, multiply-adds for dense, (entries + channels)·positions·batch for convolutions, taps·batch for
 * pools, elements for element-wise kernels and optimizers, classes·columns for softmax, features·samples for the
 * gather. From `node bench/thresholds.mjs` (2 threads; the fastest of many calls, split and not split, each call after
 * a 1 ms pause so that it pays to wake a worker, as a call that follows other work does): about the work from which
 * the split won by ≥ 5% at two sizes in a row, rounded up; on the 2-core VM measured, a worker's wake-up costs tens of
 * µs, so that is 50–100 µs of single-thread work (csrSpmm: 0.87× at 839,680, 1.13× at 1,679,360; denseMatmul 1.11× at
 * 1,024,000). Calls that follow split calls at once find the workers awake and would pay from about a tenth of this
 * (csrSpmm 1.52× at 104,960 with no pause): the table keeps the cold figure, so the paper's network — every layer,
 * its gather and its optimizer steps — runs on the calling thread as it did before threads.
 * The optimizers use the warm figure (a step follows the backward pass at once): adamStep 1.76×, sgdStep 1.82× at
 * 105,172 values with no pause, 0.96× and 0.93× after a pause.
 */
export const THRESHOLDS: Record<string, number> = {
  csrSpmm: 1_000_000,
  csrSpmmBlock: 1_000_000,
  csrSpmmT: 1_000_000,
  csrSddmm: 1_000_000,
  rowSums: 1_000_000,
  denseMatmul: 1_000_000,
  denseGradW: 1_000_000,
  sparseConv2d: 2_000_000,
  sparseConv2dBackwardInput: 2_000_000,
  sparseConv2dBackwardWeights: 2_000_000,
  maxPool2d: 1_000_000,
  avgPool2d: 1_000_000,
  maxPool2dBackward: 1_000_000,
  avgPool2dBackward: 1_000_000,
  reluForward: 500_000,
  reluBackward: 500_000,
  addInPlace: 500_000,
  scaleInPlace: 500_000,
  softmax: 200_000,
  softmaxCrossEntropy: 200_000,
  adamStep: 100_000,
  sgdStep: 100_000,
  gatherColumns: 200_000,
  gatherSamples: 250_000,
};

/** Thresholds as an option: a number for every kernel (0 splits every call), or some kernels' own. */
export type ThresholdOption = number | Partial<Record<string, number>>;

const cost = (u: number, m: Int32Array, ptr: number | undefined): number =>
  ptr === undefined ? u : m[ptr + u]! - m[ptr]! + u;

/**
 * Chunk boundaries over [0, units): `count` slices of about equal cost, starting at multiples of `q`. The cost of units
 * [0, u) is u, plus the CSR entries of rows [0, u) when `ptr` (an i32 index into `m`) locates the row offsets.
 */
function boundaries(units: number, count: number, q: number, m: Int32Array, ptr: number | undefined): number[] {
  const total = cost(units, m, ptr);
  const cuts = [0];
  for (let j = 1; j < count; j++) {
    const target = (total * j) / count;
    let lo = 0,
      hi = units;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cost(mid, m, ptr) < target) lo = mid + 1;
      else hi = mid;
    }
    const u = Math.min(units, Math.round(lo / q) * q);
    if (u > cuts.at(-1)! && u < units) cuts.push(u);
  }
  cuts.push(units);
  return cuts;
}

/**
 * The engine's kernels with every splittable one dispatching over the pool: below its threshold, or when it would
 * make one chunk, a call goes straight to the kernel; otherwise it is cut into chunks of its outputs, and the pool
 * runs them (the calling thread takes its share). `poolFor` gives the pool when a call would split — an engine whose
 * threads were defaulted launches it then — or nothing; while it has no live worker (none up yet, or none left) the
 * call runs whole on the calling thread, exactly as on one thread.
 */
export function threadedKernels(
  raw: Kernels,
  threads: number,
  poolFor: () => ThreadPool | undefined,
  kernelNames: readonly string[],
  scratch: (bytes: number) => number,
  thresholds?: ThresholdOption,
): Kernels {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw) as (keyof Kernels)[]) out[key] = raw[key];
  const memory = raw.memory;
  let i32 = new Int32Array(memory.buffer);
  const view = (): Int32Array => {
    if (i32.byteLength !== memory.buffer.byteLength) i32 = new Int32Array(memory.buffer);
    return i32;
  };
  let f64 = new Float64Array(memory.buffer);
  const view64 = (): Float64Array => {
    if (f64.byteLength !== memory.buffer.byteLength) f64 = new Float64Array(memory.buffer);
    return f64;
  };
  for (const [name, rule] of Object.entries(SPLIT_RULES) as [KernelName, Rule][]) {
    const fn = raw[name] as (...a: number[]) => unknown;
    const k = kernelNames.indexOf(name);
    if (k < 0) continue;
    const limit = typeof thresholds === "number" ? thresholds : (thresholds?.[name] ?? THRESHOLDS[name] ?? 0);
    const quantum = rule.quantum ?? 1;
    out[name] = (...a: number[]) => {
      const m = view();
      const work = rule.work(a, m);
      if (work < limit) return fn(...a);
      const q = typeof quantum === "number" ? quantum : quantum(a);
      const units = rule.units(a);
      const count = Math.min(MAX_CHUNKS, threads * (work >= 8 * limit && limit > 0 ? 4 : 1), Math.ceil(units / q));
      if (count < 2) return fn(...a);
      const pool = poolFor();
      if (pool === undefined || !pool.usable || pool.alive() === 0) return fn(...a);
      const cuts = boundaries(units, count, q, m, rule.ptr === undefined ? undefined : a[rule.ptr]! >>> 2);
      if (cuts.length < 3) return fn(...a);
      const bytes = rule.scratch?.(a) ?? 0;
      const block = bytes > 0 ? scratch(bytes) : 0;
      const parts: Args[] = [];
      for (let c = 0; c + 1 < cuts.length; c++) parts.push(rule.part(a, cuts[c]!, cuts[c + 1]!, block));
      pool.run(k, fn, parts);
      return rule.finish?.(a, block, view64());
    };
  }
  return out as unknown as Kernels;
}
