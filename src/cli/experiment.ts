import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadData } from "../data/load.js";
import { reductionLine, runExperiment, resultsTable, type NetworkSpec } from "../node/experiment.js";
import { type Command, UsageError, int, intList, num, numList } from "./args.js";
import {
  energyFlag,
  engine,
  linkFlag,
  objectiveFlag,
  slowdownFlag,
  THREADS_HELP,
  threadsFlag,
  threadsOption,
} from "./common.js";
import { LINK_PRESETS, formatLink, linkPreset, type LinkSpec } from "../split/links.js";
import { checkWritableDir } from "./outputs.js";
import { FULL_GRID, QUICK_GRID, headlineSentence } from "../node/pareto.js";

const FASHION = "/usr/share/datasets/fashion-mnist";

export const experimentCommand: Command = {
  name: "experiment",
  summary: "reproduce the paper's study end to end (what `npm start` runs) and write a report",
  usage: `
Usage: presparse experiment [flags]

Trains the predefined-sparse network [800,40,40,10] with out-degrees (2,9,10) and an early exit after the
first hidden layer, its dense twin [800,40,40,10] and the equal-budget dense [800,3,3,10] (each with the same
exit), each under every seed; calibrates each seed's exit; reports accuracies and exit rates as mean ± 95% CI;
splits the first seed's networks after the first hidden layer, serves each tail on loopback and runs the test
set through the edge client; tests the paper's headline against the dense twin; times training sparse, dense
and masked dense. Writes results/<name>/report.md, results.json and Vega-Lite charts (.svg beside .vl.json).

  --name NAME          results directory name (default paper; idx with --data DIR)
  --out DIR            results root (default results)
  --data mnist|DIR     embedded 10k MNIST digits (8,000/2,000 split) or a directory of IDX files
  --epochs N           epochs (default 50, the paper's)
  --seed S             seed of the train/test split and of the first run (default 0)
  --seeds N            train every network under N seeds (S, S+1, …): patterns, weights and batch order; the
                       report gives mean ± 95% CI (default 3; 5 with --full)
  --layers L           sizes of the sparse network and its dense twin (default 800,40,40,10)
  --out-degrees D      out-degrees of the sparse network (default 2,9,10)
  --blocks R           per layer of the sparse network, groups of R outputs reading the same inputs (default 1,1,1)
  --narrow L           sizes of the equal-budget dense network (default 800,3,3,10)
  --batch B            batch size (default 256)   --lr X (default 1e-3)   --decay X (default 1e-5)
  --exit-weights W     loss weights of the exit and the final classifier (default 1,0.3)
  --target-loss P      calibrated policy: cheapest threshold within P accuracy points of the final exit (default 0.5)
  --sweep              also the Pareto front on a small grid: sparse out-degrees (1|8, 9, 10), dense-narrow width 8
  --full               the whole study: 5 seeds and the front's full grid (sparse first-layer out-degrees 1, 2,
                       4, 8, 16 × second-layer 3, 9, 20; dense-narrow widths 2, 3, 5, 8, 12, 20); without --data,
                       Fashion-MNIST too (results/fashion) when installed at ${FASHION}
  --no-serve           skip the split/server phase
  --link SPEC|PRESET   run local, full offload, split and split + exit through this emulated link (default
                       wifi; repeatable; none: skip): lte, 3g, wifi, lora, or RATE[/RATE],RTT[,JITTER] with --radio
  --links all|P,P      every preset (lte, 3g, wifi, lora), or the presets named
  --radio R            lte, 3g, wifi or lpwan: the radio power model of a link written out
  --link-samples N     test samples sent through each link per strategy, 8 edge clients at once (default 32)
  --edge-slowdown F    the edge computes F times slower than this machine: its measured compute is scaled (default 1)
  --energy K=V,...     energy constants replaced, e.g. pjPerMac=1,wifi.activeMw=200 (keys: docs/links.md)
  --objective O        what the plan minimizes: latency (default) or energy
  --min-accuracy A     the plan's accuracy floor (a fraction, e.g. 0.88)
  -q, --quiet          no progress on stderr
${THREADS_HELP}
`,
  options: {
    ...threadsOption,
    name: { type: "string" },
    out: { type: "string" },
    data: { type: "string" },
    epochs: { type: "string" },
    seed: { type: "string" },
    seeds: { type: "string" },
    full: { type: "boolean" },
    layers: { type: "string" },
    "out-degrees": { type: "string" },
    blocks: { type: "string" },
    narrow: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    decay: { type: "string" },
    "exit-weights": { type: "string" },
    "target-loss": { type: "string" },
    sweep: { type: "boolean" },
    "no-serve": { type: "boolean" },
    link: { type: "string", multiple: true },
    links: { type: "string" },
    radio: { type: "string" },
    "link-samples": { type: "string" },
    "edge-slowdown": { type: "string" },
    energy: { type: "string" },
    objective: { type: "string" },
    "min-accuracy": { type: "string" },
    quiet: { type: "boolean", short: "q" },
  },
  async run(v) {
    const c = "experiment";
    const sizes = intList(c, "layers", v.layers, [800, 40, 40, 10], 1);
    const degrees = intList(c, "out-degrees", v["out-degrees"], [2, 9, 10], 1);
    const narrow = intList(c, "narrow", v.narrow, [800, 3, 3, 10], 1);
    if (sizes.length < 3 || narrow.length < 3)
      throw new UsageError(`${c}: networks need at least one hidden layer for the exit and the split`);
    if (degrees.length !== sizes.length - 1)
      throw new UsageError(`${c}: --out-degrees needs ${sizes.length - 1} values, got ${degrees.length}`);
    const blocks = intList(
      c,
      "blocks",
      v.blocks,
      degrees.map(() => 1),
      1,
    );
    if (blocks.length !== degrees.length)
      throw new UsageError(`${c}: --blocks needs ${degrees.length} values, one per layer, got ${blocks.length}`);
    if (narrow[0] !== sizes[0] || narrow.at(-1) !== sizes.at(-1))
      throw new UsageError(`${c}: --narrow must have the same input and output sizes as --layers`);
    const weights = numList(c, "exit-weights", v["exit-weights"], [1, 0.3], 0);
    if (weights.length !== 2)
      throw new UsageError(`${c}: --exit-weights needs 2 values (exit, final), got ${weights.length}`);
    const seed = int(c, "seed", v.seed, 0);
    const dataSpec = (v.data as string | undefined) ?? "mnist";
    const name = (v.name as string | undefined) ?? (dataSpec === "mnist" ? "paper" : "idx");
    if (!/^[\w.-]+$/.test(name))
      throw new UsageError(
        `${c}: --name may contain letters, digits, '.', '_' and '-' only, got ${JSON.stringify(name)}`,
      );
    const quiet = Boolean(v.quiet);
    const log = (s: string) => {
      if (!quiet) process.stderr.write(`${s}\n`);
    };
    const links = linksFlags(c, v);
    const root = (v.out as string | undefined) ?? "results";
    // --full without --data: the embedded digits, then Fashion-MNIST where Debian's package put it
    const runs: [string, string][] = [[dataSpec, name]];
    if (v.full && v.data === undefined && existsSync(FASHION)) runs.push([FASHION, "fashion"]);
    for (const [, n] of runs) await checkWritableDir(c, "--out/--name", join(root, n));
    const dense = sizes.slice(1);
    const networks: NetworkSpec[] = [
      {
        name: "sparse",
        description: `predefined sparse, out-degrees (${degrees.join(",")})${
          blocks.some((b) => b > 1) ? `, blocks (${blocks.join(",")})` : ""
        }`,
        sizes,
        outDegrees: degrees,
        ...(blocks.some((b) => b > 1) ? { blocks } : {}),
      },
      { name: "dense", description: "dense twin: same sizes, every connection", sizes, outDegrees: dense },
      {
        name: "narrow",
        description: "equal-budget dense network from the paper's code",
        sizes: narrow,
        outDegrees: narrow.slice(1),
      },
    ];
    const recipe = {
      networks,
      epochs: int(c, "epochs", v.epochs, 50, 1),
      batch: int(c, "batch", v.batch, 256, 1, 65536),
      lr: num(c, "lr", v.lr, 1e-3, 0),
      decay: num(c, "decay", v.decay, 1e-5, 0),
      seed,
      seeds: int(c, "seeds", v.seeds, v.full ? 5 : 3, 1, 1000),
      exitAfter: 1,
      exitWeights: [weights[0]!, weights[1]!] as [number, number],
      targetLoss: num(c, "target-loss", v["target-loss"], 0.5, 0, 100),
      ...((v.full || v.sweep) && { front: v.full ? FULL_GRID : QUICK_GRID }),
      serve: !v["no-serve"],
      ...(links.length > 0 && {
        links: {
          links,
          samples: int(c, "link-samples", v["link-samples"], 32, 1, 100_000),
          devices: 8,
          dtype: "int8" as const,
          edgeSlowdown: slowdownFlag(c, v),
          energy: energyFlag(c, v),
          periodMs: 1000,
          objective: objectiveFlag(c, v),
        },
      }),
      commandLine: `presparse ${["experiment", ...process.argv.slice(3)].join(" ")}`,
      log,
    };
    const eng = await engine(threadsFlag("experiment", v));
    for (const [spec, n] of runs) {
      const outDir = join(root, n);
      const data = loadData(spec, { seed, padTo: sizes[0] });
      const label = spec === "mnist" ? "embedded MNIST digits (mnist package), stratified split" : spec;
      const result = await runExperiment(eng, { ...recipe, outDir, data: { ...data, name: label } });
      process.stdout.write(`${runs.length > 1 ? `\n## ${label}\n\n` : ""}${resultsTable(result)}\n`);
      if (result.reductions) process.stdout.write(`\n${reductionLine(result.reductions)}\n`);
      if (result.headline) process.stdout.write(`\n${headlineSentence(result.headline, label)}\n`);
      process.stdout.write(`\nreport: ${join(outDir, "report.md")} (${result.seconds.toFixed(1)} s)\n`);
    }
  },
};

/** The links of `--link` (repeatable; default wifi; none: no link study) and `--links all|P,P`. */
function linksFlags(c: string, v: Record<string, unknown>): LinkSpec[] {
  const given = (v.link as unknown as string[] | undefined) ?? [];
  const named = v.links as string | undefined;
  if (named !== undefined && given.length > 0) throw new UsageError(`${c}: --link and --links do not go together`);
  if (given.includes("none")) {
    if (given.length > 1) throw new UsageError(`${c}: --link none goes alone`);
    return [];
  }
  const out: LinkSpec[] =
    named === "all"
      ? LINK_PRESETS.map((p) => ({ ...p }))
      : named !== undefined
        ? named.split(",").map((n) => {
            const p = linkPreset(n);
            if (!p) {
              const names = LINK_PRESETS.map((x) => x.name).join(", ");
              throw new UsageError(`${c}: --links expects all or preset names (${names}), got ${JSON.stringify(n)}`);
            }
            return { ...p };
          })
        : (given.length ? given : ["wifi"]).map((text) => linkFlag(c, { link: text, radio: v.radio })!);
  for (const l of out)
    if (!l.radio)
      throw new UsageError(`${c}: --link ${formatLink(l)} is written out: add --radio lte, 3g, wifi or lpwan`);
  return out;
}
