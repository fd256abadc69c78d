import { describe, expect, it } from "vitest";
import {
  differenceInterval,
  formatInterval,
  interval,
  logGamma,
  mean,
  overlaps,
  sd,
  tCdf,
  tQuantile,
} from "../src/report/stats.js";

// golden numbers from scipy 1.x: scipy.stats.t.ppf / t.cdf / t.interval / ttest_ind(equal_var=False)
const T975: [number, number][] = [
  [1, 12.706204736174694],
  [2, 4.302652729749462],
  [3, 3.1824463052837078],
  [4, 2.7764451051977934],
  [5, 2.5705818356363146],
  [9, 2.262157162798205],
  [10, 2.228138851986274],
  [30, 2.0422724563012378],
  [100, 1.9839715185235518],
];

describe("stats", () => {
  it("t quantiles match scipy's to 1e-12 relative", () => {
    for (const [df, q] of T975) expect(Math.abs(tQuantile(0.975, df) - q) / q).toBeLessThan(1e-12);
    expect(tQuantile(0.95, 3)).toBeCloseTo(2.3533634348018233, 12);
    expect(tQuantile(0.995, 2)).toBeCloseTo(9.924843200918287, 11);
    expect(tQuantile(0.9, 1.5)).toBeCloseTo(2.1963984175655376, 12);
    expect(tQuantile(0.025, 4)).toBeCloseTo(-2.7764451051977934, 12);
    expect(tQuantile(0.5, 7)).toBeCloseTo(0, 12);
    expect(() => tQuantile(1, 3)).toThrow(RangeError);
  });

  it("the t CDF and ln Γ match known values", () => {
    expect(tCdf(1.5, 4)).toBeCloseTo(0.896, 12);
    expect(tCdf(-2.1, 7)).toBeCloseTo(0.036935598106461326, 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });

  it("mean, sd and the 95% interval of a mean match scipy's t.interval", () => {
    const xs = [0.8975, 0.901, 0.889, 0.895];
    expect(mean(xs)).toBeCloseTo(0.895625, 14);
    expect(sd(xs)).toBeCloseTo(0.005055937104039169, 14);
    const ci = interval(xs);
    expect(ci.low).toBeCloseTo(0.8875798758217519, 12);
    expect(ci.high).toBeCloseTo(0.9036701241782481, 12);
    expect(ci).toMatchObject({ n: 4, level: 0.95 });
    expect(formatInterval(ci)).toBe("89.56 ± 0.80");
  });

  it("one run has a mean and no interval; equal runs a zero-width one", () => {
    const one = interval([0.9]);
    expect(one.sd).toBe(0);
    expect(one.half).toBeNaN();
    expect(formatInterval(one)).toBe("90.00");
    expect(interval([0.5, 0.5, 0.5]).half).toBe(0);
    expect(formatInterval(undefined)).toBe("–");
  });

  it("Welch's difference interval matches scipy's ttest_ind(equal_var=False)", () => {
    const d = differenceInterval([0.9, 0.91, 0.92], [0.93, 0.935, 0.925, 0.94]);
    expect(d.low).toBeCloseTo(-0.04271163977461513, 12);
    expect(d.high).toBeCloseTo(-0.0022883602253847973, 12);
  });

  it("overlap is symmetric and counts a shared end point", () => {
    const a = interval([1, 2, 3]);
    const b = interval([3 + a.half * 2 - 0.5, 3 + a.half * 2 + 0.5]);
    expect(overlaps(a, b)).toBe(overlaps(b, a));
    expect(overlaps(interval([1, 1]), interval([1, 1]))).toBe(true);
    expect(overlaps(interval([1, 1]), interval([2, 2]))).toBe(false);
    expect(overlaps(interval([1]), interval([0, 2]))).toBe(true);
  });
});
