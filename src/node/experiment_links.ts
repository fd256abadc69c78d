// The strategies side by side on a link (decision 12): local (the whole model here), full offload (the input to a
// server of the whole model), split, and split + the calibrated exit — and the plan's choice when it is none of
// these — each run on the same test samples through the link emulator by `devices` edge clients at once, each behind
// its own emulated link, all sharing the servers. The plan is made from costs measured in the same run (compute per
// layer at batch 1, the loopback HTTP exchange, the header bytes), so predicted and measured can be set side by side;
// energy per sample is the documented model (energy.ts) applied to what was measured.
import type { Engine } from "../engine/engine.js";
import { ExitRunner, formatPolicy, type ExitPolicy } from "../exits/runner.js";
import { encodeModel } from "../io/model_io.js";
import { Batcher } from "../nn/batcher.js";
import type { Dataset } from "../nn/dataset.js";
import type { Head, Model, Tail } from "../nn/model.js";
import { startServer, type RunningServer } from "../server/http.js";
import { SplitClient, type SplitClientOptions } from "../split/client.js";
import { measureCosts, systemAnswers, type MeasuredCosts } from "../split/costs.js";
import { periodicRadioEnergy, type EnergyModel } from "../split/energy.js";
import { frameBytes, type FrameDtype } from "../split/frame.js";
import { formatLink, withUplinkRate, type LinkSpec } from "../split/links.js";
import { crossovers, plan, planSweep, type Objective, type Plan, type PlanInput, type PlanRow } from "../split/plan.js";
import { split } from "../split/split.js";
import { percentiles, type Percentiles } from "./experiment_split.js";
import { startLink, type RunningLink } from "./link.js";

/** How the strategies are run over links. */
export interface LinkStudyOptions {
  /** The links, each with the radio that prices it (presets carry one). */
  links: LinkSpec[];
  /** Test samples sent through the link per strategy (evenly spaced over the test set). */
  samples: number;
  /** Edge clients at once, each behind its own emulated link (they share the servers). */
  devices: number;
  /** Frame dtype of split and offload. */
  dtype: FrameDtype;
  /** The edge computes this many times slower than this machine: its measured compute time is scaled. */
  edgeSlowdown: number;
  energy: EnergyModel;
  /** One sample every periodMs on each device (radio tails; default 1000). */
  periodMs: number;
  objective: Objective;
}

/** One strategy measured on one link, beside its prediction. */
export interface StrategyRun {
  key: string;
  strategy: PlanRow["strategy"];
  /** Over the whole test set, simulated through one-sample frames; the link's answers are checked against it. */
  accuracy: number;
  edgeRate: number;
  /** Samples through the link, how many were answered as the simulation answers them, and the client's retries. */
  n: number;
  agree: number;
  retries: number;
  /** Per sample, ms, the edge slowdown applied: all, those the server answered, those the edge answered. */
  latency: Percentiles;
  serverPath?: Percentiles;
  edgePath?: Percentiles;
  /** Share of the link's samples answered on the edge. */
  measuredEdgeRate: number;
  /** Mean bytes per sample on the wire, protocol included (the link's counters). */
  upBytes: number;
  downBytes: number;
  edgeMacs: number;
  serverMacs: number;
  /** Mean energy per sample on the edge from the documented model, joules. */
  computeJ: number;
  radioJ: number;
  energyJ: number;
  /** The plan's row, and its mean latency at the link samples' own edge share. */
  predicted: PlanRow;
  predictedMeanMs: number;
}

/** Where two strategies cost the same along the uplink rate (RTT and radio as the link's): `below` is cheaper below. */
export interface Crossover {
  metric: "latency" | "energy";
  below: string;
  above: string;
  upBitsPerS: number;
}

/** The charted strategies' predicted cost at one uplink rate. */
export interface SweepPoint {
  upBitsPerS: number;
  latencyMs: Record<string, number>;
  energyJ: Record<string, number>;
}

/** One network on one link. */
export interface LinkRun {
  link: LinkSpec & { spec: string };
  plan: Plan;
  runs: StrategyRun[];
  /** The cheapest measured strategy. */
  winners: { latency: string; energy: string };
  sweep: SweepPoint[];
  /** Every pair of charted strategies' crossings, and where the cheapest of them changes. */
  crossovers: Crossover[];
  cheapest: Crossover[];
  /** The edge slowdown from which local stops being the fastest (predicted); undefined: it never does. */
  localLosesAtSlowdown: number | undefined;
}

/** One network's link study. */
export interface NetworkLinks {
  costs: MeasuredCosts;
  /** The server's handling of a one-sample request over loopback beyond its compute, ms (added to server time). */
  protocolMs: number;
  /** Header bytes per request, up and down, counted through an unshaped link. */
  overhead: { up: number; down: number };
  links: LinkRun[];
}

/** The emulator without shaping: what an exchange costs here beyond the link. */
const UNSHAPED = { up: 1e11, down: 1e11, delayMs: 0, handshake: false } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
/** Uplink rates of the charts: 1 kbit/s to 10 Gbit/s, eight per decade. */
const RATES = Array.from({ length: 57 }, (_, i) => 1e3 * 10 ** (i / 8));

/** Runs every strategy of one trained network over every link of `o`. */
export async function studyLinks(
  engine: Engine,
  model: Model,
  o: LinkStudyOptions & { hash: string; cut: number; policy?: ExitPolicy; test: Dataset; log: (s: string) => void },
): Promise<NetworkLinks> {
  const { test, dtype, cut } = o;
  const policies = o.policy ? [o.policy] : [];
  const costs = measureCosts(model, { data: test, policies, dtypes: [dtype], offloadDtype: dtype });
  const halves = new Map<number, { head: Head; tail: Tail }>();
  const servers = new Map<number, RunningServer>();
  const serverFor = async (k: number) => {
    let s = servers.get(k);
    if (s) return s;
    let model_: Uint8Array | Tail = encodeModel(model).bytes;
    if (k > 0) {
      const h = split(model, { cut: k, hash: o.hash, ...(o.policy && { policy: o.policy }) });
      halves.set(k, h);
      model_ = h.tail;
    }
    s = await startServer({ model: model_, engine, port: 0, host: "127.0.0.1", maxBatch: 64, maxDelayMs: 0 });
    servers.set(k, s);
    return s;
  };
  const target = { hash: o.hash, inputShape: model.inputShape, classes: model.classes, exits: model.exits.length };
  const edge = (k: number): Pick<SplitClientOptions, "head" | "offload"> =>
    k === 0 ? { offload: target } : { head: halves.get(k)!.head };
  const x0 = test.x.subarray(0, test.features);
  try {
    // the exchange's cost beyond compute and the link's rate and delay (HTTP, the servers' handling, the emulator's
    // own hop), and the header bytes per request: measured through an unshaped link, once for this network
    await serverFor(0);
    await serverFor(cut);
    const { overhead, exchangeMs } = await probe(servers, edge, cut, x0, dtype, model.classes);
    const cutCost = costs.input.cuts.find((c) => c.cut === cut)!;
    const protocolMs = Math.max(0, exchangeMs - cutCost.serverMs);
    for (const c of costs.input.cuts) c.serverMs += protocolMs;
    costs.input.full.serverMs += protocolMs;
    o.log(`exchange ${protocolMs.toFixed(3)} ms beyond compute; headers ${overhead.up} B up, ${overhead.down} B down`);

    const links: LinkRun[] = [];
    for (const link of o.links) {
      const input: PlanInput = {
        ...costs.input,
        link,
        overheadUpBytes: overhead.up,
        overheadDownBytes: overhead.down,
        energy: o.energy,
        edgeSlowdown: o.edgeSlowdown,
        periodMs: o.periodMs,
      };
      const p = plan(input, o.objective);
      const split1 = `split@${cut}:${dtype}`;
      const keys = ["local", "offload", split1, ...(o.policy ? [`${split1}+${formatPolicy(o.policy)}`] : [])];
      if (p.best && !keys.includes(p.best.key)) keys.push(p.best.key);
      const runs: StrategyRun[] = [];
      for (const key of keys) {
        const row = p.rows.find((r) => r.key === key)!;
        if (row.cut !== undefined) await serverFor(row.cut);
        runs.push(await runRow(row, { model, test, link, o, servers, edge, policy: o.policy, plan: p }));
        const r = runs.at(-1)!;
        o.log(
          `${link.name ?? formatLink(link)} ${key}: mean ${r.latency.mean.toFixed(2)} ms (predicted ` +
            `${r.predictedMeanMs.toFixed(2)}), p99 ${r.latency.p99.toFixed(2)} ms, ${r.upBytes.toFixed(0)} B up/sample`,
        );
      }
      const best = (f: (r: StrategyRun) => number) => runs.reduce((a, b) => (f(b) < f(a) ? b : a)).key;
      links.push({
        link: { ...link, spec: formatLink(link) },
        plan: p,
        runs,
        winners: { latency: best((r) => r.latency.mean), energy: best((r) => r.energyJ) },
        sweep: planSweep(input, RATES, o.objective).map(({ rows }, i) => {
          const at = (f: (r: PlanRow) => number) =>
            Object.fromEntries(keys.map((k) => [k, f(rows.find((r) => r.key === k)!)]));
          return { upBitsPerS: RATES[i]!, latencyMs: at((r) => r.latencyMs), energyJ: at((r) => r.energyJ) };
        }),
        crossovers: (["latency", "energy"] as const).flatMap((m) => pairCrossings(input, keys, m)),
        cheapest: (["latency", "energy"] as const).flatMap((m) => winnerChanges(input, keys, m, o.objective)),
        localLosesAtSlowdown: slowdownToLose(input, o.objective),
      });
    }
    return { costs, protocolMs, overhead, links };
  } finally {
    await Promise.all([...servers.values()].map((s) => s.close()));
    for (const h of halves.values()) {
      h.head.dispose();
      h.tail.dispose();
    }
  }
}

/**
 * Through a link with no rate limit and no delay: the header bytes of one request and its answer (split at `cut` and
 * full offload, averaged), and the median round trip of split requests after a warm-up, ms.
 */
async function probe(
  servers: Map<number, RunningServer>,
  edge: (k: number) => Pick<SplitClientOptions, "head" | "offload">,
  cut: number,
  x0: Float32Array,
  dtype: FrameDtype,
  classes: number,
): Promise<{ overhead: { up: number; down: number }; exchangeMs: number }> {
  let up = 0,
    down = 0;
  const rt: number[] = [];
  for (const k of [0, cut]) {
    const link = await startLink({ target: servers.get(k)!.url, ...UNSHAPED });
    const c = new SplitClient({ ...edge(k), serverUrl: link.url, policy: null, dtype });
    try {
      const r = await c.infer([x0]);
      const s = link.stats();
      up += (s.up.bytes - r.totals.bytesSent) / 2;
      down += (s.down.bytes - frameBytes([classes, 1], dtype)) / 2;
      if (k === cut)
        for (let i = 0; i < 40; i++) {
          const t = (await c.infer([x0])).totals.serverMs;
          if (i >= 10) rt.push(t);
        }
    } finally {
      c.dispose();
      await link.close();
    }
  }
  return { overhead: { up: Math.round(up), down: Math.round(down) }, exchangeMs: median(rt) };
}

interface RowContext {
  model: Model;
  test: Dataset;
  link: LinkSpec;
  o: LinkStudyOptions;
  servers: Map<number, RunningServer>;
  edge: (k: number) => Pick<SplitClientOptions, "head" | "offload">;
  policy: ExitPolicy | undefined;
  plan: Plan;
}

/** One sample's outcome through the client. */
interface Outcome {
  latencyMs: number;
  headMs: number;
  sent: boolean;
  label: number;
  exit: number;
}

/** Runs one plan row on the link's samples and measures it. */
async function runRow(row: PlanRow, c: RowContext): Promise<StrategyRun> {
  const { model, test, o } = c;
  const N = Math.min(o.samples, test.n);
  const picks = Array.from({ length: N }, (_, i) => Math.floor((i * test.n) / N));
  const s = o.edgeSlowdown;
  const cut = row.cut ?? 0;
  const policy = row.policy ? c.policy : undefined;
  const sim = systemAnswers(model, test, { cut, dtype: row.strategy === "local" ? "f32" : o.dtype, policy });
  const outcomes: Outcome[] = new Array(N);
  let wire = { up: 0, down: 0 },
    retries = 0;
  if (row.strategy === "local") {
    const batcher = new Batcher(model.engine, test, 1);
    const runner = new ExitRunner(model, undefined, { logits: false });
    try {
      for (let w = 0; w < 20; w++) runner.run(batcher.load(picks, w % N, 1));
      picks.forEach((_, i) => {
        const X = batcher.load(picks, i, 1);
        const t0 = performance.now();
        const r = runner.run(X);
        const ms = performance.now() - t0;
        outcomes[i] = { latencyMs: s * ms, headMs: ms, sent: false, label: r.label[0]!, exit: r.exit[0]! };
      });
    } finally {
      runner.dispose();
      batcher.dispose();
    }
  } else ({ wire, retries } = await throughLinks(row, c, picks, outcomes));

  const sent = outcomes.filter((x) => x.sent);
  const edgeAnswered = outcomes.filter((x) => !x.sent);
  const agree = outcomes.filter((x, i) => x.label === sim.label[picks[i]!] && x.exit === sim.exit[picks[i]!]).length;
  const measuredEdgeRate = row.strategy === "local" ? 1 : edgeAnswered.length / N;
  const radio = o.energy.radios[c.plan.radio];
  let radioJ = 0;
  if (sent.length > 0) {
    const up = (wire.up * N) / sent.length,
      down = (wire.down * N) / sent.length;
    const activeMs = sent.reduce((a, x) => a + x.latencyMs - s * x.headMs, 0) / sent.length;
    const t = { upMs: (8000 * up) / c.link.upBitsPerS, downMs: (8000 * down) / c.link.downBitsPerS, activeMs };
    const share = sent.length / N;
    radioJ = share * periodicRadioEnergy(radio, up, down, t, o.periodMs, share).totalJ;
  }
  const edgeMs = row.edgeLatencyMs ?? row.latencyMs,
    serverMs = row.serverLatencyMs ?? row.latencyMs;
  return {
    key: row.key,
    strategy: row.strategy,
    accuracy: sim.accuracy,
    edgeRate: row.strategy === "local" ? 1 : sim.exitRate,
    n: N,
    agree,
    retries,
    latency: percentiles(outcomes.map((x) => x.latencyMs)),
    ...(sent.length > 0 && { serverPath: percentiles(sent.map((x) => x.latencyMs)) }),
    ...(edgeAnswered.length > 0 && { edgePath: percentiles(edgeAnswered.map((x) => x.latencyMs)) }),
    measuredEdgeRate,
    upBytes: wire.up,
    downBytes: wire.down,
    edgeMacs: row.edgeMacs,
    // the tail's MACs for each sample sent (the plan's row spreads them over every sample)
    serverMacs: row.edgeRate < 1 ? (row.serverMacs / (1 - row.edgeRate)) * (sent.length / N) : 0,
    computeJ: row.computeJ,
    radioJ,
    energyJ: row.computeJ + radioJ,
    predicted: row,
    predictedMeanMs: measuredEdgeRate * edgeMs + (1 - measuredEdgeRate) * serverMs,
  };
}

/** The row's samples through `devices` clients, each behind its own link; fills `out`, returns bytes per sample. */
async function throughLinks(
  row: PlanRow,
  c: RowContext,
  picks: number[],
  out: Outcome[],
): Promise<{ wire: { up: number; down: number }; retries: number }> {
  const { test, o } = c;
  const N = picks.length,
    F = test.features;
  const D = Math.max(1, Math.min(o.devices, N));
  const cut = row.cut ?? 0;
  const server = c.servers.get(cut)!;
  const sample = (i: number) => [test.x.subarray(picks[i]! * F, (picks[i]! + 1) * F)];
  const devices: { link: RunningLink; client: SplitClient }[] = [];
  let retries = 0;
  try {
    for (let d = 0; d < D; d++) {
      // kept-alive connections, as the plan assumes: the emulator charges no handshake
      const link = await startLink({ target: server.url, link: c.link, seed: d + 1, handshake: false });
      const policy = row.policy ? c.policy : null;
      devices.push({ link, client: new SplitClient({ ...c.edge(cut), serverUrl: link.url, policy, dtype: o.dtype }) });
    }
    const before = devices.map((d) => d.link.stats());
    // the devices start spread over one predicted exchange, so requests do not reach the server in bursts
    const stagger = (row.serverLatencyMs ?? row.latencyMs) / D;
    await Promise.all(
      devices.map(async (dev, d) => {
        await sleep(d * stagger);
        for (let i = d; i < N; i += D) {
          const r = await dev.client.infer(sample(i));
          const x = r.samples[0]!;
          const headMs = r.totals.headMs;
          retries += r.totals.retries;
          const sent = r.totals.sent > 0;
          out[i] = {
            latencyMs: x.latencyMs + (o.edgeSlowdown - 1) * headMs,
            headMs,
            sent,
            label: x.label,
            exit: x.exit,
          };
        }
      }),
    );
    const after = devices.map((d) => d.link.stats());
    const up = after.reduce((a, s, d) => a + s.up.bytes - before[d]!.up.bytes, 0);
    const down = after.reduce((a, s, d) => a + s.down.bytes - before[d]!.down.bytes, 0);
    return { wire: { up: up / N, down: down / N }, retries };
  } finally {
    for (const d of devices) d.client.dispose();
    await Promise.all(devices.map((d) => d.link.close()));
  }
}

/** Where the cheapest of `keys` changes along the uplink rate, each change refined by bisection. */
function winnerChanges(input: PlanInput, keys: string[], metric: "latency" | "energy", objective: Objective) {
  const cost = (r: PlanRow) => (metric === "latency" ? r.latencyMs : r.energyJ);
  const winners = planSweep(input, RATES, objective).map(({ rows }) =>
    keys.reduce((a, b) => (cost(rows.find((r) => r.key === b)!) < cost(rows.find((r) => r.key === a)!) ? b : a)),
  );
  const out: Crossover[] = [];
  let prev = winners[0]!;
  for (let i = 1; i < RATES.length; i++) {
    const w = winners[i]!;
    if (w !== prev) {
      const at = crossovers(input, prev, w, metric, RATES[i - 1]!, RATES[i]!, 4)[0] ?? RATES[i]!;
      out.push({ metric, below: prev, above: w, upBitsPerS: at });
    }
    prev = w;
  }
  return out;
}

/** Every rate in the charts' range at which two of `keys` cost the same, with the one cheaper below it first. */
function pairCrossings(input: PlanInput, keys: string[], metric: "latency" | "energy"): Crossover[] {
  const out: Crossover[] = [];
  const lo = RATES[0]!,
    hi = RATES.at(-1)!;
  const cost = (key: string, rate: number) => {
    const r = plan({ ...input, link: withUplinkRate(input.link, rate) }).rows.find((x) => x.key === key)!;
    return metric === "latency" ? r.latencyMs : r.energyJ;
  };
  keys.forEach((a, i) => {
    for (const b of keys.slice(i + 1))
      for (const at of crossovers(input, a, b, metric, lo, hi, 56)) {
        const aBelow = cost(a, at * 0.99) < cost(b, at * 0.99);
        out.push({ metric, below: aBelow ? a : b, above: aBelow ? b : a, upBitsPerS: at });
      }
  });
  return out.sort((x, y) => x.upBitsPerS - y.upBitsPerS);
}

/** The smallest edge slowdown at which the plan's fastest row is not local (bisection on a log scale). */
function slowdownToLose(input: PlanInput, objective: Objective): number | undefined {
  const localWins = (s: number) =>
    plan({ ...input, edgeSlowdown: s }, { ...objective, minimize: "latency" }).best?.key === "local";
  let lo = input.edgeSlowdown ?? 1,
    hi = 1e9;
  if (!localWins(lo)) return lo;
  if (localWins(hi)) return undefined;
  while (hi / lo > 1.001) {
    const m = Math.sqrt(lo * hi);
    if (localWins(m)) lo = m;
    else hi = m;
  }
  return hi;
}
