import { formatPolicy, parseExitPolicy } from "../exits/runner.js";
import { loadModel } from "../node/model_files.js";
import { HTTP_OVERHEAD_BYTES, measureCosts, type CostOptions } from "../split/costs.js";
import { FRAME_DTYPES, type FrameDtype } from "../split/frame.js";
import { formatLink } from "../split/links.js";
import { formatPlan, plan } from "../split/plan.js";
import { ValidationError } from "../engine/errors.js";
import { type Command, UsageError, int, num, required } from "./args.js";
import { energyFlag, engine, heldOutFromFlags, linkFlag, objectiveFlag, slowdownFlag, trainedSeed } from "./common.js";

/** Candidate thresholds planned with --data when the file stores no policy and none is given. */
const GRID = ["maxprob:0.5", "maxprob:0.7", "maxprob:0.9", "maxprob:0.99"];
const OVERHEAD = `${HTTP_OVERHEAD_BYTES.up},${HTTP_OVERHEAD_BYTES.down}`;

export const planCommand: Command = {
  name: "plan",
  summary: "choose where to cut a model for a link: every cut, frame dtype and exit policy, predicted",
  usage: `
Usage: presparse plan --model FILE --link SPEC|PRESET [--objective latency|energy] [--min-accuracy A]
                      [--edge-slowdown F] [--data mnist|DIR] [flags]

Measures each layer's and exit head's compute at batch 1 on this machine, takes the frame sizes per dtype and
the link, and predicts latency and energy per sample for local, full offload, and a split at every cut with
every frame dtype, with and without each exit policy. Prints the measured costs and the table the best row was
chosen from (docs/links.md has the formulas).

  --model FILE          a whole model (presparse train --save), not a split half
  --link SPEC|PRESET    lte, 3g, wifi, lora, or RATE[/RATE],RTT[,JITTER] such as 5mbit,40ms
  --radio R             lte, 3g, wifi or lpwan: the radio power model of a link written out (presets have one)
  --objective O         latency (default) or energy
  --min-accuracy A      candidates below this accuracy (a fraction, e.g. 0.9) are listed but not chosen
  --edge-slowdown F     the edge computes F times slower than this machine (default 1)
  --energy K=V,...      energy constants replaced, e.g. pjPerMac=1,lte.activeMw=1000 (keys: docs/links.md)
  --data mnist|DIR      measure accuracies and exit rates on held-out data (the test split); without it the
                        file's training record and stored calibration give them, per dtype alike
  --seed S              seed of the embedded split (default: the seed the model was trained with)
  --exit-policy P       a candidate policy (repeatable; default: the stored policy, and with --data also
                        ${GRID.join(", ")})
  --dtype D             plan only this frame dtype (repeatable; default f32, f16 and int8)
  --period-ms T         one sample every T ms: transfers closer than the radio's tail share it (default 1000)
  --overhead-bytes U,D  protocol bytes per request up and down (default ${OVERHEAD}: the HTTP/1.1
                        headers of SplitClient's POST and of the server's answer)
  --json                print the costs and the plan as JSON
`,
  options: {
    model: { type: "string" },
    link: { type: "string" },
    radio: { type: "string" },
    objective: { type: "string" },
    "min-accuracy": { type: "string" },
    "edge-slowdown": { type: "string" },
    energy: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    "exit-policy": { type: "string", multiple: true },
    dtype: { type: "string", multiple: true },
    "period-ms": { type: "string" },
    "overhead-bytes": { type: "string" },
    json: { type: "boolean" },
  },
  async run(v) {
    const c = "plan";
    const path = required(c, "model", v.model);
    const link = linkFlag(c, v)!;
    if (!link) throw new UsageError(`${c}: --link is required (see presparse ${c} --help)`);
    if (!link.radio)
      throw new UsageError(`${c}: --link ${formatLink(link)} is written out: add --radio lte, 3g, wifi or lpwan`);
    const objective = objectiveFlag(c, v);
    const edgeSlowdown = slowdownFlag(c, v);
    const energy = energyFlag(c, v);
    const periodMs = num(c, "period-ms", v["period-ms"], 1000, 0, 1e9);
    const overhead = ((v["overhead-bytes"] as string | undefined) ?? "").split(",");
    const [up, down] =
      v["overhead-bytes"] === undefined
        ? [HTTP_OVERHEAD_BYTES.up, HTTP_OVERHEAD_BYTES.down]
        : overhead.length === 2
          ? overhead.map((x) => int(c, "overhead-bytes", x.trim(), 0, 0, 1 << 20))
          : [NaN, NaN];
    if (!Number.isFinite(up!)) throw new UsageError(`${c}: --overhead-bytes expects UP,DOWN bytes, e.g. 244,254`);
    const dtypes = (v.dtype as unknown as string[] | undefined) ?? [...FRAME_DTYPES];
    for (const d of dtypes)
      if (!(FRAME_DTYPES as readonly string[]).includes(d))
        throw new UsageError(`${c}: --dtype expects ${FRAME_DTYPES.join(", ")}, got ${JSON.stringify(d)}`);

    // per-layer costs are measured at batch 1 on one thread, as the edge device they stand for
    const eng = await engine(1);
    const loaded = await loadModel(eng, path);
    const model = loaded.model;
    try {
      if (model.split)
        throw new ValidationError(`${c}: ${path} is the ${model.split.role} of a split; plan the whole model`);
      if (model.trunk.length < 2) throw new ValidationError(`${c}: ${path} has one trunk layer: there is no cut`);
      const extra = loaded.spec.extra ?? {};
      const E = model.exits.length;
      const stored = typeof extra.policy === "string" ? [extra.policy] : [];
      const given = (v["exit-policy"] as unknown as string[] | undefined) ?? [];
      if (given.length > 0 && E === 0) throw new UsageError(`${c}: --exit-policy given but the model has no exits`);
      const opts: CostOptions = { dtypes: dtypes as FrameDtype[] };
      if (v.data !== undefined) {
        opts.data = heldOutFromFlags(c, v, model.inputSize, trainedSeed(extra)).test;
        const candidates = given.length ? given : E ? [...stored, ...GRID] : [];
        opts.policies = [...new Set(candidates.map((p) => formatPolicy(parseExitPolicy(p, E))))];
      } else opts.known = storedFigures(path, extra, given);
      const costs = measureCosts(model, opts);
      const p = plan(
        { ...costs.input, link, energy, edgeSlowdown, periodMs, overheadUpBytes: up!, overheadDownBytes: down! },
        objective,
      );
      if (v.json) {
        process.stdout.write(`${JSON.stringify({ model: path, hash: loaded.hash, costs, plan: p })}\n`);
        return;
      }
      const out = process.stdout;
      const from = costs.samples ? `${costs.samples} held-out samples` : "the figures stored in the file";
      out.write(`${path} (hash ${loaded.hash}); accuracies and exit rates from ${from}\n`);
      out.write(`compute at batch 1 on this machine (fastest of 7 timed blocks):\n`);
      out.write("| part | kind | µs | MACs | bytes moved | bytes stored |\n| --- | --- | --- | --- | --- | --- |\n");
      for (const l of costs.layers)
        out.write(
          `| ${l.name} | ${l.kind} | ${(1000 * l.ms).toFixed(3)} | ${l.macs} | ${l.bytesMoved} | ${l.storedBytes} |\n`,
        );
      const name = link.name ? `${link.name} (${formatLink(link)})` : formatLink(link);
      const floor = objective.minAccuracy === undefined ? "" : `, accuracy ≥ ${objective.minAccuracy}`;
      out.write(
        `\nlink ${name}, radio ${p.radio}, edge ${edgeSlowdown}× slower, one sample every ${periodMs} ms, ` +
          `${up} B up / ${down} B down per request; minimize ${objective.minimize}${floor}\n\n`,
      );
      out.write(`${formatPlan(p)}\n\n`);
      out.write(p.best ? `best: ${p.best.key}\n` : "no candidate reaches the accuracy floor\n");
    } finally {
      model.dispose();
    }
  },
};

/** Accuracies from the file: its training record's final accuracy, its stored policy's calibration. */
function storedFigures(path: string, extra: Record<string, unknown>, given: string[]): CostOptions["known"] {
  const trained = extra.trained as { testAccuracy?: unknown } | undefined;
  const acc = Array.isArray(trained?.testAccuracy) ? trained.testAccuracy.at(-1) : undefined;
  if (typeof acc !== "number" || !(acc >= 0 && acc <= 1))
    throw new ValidationError(`plan: ${path} records no test accuracy (not saved by presparse train): pass --data`);
  if (given.length > 0) throw new UsageError("plan: --exit-policy needs --data to measure its exit rate");
  const cal = (extra.calibration as { verified?: { policy?: unknown; earlyRate?: unknown; accuracy?: unknown } })
    ?.verified;
  const ok = typeof cal?.policy === "string" && typeof cal.earlyRate === "number" && typeof cal.accuracy === "number";
  const exits = ok
    ? [{ policy: cal.policy as string, exitRate: cal.earlyRate as number, accuracy: cal.accuracy as number }]
    : [];
  return { accuracy: acc, exits };
}
