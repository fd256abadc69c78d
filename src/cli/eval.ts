import { measurePolicy } from "../exits/calibrate.js";
import { exitMacs, parseExitPolicy } from "../exits/runner.js";
import { loadModel } from "../node/model_files.js";
import { evaluate } from "../nn/train.js";
import { type Command, UsageError, int, required } from "./args.js";
import { engine, heldOutFromFlags, pct, trainedSeed, THREADS_HELP, threadsFlag, threadsOption } from "./common.js";

export const evalCommand: Command = {
  name: "eval",
  summary: "evaluate a saved model (every classifier, and the early-exit system under a policy)",
  usage: `
Usage: presparse eval --model FILE [--data mnist|DIR] [--exit-policy maxprob:Q|entropy:T] [--json]

  --model FILE          a model saved by presparse train
  --data mnist|DIR      embedded digits (its 2,000-sample test split) or an IDX directory (its t10k half)
  --seed S              seed of the embedded split (default: the seed the model was trained with)
  --exit-policy P       maxprob:Q (exit when max softmax ≥ Q) or entropy:T (exit when entropy ≤ T, nats);
                        comma-separated per exit; default: the policy stored by calibrate, if any
  --batch B             evaluation batch size (default 1024)
  --json                print the result as JSON
${THREADS_HELP}
`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    "exit-policy": { type: "string" },
    batch: { type: "string" },
    json: { type: "boolean" },
    ...threadsOption,
  },
  async run(v) {
    const eng = await engine(threadsFlag("eval", v));
    const loaded = await loadModel(eng, required("eval", "model", v.model));
    const model = loaded.model;
    const batch = int("eval", "batch", v.batch, 1024, 1, 65536);
    const { test } = heldOutFromFlags("eval", v, model.inputSize, trainedSeed(loaded.spec.extra));
    const base = evaluate(model, test, { batchSize: batch });
    const stored = (loaded.spec.extra?.policy as string | undefined) ?? undefined;
    const policyText = (v["exit-policy"] as string | undefined) ?? stored;
    if (policyText && model.exits.length === 0)
      throw new UsageError("eval: --exit-policy given but the model has no exits");
    const ee = policyText
      ? measurePolicy(model, test, parseExitPolicy(policyText, model.exits.length), batch)
      : undefined;
    const fullMacs = exitMacs(model).trunk;
    const out = {
      model: v.model,
      hash: loaded.hash,
      n: test.n,
      accuracy: base.accuracy,
      loss: base.loss,
      earlyExit: ee,
    };
    if (v.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      const names = [...model.exits.map((e, k) => `exit ${k + 1} (after layer ${e.after + 1})`), "final"];
      process.stdout.write(`${v.model}  (${test.n} test samples, hash ${loaded.hash})\n`);
      names.forEach((nm, k) =>
        process.stdout.write(
          `  ${nm.padEnd(26)} accuracy ${pct(base.accuracy[k]!)}  loss ${base.loss[k]!.toFixed(4)}\n`,
        ),
      );
      if (ee) {
        process.stdout.write(
          `  early-exit system (${ee.policy}): accuracy ${pct(ee.accuracy)}, exit rates ` +
            `${ee.exitRates.map((r) => pct(r, 1)).join(" / ")}, ` +
            `mean ${ee.meanMacs.toFixed(0)} MACs/sample vs ${fullMacs} without exits\n`,
        );
      }
    }
    model.dispose();
  },
};
