// Small-sample statistics for the study: mean, sample standard deviation, Student's t quantile and the 95%
// confidence interval of a mean over seeds. The t CDF is 1 − ½·I_{ν/(ν+t²)}(ν/2, ½) (regularized incomplete beta,
// Lentz's continued fraction); the quantile inverts it by bisection, so it is exact to a few ulps.

/** A mean over n runs with its sample standard deviation and two-sided confidence interval. */
export interface Interval {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); 0 for one run. */
  sd: number;
  /** Half-width of the interval: t(1 − α/2, n − 1) · sd / √n; NaN for one run (no interval exists). */
  half: number;
  low: number;
  high: number;
  /** Confidence level of the interval (0.95). */
  level: number;
}

/** Arithmetic mean; NaN for no values. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (Bessel's n − 1); 0 for one value, NaN for none. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return xs.length === 1 ? 0 : Number.NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

// Lanczos approximation (g = 7, 9 terms): |error| < 1e-15 for x > 0
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let h = d;
  for (let m = 1; m <= 300; m++) {
    for (const num of [
      (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)),
      -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1)),
    ]) {
      d = 1 + num * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      if (Math.abs(c) < tiny) c = tiny;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with ν degrees of freedom. */
export function tCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with ν degrees of freedom (0 < p < 1). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0))
    throw new RangeError(`tQuantile: needs 0 < p < 1 and df > 0, got p ${p}, df ${df}`);
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Mean and two-sided t confidence interval of `xs` (default 95%). */
export function interval(xs: readonly number[], level = 0.95): Interval {
  const n = xs.length;
  const m = mean(xs);
  const s = sd(xs);
  const half = n < 2 ? Number.NaN : s === 0 ? 0 : (tQuantile(1 - (1 - level) / 2, n - 1) * s) / Math.sqrt(n);
  return { n, mean: m, sd: s, half, low: m - half, high: m + half, level };
}

/** Whether two intervals share a point (an interval of one run is its mean). */
export function overlaps(a: Interval, b: Interval): boolean {
  const lo = (x: Interval) => (Number.isNaN(x.half) ? x.mean : x.low);
  const hi = (x: Interval) => (Number.isNaN(x.half) ? x.mean : x.high);
  return lo(a) <= hi(b) && lo(b) <= hi(a);
}

/** Welch's interval for the difference of means a − b (unequal variances, Welch–Satterthwaite degrees of freedom). */
export function differenceInterval(a: readonly number[], b: readonly number[], level = 0.95): Interval {
  const va = sd(a) ** 2 / a.length;
  const vb = sd(b) ** 2 / b.length;
  const m = mean(a) - mean(b);
  const se = Math.sqrt(va + vb);
  const n = Math.min(a.length, b.length);
  let half = Number.NaN;
  if (a.length >= 2 && b.length >= 2)
    half =
      se === 0
        ? 0
        : tQuantile(1 - (1 - level) / 2, (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1))) * se;
  return { n, mean: m, sd: se, half, low: m - half, high: m + half, level };
}

/** `mean ± half` in the given scale and digits, e.g. `89.75 ± 0.41` (one run: the mean alone). */
export function formatInterval(x: Interval | undefined, scale = 100, digits = 2): string {
  if (!x || !Number.isFinite(x.mean)) return "–";
  const m = (scale * x.mean).toFixed(digits);
  return Number.isFinite(x.half) ? `${m} ± ${(scale * x.half).toFixed(digits)}` : m;
}
