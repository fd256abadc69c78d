// The planner: from per-cut costs measured on this machine, a link and the energy model, predict latency and energy
// per sample for every strategy — local (the whole model on the edge), full offload (the raw input to the server),
// split at cut k with frame dtype d, split + early exit under a policy — and pick the best for an objective, keeping
// the whole table it chose from. Pure and browser-safe; the CLI and the experiment measure the costs and print.
//   latency(local)      = s·edgeMs(full)
//   latency(offload)    = up(input) + RTT + serverMs(full) + down(answer)
//   latency(split k, d) = s·edgeMs(k) + up(frame_d) + RTT + serverMs(k) + down(answer)
//   latency(+exit)      = s·(edgeMs(k) + exitMs) + (1 − exitRate)·(up + RTT + serverMs(k) + down)
// with s the edge slowdown and up(b) = 8·(b + overhead)/rate. Energy: energy.ts, per sample, radio tails shared by
// the transfers that fall within them.
import { ValidationError } from "../engine/errors.js";
import type { FrameDtype } from "./frame.js";
import { checkLink, withUplinkRate, type LinkSpec, type RadioClass } from "./links.js";
import {
  DEFAULT_ENERGY,
  computeEnergy,
  periodicRadioEnergy,
  transferTiming,
  type EnergyModel,
  type RadioEnergy,
} from "./energy.js";

const DTYPES: readonly FrameDtype[] = ["f32", "f16", "int8"];

/** An exit policy usable on the edge with a cut. */
export interface ExitOption {
  /** As the CLI writes it, e.g. `maxprob:0.6`. */
  policy: string;
  /** Share of samples answered on the edge, in [0, 1]. */
  exitRate: number;
  /** Accuracy of the system (exits on the edge, the rest on the server), one figure or one per frame dtype. */
  accuracy: number | Partial<Record<FrameDtype, number>>;
  /** The exit heads' own cost per sample on the edge (on top of the head up to the cut). */
  ms: number;
  macs: number;
  bytesMoved: number;
}

/** What a cut costs per sample. The head up to the cut runs on the edge for every sample. */
export interface CutCost {
  /** The cut's name in the split module's terms (layers on the edge). */
  cut: number;
  /** Edge compute up to the cut, ms per sample, measured on this machine (the planner scales it by edgeSlowdown). */
  edgeMs: number;
  /** Server compute for the rest, ms per sample. */
  serverMs: number;
  edgeMacs: number;
  serverMacs: number;
  /** Loads and stores of the head per sample, and the bytes it touches (energy). */
  edgeBytesMoved: number;
  edgeWorkingSetBytes: number;
  /** Bytes of a one-sample activation frame at the cut, per dtype (only the dtypes given are planned). */
  frameBytes: Partial<Record<FrameDtype, number>>;
  /** System accuracy with frames of a dtype and no exit (default: the full model's accuracy). */
  accuracy?: Partial<Record<FrameDtype, number>>;
  exits?: ExitOption[];
}

/** The whole model on one machine. */
export interface FullCost {
  /** ms per sample on this machine: edgeMs for local (scaled by edgeSlowdown), serverMs for full offload. */
  edgeMs: number;
  serverMs: number;
  macs: number;
  bytesMoved: number;
  workingSetBytes: number;
  accuracy: number;
}

/** Everything the planner needs. */
export interface PlanInput {
  full: FullCost;
  /** Bytes of one raw input sample as full offload sends it. */
  inputBytes: number;
  /** Accuracy of full offload, whose input may be rounded by its frame (default: full.accuracy). */
  offloadAccuracy?: number;
  /** Dtype of full offload's frames: its answer comes back in it (default f32). */
  offloadDtype?: FrameDtype;
  /**
   * Bytes of the server's answer for one sample: one figure, or one per dtype (the split client gets its answer in
   * the dtype it sent; full offload takes its own dtype's, `offloadDtype`).
   */
  answerBytes: number | Partial<Record<FrameDtype, number>>;
  cuts: CutCost[];
  link: LinkSpec;
  /** Protocol bytes per request on top of the payload (e.g. HTTP headers), up and down (default 0). */
  overheadUpBytes?: number;
  overheadDownBytes?: number;
  /** Energy model (default {@link DEFAULT_ENERGY}). */
  energy?: EnergyModel;
  /** Radio of the link (default: the link's own, which presets set). */
  radio?: RadioClass;
  /** Edge compute is this many times slower than this machine (default 1). */
  edgeSlowdown?: number;
  /** One sample every periodMs: transfers closer than the radio's tail share it (default 1000). */
  periodMs?: number;
}

/** What to minimize, and the accuracy every candidate must reach. */
export interface Objective {
  minimize: "latency" | "energy";
  /** Candidates below this accuracy are kept in the table but not chosen. */
  minAccuracy?: number;
}

/** Predicted per-sample costs of one strategy. */
export interface PlanRow {
  strategy: "local" | "offload" | "split" | "split+exit";
  /** e.g. `local`, `offload`, `split@1:int8`, `split@1:int8+maxprob:0.6`. */
  key: string;
  cut?: number;
  dtype?: FrameDtype;
  policy?: string;
  accuracy: number;
  /** Share of samples answered on the edge (1 for local, 0 for offload and split). */
  edgeRate: number;
  /** Mean latency per sample, ms. */
  latencyMs: number;
  /** Latency of a sample answered on the edge, and of one answered by the server (undefined when none is). */
  edgeLatencyMs?: number;
  serverLatencyMs?: number;
  /** Mean bytes per sample on the wire, protocol overhead included. */
  upBytes: number;
  downBytes: number;
  /** Mean MACs per sample. */
  edgeMacs: number;
  serverMacs: number;
  /** Mean energy per sample on the edge device, joules. */
  computeJ: number;
  radioJ: number;
  energyJ: number;
  /** The radio's parts for one transferring sample (undefined when nothing is sent). */
  radio?: RadioEnergy;
  /** Meets the objective's accuracy floor. */
  feasible: boolean;
}

/** A plan: the chosen row and the whole table it was chosen from. */
export interface Plan {
  best: PlanRow | undefined;
  rows: PlanRow[];
  objective: Objective;
  link: LinkSpec;
  radio: RadioClass;
  edgeSlowdown: number;
  periodMs: number;
}

function check(op: string, name: string, v: number, max = Infinity): number {
  if (!(typeof v === "number" && v >= 0 && v <= max))
    throw new ValidationError(`${op}: ${name} must be a number in [0, ${max}], got ${String(v)}`);
  return v;
}

function validate(p: PlanInput): void {
  const op = "plan";
  checkLink(op, p.link);
  for (const k of ["edgeMs", "serverMs", "macs", "bytesMoved", "workingSetBytes"] as const)
    check(op, `full.${k}`, p.full[k]);
  check(op, "full.accuracy", p.full.accuracy, 1);
  check(op, "inputBytes", p.inputBytes);
  if (p.offloadAccuracy !== undefined) check(op, "offloadAccuracy", p.offloadAccuracy, 1);
  if (p.offloadDtype !== undefined && !DTYPES.includes(p.offloadDtype))
    throw new ValidationError(`plan: offloadDtype must be ${DTYPES.join(", ")}, got ${String(p.offloadDtype)}`);
  if (typeof p.answerBytes === "number") check(op, "answerBytes", p.answerBytes);
  else {
    if (p.answerBytes.f32 === undefined)
      throw new ValidationError("plan: answerBytes per dtype needs an f32 figure (full offload's answer)");
    for (const [d, b] of Object.entries(p.answerBytes)) check(op, `answerBytes.${d}`, b!);
  }
  check(op, "overheadUpBytes", p.overheadUpBytes ?? 0);
  check(op, "overheadDownBytes", p.overheadDownBytes ?? 0);
  check(op, "periodMs", p.periodMs ?? 1000);
  if (!(p.edgeSlowdown === undefined || (p.edgeSlowdown > 0 && Number.isFinite(p.edgeSlowdown))))
    throw new ValidationError(`plan: edgeSlowdown must be a finite number > 0, got ${String(p.edgeSlowdown)}`);
  for (const c of p.cuts) {
    const at = `cut ${c.cut}`;
    for (const k of ["edgeMs", "serverMs", "edgeMacs", "serverMacs", "edgeBytesMoved", "edgeWorkingSetBytes"] as const)
      check(op, `${at}: ${k}`, c[k]);
    for (const [d, b] of Object.entries(c.frameBytes)) {
      if (!DTYPES.includes(d as FrameDtype))
        throw new ValidationError(
          `plan: ${at}: frameBytes has dtype ${JSON.stringify(d)}, expected one of ${DTYPES.join(", ")}`,
        );
      check(op, `${at}: frameBytes.${d}`, b!);
    }
    for (const [d, a] of Object.entries(c.accuracy ?? {})) check(op, `${at}: accuracy.${d}`, a!, 1);
    for (const e of c.exits ?? []) {
      check(op, `${at}: ${e.policy}: exitRate`, e.exitRate, 1);
      for (const k of ["ms", "macs", "bytesMoved"] as const) check(op, `${at}: ${e.policy}: ${k}`, e[k]);
      for (const a of typeof e.accuracy === "number" ? [e.accuracy] : Object.values(e.accuracy))
        check(op, `${at}: ${e.policy}: accuracy`, a!, 1);
    }
  }
}

/** Predicts every strategy and picks the best for the objective (ties: fewer bytes up, then table order). */
export function plan(p: PlanInput, objective: Objective = { minimize: "latency" }): Plan {
  validate(p);
  if (objective.minimize !== "latency" && objective.minimize !== "energy")
    throw new ValidationError(`plan: objective.minimize must be latency or energy, got ${String(objective.minimize)}`);
  if (objective.minAccuracy !== undefined) check("plan", "objective.minAccuracy", objective.minAccuracy, 1);
  const radioClass = p.radio ?? p.link.radio;
  if (!radioClass)
    throw new ValidationError(
      "plan: no radio for this link: pass input.radio (lte, 3g, wifi or lpwan) or use a preset",
    );
  const model = p.energy ?? DEFAULT_ENERGY;
  const radio = model.radios[radioClass];
  if (!radio) throw new ValidationError(`plan: the energy model has no radio ${JSON.stringify(radioClass)}`);
  const s = p.edgeSlowdown ?? 1,
    periodMs = p.periodMs ?? 1000;
  const ovUp = p.overheadUpBytes ?? 0,
    ovDown = p.overheadDownBytes ?? 0;
  const floor = objective.minAccuracy ?? 0;
  const rows: PlanRow[] = [];

  /** A row for a strategy whose edge part runs for every sample and whose transfer happens for a share `send`. */
  const answer = (d: FrameDtype) =>
    typeof p.answerBytes === "number" ? p.answerBytes : (p.answerBytes[d] ?? p.answerBytes.f32!);
  const row = (
    base: Pick<PlanRow, "strategy" | "key" | "cut" | "dtype" | "policy" | "accuracy">,
    edge: { ms: number; macs: number; bytesMoved: number; workingSetBytes: number },
    send: number,
    payloadUp: number,
    serverMs: number,
    serverMacs: number,
  ) => {
    const up = payloadUp + ovUp,
      down = answer(base.dtype ?? p.offloadDtype ?? "f32") + ovDown;
    const edgeLatencyMs = s * edge.ms;
    const t = transferTiming(p.link, up, down, serverMs);
    const serverLatencyMs = edgeLatencyMs + t.activeMs;
    const computeJ = computeEnergy(model.compute, edge).totalJ;
    const r = send > 0 ? periodicRadioEnergy(radio, up, down, t, periodMs, send) : undefined;
    const radioJ = r ? send * r.totalJ : 0;
    rows.push({
      ...base,
      edgeRate: 1 - send,
      latencyMs: (1 - send) * edgeLatencyMs + send * serverLatencyMs,
      ...(send < 1 ? { edgeLatencyMs } : {}),
      ...(send > 0 ? { serverLatencyMs } : {}),
      upBytes: send * up,
      downBytes: send * down,
      edgeMacs: edge.macs,
      serverMacs: send * serverMacs,
      computeJ,
      radioJ,
      energyJ: computeJ + radioJ,
      ...(r ? { radio: r } : {}),
      feasible: base.accuracy >= floor,
    });
  };

  const f = p.full;
  rows.push({
    strategy: "local",
    key: "local",
    accuracy: f.accuracy,
    edgeRate: 1,
    latencyMs: s * f.edgeMs,
    edgeLatencyMs: s * f.edgeMs,
    upBytes: 0,
    downBytes: 0,
    edgeMacs: f.macs,
    serverMacs: 0,
    computeJ: 0,
    radioJ: 0,
    energyJ: 0,
    feasible: f.accuracy >= floor,
  });
  const local = rows[0]!;
  local.computeJ = local.energyJ = computeEnergy(model.compute, f).totalJ;
  row(
    { strategy: "offload", key: "offload", accuracy: p.offloadAccuracy ?? f.accuracy },
    { ms: 0, macs: 0, bytesMoved: 0, workingSetBytes: 0 },
    1,
    p.inputBytes,
    f.serverMs,
    f.macs,
  );

  for (const c of p.cuts) {
    const head = {
      ms: c.edgeMs,
      macs: c.edgeMacs,
      bytesMoved: c.edgeBytesMoved,
      workingSetBytes: c.edgeWorkingSetBytes,
    };
    for (const d of DTYPES) {
      const frame = c.frameBytes[d];
      if (frame === undefined) continue;
      const key = `split@${c.cut}:${d}`;
      row(
        { strategy: "split", key, cut: c.cut, dtype: d, accuracy: c.accuracy?.[d] ?? f.accuracy },
        head,
        1,
        frame,
        c.serverMs,
        c.serverMacs,
      );
      for (const e of c.exits ?? []) {
        const accuracy = typeof e.accuracy === "number" ? e.accuracy : e.accuracy[d];
        if (accuracy === undefined) continue;
        const edge = {
          ms: c.edgeMs + e.ms,
          macs: c.edgeMacs + e.macs,
          bytesMoved: c.edgeBytesMoved + e.bytesMoved,
          workingSetBytes: c.edgeWorkingSetBytes,
        };
        row(
          { strategy: "split+exit", key: `${key}+${e.policy}`, cut: c.cut, dtype: d, policy: e.policy, accuracy },
          edge,
          1 - e.exitRate,
          frame,
          c.serverMs,
          c.serverMacs,
        );
      }
    }
  }

  const metric = objective.minimize === "latency" ? (r: PlanRow) => r.latencyMs : (r: PlanRow) => r.energyJ;
  let best: PlanRow | undefined;
  for (const r of rows) {
    if (!r.feasible) continue;
    if (!best || metric(r) < metric(best) || (metric(r) === metric(best) && r.upBytes < best.upBytes)) best = r;
  }
  return { best, rows, objective, link: p.link, radio: radioClass, edgeSlowdown: s, periodMs };
}

/**
 * The plan at each uplink rate (the downlink scaled by the same factor): the data of a latency/energy-vs-rate
 * chart.
 */
export function planSweep(p: PlanInput, upRates: readonly number[], objective?: Objective): Plan[] {
  return upRates.map((r) => plan({ ...p, link: withUplinkRate(p.link, r) }, objective));
}

/**
 * Uplink rates (bit/s, downlink scaled alike) at which rows `a` and `b` cost the same `metric`, within [lo, hi]:
 * sign changes of the difference on a log grid, each refined by bisection to a relative 1e-9. Empty when one of
 * them is better over the whole range.
 */
export function crossovers(
  p: PlanInput,
  a: string,
  b: string,
  metric: "latency" | "energy" = "latency",
  lo = 1e3,
  hi = 1e10,
  steps = 240,
): number[] {
  if (!(lo > 0 && hi > lo)) throw new ValidationError(`crossovers: need 0 < lo < hi, got ${lo}, ${hi}`);
  const pick = (rate: number) => {
    const rows = plan({ ...p, link: withUplinkRate(p.link, rate) }).rows;
    const ra = rows.find((r) => r.key === a),
      rb = rows.find((r) => r.key === b);
    if (!ra || !rb)
      throw new ValidationError(
        `crossovers: no row ${JSON.stringify(ra ? b : a)}; rows are ${rows.map((r) => r.key).join(", ")}`,
      );
    return metric === "latency" ? ra.latencyMs - rb.latencyMs : ra.energyJ - rb.energyJ;
  };
  const out: number[] = [];
  const at = (i: number) => lo * (hi / lo) ** (i / steps);
  let x0 = at(0),
    d0 = pick(x0);
  for (let i = 1; i <= steps; i++) {
    const x1 = at(i),
      d1 = pick(x1);
    if (d0 === 0) out.push(x0);
    else if (d0 * d1 < 0) {
      let l = x0,
        h = x1,
        dl = d0;
      while (h / l - 1 > 1e-9) {
        const m = Math.sqrt(l * h),
          dm = pick(m);
        if (dm === 0) l = h = m;
        else if (dm * dl < 0) h = m;
        else [l, dl] = [m, dm];
      }
      out.push(Math.sqrt(l * h));
    }
    [x0, d0] = [x1, d1];
  }
  if (d0 === 0) out.push(x0);
  return out;
}

/** The plan's table as Markdown, best row marked, infeasible rows flagged. */
export function formatPlan(pl: Plan): string {
  const n = (v: number, d = 3) => (Number.isFinite(v) ? (+v.toPrecision(d)).toString() : "–");
  const head =
    "| strategy | accuracy | edge-answered | latency ms | up B | down B | edge MACs | server MACs | " +
    "compute mJ | radio mJ | energy mJ |";
  const lines = [head, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"];
  for (const r of pl.rows) {
    const mark = r === pl.best ? " **(best)**" : r.feasible ? "" : " (below accuracy floor)";
    lines.push(
      `| ${r.key}${mark} | ${(100 * r.accuracy).toFixed(2)}% | ${(100 * r.edgeRate).toFixed(1)}% | ` +
        `${n(r.latencyMs)} | ${n(r.upBytes)} | ${n(r.downBytes)} | ${n(r.edgeMacs)} | ${n(r.serverMacs)} | ` +
        `${n(r.computeJ * 1e3)} | ${n(r.radioJ * 1e3)} | ${n(r.energyJ * 1e3)} |`,
    );
  }
  return lines.join("\n");
}
