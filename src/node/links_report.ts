// The link study's part of the report: a table per link, the winners, the crossovers along the uplink rate, the
// plan's choice and its error against the measured run, the energy constants with their sources, latency- and
// energy-vs-rate charts per network and link, and the README's block.
import { lineChart, type Series } from "../report/svg.js";
import { formatEnergyTable, type EnergyModel } from "../split/energy.js";
import { formatLink, type LinkSpec } from "../split/links.js";
import type { Crossover, LinkRun, LinkStudyOptions, NetworkLinks, StrategyRun } from "./experiment_links.js";

/** The error the prediction is held to: a share of the predicted latency plus a constant. */
export const PREDICTION_BOUND = { relative: 0.05, ms: 2 } as const;

/**
 * The latency the bound is checked on: the median of the samples the server answered against the plan's latency
 * for such a sample (the median, because a loaded machine's stalls pull a mean up); when none was sent, the median
 * of all against the plan's edge latency.
 */
export function checkedLatency(r: StrategyRun): { measured: number; predicted: number } {
  if (r.serverPath) return { measured: r.serverPath.p50, predicted: r.predicted.serverLatencyMs! };
  return { measured: r.latency.p50, predicted: r.predicted.edgeLatencyMs ?? r.predicted.latencyMs };
}

/** Whether a run is within {@link PREDICTION_BOUND} of its prediction (see {@link checkedLatency}). */
export function withinBound(r: StrategyRun): boolean {
  const { measured, predicted } = checkedLatency(r);
  return Math.abs(measured - predicted) <= PREDICTION_BOUND.relative * predicted + PREDICTION_BOUND.ms;
}

/** A chart file of the report. */
export interface ReportChart {
  file: string;
  svg: string;
  caption: string;
}

/** One network's study, by name. */
export interface NamedLinks {
  name: string;
  links: NetworkLinks;
}

const n3 = (v: number) => (Number.isFinite(v) ? String(+v.toPrecision(3)) : "–");
const ms = (v: number) => (v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toPrecision(2));
const mj = (j: number) => n3(j * 1e3);
const pc = (x: number, d: number) => `${(100 * x).toFixed(d)}%`;
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;

/** A rate as people write it: 940 kbit/s, 5.64 Mbit/s. */
export function rateText(bitsPerS: number): string {
  for (const [u, f] of [
    ["Gbit/s", 1e9],
    ["Mbit/s", 1e6],
    ["kbit/s", 1e3],
  ] as const)
    if (bitsPerS >= f) return `${+(bitsPerS / f).toPrecision(3)} ${u}`;
  return `${+bitsPerS.toPrecision(3)} bit/s`;
}

/** The strategy's name in charts: local, full offload, split after k (dtype), … + exit. */
export function strategyName(key: string): string {
  if (key === "local") return "local";
  if (key === "offload") return "full offload";
  const m = /^split@(\d+):(\w+)(?:\+(.+))?$/.exec(key);
  return m ? `split after ${m[1]} (${m[2]})${m[3] ? ` + exit ${m[3]}` : ""}` : key;
}

const linkName = (l: LinkSpec, i: number) => l.name ?? `link${i + 1}`;

function linkLine(l: LinkRun["link"]): string {
  const j = l.jitterMs ? `, jitter ${n3(l.jitterMs)} ms` : "";
  const rates = `${rateText(l.upBitsPerS)} up, ${rateText(l.downBitsPerS)} down`;
  return `${rates}, RTT ${n3(l.rttMs)} ms${j} (\`${l.spec}\`, radio ${l.radio})`;
}

/** Where the cheapest strategy changes along the rate, and where any two cross. */
function crossoverText(l: LinkRun, metric: "latency" | "energy"): string {
  const changes = l.cheapest.filter((c) => c.metric === metric);
  const at = (c: Crossover) => `${strategyName(c.below)} | ${strategyName(c.above)} at ${rateText(c.upBitsPerS)}`;
  let cheapest: string;
  if (changes.length > 0) cheapest = `the cheapest changes at ${changes.map(at).join(", ")}`;
  else {
    const p = l.sweep[0];
    const costs = p ? (metric === "latency" ? p.latencyMs : p.energyJ) : {};
    const w = Object.entries(costs).reduce<[string, number]>((a, b) => (b[1] < a[1] ? b : a), ["–", Infinity])[0];
    cheapest = `${strategyName(w)} is the cheapest at every rate`;
  }
  const pairs = l.crossovers.filter((c) => c.metric === metric);
  return `${cheapest}; ${pairs.length ? `lines cross at ${pairs.map(at).join(", ")}` : "no two lines cross"}`;
}

/** What the prediction error and the plan say for one network on one link. */
function summary(name: string, l: LinkRun): string {
  const crossing = l.runs.filter((r) => r.strategy !== "local");
  const err = (r: StrategyRun) => {
    const c = checkedLatency(r);
    return Math.abs(c.measured / c.predicted - 1);
  };
  const worst = crossing.reduce((a, r) => Math.max(a, err(r)), 0);
  const o = l.plan.objective;
  const floor = o.minAccuracy === undefined ? "" : `, accuracy ≥ ${o.minAccuracy}`;
  const lose =
    l.localLosesAtSlowdown === undefined
      ? "local stays the fastest at any edge slowdown"
      : `local stops being the fastest once the edge is ${n3(l.localLosesAtSlowdown)}× slower than this machine`;
  return [
    `- **${name}**: fastest measured ${strategyName(l.winners.latency)}, least energy`,
    `${strategyName(l.winners.energy)}; the plan (minimize ${o.minimize}${floor}) chose`,
    `${l.plan.best?.key ?? "nothing"}; ${lose}. Along the uplink rate (RTT and radio fixed; "A | B": A is cheaper`,
    `below, B above), latency: ${crossoverText(l, "latency")}; energy: ${crossoverText(l, "energy")}.`,
    `Largest error of the checked latency ${(100 * worst).toFixed(1)}%`,
    `(${crossing.every(withinBound) ? "all within" : "not all within"} the bound).`,
  ].join(" ");
}

function runRow(net: string, r: StrategyRun): string {
  const mark = r.strategy === "local" || withinBound(r) ? "" : " ⚠";
  const lat = r.latency;
  return row([
    net,
    r.key,
    pc(r.accuracy, 2),
    pc(r.edgeRate, 1),
    `${ms(lat.p50)} / ${ms(lat.p95)} / ${ms(lat.p99)} / ${ms(lat.mean)}`,
    `${ms(r.predictedMeanMs)}`,
    `${ms(checkedLatency(r).measured)} / ${ms(checkedLatency(r).predicted)}${mark}`,
    `${n3(r.upBytes)} / ${n3(r.downBytes)}`,
    `${n3(r.edgeMacs)} / ${n3(r.serverMacs)}`,
    `${mj(r.energyJ)} (${mj(r.radioJ)})`,
    `${r.agree}/${r.n}`,
  ]);
}

/** The report's link sections (Markdown lines) and their charts. */
export function linkSections(
  nets: NamedLinks[],
  o: LinkStudyOptions,
  energy: EnergyModel,
): { lines: string[]; charts: ReportChart[] } {
  const lines: string[] = [];
  const charts: ReportChart[] = [];
  const first = nets[0]?.links;
  if (!first) return { lines, charts };
  const exchange = nets.map((n) => `${n3(n.links.protocolMs)} ms`).join(" / ");
  lines.push(
    "## Strategies over links",
    "",
    [
      `Each strategy ran on the same ${Math.min(o.samples, first.costs.samples)} test samples (evenly spaced over`,
      `the test set), sent by ${o.devices} edge clients at once, each behind its own emulated link`,
      "(`startLink`, kept-alive connections), all sharing the servers: a tail server per cut and a server of the",
      "whole model for full offload. Latency runs from the call to the answer, the edge's measured compute scaled by",
      `the edge slowdown (${o.edgeSlowdown}×). Accuracy and the share answered on the edge are over the whole test`,
      `set, simulated through one-sample ${o.dtype} frames both ways; every answer through the link is checked`,
      "against that simulation (last column). Bytes are counted on the wire by the emulator, HTTP headers included.",
      "Energy per sample is the documented model (docs/links.md; constants below) applied to those bytes and the",
      `measured round trips, one sample every ${o.periodMs} ms. The plan predicts from costs measured in the same`,
      `run — compute per layer at batch 1, plus ${exchange} per exchange through an unshaped link for`,
      `${nets.map((n) => n.name).join(" / ")} — and its mean is given at the link samples' own edge share. The`,
      "checked latency is the median of the samples the server answered (of all, when none was sent) against the",
      `plan's latency for such a sample; it is held to |measured − predicted| ≤ ${100 * PREDICTION_BOUND.relative}%`,
      `of the prediction + ${PREDICTION_BOUND.ms} ms (⚠ marks a row outside it).`,
    ].join(" "),
    "",
  );
  first.links.forEach((l0, li) => {
    lines.push(`### ${linkName(l0.link, li)}: ${linkLine(l0.link)}`, "");
    lines.push(
      row([
        "network",
        "strategy",
        "accuracy",
        "edge-answered",
        "latency ms p50 / p95 / p99 / mean",
        "predicted mean ms",
        "checked ms measured / predicted",
        "B/sample up / down",
        "MACs edge / server",
        "energy mJ/sample (radio)",
        "as simulated",
      ]),
      row(new Array(11).fill("---")),
    );
    for (const net of nets) for (const r of net.links.links[li]!.runs) lines.push(runRow(net.name, r));
    lines.push("", ...nets.map((net) => summary(net.name, net.links.links[li]!)), "");
    for (const net of nets) {
      const l = net.links.links[li]!;
      for (const metric of ["latency", "energy"] as const) {
        const caption = `${metric} vs uplink rate, ${net.name}, ${linkName(l.link, li)}`;
        const file = `links-${metric}-${net.name}-${linkName(l.link, li)}.svg`;
        charts.push({ file, svg: rateChart(net.name, l, metric), caption });
        lines.push(`![${caption}](${file})`);
      }
    }
    lines.push("");
  });
  lines.push("## Energy model", "", formatEnergyTable(energy), "");
  return { lines, charts };
}

/** Predicted cost of each strategy along the uplink rate (lines), the measured runs at the link's rate, crossovers. */
export function rateChart(network: string, l: LinkRun, metric: "latency" | "energy"): string {
  const keys = Object.keys(l.sweep[0]?.latencyMs ?? {});
  const latency = metric === "latency";
  const y = (v: number) => (latency ? v : v * 1e3);
  const series: Series[] = keys.map((k) => ({
    name: strategyName(k),
    dots: false,
    points: l.sweep.map((p) => ({ x: p.upBitsPerS, y: y(latency ? p.latencyMs[k]! : p.energyJ[k]!) })),
  }));
  series.push({
    name: `measured on ${l.link.name ?? l.link.spec}`,
    scatter: true,
    points: l.runs.map((r) => ({ x: l.link.upBitsPerS, y: y(latency ? r.latency.mean : r.energyJ), label: r.key })),
  });
  const marks = l.crossovers.filter((c) => c.metric === metric);
  return lineChart({
    title: `${network}: ${metric} per sample vs uplink rate (RTT ${n3(l.link.rttMs)} ms, ${l.link.radio} radio)`,
    xLabel: "uplink rate, bit/s (downlink scaled alike; log scale)",
    yLabel: latency ? "mean latency per sample, ms (log scale)" : "energy per sample on the edge, mJ (log scale)",
    logX: true,
    logY: true,
    width: 980,
    height: 460,
    series,
    markers: marks.map((c) => ({ x: c.upBitsPerS, label: `${strategyName(c.below)} | ${strategyName(c.above)}` })),
  });
}

/** The README's block: per link and network, each strategy's measured mean latency and energy, and the winners. */
export function linksReadme(nets: NamedLinks[], command: string, when: string): string {
  const first = nets[0]?.links;
  if (!first) return "";
  const lines = [
    `Measured by \`${command}\` (commit {commit}, ${when}); \`node scripts/readme-block.mjs links <dir>/links.md\``,
    "puts a new run's block here.",
    "",
    row([
      "link",
      "network",
      "local",
      "full offload",
      "split",
      "split + exit",
      "fastest",
      "least energy",
      "local loses at edge slowdown",
    ]),
    row(new Array(9).fill("---")),
  ];
  first.links.forEach((l0, li) => {
    for (const net of nets) {
      const l = net.links.links[li]!;
      const cell = (s: StrategyRun["strategy"]) => {
        const r = l.runs.find((x) => x.strategy === s);
        return r ? `${ms(r.latency.mean)} ms · ${mj(r.energyJ)} mJ` : "–";
      };
      const slow = l.localLosesAtSlowdown === undefined ? "never" : `${n3(l.localLosesAtSlowdown)}×`;
      const name = `${linkName(l.link, li)} (${formatLink(l.link)})`;
      const cells = [cell("local"), cell("offload"), cell("split"), cell("split+exit")];
      lines.push(
        row([name, net.name, ...cells, strategyName(l.winners.latency), strategyName(l.winners.energy), slow]),
      );
    }
  });
  return `${lines.join("\n")}\n`;
}
