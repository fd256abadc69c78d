// Vega-Lite specifications of the study's charts: points with 95% error bars, one colour per series, the
// legend outside the plot, a log axis where the data spans a decade or more. Plain JSON, no dependency: a reader
// restyles the saved .vl.json; src/node/charts.ts renders it to SVG.

/** One point: a series, an x with an optional interval, a y interval (mean and bounds). */
export interface ErrorPoint {
  series: string;
  label: string;
  x: number;
  xLow?: number;
  xHigh?: number;
  y: number;
  yLow: number;
  yHigh: number;
}

/** The options of {@link errorBarChart}. */
export interface ErrorBarChart {
  title: string;
  xTitle: string;
  yTitle: string;
  points: ErrorPoint[];
  /** Log x axis: default when the positive x values span ≥ 10×. */
  logX?: boolean;
  width?: number;
  height?: number;
}

const finite = (v: number | undefined, fallback: number) => (v !== undefined && Number.isFinite(v) ? v : fallback);

/** What every chart's spec starts with: the schema, its title and size, and its data inline. */
function frame(c: { title: string; width?: number; height?: number }, values: unknown[]): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: c.title,
    width: c.width ?? 460,
    height: c.height ?? 300,
    data: { values },
  };
}

/** Whether positive values span a decade or more (and none is ≤ 0, which a log axis cannot place). */
export function spansDecades(xs: number[]): boolean {
  if (xs.length === 0 || xs.some((x) => !(x > 0))) return false;
  return Math.max(...xs) / Math.min(...xs) >= 10;
}

/** A Vega-Lite layered chart: error bars in y (and x when given) under filled points, one series per colour. */
export function errorBarChart(c: ErrorBarChart): Record<string, unknown> {
  const log = c.logX ?? spansDecades(c.points.map((p) => p.x));
  const values = c.points.map((p) => ({
    series: p.series,
    label: p.label,
    x: p.x,
    xLow: finite(p.xLow, p.x),
    xHigh: finite(p.xHigh, p.x),
    y: p.y,
    yLow: finite(p.yLow, p.y),
    yHigh: finite(p.yHigh, p.y),
  }));
  const x = {
    field: "x",
    type: "quantitative",
    title: c.xTitle,
    scale: log ? { type: "log" } : { zero: false, nice: true },
  };
  const y = { field: "y", type: "quantitative", title: c.yTitle, scale: { zero: false } };
  // one colour per series, its legend to the right of the plot (never over the data)
  const color = { field: "series", type: "nominal", title: null, legend: { orient: "right" } };
  const hasX = c.points.some((p) => p.xLow !== undefined && Number.isFinite(p.xLow));
  return {
    ...frame(c, values),
    encoding: { color },
    layer: [
      {
        mark: { type: "rule", strokeWidth: 1.2 },
        encoding: { x, y: { field: "yLow", type: "quantitative" }, y2: { field: "yHigh" } },
      },
      ...(hasX
        ? [
            {
              mark: { type: "rule", strokeWidth: 1.2 },
              encoding: { y, x: { field: "xLow", type: "quantitative" }, x2: { field: "xHigh" } },
            },
          ]
        : []),
      {
        mark: { type: "point", filled: true, size: 60, opacity: 0.9 },
        encoding: {
          x,
          y,
          tooltip: [
            { field: "label", title: "network" },
            { field: "x", title: c.xTitle, format: ",.4~g" },
            { field: "y", title: c.yTitle, format: ".2f" },
            { field: "yLow", title: "95% CI low", format: ".2f" },
            { field: "yHigh", title: "95% CI high", format: ".2f" },
          ],
        },
      },
    ],
    config: { legend: { labelLimit: 260 }, axis: { grid: true, gridOpacity: 0.4 } },
  };
}

/** The options of {@link lineChartSpec}: one line (with its points) per series. */
export interface LineChart {
  title: string;
  xTitle: string;
  yTitle: string;
  series: { name: string; points: { x: number; y: number; label?: string }[] }[];
  logX?: boolean;
  width?: number;
  height?: number;
}

/** A Vega-Lite line chart, one colour per series, points on the lines, the legend to the right of the plot. */
export function lineChartSpec(c: LineChart): Record<string, unknown> {
  const values = c.series.flatMap((s) =>
    s.points.map((p, order) => ({ series: s.name, x: p.x, y: p.y, label: p.label ?? "", order })),
  );
  const log = c.logX ?? spansDecades(values.map((v) => v.x));
  return {
    ...frame(c, values),
    mark: { type: "line", point: { filled: true, size: 30 } },
    encoding: {
      x: { field: "x", type: "quantitative", title: c.xTitle, scale: log ? { type: "log" } : { zero: false } },
      y: { field: "y", type: "quantitative", title: c.yTitle, scale: { zero: false } },
      color: { field: "series", type: "nominal", title: null, legend: { orient: "right" } },
      order: { field: "order", type: "quantitative" },
      tooltip: [
        { field: "series", title: "network" },
        { field: "label", title: "point" },
        { field: "x", title: c.xTitle, format: ",.4~g" },
        { field: "y", title: c.yTitle, format: ".2f" },
      ],
    },
    config: { legend: { labelLimit: 260 }, axis: { grid: true, gridOpacity: 0.4 } },
  };
}
