// Does blocking cost accuracy? The paper's network [800,40,40,10] at out-degrees (2,9,10) and 784-1024-1024-10 at
// about 10% density, each with its sparse layers in blocks of 1, 2 and 4 outputs (where the out-degree allows), five
// seeds each (pattern, weights and shuffling), Adam lr 1e-3 with decay 1e-5, batch 256, one thread. Reports the final
// classifier's test accuracy as mean ± 95% confidence interval (Student's t over the seeds) and the mean training
// time per epoch. Sized for a 2-core machine: few epochs (state them with the table).
// Run: npm run build && node bench/block_accuracy.mjs [--data mnist|DIR] [--seeds 5] [--epochs-paper 20]
//        [--epochs-wide 5] [--train N]   (--train keeps the first N training samples; tests use a tiny setting)
import { Adam, Engine, Model, evaluate, train } from "../dist/index.js";
import { feasibleBlocks, feasibleOutDegrees, subset } from "../dist/ops_index.js";
import { loadData } from "../dist/node/index.js";
import { isMain, machine, machineLine, markdownTable, printTable, writeResults } from "./common.mjs";

// two-sided 95% quantiles of Student's t for 1..30 degrees of freedom
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean and half-width of the 95% confidence interval of the mean (t-distribution; 0 for one value). */
export function meanCi(xs) {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: 0 };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, half: (T95[Math.min(n - 1, 30) - 1] * sd) / Math.sqrt(n) };
}

/** The out-degree from inputs→outputs nearest `density` among the feasible multiples of 4 (so blocks 2, 4 fit). */
function nearestDegree(inputs, outputs, density) {
  const want = density * outputs;
  const ds = feasibleOutDegrees(inputs, outputs).filter((d) => d % 4 === 0);
  return ds.reduce((b, d) => (Math.abs(d - want) < Math.abs(b - want) ? d : b));
}

/** The two networks: sizes, out-degrees, and which layers take the block (the sparse ones). */
function networks() {
  const wide = [784, 1024, 1024, 10];
  const degrees = [nearestDegree(784, 1024, 0.1), nearestDegree(1024, 1024, 0.1), 10];
  return [
    { name: "paper", sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10], pad: 800 },
    { name: "784-1024-1024-10", sizes: wide, outDegrees: degrees, pad: undefined },
  ];
}

/**
 * Blocks per layer for block r: r on each sparse layer whose outputs and out-degree it divides (the paper's 40→40
 * at out-degree 9 takes none), 1 elsewhere; undefined when no layer takes r > 1.
 */
function blocksFor(net, r) {
  const out = net.outDegrees.map((d, i) =>
    d < net.sizes[i + 1] && feasibleBlocks(net.sizes[i + 1], d).includes(r) ? r : 1,
  );
  return r === 1 || out.some((b) => b > 1) ? out : undefined;
}

export async function run({
  data = "mnist",
  seeds = 5,
  epochsPaper = 20,
  epochsWide = 5,
  trainSamples,
  blocks = [1, 2, 4],
  quiet = false,
} = {}) {
  const log = quiet ? () => {} : console.log;
  const m = machine();
  const engine = await Engine.load({ threads: 1 });
  const rows = [];
  log(`\n## Accuracy of blocked patterns (${data}), ${seeds} seeds, one thread\n${machineLine(m)}`);
  for (const net of networks()) {
    const epochs = net.name === "paper" ? epochsPaper : epochsWide;
    const sets = loadData(data, { padTo: net.pad });
    const trainSet =
      trainSamples === undefined
        ? sets.train
        : subset(
            sets.train,
            Int32Array.from({ length: Math.min(trainSamples, sets.train.n) }, (_, i) => i),
          );
    for (const r of blocks) {
      const perLayer = blocksFor(net, r);
      const label = `${net.name} (${net.outDegrees.join(",")})`;
      if (!perLayer) {
        rows.push({ net: label, block: r, accuracy: "infeasible", seconds: "", epochs, seeds: 0 });
        continue;
      }
      const acc = [],
        secs = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const model = Model.mlp(engine, { sizes: net.sizes, outDegrees: net.outDegrees, blocks: perLayer, seed });
        const optimizer = new Adam({ lr: 1e-3, decay: 1e-5 });
        try {
          const reports = train(model, trainSet, { epochs, batchSize: 256, optimizer, seed, trainAccuracy: false });
          secs.push(reports.reduce((a, e) => a + e.seconds, 0) / reports.length);
          acc.push(evaluate(model, sets.test).accuracy.at(-1));
        } finally {
          model.dispose();
          optimizer.dispose();
        }
      }
      const a = meanCi(acc.map((x) => 100 * x)),
        t = meanCi(secs);
      rows.push({
        net: label,
        block: perLayer.join(","),
        accuracy: `${a.mean.toFixed(2)} ± ${a.half.toFixed(2)}`,
        seconds: `${t.mean.toFixed(3)} ± ${t.half.toFixed(3)}`,
        epochs,
        seeds,
        raw: { accuracy: acc, seconds: secs, blocks: perLayer },
      });
      log(`${label} block ${r}: ${rows.at(-1).accuracy} %, ${rows.at(-1).seconds} s/epoch`);
    }
  }
  const columns = [
    ["net", "network (out-degrees)"],
    ["block", "blocks per layer"],
    ["accuracy", "test accuracy % (mean ± 95% CI)"],
    ["seconds", "s / epoch (mean ± 95% CI)"],
    ["epochs", "epochs"],
  ];
  if (!quiet) {
    printTable(rows, columns);
    log(`\n${markdownTable(rows, columns)}`);
  }
  const path = writeResults("block_accuracy", { machine: m, data, seeds, epochsPaper, epochsWide, trainSamples, rows });
  log(`results: ${path}`);
  return rows;
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : def;
  };
  const num = (name, def) => (opt(name) === undefined ? def : Number(opt(name)));
  await run({
    data: opt("--data", "mnist"),
    seeds: num("--seeds", 5),
    epochsPaper: num("--epochs-paper", 20),
    epochsWide: num("--epochs-wide", 5),
    trainSamples: num("--train", undefined),
  });
}
