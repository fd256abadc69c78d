// Early-exit inference vs the plain trunk, same process: batch 256 of test digits through the paper's
// network (trained here, 50 epochs, with one exit after hidden layer 1), at thresholds spanning exit rates.
// Also a wide network ([800,1024,1024,10] at ~10%), where the layers past the exit carry most of the work.
// Run: npm run build && node bench/exits.mjs
import { Adam, ExitRunner, Matrix, Model, measurePolicy, train } from "../dist/index.js";
import { defaultEngine } from "../dist/ops_index.js";
import { loadData } from "../dist/node/index.js";
import {
  isMain,
  machine,
  machineLine,
  markdownTable,
  printTable,
  timeCall,
  writeResults,
  threadsArg,
} from "./common.mjs";

const THRESHOLDS = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999];

async function case_(engine, name, spec, data, epochs) {
  const model = Model.mlp(engine, { ...spec, seed: 0, exits: [{ after: 0, weight: 1 }], finalWeight: 0.3 });
  train(model, data.train, {
    epochs,
    batchSize: 256,
    optimizer: new Adam({ lr: 1e-3, decay: 1e-5 }),
    seed: 0,
    trainAccuracy: false,
  });
  const B = 256;
  const X = Matrix.fromSamples(engine, 800, data.test.x.subarray(0, B * 800));
  // the baseline answers the same question without exits: class and confidence from the final classifier
  const plain = new Model(engine, model.trunk, []);
  const noExit = new ExitRunner(plain, { kind: "maxprob", thresholds: [] }, { logits: false });
  const base = timeCall(() => noExit.run(X)).median / B;
  const raw = timeCall(() => model.forward(X)).median / B;
  const acc = measurePolicy(plain, data.test, { kind: "maxprob", thresholds: [] }).accuracy;
  const rows = [
    {
      network: name,
      policy: "no exits (final classifier)",
      exitRate: 0,
      testExitRate: 0,
      accuracy: acc,
      us: base * 1e6,
      speedup: 1,
    },
    {
      network: name,
      policy: "(trunk forward only, no answer)",
      exitRate: 0,
      testExitRate: 0,
      accuracy: NaN,
      us: raw * 1e6,
      speedup: base / raw,
    },
  ];
  for (const q of THRESHOLDS) {
    const policy = { kind: "maxprob", thresholds: [q] };
    const runner = new ExitRunner(model, policy, { logits: false });
    const t = timeCall(() => runner.run(X)).median / B;
    // the time belongs to the exit rate of the timed batch; accuracy and the rate over the whole test set beside it
    const timedRate = runner.run(X).exit.filter((e) => e === 0).length / B;
    const m = measurePolicy(model, data.test, policy);
    rows.push({
      network: name,
      policy: `maxprob:${q}`,
      exitRate: timedRate,
      testExitRate: m.earlyRate,
      accuracy: m.accuracy,
      us: t * 1e6,
      speedup: base / t,
    });
    runner.dispose();
  }
  noExit.dispose();
  X.dispose();
  model.dispose();
  return rows;
}

export async function run() {
  const engine = await defaultEngine({ threads: threadsArg(1) });
  const data = loadData("mnist", { seed: 0, padTo: 800 });
  const rows = [
    ...(await case_(
      engine,
      "paper [800,40,40,10] (2,9,10)",
      { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10] },
      data,
      50,
    )),
    ...(await case_(
      engine,
      "wide [800,1024,1024,10] (128,102,10)",
      { sizes: [800, 1024, 1024, 10], outDegrees: [128, 102, 10] },
      data,
      5,
    )),
  ];
  const columns = [
    ["network", "network"],
    ["policy", "policy"],
    ["exitRate", "early exit (timed batch)", (v) => `${(100 * v).toFixed(1)}%`],
    ["testExitRate", "early exit (test set)", (v) => `${(100 * v).toFixed(1)}%`],
    ["accuracy", "accuracy", (v) => (Number.isNaN(v) ? "–" : `${(100 * v).toFixed(2)}%`)],
    ["us", "µs / sample", (v) => v.toFixed(3)],
    ["speedup", "vs no exits", (v) => `${v.toFixed(2)}×`],
  ];
  console.log(
    `\nEarly exits: batch 256 of test digits (the first 256), time per sample with exits vs without (same run)\n` +
      machineLine(),
  );
  printTable(rows, columns);
  writeResults("exits", { machine: machine(), rows, markdown: markdownTable(rows, columns) });
}

if (isMain(import.meta.url)) await run();
