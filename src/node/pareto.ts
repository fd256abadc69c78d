// The Pareto front of the study: predefined-sparse networks across first- and second-layer out-degrees and
// dense-narrow networks at matched parameter budgets, each over the same seeds; and the paper's headline tested
// against it — the largest storage and MAC reduction whose accuracy interval still overlaps the dense twin's.
import type { Dataset } from "../nn/dataset.js";
import type { Engine } from "../engine/engine.js";
import { exitMacs } from "../exits/runner.js";
import { encodeModel } from "../io/model_io.js";
import { differenceInterval, formatInterval, overlaps, type Interval } from "../report/stats.js";
import { errorBarChart } from "../report/vegalite.js";
import { seedStats, trainSeed, type Recipe, type SeedRun, type SeedStats, type Shape } from "./study.js";

export type FrontKind = "sparse" | "dense-narrow" | "dense";

/** One configuration over every seed. */
export interface FrontPoint {
  kind: FrontKind;
  label: string;
  shape: Shape;
  /** Stored weights and biases, exit head included. */
  parameters: number;
  /** Model file bytes (safetensors, exit head included). */
  fileBytes: number;
  /** MACs per sample of the final classifier (the whole trunk). */
  macs: number;
  runs: SeedRun[];
  stats: SeedStats;
  /** On the front: no other point has as few or fewer parameters and a higher mean final accuracy. */
  pareto?: boolean;
}

/** The configurations of a front: sparse first × second-layer out-degrees, dense-narrow hidden widths. */
export interface FrontGrid {
  firstDegrees: number[];
  secondDegrees: number[];
  narrowWidths: number[];
}

/** `--sweep`: a few points either side of the paper's network, sized for a quick run. */
export const QUICK_GRID: FrontGrid = { firstDegrees: [1, 8], secondDegrees: [9], narrowWidths: [8] };
/** `--full`: the grid of the study. */
export const FULL_GRID: FrontGrid = {
  firstDegrees: [1, 2, 4, 8, 16],
  secondDegrees: [3, 9, 20],
  narrowWidths: [2, 3, 5, 8, 12, 20],
};

/** The label of a shape: `sparse (2,9,10)`, `dense 800-8-8-10`. */
export function shapeLabel(s: Shape): string {
  const dense = s.outDegrees.every((d, i) => d >= s.sizes[i + 1]!);
  return dense ? `dense ${s.sizes.join("-")}` : `sparse (${s.outDegrees.join(",")})`;
}

/** The shapes of a grid around `base` (the sparse network's sizes), without those already in `have`. */
export function gridShapes(base: Shape, grid: FrontGrid, have: Shape[]): { kind: FrontKind; shape: Shape }[] {
  const key = (s: Shape) => `${s.sizes.join(",")}/${s.outDegrees.join(",")}`;
  const seen = new Set(have.map(key));
  const out: { kind: FrontKind; shape: Shape }[] = [];
  const add = (kind: FrontKind, shape: Shape) => {
    if (!seen.has(key(shape))) out.push({ kind, shape });
    seen.add(key(shape));
  };
  const [, h1, h2] = base.sizes;
  for (const d1 of grid.firstDegrees)
    for (const d2 of grid.secondDegrees)
      if (d1 < h1! || d2 < h2!)
        add("sparse", {
          sizes: base.sizes,
          outDegrees: [Math.min(d1, h1!), Math.min(d2, h2!), ...base.outDegrees.slice(2)],
        });
  for (const w of grid.narrowWidths) {
    const sizes = [base.sizes[0]!, ...base.sizes.slice(1, -1).map(() => w), base.sizes.at(-1)!];
    add("dense-narrow", { sizes, outDegrees: sizes.slice(1) });
  }
  return out;
}

/** Trains each shape under every seed; the file size and MACs are the first seed's (the same for every seed). */
export function trainFront(
  engine: Engine,
  shapes: { kind: FrontKind; shape: Shape }[],
  r: Recipe,
  data: { train: Dataset; test: Dataset; even: Dataset },
  seeds: number[],
  log: (s: string) => void,
): FrontPoint[] {
  return shapes.map(({ kind, shape }) => {
    const runs: SeedRun[] = [];
    let parameters = 0,
      fileBytes = 0,
      macs = 0;
    for (const seed of seeds) {
      const t = trainSeed(engine, shape, r, data, seed);
      try {
        runs.push(t.run);
        if (runs.length === 1) {
          parameters = t.model.parameterCount();
          fileBytes = encodeModel(t.model).bytes.length;
          macs = exitMacs(t.model).trunk;
        }
      } finally {
        t.model.dispose();
      }
    }
    const point: FrontPoint = {
      kind,
      label: shapeLabel(shape),
      shape,
      parameters,
      fileBytes,
      macs,
      runs,
      stats: seedStats(runs),
    };
    log(`[front] ${point.label}: ${formatInterval(point.stats.accuracyFinal)}%, ${parameters} parameters`);
    return point;
  });
}

/** Marks the points no other point beats with as few or fewer parameters. */
export function markPareto(points: FrontPoint[]): FrontPoint[] {
  for (const p of points)
    p.pareto = !points.some(
      (q) =>
        q !== p &&
        q.parameters <= p.parameters &&
        q.stats.accuracyFinal.mean >= p.stats.accuracyFinal.mean &&
        (q.parameters < p.parameters || q.stats.accuracyFinal.mean > p.stats.accuracyFinal.mean),
    );
  return points;
}

/** A configuration against the dense twin. */
export interface Reduction {
  label: string;
  /** Dense twin's file bytes ÷ this one's. */
  storage: number;
  /** Dense twin's stored parameters ÷ this one's. */
  parameters: number;
  /** Dense twin's MACs per sample ÷ this one's. */
  macs: number;
  accuracy: Interval;
  /** Dense twin minus this configuration, in accuracy (Welch's interval over seeds). */
  cost: Interval;
  overlaps: boolean;
}

/** The paper's claim, "more than 4× in storage and computation without compromising performance", tested. */
export interface Headline {
  dense: { label: string; accuracy: Interval };
  /** Largest storage (file bytes) reduction whose final-accuracy interval overlaps the dense twin's. */
  bestStorage: Reduction | undefined;
  /** Largest MAC reduction whose interval overlaps. */
  bestMacs: Reduction | undefined;
  /** Whether some configuration has a ≥ 4× smaller file and ≥ 4× fewer MACs with an overlapping interval. */
  holds: boolean;
  /** The most accurate configuration at ≥ 4× in both: what 4× costs (or that it costs nothing). */
  atFourX: Reduction | undefined;
  /** The same with storage counted in stored parameters (the paper's count) instead of file bytes. */
  byParameters: { holds: boolean; atFourX: Reduction | undefined };
  seeds: number;
}

/** Tests the headline on `points` against `dense` (the dense twin, one of the points). */
export function headline(points: FrontPoint[], dense: FrontPoint): Headline {
  const reductions = points
    .filter((p) => p !== dense)
    .map(
      (p): Reduction => ({
        label: p.label,
        storage: dense.fileBytes / p.fileBytes,
        parameters: dense.parameters / p.parameters,
        macs: dense.macs / p.macs,
        accuracy: p.stats.accuracyFinal,
        cost: differenceInterval(
          dense.runs.map((r) => r.accuracyFinal),
          p.runs.map((r) => r.accuracyFinal),
        ),
        overlaps: overlaps(p.stats.accuracyFinal, dense.stats.accuracyFinal),
      }),
    );
  const ok = reductions.filter((r) => r.overlaps);
  const best = (xs: Reduction[], k: "storage" | "macs") =>
    xs.sort((a, b) => b[k] - a[k] || b.accuracy.mean - a.accuracy.mean)[0];
  const fourX = (k: "storage" | "parameters") =>
    reductions
      .filter((r) => r[k] >= 4 && r.macs >= 4)
      .sort((a, b) => Number(b.overlaps) - Number(a.overlaps) || b.accuracy.mean - a.accuracy.mean);
  const files = fourX("storage"),
    params = fourX("parameters");
  return {
    dense: { label: dense.label, accuracy: dense.stats.accuracyFinal },
    bestStorage: best([...ok], "storage"),
    bestMacs: best([...ok], "macs"),
    holds: files.some((r) => r.overlaps),
    atFourX: files[0],
    byParameters: { holds: params.some((r) => r.overlaps), atFourX: params[0] },
    seeds: dense.runs.length,
  };
}

const times = (x: number) => `${x.toFixed(1)}×`;
const acc = (x: Interval) => `${formatInterval(x)}%`;

/** The headline in sentences, for the report and the README. */
export function headlineSentence(h: Headline, dataset: string): string {
  const d = `the dense twin's ${acc(h.dense.accuracy)}`;
  const red = (r: Reduction) =>
    `${r.label} (${times(r.storage)} smaller file, ${times(r.parameters)} fewer parameters, ${times(r.macs)} fewer ` +
    `MACs, ${acc(r.accuracy)})`;
  // overlapping intervals are a lenient test: the interval of the difference says whether the loss is real
  const diff = (r: Reduction) =>
    `${formatInterval(r.cost)} points below the dense twin (95% CI of the difference` +
    `${r.cost.low > 0 ? ", which excludes 0" : ""})`;
  const parts = [`On ${dataset}, over ${h.seeds} seeds, with intervals that overlap ${d} counted as no loss:`];
  if (!h.bestStorage) parts.push("no configuration matches the dense twin's accuracy.");
  else if (h.bestStorage === h.bestMacs)
    parts.push(`the largest reduction at no loss is ${red(h.bestStorage)}, ${diff(h.bestStorage)}.`);
  else {
    parts.push(`the largest storage reduction at no loss is ${red(h.bestStorage)}, ${diff(h.bestStorage)};`);
    parts.push(`the largest MAC reduction ${red(h.bestMacs!)}, ${diff(h.bestMacs!)}.`);
  }
  const claim = (holds: boolean, c: Reduction | undefined, storage: string) => {
    if (holds)
      return `"More than 4× at no loss" holds here with storage counted in ${storage}: ${red(c!)}, ${diff(c!)}.`;
    if (c)
      return (
        `"More than 4× at no loss" does not hold here with storage counted in ${storage}: at ≥ 4× in both, the ` +
        `best is ${red(c)}, ${diff(c)}.`
      );
    return `No configuration of this run is 4× smaller (in ${storage}) and 4× cheaper than the dense twin.`;
  };
  parts.push(claim(h.holds, h.atFourX, "file bytes"));
  parts.push(claim(h.byParameters.holds, h.byParameters.atFourX, "stored parameters"));
  return parts.join(" ");
}

/** The front as a markdown table, fewest parameters first; ★ marks the Pareto front. */
export function frontTable(points: FrontPoint[], dense: FrontPoint): string {
  const rows = [
    "| network | kind | params | file B | MACs/sample | acc. final % | acc. EE system % | exit rate % | " +
      "B sent/sample (EE, int8) | storage × | MACs × | front |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const p of [...points].sort((a, b) => a.parameters - b.parameters))
    rows.push(
      `| ${p.label} | ${p.kind} | ${p.parameters} | ${p.fileBytes} | ${p.macs} | ` +
        `${formatInterval(p.stats.accuracyFinal)} | ${formatInterval(p.stats.accuracySystem)} | ` +
        `${formatInterval(p.stats.exitRate, 100, 1)} | ${formatInterval(p.stats.bytesSent, 1, 1)} | ` +
        `${(dense.fileBytes / p.fileBytes).toFixed(1)} | ${(dense.macs / p.macs).toFixed(1)} | ` +
        `${p.pareto ? "★" : ""} |`,
    );
  return rows.join("\n");
}

/** Sparse-wide against dense-narrow at equal budgets: each narrow network beside the sparse one nearest in size. */
export function budgetTable(points: FrontPoint[]): string {
  const sparse = points.filter((p) => p.kind === "sparse");
  const rows = [
    "| budget (params) | dense-narrow | acc. % | sparse-wide nearest in params | params | acc. % | " +
      "sparse − narrow (points) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const n of points.filter((p) => p.kind === "dense-narrow").sort((a, b) => a.parameters - b.parameters)) {
    const s = [...sparse].sort(
      (a, b) => Math.abs(Math.log(a.parameters / n.parameters)) - Math.abs(Math.log(b.parameters / n.parameters)),
    )[0];
    if (!s) continue;
    const diff = differenceInterval(
      s.runs.map((r) => r.accuracyFinal),
      n.runs.map((r) => r.accuracyFinal),
    );
    rows.push(
      `| ${n.parameters} | ${n.label} | ${formatInterval(n.stats.accuracyFinal)} | ${s.label} | ${s.parameters} | ` +
        `${formatInterval(s.stats.accuracyFinal)} | ${formatInterval(diff)} |`,
    );
  }
  return rows.join("\n");
}

const SERIES: Record<FrontKind, string> = {
  sparse: "predefined sparse",
  "dense-narrow": "dense-narrow",
  dense: "dense twin",
};

/** The front's charts as Vega-Lite specs: accuracy against stored parameters, MACs per sample and bytes sent. */
export function frontSpecs(points: FrontPoint[], k: number): { stem: string; caption: string; spec: object }[] {
  const seeds = `mean and 95% CI over ${k} seed${k === 1 ? "" : "s"}`;
  // an interval past 0% or 100% is drawn to the bound (the tables give it whole)
  const clip = (v: number) => Math.min(100, Math.max(0, v));
  const pct = (i: Interval) => ({ y: 100 * i.mean, yLow: clip(100 * i.low), yHigh: clip(100 * i.high) });
  const base = (p: FrontPoint) => ({ series: SERIES[p.kind], label: p.label });
  return [
    {
      stem: "front-accuracy-vs-parameters",
      caption: "accuracy vs stored parameters",
      spec: errorBarChart({
        title: `Final-classifier test accuracy vs stored parameters (${seeds})`,
        xTitle: "stored parameters (weights + biases, exit head included)",
        yTitle: "test accuracy (%)",
        points: points.map((p) => ({ ...base(p), x: p.parameters, ...pct(p.stats.accuracyFinal) })),
      }),
    },
    {
      stem: "front-accuracy-vs-macs",
      caption: "accuracy vs MACs per sample",
      spec: errorBarChart({
        title: `Final-classifier test accuracy vs MACs per sample (${seeds})`,
        xTitle: "MACs per sample (stored connections, whole trunk)",
        yTitle: "test accuracy (%)",
        points: points.map((p) => ({ ...base(p), x: p.macs, ...pct(p.stats.accuracyFinal) })),
      }),
    },
    {
      stem: "front-accuracy-vs-bytes-sent",
      caption: "EE system accuracy vs bytes sent per sample",
      spec: errorBarChart({
        title: `Early-exit system accuracy vs bytes sent per sample, calibrated exit (${seeds})`,
        xTitle: "int8 frame bytes sent per sample (exited samples send none)",
        yTitle: "EE system test accuracy (%)",
        points: points.map((p) => ({
          ...base(p),
          x: p.stats.bytesSent.mean,
          xLow: Math.max(0, p.stats.bytesSent.low),
          xHigh: p.stats.bytesSent.high,
          ...pct(p.stats.accuracySystem),
        })),
      }),
    },
  ];
}
