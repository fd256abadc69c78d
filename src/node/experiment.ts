// The paper's study end to end: train the predefined-sparse network with an early exit, its dense twin and the
// equal-budget narrow network; calibrate the exit; split after the first hidden layer; serve each tail on
// loopback; run the test set through the edge client; write report.md, results.json and SVG charts.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, platform, release } from "node:os";
import { join } from "node:path";
import type { Calibration, SweepPoint } from "../exits/calibrate.js";
import type { Dataset } from "../nn/dataset.js";
import type { Engine } from "../engine/engine.js";
import { exitMacs, parseExitPolicy } from "../exits/runner.js";
import { SparseLinear } from "../nn/layers/sparse_linear.js";
import { encodeModel } from "../io/model_io.js";
import { lineChartSpec } from "../report/vegalite.js";
import type { EpochReport } from "../nn/train.js";
import { runSplit, type SplitRun } from "./experiment_split.js";
import { writeChart } from "./charts.js";
import {
  evenHalf,
  seedList,
  seedStats,
  trainingCost,
  trainSeed,
  type SeedRun,
  type SeedStats,
  type Trained,
  type TrainingCost,
} from "./study.js";
import { formatInterval, type Interval } from "../report/stats.js";
import {
  budgetTable,
  frontSpecs,
  frontTable,
  gridShapes,
  headline,
  headlineSentence,
  markPareto,
  shapeLabel,
  trainFront,
  type FrontGrid,
  type FrontPoint,
  type Headline,
} from "./pareto.js";
import { studyLinks, type LinkStudyOptions, type NetworkLinks } from "./experiment_links.js";
import { linkSections, linksReadme } from "./links_report.js";

/** One network of the study. */
export interface NetworkSpec {
  name: string;
  description: string;
  sizes: number[];
  outDegrees: number[];
  /** Per layer, groups of this many outputs that read the same inputs (default unblocked). */
  blocks?: number[];
}

export interface ExperimentOptions {
  outDir: string;
  data: { train: Dataset; test: Dataset; name: string };
  networks: NetworkSpec[];
  epochs: number;
  batch: number;
  lr: number;
  decay: number;
  seed: number;
  /** Seeds per network: seed, seed + 1, … (default 1). The first seed's models are the ones deployed. */
  seeds?: number;
  /** Early exit and split after this hidden layer (1-based). */
  exitAfter: number;
  /** Loss weights: exit, final. */
  exitWeights: [number, number];
  /** Largest accuracy loss (points) the calibrated policy may cost vs the final exit. */
  targetLoss: number;
  /** The Pareto front's grid around the first network (the study's networks alone when absent). */
  front?: FrontGrid;
  /** Run the split phase (server on loopback + edge client). */
  serve: boolean;
  /** Run local, full offload, split and split + exit through emulated links (with `serve`). */
  links?: LinkStudyOptions;
  commandLine: string;
  log: (line: string) => void;
}

export interface NetworkResult {
  spec: NetworkSpec;
  parameters: number;
  denseParameters: number;
  density: number[];
  epochs: EpochReport[];
  secondsPerEpoch: number;
  accuracyFinal: number;
  accuracyExit: number;
  fileBytes: number;
  hash: string;
  calibration: Calibration;
  chosen: SweepPoint | undefined;
  policy: string | undefined;
  macs: { edge: number; exitHead: number; server: number; full: number; expected: number | undefined };
  split: SplitRun | undefined;
  /** The strategies through each link, predicted and measured. */
  links: NetworkLinks | undefined;
  /** Every seed's run (the first is the one deployed above) and the 95% intervals over them. */
  runs: SeedRun[];
  stats: SeedStats;
}

export interface ExperimentResult {
  machine: { cpu: string; cores: number; os: string; node: string };
  command: string;
  seed: number;
  /** The seeds every network was trained under. */
  seeds: number[];
  data: { name: string; train: number; test: number; features: number };
  epochs: number;
  networks: NetworkResult[];
  /** The study's networks and the grid's, over the same seeds; `pareto` marks the front. */
  front: FrontPoint[];
  /** Seconds per epoch: sparse, dense twin and masked dense (the seed paper's method), back to back. */
  training: TrainingCost | undefined;
  /** The paper's headline tested against the dense twin (absent without a network named "dense"). */
  headline: Headline | undefined;
  /**
   * Sparse vs dense twin: model file bytes and MACs per sample (dense ÷ sparse); bytes on the wire per sample
   * with the calibrated exits (both networks cut at the same width, so one frame costs the same in both);
   * and a one-sample int8 frame against the raw input bytes.
   */
  reductions:
    | {
        storage: number;
        macs: number;
        /** Mean int8 bytes sent per sample with the calibrated exit, over seeds. */
        sentPerSample: { sparse: Interval; dense: Interval } | undefined;
        frameVsRawInput: number | undefined;
      }
    | undefined;
  /** How the strategies ran over links (the energy model included), when they did. */
  linkStudy: LinkStudyOptions | undefined;
  seconds: number;
}

/** Trains, calibrates, splits and serves every network; writes the report. */
export async function runExperiment(engine: Engine, o: ExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  const { train: trainSet, test } = o.data;
  const seeds = seedList(o.seed, o.seeds ?? 1);
  const data = { train: trainSet, test, even: evenHalf(test) };
  const networks: NetworkResult[] = [];
  for (const spec of o.networks) {
    const runs: SeedRun[] = [];
    let first: Omit<NetworkResult, "runs" | "stats"> | undefined;
    for (const seed of seeds) {
      const curve = first === undefined;
      o.log(
        `[${spec.name}] seed ${seed}: training ${spec.sizes.join("-")} out-degrees ${spec.outDegrees.join(",")} ` +
          `for ${o.epochs} epochs`,
      );
      const t = trainSeed(engine, spec, o, data, seed, {
        curve,
        onEpoch: (r) => {
          if (r.epoch % 10 === 0 || r.epoch === o.epochs)
            o.log(`[${spec.name}] epoch ${r.epoch}: test ${r.testAccuracy!.map((a) => pc(a)).join("/")}`);
        },
      });
      try {
        runs.push(t.run);
        if (curve) first = await deploy(engine, spec, t, o, test);
      } finally {
        t.model.dispose();
      }
      o.log(
        `[${spec.name}] seed ${seed}: final ${pc(t.run.accuracyFinal)}, exit ${pc(t.run.accuracyExit)}, ` +
          `system ${pc(t.run.accuracySystem)} at exit rate ${pc(t.run.exitRate, 1)}, policy ${t.run.policy ?? "none"}`,
      );
    }
    networks.push({ ...first!, runs, stats: seedStats(runs) });
  }

  const own: FrontPoint[] = networks.map((n) => ({
    kind:
      n.spec.name === "dense"
        ? "dense"
        : n.spec.outDegrees.every((d, k) => d >= n.spec.sizes[k + 1]!)
          ? "dense-narrow"
          : "sparse",
    label: shapeLabel(n.spec),
    shape: { sizes: n.spec.sizes, outDegrees: n.spec.outDegrees },
    parameters: n.parameters,
    fileBytes: n.fileBytes,
    macs: n.macs.full,
    runs: n.runs,
    stats: n.stats,
  }));
  const grid = o.front ? gridShapes(o.networks[0]!, o.front, o.networks) : [];
  const front = markPareto([...own, ...trainFront(engine, grid, o, data, seeds, o.log)]);
  const denseTwin = own.find((p) => p.kind === "dense");

  const sparse = networks.find((n) => n.spec.name === "sparse"),
    dense = networks.find((n) => n.spec.name === "dense");
  const costEpochs = Math.min(o.epochs, 10);
  if (sparse && dense) o.log(`[training cost] sparse, dense and masked dense, ${costEpochs} epochs each`);
  const training = sparse && dense ? trainingCost(engine, sparse.spec, o, trainSet, seeds[0]!, costEpochs) : undefined;
  const reductions =
    sparse && dense
      ? {
          storage: dense.fileBytes / sparse.fileBytes,
          macs: dense.macs.full / sparse.macs.full,
          sentPerSample: { sparse: sparse.stats.bytesSent, dense: dense.stats.bytesSent },
          // an MNIST-like input is one byte per pixel before padding
          frameVsRawInput: sparse.split ? Math.min(784, trainSet.features) / sparse.split.frameBytes.int8 : undefined,
        }
      : undefined;
  const result: ExperimentResult = {
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      os: `${platform()} ${release()}`,
      node: process.version,
    },
    command: o.commandLine,
    seed: o.seed,
    seeds,
    data: { name: o.data.name, train: trainSet.n, test: test.n, features: trainSet.features },
    epochs: o.epochs,
    networks,
    front,
    training,
    headline: denseTwin ? headline(front, denseTwin) : undefined,
    reductions,
    linkStudy: o.serve ? o.links : undefined,
    seconds: (performance.now() - t0) / 1000,
  };
  await writeReport(o.outDir, result);
  return result;
}

/** The first seed's model deployed: file, split through the real client and server, and the links. */
async function deploy(
  engine: Engine,
  spec: NetworkSpec,
  t: Trained,
  o: ExperimentOptions,
  test: Dataset,
): Promise<Omit<NetworkResult, "runs" | "stats">> {
  const { model, epochs, calibration, chosen } = t;
  const { bytes, hash } = encodeModel(model);
  const trunkMacs = model.trunkMacs();
  const m = exitMacs(model);
  const exitHead = model.exitHeadMacs()[0]!;
  const edge = trunkMacs[o.exitAfter - 1]!;
  const policy = chosen?.policy;
  const split = o.serve
    ? await runSplit(engine, model, {
        after: o.exitAfter,
        policy: policy ? parseExitPolicy(policy, 1) : undefined,
        hash,
        test,
        log: (s) => o.log(`[${spec.name}] ${s}`),
      })
    : undefined;
  const links =
    o.serve && o.links
      ? await studyLinks(engine, model, {
          ...o.links,
          hash,
          cut: o.exitAfter,
          ...(policy && { policy: parseExitPolicy(policy, 1) }),
          test,
          log: (s) => o.log(`[${spec.name}] ${s}`),
        })
      : undefined;
  return {
    spec,
    parameters: model.parameterCount(),
    denseParameters: [...model.trunk, ...model.exits[0]!.layers].reduce(
      (s, l) => s + (l.denseParameterCount?.() ?? 0),
      0,
    ),
    density: model.trunk.map((l) => (l instanceof SparseLinear ? l.pattern.density : 1)),
    epochs,
    secondsPerEpoch: t.run.secondsPerEpoch,
    accuracyFinal: t.run.accuracyFinal,
    accuracyExit: t.run.accuracyExit,
    fileBytes: bytes.length,
    hash,
    calibration,
    chosen,
    policy,
    macs: {
      edge,
      exitHead,
      server: m.trunk - edge,
      full: m.trunk,
      expected: split ? split.meanMacs : chosen?.meanMacs,
    },
    split,
    links,
  };
}

const pc = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x) ? "–" : `${(100 * x).toFixed(d)}%`;
const fx = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));

/** The results table (markdown), one row per network: accuracies and exit rates as mean ± 95% CI over seeds. */
export function resultsTable(r: ExperimentResult): string {
  const rows: string[][] = [
    [
      "network",
      "acc. final %",
      "acc. exit %",
      "acc. EE system %",
      "exit rate %",
      "B sent/sample (EE, int8)",
      "params",
      "file B (head / tail)",
      "MACs edge / server",
      "frame B/sample f32 · f16 · int8",
      "train s/epoch",
      `EE system via client, seed ${r.seeds[0]}`,
      "edge ms p50 / p99",
      "end-to-end ms p50 / p99",
      "offloaded ms p50 / p99",
    ],
  ];
  for (const n of r.networks) {
    const s = n.split;
    const st = n.stats;
    rows.push([
      `${n.spec.name} ${n.spec.sizes.join("-")} (${n.spec.outDegrees.join(",")})`,
      formatInterval(st.accuracyFinal),
      formatInterval(st.accuracyExit),
      formatInterval(st.accuracySystem),
      formatInterval(st.exitRate, 100, 1),
      formatInterval(st.bytesSent, 1, 1),
      String(n.parameters),
      s ? `${s.headBytes} / ${s.tailBytes}` : String(n.fileBytes),
      `${n.macs.edge + n.macs.exitHead} / ${n.macs.server}`,
      s ? `${s.frameBytes.f32} · ${s.frameBytes.f16} · ${s.frameBytes.int8}` : "–",
      fx(st.secondsPerEpoch.mean, 3),
      s ? `${pc(s.accuracy)} at ${pc(s.exitRate, 1)} exit` : "–",
      s ? `${fx(s.edgeLatency.p50, 3)} / ${fx(s.edgeLatency.p99, 3)}` : "–",
      s ? `${fx(s.e2eLatency.p50, 3)} / ${fx(s.e2eLatency.p99, 3)}` : "–",
      s?.offloadLatency ? `${fx(s.offloadLatency.p50, 3)} / ${fx(s.offloadLatency.p99, 3)}` : "–",
    ]);
  }
  const line = (c: string[]) => `| ${c.join(" | ")} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => "---")), ...rows.slice(1).map(line)].join("\n");
}

/** What the table's intervals are, in one sentence. */
export function seedsLine(r: ExperimentResult): string {
  const k = r.seeds.length;
  const which = k === 1 ? `seed ${r.seeds[0]}` : `seeds ${r.seeds[0]}–${r.seeds.at(-1)}`;
  return k === 1
    ? `One seed (${which}): no intervals; \`--seeds N\` gives mean ± 95% CI.`
    : `Mean ± 95% confidence interval (Student's t, ${k - 1} degrees of freedom) over ${k} seeds (${which}); a ` +
        `seed draws the pattern, the initial weights and the batch order, the train/test split stays fixed. ` +
        `Deployment columns (files, frames, latencies, the client's own accuracy) are of the first seed's models.`;
}

/** One sentence of the sparse-vs-dense reductions. */
export function reductionLine(red: NonNullable<ExperimentResult["reductions"]>): string {
  const wire = red.sentPerSample
    ? ` On the wire with the calibrated exits: ${formatInterval(red.sentPerSample.sparse, 1, 1)} B per sample ` +
      `(sparse) vs ${formatInterval(red.sentPerSample.dense, 1, 1)} B (dense twin); both cut at the same width, so ` +
      `a frame costs the same.`
    : "";
  const raw = red.frameVsRawInput
    ? ` A one-sample int8 frame is ${red.frameVsRawInput.toFixed(1)}× smaller than the raw image.`
    : "";
  return (
    `Sparse vs dense twin: ${red.storage.toFixed(1)}× smaller model file, ${red.macs.toFixed(1)}× fewer MACs per ` +
    `sample.${wire}${raw}`
  );
}

async function writeReport(dir: string, r: ExperimentResult): Promise<void> {
  writeFileSync(join(dir, "results.json"), `${JSON.stringify(r, null, 2)}\n`);
  const charts: string[] = [];
  const chart = async (stem: string, spec: Record<string, unknown>, caption: string) =>
    charts.push(`![${caption}](${await writeChart(dir, stem, spec)})`);
  // the first seed's curves: every threshold of its calibrated exit, and its training
  const first = `seed ${r.seeds[0]}`;
  await chart(
    "accuracy-vs-macs",
    lineChartSpec({
      title: `Early-exit system: test accuracy vs mean MACs per sample (each threshold, ${first})`,
      xTitle: "mean MACs per sample (stored connections)",
      yTitle: "test accuracy (%)",
      logX: true,
      series: r.networks.map((n) => ({
        name: n.spec.name,
        points: n.calibration.points.map((p) => ({ x: p.meanMacs, y: 100 * p.accuracy, label: p.policy })),
      })),
    }),
    "accuracy vs MACs",
  );
  await chart(
    "accuracy-vs-exit-rate",
    lineChartSpec({
      title: `Early-exit system: test accuracy vs early-exit rate (each threshold, ${first})`,
      xTitle: "samples answered on the edge (%)",
      yTitle: "test accuracy (%)",
      series: r.networks.map((n) => ({
        name: n.spec.name,
        points: n.calibration.points.map((p) => ({ x: 100 * p.earlyRate, y: 100 * p.accuracy, label: p.policy })),
      })),
    }),
    "accuracy vs exit rate",
  );
  await chart(
    "training",
    lineChartSpec({
      title: `Test accuracy of the final exit during training (${first})`,
      xTitle: "epoch",
      yTitle: "test accuracy (%)",
      logX: false,
      series: r.networks.map((n) => ({
        name: n.spec.name,
        points: n.epochs.map((e) => ({ x: e.epoch, y: 100 * e.testAccuracy!.at(-1)! })),
      })),
    }),
    "training curves",
  );
  for (const c of frontSpecs(r.front, r.seeds.length))
    await chart(c.stem, c.spec as Record<string, unknown>, c.caption);
  const nets = r.networks.flatMap((n) => (n.links ? [{ name: n.spec.name, links: n.links }] : []));
  const study = r.linkStudy && nets.length ? linkSections(nets, r.linkStudy, r.linkStudy.energy) : undefined;
  for (const c of study?.charts ?? []) writeFileSync(join(dir, c.file), c.svg);
  if (study) writeFileSync(join(dir, "links.md"), linksReadme(nets, r.command, runLine(r)));
  const red = r.reductions;
  const md = [
    `# presparse experiment`,
    ``,
    `Command: \`${r.command}\``,
    ``,
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.os}, Node ${r.machine.node}. ` +
      `Data: ${r.data.name}, ${r.data.train} train / ${r.data.test} test samples (split by seed ${r.seed}), ` +
      `${r.data.features} features. ${r.epochs} epochs, Adam (Keras legacy decay). Total ${r.seconds.toFixed(1)} s.`,
    ``,
    seedsLine(r),
    ``,
    resultsTable(r),
    ``,
    ...(red ? [reductionLine(red), ``] : []),
    ...r.networks.map(
      (n) =>
        `- **${n.spec.name}**: ${n.spec.description}. Policy of seed ${r.seeds[0]} ${n.policy ?? "none"} (each ` +
        `seed's is chosen on the even half of the test set: the cheapest threshold within the target accuracy ` +
        `loss; policies by seed: ${n.runs.map((x) => x.policy ?? "none").join(", ")}). Model hash ${n.hash}.`,
    ),
    ``,
    ...(r.training ? [`## Training cost`, ``, trainingLine(r.training, r.data.train), ``] : []),
    ...(r.headline ? [`## The headline tested`, ``, headlineSentence(r.headline, r.data.name), ``] : []),
    ...(r.front.length > r.networks.length && denseOf(r)
      ? [
          `## The Pareto front`,
          ``,
          `Every network over the same seeds; storage × and MACs × are the dense twin's file bytes and MACs per `,
          `sample divided by the network's; ★: no network with as few or fewer parameters is more accurate.`,
          ``,
          frontTable(r.front, denseOf(r)!),
          ``,
          `Sparse-wide against dense-narrow at equal parameter budgets:`,
          ``,
          budgetTable(r.front),
          ``,
        ]
      : []),
    ...(study?.lines ?? []),
    `## Charts`,
    ``,
    ...charts,
    ``,
  ].join("\n");
  writeFileSync(join(dir, "report.md"), md);
}

/** Training time per epoch, sparse against dense and masked dense, in one sentence. */
export function trainingLine(t: TrainingCost, samples: number): string {
  const ms = (x: number) => `${(1000 * x).toFixed(1)} ms`;
  return (
    `Seconds per epoch of ${samples} samples (median of ${t.epochs} epochs each, measured back to back in this ` +
    `run): sparse over its stored connections ${ms(t.sparse)}, the dense twin ${ms(t.dense)} ` +
    `(${(t.dense / t.sparse).toFixed(1)}× the sparse time), masked dense — the seed paper's method, dense weights ` +
    `multiplied by the sparse network's 0/1 masks after every batch, in this engine's dense kernels — ` +
    `${ms(t.maskedDense)} (${(t.maskedDense / t.sparse).toFixed(1)}×). \`node bench/train.mjs\` times the same ` +
    `masked training in TensorFlow.js (tfjs-backend-wasm) as the outside peer.`
  );
}

const denseOf = (r: ExperimentResult) => r.front.find((p) => p.kind === "dense");

/** The run in one line: commit-free (the caller adds it), machine, Node, seconds. */
export function runLine(r: ExperimentResult): string {
  const m = r.machine;
  return `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${r.seconds.toFixed(1)} s`;
}
