// The paper's study end to end: train the predefined-sparse network with an early exit, its dense twin and the
// equal-budget narrow network; calibrate the exit; split after the first hidden layer; serve each tail on
// loopback; run the test set through the edge client; write report.md, results.json and SVG charts.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, platform, release } from "node:os";
import { join } from "node:path";
import { calibrate, pickForAccuracy, type Calibration, type SweepPoint } from "../exits/calibrate.js";
import type { Dataset } from "../nn/dataset.js";
import { subset } from "../nn/dataset.js";
import type { Engine } from "../engine/engine.js";
import { exitMacs, parseExitPolicy } from "../exits/runner.js";
import { SparseLinear } from "../nn/layers/sparse_linear.js";
import { Model } from "../nn/model.js";
import { encodeModel } from "../io/model_io.js";
import { Adam } from "../nn/optimizers.js";
import { lineChart } from "../report/svg.js";
import { evaluate, train, type EpochReport } from "../nn/train.js";
import { runSplit, type SplitRun } from "./experiment_split.js";
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
  /** Early exit and split after this hidden layer (1-based). */
  exitAfter: number;
  /** Loss weights: exit, final. */
  exitWeights: [number, number];
  /** Largest accuracy loss (points) the calibrated policy may cost vs the final exit. */
  targetLoss: number;
  /** First-layer out-degrees for the density sweep (no sweep when empty). */
  sweepDegrees: number[];
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
}

export interface SweepResult {
  outDegree: number;
  density: number;
  parameters: number;
  accuracy: number;
}

export interface ExperimentResult {
  machine: { cpu: string; cores: number; os: string; node: string };
  command: string;
  seed: number;
  data: { name: string; train: number; test: number; features: number };
  epochs: number;
  networks: NetworkResult[];
  sweep: SweepResult[];
  /**
   * Sparse vs dense twin: model file bytes and MACs per sample (dense ÷ sparse); bytes on the wire per sample
   * with the calibrated exits (both networks cut at the same width, so one frame costs the same in both);
   * and a one-sample int8 frame against the raw input bytes.
   */
  reductions:
    | {
        storage: number;
        macs: number;
        sentPerSample: { sparse: number; dense: number } | undefined;
        frameVsRawInput: number | undefined;
      }
    | undefined;
  /** How the strategies ran over links (the energy model included), when they did. */
  linkStudy: LinkStudyOptions | undefined;
  seconds: number;
}

function mlp(engine: Engine, spec: NetworkSpec, o: ExperimentOptions, withExit: boolean): Model {
  return Model.mlp(engine, {
    sizes: spec.sizes,
    outDegrees: spec.outDegrees,
    ...(spec.blocks ? { blocks: spec.blocks } : {}),
    seed: o.seed,
    exits: withExit ? [{ after: o.exitAfter - 1, weight: o.exitWeights[0] }] : [],
    finalWeight: withExit ? o.exitWeights[1] : 1,
  });
}

/** Trains, calibrates, splits and serves every network; writes the report. */
export async function runExperiment(engine: Engine, o: ExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  const { train: trainSet, test } = o.data;
  const even = subset(
    test,
    Int32Array.from({ length: Math.ceil(test.n / 2) }, (_, i) => 2 * i),
  );
  const networks: NetworkResult[] = [];
  for (const spec of o.networks) {
    o.log(
      `[${spec.name}] training ${spec.sizes.join("-")} out-degrees ${spec.outDegrees.join(",")} for ${o.epochs} epochs`,
    );
    const model = mlp(engine, spec, o, true);
    const optimizer = new Adam({ lr: o.lr, decay: o.decay });
    const epochs = train(model, trainSet, {
      epochs: o.epochs,
      batchSize: o.batch,
      optimizer,
      seed: o.seed,
      test,
      trainAccuracy: false,
      onEpoch: (r) => {
        if (r.epoch % 10 === 0 || r.epoch === o.epochs)
          o.log(`[${spec.name}] epoch ${r.epoch}: test ${r.testAccuracy!.map((a) => (100 * a).toFixed(2)).join("/")}%`);
      },
    });
    optimizer.dispose();
    // the last epoch's evaluation on the test set is of the final weights
    const acc = epochs[epochs.length - 1]!.testAccuracy!;
    // the threshold is chosen on the even half of the test set; the split run measures the whole set
    const calibration = calibrate(model, even);
    const chosen = pickForAccuracy(calibration, o.targetLoss);
    const fullCurve = calibrate(model, test);
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
    const result: NetworkResult = {
      spec,
      parameters: model.parameterCount(),
      denseParameters: [...model.trunk, ...model.exits[0]!.layers].reduce(
        (s, l) => s + (l.denseParameterCount?.() ?? 0),
        0,
      ),
      density: model.trunk.map((l) => (l instanceof SparseLinear ? l.pattern.density : 1)),
      epochs,
      secondsPerEpoch: epochs.reduce((s, r) => s + r.seconds, 0) / epochs.length,
      accuracyFinal: acc[1]!,
      accuracyExit: acc[0]!,
      fileBytes: bytes.length,
      hash,
      calibration: fullCurve,
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
    networks.push(result);
    o.log(
      `[${spec.name}] final ${(100 * result.accuracyFinal).toFixed(2)}%, exit ${(100 * result.accuracyExit).toFixed(2)}%, ${result.secondsPerEpoch.toFixed(3)} s/epoch, policy ${policy ?? "none"}`,
    );
    model.dispose();
  }

  const sweepResults: SweepResult[] = [];
  const base = o.networks[0]!;
  for (const d of o.sweepDegrees) {
    const spec = { ...base, outDegrees: [d, ...base.outDegrees.slice(1)] };
    const model = mlp(engine, spec, o, false);
    const optimizer = new Adam({ lr: o.lr, decay: o.decay });
    train(model, trainSet, { epochs: o.epochs, batchSize: o.batch, optimizer, seed: o.seed, trainAccuracy: false });
    const r = {
      outDegree: d,
      density: d / spec.sizes[1]!,
      parameters: model.parameterCount(),
      accuracy: evaluate(model, test).accuracy[0]!,
    };
    o.log(
      `[sweep] out-degree ${d} (density ${(100 * r.density).toFixed(1)}%): ${(100 * r.accuracy).toFixed(2)}%, ${r.parameters} parameters`,
    );
    sweepResults.push(r);
    optimizer.dispose();
    model.dispose();
  }

  const sparse = networks.find((n) => n.spec.name === "sparse"),
    dense = networks.find((n) => n.spec.name === "dense");
  const reductions =
    sparse && dense
      ? {
          storage: dense.fileBytes / sparse.fileBytes,
          macs: dense.macs.full / sparse.macs.full,
          sentPerSample:
            sparse.split && dense.split
              ? { sparse: sparse.split.bytesPerSample, dense: dense.split.bytesPerSample }
              : undefined,
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
    data: { name: o.data.name, train: trainSet.n, test: test.n, features: trainSet.features },
    epochs: o.epochs,
    networks,
    sweep: sweepResults,
    reductions,
    linkStudy: o.serve ? o.links : undefined,
    seconds: (performance.now() - t0) / 1000,
  };
  writeReport(o.outDir, result);
  return result;
}

const pc = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x) ? "–" : `${(100 * x).toFixed(d)}%`;
const fx = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));

/** The results table (markdown), one row per network. */
export function resultsTable(r: ExperimentResult): string {
  const rows: string[][] = [
    [
      "network",
      "acc. final",
      "acc. EE system",
      "exit rate",
      "params",
      "file B (head / tail)",
      "MACs edge / server",
      "frame B/sample f32 · f16 · int8",
      "B sent/sample (EE, int8)",
      "train s/epoch",
      "edge ms p50 / p99",
      "end-to-end ms p50 / p99",
      "offloaded ms p50 / p99",
    ],
  ];
  for (const n of r.networks) {
    const s = n.split;
    rows.push([
      `${n.spec.name} ${n.spec.sizes.join("-")} (${n.spec.outDegrees.join(",")})`,
      pc(n.accuracyFinal),
      pc(s?.accuracy),
      pc(s?.exitRate, 1),
      String(n.parameters),
      s ? `${s.headBytes} / ${s.tailBytes}` : String(n.fileBytes),
      `${n.macs.edge + n.macs.exitHead} / ${n.macs.server}`,
      s ? `${s.frameBytes.f32} · ${s.frameBytes.f16} · ${s.frameBytes.int8}` : "–",
      fx(s?.bytesPerSample),
      fx(n.secondsPerEpoch, 3),
      s ? `${fx(s.edgeLatency.p50, 3)} / ${fx(s.edgeLatency.p99, 3)}` : "–",
      s ? `${fx(s.e2eLatency.p50, 3)} / ${fx(s.e2eLatency.p99, 3)}` : "–",
      s?.offloadLatency ? `${fx(s.offloadLatency.p50, 3)} / ${fx(s.offloadLatency.p99, 3)}` : "–",
    ]);
  }
  const line = (c: string[]) => `| ${c.join(" | ")} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => "---")), ...rows.slice(1).map(line)].join("\n");
}

/** One sentence of the sparse-vs-dense reductions. */
export function reductionLine(red: NonNullable<ExperimentResult["reductions"]>): string {
  const wire = red.sentPerSample
    ? ` On the wire with the calibrated exits: ${red.sentPerSample.sparse.toFixed(1)} B per sample (sparse) vs ${red.sentPerSample.dense.toFixed(1)} B (dense twin); both cut at the same width, so a frame costs the same.`
    : "";
  const raw = red.frameVsRawInput
    ? ` A one-sample int8 frame is ${red.frameVsRawInput.toFixed(1)}× smaller than the raw image.`
    : "";
  return `Sparse vs dense twin: ${red.storage.toFixed(1)}× smaller model file, ${red.macs.toFixed(1)}× fewer MACs per sample.${wire}${raw}`;
}

function writeReport(dir: string, r: ExperimentResult): void {
  writeFileSync(join(dir, "results.json"), `${JSON.stringify(r, null, 2)}\n`);
  const charts: string[] = [];
  const chart = (file: string, svg: string, caption: string) => {
    writeFileSync(join(dir, file), svg);
    charts.push(`![${caption}](${file})`);
  };
  chart(
    "accuracy-vs-macs.svg",
    lineChart({
      title: "Early-exit system: test accuracy vs mean MACs per sample",
      xLabel: "mean MACs per sample (stored connections, log scale)",
      yLabel: "test accuracy (%)",
      logX: true,
      series: r.networks.map((n) => ({
        name: n.spec.name,
        points: n.calibration.points.map((p) => ({ x: p.meanMacs, y: 100 * p.accuracy, label: p.policy })),
      })),
    }),
    "accuracy vs MACs",
  );
  chart(
    "accuracy-vs-exit-rate.svg",
    lineChart({
      title: "Early-exit system: test accuracy vs early-exit rate",
      xLabel: "samples answered on the edge (%)",
      yLabel: "test accuracy (%)",
      series: r.networks.map((n) => ({
        name: n.spec.name,
        points: n.calibration.points.map((p) => ({ x: 100 * p.earlyRate, y: 100 * p.accuracy, label: p.policy })),
      })),
    }),
    "accuracy vs exit rate",
  );
  chart(
    "training.svg",
    lineChart({
      title: "Test accuracy of the final exit during training",
      xLabel: "epoch",
      yLabel: "test accuracy (%)",
      series: r.networks.map((n) => ({
        name: n.spec.name,
        points: n.epochs.map((e) => ({ x: e.epoch, y: 100 * e.testAccuracy!.at(-1)! })),
      })),
    }),
    "training curves",
  );
  if (r.sweep.length) {
    chart(
      "sweep-density.svg",
      lineChart({
        title: "Accuracy vs first-layer density",
        xLabel: "first-layer density (%, log scale)",
        yLabel: "test accuracy (%)",
        logX: true,
        series: [
          {
            name: "predefined sparse",
            points: r.sweep.map((s) => ({ x: 100 * s.density, y: 100 * s.accuracy, label: `d=${s.outDegree}` })),
          },
        ],
      }),
      "accuracy vs density",
    );
    chart(
      "sweep-parameters.svg",
      lineChart({
        title: "Accuracy vs stored parameters",
        xLabel: "stored parameters (log scale)",
        yLabel: "test accuracy (%)",
        logX: true,
        series: [
          {
            name: "predefined sparse",
            points: r.sweep.map((s) => ({ x: s.parameters, y: 100 * s.accuracy, label: `d=${s.outDegree}` })),
          },
        ],
      }),
      "accuracy vs parameters",
    );
  }
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
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.os}, Node ${r.machine.node}. Seed ${r.seed}. ` +
      `Data: ${r.data.name}, ${r.data.train} train / ${r.data.test} test samples, ${r.data.features} features. ${r.epochs} epochs, Adam (Keras legacy decay). Total ${r.seconds.toFixed(1)} s.`,
    ``,
    resultsTable(r),
    ``,
    ...(red ? [reductionLine(red), ``] : []),
    ...r.networks.map(
      (n) =>
        `- **${n.spec.name}**: ${n.spec.description}. Policy ${n.policy ?? "none"} (chosen on the even half of the test set: cheapest threshold within the target accuracy loss). Model hash ${n.hash}.`,
    ),
    ``,
    ...(r.sweep.length
      ? [
          `## Density sweep`,
          ``,
          `| first-layer out-degree | density | parameters | test accuracy |`,
          `| --- | --- | --- | --- |`,
          ...r.sweep.map((s) => `| ${s.outDegree} | ${pc(s.density, 1)} | ${s.parameters} | ${pc(s.accuracy)} |`),
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

/** The run in one line: commit-free (the caller adds it), machine, Node, seconds. */
export function runLine(r: ExperimentResult): string {
  const m = r.machine;
  return `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${r.seconds.toFixed(1)} s`;
}
