import { Batcher } from "../batcher.js";
import { ExitRunner, exitMacs, formatPolicy, parseExitPolicy, type ExitPolicy } from "../exits.js";
import type { Dataset } from "../data/dataset.js";
import type { Model } from "../model.js";
import { loadModel } from "../node/model_files.js";
import { evaluate } from "../train.js";
import { type Command, UsageError, int, required } from "./args.js";
import { dataFor, engine, pct } from "./common.js";

/** Accuracy, exit rates and mean MACs of the early-exit system under a policy over a dataset. */
export interface ExitEval {
  policy: string;
  accuracy: number;
  /** Fraction of samples answered by each classifier: exits first, final last. */
  exitRates: number[];
  /** Accuracy of each classifier on the samples it answered (NaN when it answered none). */
  answeredAccuracy: number[];
  meanMacs: number;
  fullMacs: number;
  n: number;
}

/** Runs the early-exit system over a dataset in batches. */
export function evaluateExits(model: Model, data: Dataset, policy: ExitPolicy, batchSize = 1024): ExitEval {
  const runner = new ExitRunner(model, policy);
  const batcher = new Batcher(model.engine, data, Math.min(batchSize, Math.max(1, data.n)));
  const E = model.exits.length;
  const answered = new Array<number>(E + 1).fill(0), right = new Array<number>(E + 1).fill(0);
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  try {
    for (let s = 0; s < data.n; s += batcher.maxBatch) {
      const size = Math.min(batcher.maxBatch, data.n - s);
      const r = runner.run(batcher.load(order, s, size));
      for (let j = 0; j < size; j++) {
        answered[r.exit[j]!]!++;
        if (r.label[j] === data.y[s + j]) right[r.exit[j]!]!++;
      }
    }
  } finally {
    runner.dispose();
    batcher.dispose();
  }
  const macs = exitMacs(model);
  const cost = [...macs.perExit, macs.final];
  const n = Math.max(1, data.n);
  return {
    policy: formatPolicy(policy),
    accuracy: right.reduce((a, b) => a + b, 0) / n,
    exitRates: answered.map((a) => a / n),
    answeredAccuracy: answered.map((a, k) => (a ? right[k]! / a : NaN)),
    meanMacs: answered.reduce((s, a, k) => s + a * cost[k]!, 0) / n,
    fullMacs: macs.trunk,
    n: data.n,
  };
}

export const evalCommand: Command = {
  name: "eval",
  summary: "evaluate a saved model (every classifier, and the early-exit system under a policy)",
  usage: `
Usage: presparse eval --model FILE [--data mnist|DIR] [--exit-policy maxprob:Q|entropy:T] [--json]

  --model FILE          a model saved by presparse train
  --data mnist|DIR      embedded digits (its 2,000-sample test split) or an IDX directory (its t10k half)
  --seed S              seed of the embedded split (default 0, as in train)
  --exit-policy P       maxprob:Q (exit when max softmax ≥ Q) or entropy:T (exit when entropy ≤ T, nats);
                        comma-separated per exit; default: the policy stored by calibrate, if any
  --batch B             evaluation batch size (default 1024)
  --json                print the result as JSON
`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    "exit-policy": { type: "string" },
    batch: { type: "string" },
    json: { type: "boolean" },
  },
  async run(v) {
    const eng = await engine();
    const loaded = await loadModel(eng, required("eval", "model", v.model));
    const model = loaded.model;
    const batch = int("eval", "batch", v.batch, 1024, 1, 65536);
    const { test } = dataFor("eval", (v.data as string | undefined) ?? "mnist", model.inputSize, int("eval", "seed", v.seed, 0));
    const base = evaluate(model, test, { batchSize: batch });
    const stored = (loaded.spec.extra?.policy as string | undefined) ?? undefined;
    const policyText = (v["exit-policy"] as string | undefined) ?? stored;
    if (policyText && model.exits.length === 0) throw new UsageError("eval: --exit-policy given but the model has no exits");
    const ee = policyText ? evaluateExits(model, test, parseExitPolicy(policyText, model.exits.length), batch) : undefined;
    const out = { model: v.model, hash: loaded.hash, n: test.n, accuracy: base.accuracy, loss: base.loss, earlyExit: ee };
    if (v.json) process.stdout.write(JSON.stringify(out) + "\n");
    else {
      const names = [...model.exits.map((e, k) => `exit ${k + 1} (after layer ${e.after + 1})`), "final"];
      process.stdout.write(`${v.model}  (${test.n} test samples, hash ${loaded.hash})\n`);
      names.forEach((nm, k) => process.stdout.write(`  ${nm.padEnd(26)} accuracy ${pct(base.accuracy[k]!)}  loss ${base.loss[k]!.toFixed(4)}\n`));
      if (ee) {
        process.stdout.write(`  early-exit system (${ee.policy}): accuracy ${pct(ee.accuracy)}, exit rates ${ee.exitRates.map((r) => pct(r, 1)).join(" / ")}, ` +
          `mean ${ee.meanMacs.toFixed(0)} MACs/sample vs ${ee.fullMacs} without exits\n`);
      }
    }
    model.dispose();
  },
};
