// Y[o,oy,ox,:] = b[o] + Σ_{(c,ky,kx) stored} W·X[c, oy·s−p+ky, ox·s−p+kx, :];
// dX = convᵀ(dY);  dW = (dY ⋆ X) on stored taps
import type { Engine } from "../engine/engine.js";
import { PatternError, ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import type { Pattern } from "../sparsity/pattern.js";
import { F32Buffer, I32Buffer, checkActs, checkOperands, type Matrix } from "../engine/buffers.js";

const MAX_KERNEL = 0xffff;

/** Spatial extent of a convolution output: ⌊(n + 2p − k)/s⌋ + 1 (zero padding p each side, stride s). */
export function convOutputSize(n: number, k: number, s: number, p: number): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

/** Sizes of a 2-D convolution over [inC, H, W] images, each output channel a kh×kw kernel per connection. */
export interface Conv2dGeometry {
  inC: number;
  outC: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  /** Default 1. */
  stride?: number;
  /** Zero padding on every side; default 0. */
  padding?: number;
}

/** The geometry's fields, in the order a model file stores them. */
export const CONV_GEOMETRY_KEYS = ["inC", "outC", "H", "W", "kh", "kw", "stride", "padding"] as const;

export interface ConvWeightsOptions {
  /** Initial values in storage order (see {@link ConvWeights}). */
  values?: ArrayLike<number>;
  /**
   * Kernel-tap mask: kh·kw entries (the same taps for every connection) or pattern.nnz·kh·kw (per connection, in
   * the channel pattern's CSR order), row-major over (ky, kx); non-zero = stored. Default: every tap.
   */
  taps?: ArrayLike<number | boolean>;
}

/**
 * The weights of a channel-sparse convolution: a channel pattern (inputs = in channels, outputs = out channels),
 * each connection a kh×kw kernel of which the taps in the mask are stored. Storage is CSR over rows = output
 * channels and columns = c·kh·kw + ky·kw + kx, so the values run: output channel o, then its connected input
 * channels c in increasing order, then the stored taps of (o, c) row-major. nnz = stored taps
 * (pattern.nnz·kh·kw without a tap mask). Index arrays for the forward gather and its transpose are built once.
 */
export class ConvWeights {
  readonly inC: number;
  readonly outC: number;
  readonly H: number;
  readonly W: number;
  readonly kh: number;
  readonly kw: number;
  readonly stride: number;
  readonly padding: number;
  readonly outH: number;
  readonly outW: number;
  /** Stored taps = length of values. */
  readonly nnz: number;
  /** Per connection × tap (pattern.nnz·kh·kw), 1 = stored; undefined when every tap is stored. */
  readonly tapMask: Uint8Array | undefined;
  readonly values: F32Buffer;
  readonly fwdPtr: I32Buffer;
  readonly fwdOff: I32Buffer;
  readonly fwdTap: I32Buffer;
  readonly bwdPtr: I32Buffer;
  readonly bwdOff: I32Buffer;
  readonly bwdTap: I32Buffer;
  readonly bwdPerm: I32Buffer;
  /** Row pointers of the values over output channels (outC + 1). */
  readonly rowPtr: Int32Array;
  private readonly macs: number;

  /** The checked geometry, stride and padding filled in. */
  get geometry(): Required<Conv2dGeometry> {
    return Object.fromEntries(CONV_GEOMETRY_KEYS.map((k) => [k, this[k]])) as Required<Conv2dGeometry>;
  }

  constructor(
    readonly engine: Engine,
    geometry: Conv2dGeometry,
    readonly pattern: Pattern,
    opts: ConvWeightsOptions = {},
  ) {
    const op = "ConvWeights";
    const g = checkGeometry(op, geometry);
    ({
      inC: this.inC,
      outC: this.outC,
      H: this.H,
      W: this.W,
      kh: this.kh,
      kw: this.kw,
      stride: this.stride,
      padding: this.padding,
    } = g);
    this.outH = convOutputSize(g.H, g.kh, g.stride, g.padding);
    this.outW = convOutputSize(g.W, g.kw, g.stride, g.padding);
    if (pattern.inputs !== g.inC || pattern.outputs !== g.outC) {
      throw new PatternError(
        `${op}: channel pattern is ${pattern.inputs}→${pattern.outputs}, layer is ${g.inC}→${g.outC} channels`,
      );
    }
    const K = g.kh * g.kw;
    this.tapMask = expandTaps(op, opts.taps, pattern.nnz, K);
    const mask = this.tapMask;
    const stored = (p: number, t: number) => mask === undefined || mask[p * K + t] !== 0;

    // forward entries, CSR over output channels; first stored value of each connection
    const connStart = new Int32Array(pattern.nnz + 1);
    for (let p = 0; p < pattern.nnz; p++) {
      let n = 0;
      for (let t = 0; t < K; t++) if (stored(p, t)) n++;
      connStart[p + 1] = connStart[p]! + n;
    }
    this.nnz = connStart[pattern.nnz]!;
    checkInt(op, "stored taps", this.nnz, 0, 2 ** 31 - 1);
    if (opts.values && opts.values.length !== this.nnz)
      throw new ShapeError(`${op}: ${opts.values.length} values for ${this.nnz} stored taps`);
    const plane = g.H * g.W,
      planeO = this.outH * this.outW;
    const rowPtr = Int32Array.from(pattern.rowPtr, (p) => connStart[p]!);
    const fOff = new Int32Array(this.nnz),
      fTap = new Int32Array(this.nnz);
    for (let p = 0, j = 0; p < pattern.nnz; p++) {
      const c = pattern.colIdx[p]!;
      for (let t = 0; t < K; t++) {
        if (!stored(p, t)) continue;
        const ky = Math.floor(t / g.kw),
          kx = t % g.kw;
        fOff[j] = c * plane + ky * g.W + kx;
        fTap[j++] = (ky << 16) | kx;
      }
    }
    // transposed entries, CSR over input channels through the pattern's CSC view
    const bPtr = new Int32Array(g.inC + 1);
    const bOff = new Int32Array(this.nnz),
      bTap = new Int32Array(this.nnz),
      bPerm = new Int32Array(this.nnz);
    let j = 0;
    for (let c = 0; c < g.inC; c++) {
      for (let q = pattern.colPtr[c]!; q < pattern.colPtr[c + 1]!; q++) {
        const p = pattern.perm[q]!,
          o = pattern.rowIdx[q]!;
        let v = connStart[p]!;
        for (let t = 0; t < K; t++) {
          if (!stored(p, t)) continue;
          const ky = Math.floor(t / g.kw),
            kx = t % g.kw;
          bOff[j] = o * planeO - ky * this.outW - kx;
          bTap[j] = (ky << 16) | kx;
          bPerm[j++] = v++;
        }
      }
      bPtr[c + 1] = j;
    }
    let macs = 0;
    for (let e = 0; e < this.nnz; e++) {
      macs +=
        validCount(fTap[e]! >>> 16, g.H, this.outH, g.stride, g.padding) *
        validCount(fTap[e]! & 0xffff, g.W, this.outW, g.stride, g.padding);
    }
    this.macs = macs;
    this.rowPtr = rowPtr;
    this.fwdPtr = I32Buffer.from(engine, rowPtr);
    this.fwdOff = I32Buffer.from(engine, fOff);
    this.fwdTap = I32Buffer.from(engine, fTap);
    this.bwdPtr = I32Buffer.from(engine, bPtr);
    this.bwdOff = I32Buffer.from(engine, bOff);
    this.bwdTap = I32Buffer.from(engine, bTap);
    this.bwdPerm = I32Buffer.from(engine, bPerm);
    this.values = new F32Buffer(engine, this.nnz);
    if (opts.values) this.values.view().set(opts.values);
  }

  /** Features per sample in (inC·H·W) and out (outC·outH·outW). */
  get inputSize(): number {
    return this.inC * this.H * this.W;
  }
  get outputSize(): number {
    return this.outC * this.outH * this.outW;
  }

  /** Multiply-accumulates per sample: stored taps × the output positions where the tap lands inside the image. */
  macsPerSample(): number {
    return this.macs;
  }

  /** True after dispose(). */
  get disposed(): boolean {
    return this.values.disposed;
  }

  dispose(): void {
    for (const b of [
      this.values,
      this.fwdPtr,
      this.fwdOff,
      this.fwdTap,
      this.bwdPtr,
      this.bwdOff,
      this.bwdTap,
      this.bwdPerm,
    ])
      b.dispose();
  }
}

// Output positions o < outN with o·s − p + k inside [0, n).
function validCount(k: number, n: number, outN: number, s: number, p: number): number {
  const lo = Math.max(0, Math.ceil((p - k) / s));
  const hi = Math.min(outN - 1, Math.floor((n - 1 + p - k) / s));
  return Math.max(0, hi - lo + 1);
}

function checkGeometry(op: string, g: Conv2dGeometry): Required<Conv2dGeometry> {
  const r = { ...g, stride: g.stride ?? 1, padding: g.padding ?? 0 };
  checkInt(op, "inC", r.inC, 1, 1 << 20);
  checkInt(op, "outC", r.outC, 1, 1 << 20);
  checkInt(op, "H", r.H, 1, 1 << 16);
  checkInt(op, "W", r.W, 1, 1 << 16);
  checkInt(op, "kh", r.kh, 1, MAX_KERNEL);
  checkInt(op, "kw", r.kw, 1, MAX_KERNEL);
  checkInt(op, "stride", r.stride, 1, 1 << 16);
  checkInt(op, "padding", r.padding, 0, 1 << 16);
  if (r.H + 2 * r.padding < r.kh || r.W + 2 * r.padding < r.kw) {
    throw new ShapeError(
      `${op}: kernel ${r.kh}×${r.kw} is larger than the padded input ${r.H + 2 * r.padding}×${r.W + 2 * r.padding} ` +
        `(H ${r.H}, W ${r.W}, padding ${r.padding})`,
    );
  }
  const outSize =
    r.outC * convOutputSize(r.H, r.kh, r.stride, r.padding) * convOutputSize(r.W, r.kw, r.stride, r.padding);
  if (r.inC * r.H * r.W > 2 ** 31 - 1 || outSize > 2 ** 31 - 1)
    throw new ValidationError(`${op}: activations of ${r.inC}×${r.H}×${r.W} or ${outSize} features exceed 2^31 − 1`);
  return r;
}

function expandTaps(
  op: string,
  taps: ArrayLike<number | boolean> | undefined,
  conns: number,
  K: number,
): Uint8Array | undefined {
  if (taps === undefined) return undefined;
  if (taps.length !== K && taps.length !== conns * K) {
    throw new ShapeError(
      `${op}: tap mask has ${taps.length} entries, expected kh·kw = ${K} or connections·kh·kw = ${conns * K}`,
    );
  }
  const m = new Uint8Array(conns * K);
  for (let i = 0; i < m.length; i++) m[i] = taps[taps.length === K ? i % K : i] ? 1 : 0;
  return m.every((v) => v === 1) ? undefined : m;
}

/** Y = conv(X) (+ bias) (ReLU). Shapes: X [inC·H·W, B], Y [outC·outH·outW, B], bias [outC]. */
export function sparseConv2d(
  Wt: ConvWeights,
  X: Matrix,
  Y: Matrix,
  opts: { bias?: F32Buffer; relu?: boolean } = {},
): Matrix {
  const op = "sparseConv2d";
  checkOperands(op, Wt, X, Y, opts.bias);
  checkActs(op, "X", X, "Y", Y, Wt.inputSize, Wt.outputSize);
  if (opts.bias && opts.bias.length !== Wt.outC)
    throw new ShapeError(`${op}: bias has ${opts.bias.length} entries, layer has ${Wt.outC} output channels`);
  Wt.engine.kernels.sparseConv2d(
    Wt.outC,
    Wt.outH,
    Wt.outW,
    Wt.H,
    Wt.W,
    Wt.kh,
    Wt.kw,
    Wt.stride,
    Wt.padding,
    Wt.padding,
    X.cols,
    Wt.fwdPtr.ptr,
    Wt.fwdOff.ptr,
    Wt.fwdTap.ptr,
    Wt.values.ptr,
    X.ptr,
    opts.bias?.ptr ?? 0,
    Y.ptr,
    opts.relu ? 1 : 0,
  );
  return Y;
}

/**
 * dX = convᵀ(dY): the gradient of the convolution with respect to its input. Shapes: dY [outC·outH·outW, B],
 * dX [inC·H·W, B].
 */
export function sparseConv2dBackward(Wt: ConvWeights, dY: Matrix, dX: Matrix): Matrix {
  const op = "sparseConv2dBackward";
  checkOperands(op, Wt, dY, dX);
  checkActs(op, "dY", dY, "dX", dX, Wt.outputSize, Wt.inputSize);
  Wt.engine.kernels.sparseConv2dBackwardInput(
    Wt.inC,
    Wt.H,
    Wt.W,
    Wt.outH,
    Wt.outW,
    Wt.kh,
    Wt.kw,
    Wt.stride,
    Wt.padding,
    Wt.padding,
    dY.cols,
    Wt.bwdPtr.ptr,
    Wt.bwdOff.ptr,
    Wt.bwdTap.ptr,
    Wt.bwdPerm.ptr,
    Wt.values.ptr,
    dY.ptr,
    dX.ptr,
  );
  return dX;
}

/** dValues = Σ_{positions, batch} dY ⊗ X at the stored taps only; dBias[o] = Σ_{positions, batch} dY[o]. */
export function sparseConv2dBackwardWeights(
  Wt: ConvWeights,
  dY: Matrix,
  X: Matrix,
  dValues: F32Buffer,
  dBias?: F32Buffer,
): F32Buffer {
  const op = "sparseConv2dBackwardWeights";
  checkOperands(op, Wt, dY, X, dValues, dBias);
  checkActs(op, "X", X, "dY", dY, Wt.inputSize, Wt.outputSize);
  if (dValues.length !== Wt.nnz)
    throw new ShapeError(`${op}: dValues has ${dValues.length} entries, layer stores ${Wt.nnz} taps`);
  if (dBias && dBias.length !== Wt.outC)
    throw new ShapeError(`${op}: dBias has ${dBias.length} entries, layer has ${Wt.outC} output channels`);
  Wt.engine.kernels.sparseConv2dBackwardWeights(
    Wt.outC,
    Wt.outH,
    Wt.outW,
    Wt.H,
    Wt.W,
    Wt.stride,
    Wt.padding,
    Wt.padding,
    X.cols,
    Wt.fwdPtr.ptr,
    Wt.fwdOff.ptr,
    Wt.fwdTap.ptr,
    dY.ptr,
    X.ptr,
    dValues.ptr,
    dBias?.ptr ?? 0,
  );
  return dValues;
}
