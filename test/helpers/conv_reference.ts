// The spec: plain float64 dense convolution and pooling over feature-major [C·H·W, B] activations, written
// straight from the definitions with every bounds check spelled out, and their hand-written gradients.
import type { Pool2dGeometry } from "../../src/ops/pool2d.js";
import type { Conv2dGeometry } from "../../src/ops/sparse_conv2d.js";
import type { Pattern } from "../../src/sparsity/pattern.js";

/** The geometry the reference reads; the same fields as the layer's, with stride and padding spelled out. */
export type ConvGeom = Required<Conv2dGeometry>;

export const outSize = (n: number, k: number, s: number, p: number): number => Math.floor((n + 2 * p - k) / s) + 1;

/**
 * For each stored value (storage order: output channel, connected input channel ascending, stored taps row-major)
 * its index in the dense [outC, inC, kh, kw] weight tensor.
 */
export function storedIndex(g: ConvGeom, p: Pattern, taps?: ArrayLike<number | boolean>): number[] {
  const K = g.kh * g.kw;
  const out: number[] = [];
  for (let o = 0; o < g.outC; o++) {
    for (let q = p.rowPtr[o]!; q < p.rowPtr[o + 1]!; q++) {
      const c = p.colIdx[q]!;
      for (let t = 0; t < K; t++) {
        const on = taps === undefined ? true : taps.length === K ? taps[t] : taps[q * K + t];
        if (on) out.push(((o * g.inC + c) * g.kh + Math.floor(t / g.kw)) * g.kw + (t % g.kw));
      }
    }
  }
  return out;
}

/** The dense [outC, inC, kh, kw] weights: stored values at their places, zero elsewhere. */
export function denseWeights(g: ConvGeom, index: number[], values: ArrayLike<number>): Float64Array {
  const w = new Float64Array(g.outC * g.inC * g.kh * g.kw);
  index.forEach((d, j) => (w[d] = values[j]!));
  return w;
}

/** Y[o,oy,ox,b] = bias[o] + Σ_{c,ky,kx} w[o,c,ky,kx]·X[c, oy·s−p+ky, ox·s−p+kx, b] (out-of-image terms are zero). */
export function conv2d(
  g: ConvGeom,
  w: ArrayLike<number>,
  x: ArrayLike<number>,
  B: number,
  bias?: ArrayLike<number>,
  relu = false,
): Float64Array {
  const OH = outSize(g.H, g.kh, g.stride, g.padding),
    OW = outSize(g.W, g.kw, g.stride, g.padding);
  const y = new Float64Array(g.outC * OH * OW * B);
  for (let o = 0; o < g.outC; o++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let b = 0; b < B; b++) {
          let s = bias ? bias[o]! : 0;
          for (let c = 0; c < g.inC; c++)
            for (let ky = 0; ky < g.kh; ky++)
              for (let kx = 0; kx < g.kw; kx++) {
                const iy = oy * g.stride - g.padding + ky,
                  ix = ox * g.stride - g.padding + kx;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                s += w[((o * g.inC + c) * g.kh + ky) * g.kw + kx]! * x[((c * g.H + iy) * g.W + ix) * B + b]!;
              }
          y[((o * OH + oy) * OW + ox) * B + b] = relu ? Math.max(s, 0) : s;
        }
  return y;
}

/** dX[c,iy,ix,b] = Σ over (o, oy, ox, ky, kx) with oy·s−p+ky = iy, ox·s−p+kx = ix of w·dY[o,oy,ox,b]. */
export function conv2dBackwardInput(g: ConvGeom, w: ArrayLike<number>, dy: ArrayLike<number>, B: number): Float64Array {
  const OH = outSize(g.H, g.kh, g.stride, g.padding),
    OW = outSize(g.W, g.kw, g.stride, g.padding);
  const dx = new Float64Array(g.inC * g.H * g.W * B);
  for (let o = 0; o < g.outC; o++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < g.inC; c++)
          for (let ky = 0; ky < g.kh; ky++)
            for (let kx = 0; kx < g.kw; kx++) {
              const iy = oy * g.stride - g.padding + ky,
                ix = ox * g.stride - g.padding + kx;
              if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
              const wv = w[((o * g.inC + c) * g.kh + ky) * g.kw + kx]!;
              for (let b = 0; b < B; b++)
                dx[((c * g.H + iy) * g.W + ix) * B + b] += wv * dy[((o * OH + oy) * OW + ox) * B + b]!;
            }
  return dx;
}

/** dW[o,c,ky,kx] = Σ_{oy,ox,b} dY[o,oy,ox,b]·X[c, oy·s−p+ky, ox·s−p+kx, b] (dense; gather the stored ones). */
export function conv2dBackwardWeights(
  g: ConvGeom,
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  B: number,
): Float64Array {
  const OH = outSize(g.H, g.kh, g.stride, g.padding),
    OW = outSize(g.W, g.kw, g.stride, g.padding);
  const dw = new Float64Array(g.outC * g.inC * g.kh * g.kw);
  for (let o = 0; o < g.outC; o++)
    for (let c = 0; c < g.inC; c++)
      for (let ky = 0; ky < g.kh; ky++)
        for (let kx = 0; kx < g.kw; kx++) {
          let s = 0;
          for (let oy = 0; oy < OH; oy++)
            for (let ox = 0; ox < OW; ox++) {
              const iy = oy * g.stride - g.padding + ky,
                ix = ox * g.stride - g.padding + kx;
              if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
              for (let b = 0; b < B; b++)
                s += dy[((o * OH + oy) * OW + ox) * B + b]! * x[((c * g.H + iy) * g.W + ix) * B + b]!;
            }
          dw[((o * g.inC + c) * g.kh + ky) * g.kw + kx] = s;
        }
  return dw;
}

/** db[o] = Σ_{oy,ox,b} dY[o,oy,ox,b]. */
export function conv2dBackwardBias(outC: number, positions: number, dy: ArrayLike<number>, B: number): Float64Array {
  const db = new Float64Array(outC);
  for (let o = 0; o < outC; o++) for (let i = 0; i < positions * B; i++) db[o] += dy[o * positions * B + i]!;
  return db;
}

export type PoolGeom = Required<Pool2dGeometry>;

const poolOut = (g: PoolGeom) =>
  [Math.floor((g.H - g.k) / g.stride) + 1, Math.floor((g.W - g.k) / g.stride) + 1] as const;

/** Window max (mean); for max also the input row of the first maximum of each output element. */
export function pool2d(
  kind: "max" | "avg",
  g: PoolGeom,
  x: ArrayLike<number>,
  B: number,
): { y: Float64Array; arg: Int32Array } {
  const [OH, OW] = poolOut(g);
  const y = new Float64Array(g.C * OH * OW * B),
    arg = new Int32Array(y.length);
  for (let c = 0; c < g.C; c++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let b = 0; b < B; b++) {
          let best = -Infinity,
            at = -1,
            sum = 0;
          for (let ky = 0; ky < g.k; ky++)
            for (let kx = 0; kx < g.k; kx++) {
              const r = (c * g.H + oy * g.stride + ky) * g.W + ox * g.stride + kx;
              const v = x[r * B + b]!;
              sum += v;
              if (v > best) {
                best = v;
                at = r;
              }
            }
          const i = ((c * OH + oy) * OW + ox) * B + b;
          y[i] = kind === "max" ? best : sum / (g.k * g.k);
          arg[i] = at;
        }
  return { y, arg };
}

/** Max: dX[arg] += dY (first maximum); avg: dY/k² to each tap of the window. */
export function pool2dBackward(
  kind: "max" | "avg",
  g: PoolGeom,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  B: number,
): Float64Array {
  const [OH, OW] = poolOut(g);
  const { arg } = pool2d("max", g, x, B);
  const dx = new Float64Array(g.C * g.H * g.W * B);
  for (let c = 0; c < g.C; c++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let b = 0; b < B; b++) {
          const i = ((c * OH + oy) * OW + ox) * B + b;
          if (kind === "max") dx[arg[i]! * B + b] += dy[i]!;
          else
            for (let ky = 0; ky < g.k; ky++)
              for (let kx = 0; kx < g.k; kx++)
                dx[((c * g.H + oy * g.stride + ky) * g.W + ox * g.stride + kx) * B + b] += dy[i]! / (g.k * g.k);
        }
  return dx;
}
