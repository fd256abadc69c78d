import { describe, expect, it } from "vitest";
import { renderVegaLite } from "../src/node/charts.js";
import { frontSpecs, type FrontKind, type FrontPoint } from "../src/node/pareto.js";
import { seedStats, type SeedRun } from "../src/node/study.js";
import { errorBarChart, lineChartSpec, spansDecades } from "../src/report/vegalite.js";
import { parseXml } from "./helpers/xml.js";

function point(kind: FrontKind, label: string, parameters: number, accs: number[], exitRates: number[]): FrontPoint {
  const runs: SeedRun[] = accs.map((a, seed) => ({
    seed,
    accuracyFinal: a,
    accuracyExit: a - 0.01,
    accuracySystem: a - 0.005,
    exitRate: exitRates[seed]!,
    meanMacs: parameters,
    bytesSent: (1 - exitRates[seed]!) * 84,
    policy: "maxprob:0.6",
    secondsPerEpoch: 0.01,
  }));
  const shape = { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10] };
  return { kind, label, shape, parameters, fileBytes: 4 * parameters, macs: parameters, runs, stats: seedStats(runs) };
}

describe("charts (Vega-Lite rendered headless)", () => {
  it("the parse check rejects what is not well-formed", () => {
    expect(parseXml('<svg a="1"><g><text>x &amp; y</text></g></svg>').texts).toEqual(["x &amp; y"]);
    for (const bad of ["<svg><g></svg>", '<svg a="1" a="2"/>', "<svg>a & b</svg>", "<svg a=1/>", "<a/><b/>"])
      expect(() => parseXml(bad), bad).toThrow(/not well-formed/);
  });

  it("each front chart renders to valid SVG with every series in its legend, and its spec beside it", async () => {
    const points = [
      point("sparse", "sparse (2,9,10)", 2860, [0.89, 0.9, 0.895], [0.9, 0.85, 0.88]),
      point("sparse", "sparse (8,9,10)", 7660, [0.92, 0.915, 0.925], [0.95, 0.9, 0.92]),
      point("dense-narrow", "dense 800-3-3-10", 2495, [0.6, 0.75, 0.7], [1, 1, 1]),
      point("dense", "dense 800-40-40-10", 34500, [0.93, 0.935, 0.94], [1, 0.98, 1]),
    ];
    const specs = frontSpecs(points, 3);
    expect(specs.map((s) => s.stem)).toEqual([
      "front-accuracy-vs-parameters",
      "front-accuracy-vs-macs",
      "front-accuracy-vs-bytes-sent",
    ]);
    for (const { spec } of specs) {
      const svg = await renderVegaLite(spec as Record<string, unknown>);
      const doc = parseXml(svg);
      expect(doc.root).toBe("svg");
      for (const name of ["predefined sparse", "dense-narrow", "dense twin"]) expect(doc.texts).toContain(name);
      // one error bar (a rule) per point in y, and the points themselves
      expect(svg.match(/class="mark-rule role-mark/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
      expect(svg).toContain("95% CI over 3 seeds");
      expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
    }
    // parameters and MACs span a decade: log axes; bytes sent start at 0: linear
    const x = (i: number) => (specs[i]!.spec as { layer: { encoding: { x: { scale: object } } }[] }).layer[0]!;
    expect(x(0).encoding.x.scale).toEqual({ type: "log" });
    expect(x(2).encoding.x.scale).toEqual({ zero: false, nice: true });
  });

  it("a line chart renders to valid SVG with one line per series", async () => {
    const spec = lineChartSpec({
      title: "curves",
      xTitle: "x",
      yTitle: "y",
      series: ["sparse", "dense"].map((name, k) => ({
        name,
        points: [1, 10, 100].map((x) => ({ x, y: k + Math.log10(x), label: `t${x}` })),
      })),
    });
    const svg = await renderVegaLite(spec);
    const doc = parseXml(svg);
    for (const name of ["sparse", "dense"]) expect(doc.texts).toContain(name);
    // vega draws a line series as its own group of the line mark
    expect(svg.match(/class="mark-line role-mark/g)).toHaveLength(2);
  });

  it("draws nothing from outside: a spec that names a URL fails instead of fetching it", async () => {
    const spec = { ...errorBarChart({ title: "t", xTitle: "x", yTitle: "y", points: [] }), data: { url: "x.json" } };
    await expect(renderVegaLite(spec)).rejects.toThrow(/charts load nothing/);
    expect(spansDecades([1, 10])).toBe(true);
    expect(spansDecades([0, 100])).toBe(false);
  });
});
