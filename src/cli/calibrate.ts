import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  calibrate,
  measurePolicy,
  pickForAccuracy,
  pickKnee,
  type Calibration,
  type SweepPoint,
} from "../exits/calibrate.js";
import { subset } from "../nn/dataset.js";
import { parseExitPolicy } from "../exits/runner.js";
import { loadModel, saveModel } from "../node/model_files.js";
import { evenHalf } from "../node/study.js";
import { lineChart } from "../report/svg.js";
import { type Command, UsageError, num, required } from "./args.js";
import { engine, heldOutFromFlags, pct, trainedSeed } from "./common.js";
import { checkWritableDir, checkWritableFile } from "./outputs.js";

/** Accuracy vs exit rate and accuracy vs mean MACs, one SVG each. */
export function calibrationCharts(c: Calibration, chosen?: SweepPoint): { exitRate: string; macs: string } {
  const label = (p: SweepPoint) => `${c.kind === "maxprob" ? "q" : "T"}=${p.threshold}`;
  const pts = (x: (p: SweepPoint) => number) =>
    c.points.map((p) => ({ x: x(p), y: 100 * p.accuracy, label: label(p) }));
  const final = (x0: number, x1: number) => ({
    name: `final exit only (${pct(c.finalAccuracy)})`,
    points: [
      { x: x0, y: 100 * c.finalAccuracy },
      { x: x1, y: 100 * c.finalAccuracy },
    ],
  });
  const hl = (x: number) => (chosen ? { x, y: 100 * chosen.accuracy, label: `chosen ${chosen.policy}` } : undefined);
  return {
    exitRate: lineChart({
      title: `Early exit: accuracy vs exit rate (${c.kind})`,
      xLabel: "samples answered by an early exit (%)",
      yLabel: "test accuracy (%)",
      series: [{ name: "early-exit system", points: pts((p) => 100 * p.earlyRate) }, final(0, 100)],
      highlight: chosen && hl(100 * chosen.earlyRate),
    }),
    macs: lineChart({
      title: `Early exit: accuracy vs mean MACs per sample (${c.kind})`,
      xLabel: "mean MACs per sample (stored connections)",
      yLabel: "test accuracy (%)",
      series: [
        { name: "early-exit system", points: pts((p) => p.meanMacs) },
        final(Math.min(...c.points.map((p) => p.meanMacs)), c.fullMacs),
      ],
      highlight: chosen && hl(chosen.meanMacs),
    }),
  };
}

export const calibrateCommand: Command = {
  name: "calibrate",
  summary: "sweep early-exit thresholds, pick one, chart the trade-off and store the policy",
  usage: `
Usage: presparse calibrate --model FILE [--data mnist|DIR] [--policy maxprob|entropy]
                           [--target-loss POINTS | --pick knee] [--out-dir DIR] [--store]

Runs every classifier once on held-out data and simulates each threshold exactly. The held-out set is
split in two (even / odd samples): the threshold is chosen on one half and verified on the other with the
real early-exit runner.

  --model FILE          a model with at least one exit
  --data mnist|DIR      embedded digits (the 2,000-sample test split) or an IDX directory (its t10k half)
  --seed S              seed of the embedded split (default: the seed the model was trained with)
  --policy KIND         maxprob (exit when max softmax ≥ q) or entropy (exit when entropy ≤ T); default maxprob
  --target-loss P       pick the cheapest threshold whose accuracy loss vs the final exit, plus one standard
                        error of that paired difference, is at most P points (default 0.5)
  --z Z                 standard errors of margin for --target-loss (default 1; 0 trusts the calibration half)
  --pick knee           pick the knee of the accuracy / MACs curve instead
  --out-dir DIR         where calibration.json and the SVG charts go (default .)
  --store               write the chosen policy into the model file (its hash is unchanged)
  --json                print the result as JSON
`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    policy: { type: "string" },
    "target-loss": { type: "string" },
    z: { type: "string" },
    pick: { type: "string" },
    "out-dir": { type: "string" },
    store: { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(v) {
    const path = required("calibrate", "model", v.model);
    const kind = (v.policy as string | undefined) ?? "maxprob";
    if (kind !== "maxprob" && kind !== "entropy")
      throw new UsageError(`calibrate: --policy expects maxprob or entropy, got ${JSON.stringify(kind)}`);
    if (v.pick !== undefined && v.pick !== "knee")
      throw new UsageError(`calibrate: --pick expects knee, got ${JSON.stringify(v.pick)}`);
    if (v.pick !== undefined && v["target-loss"] !== undefined)
      throw new UsageError("calibrate: give --target-loss or --pick knee, not both");
    const target = num("calibrate", "target-loss", v["target-loss"], 0.5, 0, 100);
    const z = num("calibrate", "z", v.z, 1, 0, 10);
    const outDir = (v["out-dir"] as string | undefined) ?? ".";
    await checkWritableDir("calibrate", "--out-dir", outDir, [
      "calibration.json",
      "calibration-exit-rate.svg",
      "calibration-macs.svg",
    ]);
    if (v.store) await checkWritableFile("calibrate", "--store: --model", path);
    const eng = await engine();
    const loaded = await loadModel(eng, path);
    const model = loaded.model;
    if (model.exits.length === 0) throw new UsageError(`calibrate: ${path} has no exits (train with --exits)`);
    const { test } = heldOutFromFlags("calibrate", v, model.inputSize, trainedSeed(loaded.spec.extra));
    const even = evenHalf(test, `${test.name} (calibration half)`);
    const odd = subset(
      test,
      Int32Array.from({ length: Math.floor(test.n / 2) }, (_, i) => 2 * i + 1),
      `${test.name} (verification half)`,
    );
    const cal = calibrate(model, even, kind);
    const chosen = v.pick === "knee" ? pickKnee(cal) : pickForAccuracy(cal, target, z);
    const whole = calibrate(model, test, kind);
    const verified = chosen ? measurePolicy(model, odd, parseExitPolicy(chosen.policy, model.exits.length)) : undefined;
    const verifiedFinal = calibrate(model, odd, kind).finalAccuracy;
    mkdirSync(outDir, { recursive: true });
    const charts = calibrationCharts(whole, chosen && whole.points.find((p) => p.policy === chosen.policy));
    writeFileSync(join(outDir, "calibration-exit-rate.svg"), charts.exitRate);
    writeFileSync(join(outDir, "calibration-macs.svg"), charts.macs);
    const result = {
      model: path,
      hash: loaded.hash,
      kind,
      rule: v.pick === "knee" ? "knee" : `accuracy loss + ${z} SE ≤ ${target} points vs the final exit`,
      calibrationSamples: even.n,
      verificationSamples: odd.n,
      chosen,
      verified,
      verifiedFinalAccuracy: verifiedFinal,
      curve: whole,
    };
    writeFileSync(join(outDir, "calibration.json"), `${JSON.stringify(result, null, 2)}\n`);
    if (v.store && chosen) {
      await saveModel(model, path, {
        extra: {
          ...(loaded.spec.extra ?? {}),
          policy: chosen.policy,
          calibration: { rule: result.rule, chosen, verified },
        },
        hash: loaded.hash,
      });
    }
    if (v.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const out = process.stdout;
      out.write(
        `threshold sweep on ${test.n} held-out samples (${kind}); final exit alone: ${pct(whole.finalAccuracy)}, ` +
          `${whole.fullMacs} MACs/sample\n`,
      );
      out.write(
        `  ${"threshold".padEnd(10)} ${"accuracy".padStart(9)} ${"early exit".padStart(10)} ` +
          `${"mean MACs".padStart(10)}\n`,
      );
      for (const p of whole.points)
        out.write(
          `  ${String(p.threshold).padEnd(10)} ${pct(p.accuracy).padStart(9)} ${pct(p.earlyRate, 1).padStart(10)} ` +
            `${p.meanMacs.toFixed(0).padStart(10)}\n`,
        );
      if (!chosen)
        out.write(`no threshold keeps accuracy within ${target} points of the final exit on the calibration half\n`);
      else {
        out.write(
          `chosen ${chosen.policy} (${result.rule}, on ${even.n} samples): accuracy ${pct(chosen.accuracy)}, early ` +
            `exit ${pct(chosen.earlyRate, 1)}, ${chosen.meanMacs.toFixed(0)} MACs/sample\n`,
        );
        out.write(
          `verified on the other ${odd.n}: accuracy ${pct(verified!.accuracy)} (final exit ${pct(verifiedFinal)}), ` +
            `early exit ${pct(verified!.earlyRate, 1)}, ${verified!.meanMacs.toFixed(0)} MACs/sample\n`,
        );
        if (v.store) out.write(`stored ${chosen.policy} in ${path}\n`);
      }
      out.write(`wrote ${join(outDir, "calibration.json")}, calibration-exit-rate.svg, calibration-macs.svg\n`);
    }
    model.dispose();
  },
};
