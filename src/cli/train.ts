import { buildModel, parseShape } from "../nn/arch.js";
import { Model } from "../nn/model.js";
import { Adam, Sgd, type Optimizer } from "../nn/optimizers.js";
import { saveModel } from "../node/model_files.js";
import { train } from "../nn/train.js";
import { type Command, UsageError, int, intList, num, numList } from "./args.js";
import {
  dataFor,
  engine,
  fmtBytes,
  indexDtypeFlag,
  pct,
  sizeSummary,
  THREADS_HELP,
  threadsFlag,
  threadsOption,
} from "./common.js";
import { checkWritableFile } from "./outputs.js";
import { Progress } from "./progress.js";

export const trainOptions = {
  arch: { type: "string" },
  "input-shape": { type: "string" },
  layers: { type: "string" },
  "out-degrees": { type: "string" },
  blocks: { type: "string" },
  exits: { type: "string" },
  "exit-weights": { type: "string" },
  "exit-out-degree": { type: "string" },
  epochs: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  decay: { type: "string" },
  optimizer: { type: "string" },
  momentum: { type: "string" },
  "weight-decay": { type: "string" },
  "bias-init": { type: "string" },
  seed: { type: "string" },
  data: { type: "string" },
  save: { type: "string" },
  "index-dtype": { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  ...threadsOption,
} as const;

/** Model and optimizer from the shared training flags (defaults: the paper's network and recipe). */
export function modelFromFlags(
  cmd: string,
  v: Record<string, unknown>,
  eng: Awaited<ReturnType<typeof engine>>,
): { model: Model; optimizer: Optimizer; seed: number } {
  const seed = int(cmd, "seed", v.seed, 0);
  const exitsAfter = intList(cmd, "exits", v.exits, [], 1);
  const weights = numList(
    cmd,
    "exit-weights",
    v["exit-weights"],
    [...exitsAfter.map(() => 1), exitsAfter.length ? 0.3 : 1],
    0,
  );
  if (weights.length !== exitsAfter.length + 1)
    throw new UsageError(
      `${cmd}: --exit-weights needs ${exitsAfter.length + 1} values (one per exit, then the final classifier), got ` +
        `${weights.length}`,
    );
  const biasInit = num(cmd, "bias-init", v["bias-init"], 0.1);
  const exitDegree =
    v["exit-out-degree"] === undefined ? undefined : int(cmd, "exit-out-degree", v["exit-out-degree"], 0, 1);
  const exits = exitsAfter.map((after, k) => ({
    after: after - 1,
    weight: weights[k]!,
    ...(exitDegree !== undefined ? { outDegree: exitDegree } : {}),
  }));
  let model: Model;
  if (v.arch !== undefined) {
    if (v.layers !== undefined || v["out-degrees"] !== undefined || v.blocks !== undefined)
      throw new UsageError(`${cmd}: give --arch or --layers/--out-degrees, not both`);
    if (exitDegree !== undefined)
      throw new UsageError(
        `${cmd}: --exit-out-degree goes with --layers (with --arch, exit heads are dense fc layers)`,
      );
    const shape = v["input-shape"] === undefined ? [1, 28, 28] : parseShape(String(v["input-shape"]));
    model = buildModel(eng, String(v.arch), {
      inputShape: shape,
      seed,
      biasInit,
      exits,
      finalWeight: weights[weights.length - 1]!,
    });
  } else {
    if (v["input-shape"] !== undefined) throw new UsageError(`${cmd}: --input-shape goes with --arch`);
    const sizes = intList(cmd, "layers", v.layers, [800, 40, 40, 10], 1);
    const degrees = intList(
      cmd,
      "out-degrees",
      v["out-degrees"],
      sizes.slice(1).map((s, i) => (i === 0 ? 2 : i === 1 ? 9 : s)),
      1,
    );
    if (sizes.length < 2) throw new UsageError(`${cmd}: --layers needs at least two sizes, got ${sizes.length}`);
    if (degrees.length !== sizes.length - 1)
      throw new UsageError(
        `${cmd}: --out-degrees needs ${sizes.length - 1} values for --layers ${sizes.join(",")}, got ${degrees.length}`,
      );
    const blocks = intList(
      cmd,
      "blocks",
      v.blocks,
      degrees.map(() => 1),
      1,
    );
    if (blocks.length !== degrees.length)
      throw new UsageError(`${cmd}: --blocks needs ${degrees.length} values, one per layer, got ${blocks.length}`);
    for (const e of exitsAfter)
      if (e > sizes.length - 2)
        throw new UsageError(`${cmd}: --exits ${e}: there are only ${sizes.length - 2} hidden layers`);
    model = Model.mlp(eng, {
      sizes,
      outDegrees: degrees,
      blocks,
      seed,
      biasInit,
      exits,
      finalWeight: weights[weights.length - 1]!,
    });
  }
  const lr = num(cmd, "lr", v.lr, 1e-3, 0);
  const decay = num(cmd, "decay", v.decay, 1e-5, 0);
  const weightDecay = num(cmd, "weight-decay", v["weight-decay"], 0, 0);
  const kind = (v.optimizer as string | undefined) ?? "adam";
  let optimizer: Optimizer;
  if (kind === "adam") optimizer = new Adam({ lr, decay, weightDecay });
  else if (kind === "sgd")
    optimizer = new Sgd({ lr, decay, weightDecay, momentum: num(cmd, "momentum", v.momentum, 0.9, 0, 0.999999) });
  else throw new UsageError(`${cmd}: --optimizer expects adam or sgd, got ${JSON.stringify(kind)}`);
  return { model, optimizer, seed };
}

export const trainCommand: Command = {
  name: "train",
  summary: "train a predefined-sparse network and save it as safetensors",
  usage: `
Usage: presparse train [flags]

Trains a network whose connections are fixed before training (defaults: the paper's recipe).

  --arch A             layer string instead of --layers, e.g. conv:1>16:3x3:deg4,pool:2,conv:16>32:3x3:deg4,pool:2,fc:10
                       (conv:IN>OUT:KHxKW[:degD][:sS][:pP], maxpool:K / avgpool:K / pool:K, flatten,
                       fc:OUT[:degD][:blockR])
  --input-shape CxHxW  per-sample input shape for --arch (default 1x28x28)
  --layers L           layer sizes (default 800,40,40,10)
  --out-degrees D      connections per input neuron, per layer; ≥ the next size means dense (default 2,9,10)
  --blocks R           per layer, groups of R consecutive outputs that read the same inputs (faster forward product;
                       R divides the layer's outputs and out-degree; default 1,…: unblocked)
  --exits K[,K…]       attach an early-exit head after trunk layer K (1-based; for --layers, hidden layer K)
  --exit-weights W     loss weights: one per exit, then the final classifier (default 1,…,0.3)
  --exit-out-degree D  make each exit head (hidden → classes) sparse with out-degree D (default: dense)
  --epochs N           epochs (default 50)
  --batch B            batch size (default 256)
  --optimizer adam|sgd (default adam)   --lr X (default 1e-3)   --decay X (Keras per-step decay, default 1e-5)
  --momentum X         SGD momentum (default 0.9)   --weight-decay X  L2 on weights (default 0)
  --bias-init X        initial bias (default 0.1)
  --seed S             seed of patterns, weights and shuffling (default 0)
  --data mnist|DIR     embedded 10k MNIST digits (8,000/2,000 split) or a directory of IDX files (default mnist)
  --save FILE          write the trained model (safetensors)
  --index-dtype i32|u16 column indices in FILE: i32 (default, read by every safetensors loader) or u16
                       (2 B less per sparse connection; torch before 2.3 cannot load it)
  --json               one JSON object per epoch on stdout
  -q, --quiet          no progress on stderr
${THREADS_HELP}
`,
  options: trainOptions,
  async run(v) {
    const eng = await engine(threadsFlag("train", v));
    const { model, optimizer, seed } = modelFromFlags("train", v, eng);
    const epochs = int("train", "epochs", v.epochs, 50, 1);
    const batch = int("train", "batch", v.batch, 256, 1, 65536);
    const indexDtype = indexDtypeFlag("train", v["index-dtype"]);
    if (v.save !== undefined) await checkWritableFile("train", "--save", v.save as string);
    const data = dataFor("train", (v.data as string | undefined) ?? "mnist", model.inputSize, seed);
    const progress = new Progress(Boolean(v.quiet));
    const size = sizeSummary(model);
    progress.line(
      `train: ${data.train.n} samples, test ${data.test.n}; ${size.parameters} parameters stored ` +
        `(${size.denseParameters} dense), ${size.macs} MACs/sample`,
    );
    const reports = train(model, data.train, {
      epochs,
      batchSize: batch,
      optimizer,
      seed,
      test: data.test,
      onBatch: (e, b, n) => progress.batch(`epoch ${e}/${epochs}`, b, n),
      onEpoch: (r) => {
        if (v.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        const acc = (a?: number[]) => (a ? a.map((x) => pct(x)).join("/") : "-");
        progress.line(
          `epoch ${r.epoch}/${epochs}  loss ${r.loss.toFixed(4)}  train ${acc(r.trainAccuracy)}  test ` +
            `${acc(r.testAccuracy)}  ${r.seconds.toFixed(3)} s  ${Math.round(r.samplesPerSecond)} samples/s`,
        );
      },
    });
    const last = reports[reports.length - 1]!;
    if (v.save) {
      const saved = await saveModel(model, v.save as string, {
        extra: { trained: { epochs, batch, seed, data: v.data ?? "mnist", testAccuracy: last.testAccuracy } },
        indexDtype,
      });
      const denseBytes = size.denseParameters * 4;
      progress.line(
        `saved ${v.save}: ${fmtBytes(saved.bytes)} (dense float32 equivalent ${fmtBytes(denseBytes)}, ` +
          `${(denseBytes / saved.bytes).toFixed(1)}× smaller), hash ${saved.hash}`,
      );
      if (v.json)
        process.stdout.write(
          `${JSON.stringify({ saved: v.save, bytes: saved.bytes, denseBytes, hash: saved.hash })}\n`,
        );
    }
    model.dispose();
    optimizer.dispose();
  },
};
