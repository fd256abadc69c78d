import { describe, expect, it } from "vitest";
import { lineChart, logTicks, ticks } from "../src/report/svg.js";

describe("SVG charts", () => {
  it("place every point inside the plot, even when a log axis gets x ≤ 0", () => {
    const svg = lineChart({
      title: "t <&>",
      xLabel: "x",
      yLabel: "y",
      logX: true,
      series: [
        {
          name: "a",
          points: [
            { x: 0, y: 1 },
            { x: -3, y: 2 },
            { x: 10, y: 3 },
            { x: 1000, y: 4 },
          ],
        },
      ],
    });
    expect(svg).not.toContain("NaN");
    expect(svg).toContain("t &lt;&amp;&gt;");
    const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)];
    expect(circles).toHaveLength(2);
    for (const [, cx, cy] of circles) {
      expect(Number(cx)).toBeGreaterThanOrEqual(64);
      expect(Number(cx)).toBeLessThanOrEqual(640 - 24);
      expect(Number(cy)).toBeGreaterThanOrEqual(40);
      expect(Number(cy)).toBeLessThanOrEqual(400 - 52);
    }
  });

  it("ticks cover their range at round steps", () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(logTicks(1900, 35000)).toEqual([2000, 5000, 10000, 20000]);
  });
});
