// Shared CLI pieces: engine, data, model construction from flags, summaries.
import { defaultEngine, type Engine } from "../engine/engine.js";
import { padFeatures, type Dataset } from "../nn/dataset.js";
import { loadData, loadTestData } from "../data/load.js";
import type { Layer } from "../nn/layers/layer.js";
import type { Model } from "../nn/model.js";
import { INDEX_DTYPES, type IndexDtype } from "../io/model_io.js";
import { ValidationError } from "../engine/errors.js";
import { DEFAULT_ENERGY, overrideEnergy, type EnergyModel } from "../split/energy.js";
import { LinkSpecError, parseLink, type LinkSpec, type RadioClass } from "../split/links.js";
import type { Objective } from "../split/plan.js";
import { UsageError, int, num } from "./args.js";

const RADIOS: readonly RadioClass[] = ["lte", "3g", "wifi", "lpwan"];

/** The process's engine, on `threads` threads when given (else the default: the cores, at most 4). */
export function engine(threads?: number): Promise<Engine> {
  return defaultEngine(threads === undefined ? undefined : { threads });
}

/** The --threads flag of the commands that compute (train, eval, experiment, serve). */
export const threadsOption = { threads: { type: "string" } } as const;

/** Its help line. */
export const THREADS_HELP =
  "  --threads N          threads the kernels run on (default: the cores, at most 4; 1: the single-thread engine)";

/** Its value: undefined (the default) or an integer in [1, 64]. */
export function threadsFlag(cmd: string, v: Record<string, unknown>): number | undefined {
  return v.threads === undefined ? undefined : int(cmd, "threads", v.threads, 1, 1, 64);
}

/** The `--index-dtype` flag of the commands that write model files (default i32). */
export function indexDtypeFlag(cmd: string, v: unknown): IndexDtype {
  if (v === undefined) return "i32";
  if (!(INDEX_DTYPES as readonly unknown[]).includes(v)) {
    throw new UsageError(`${cmd}: --index-dtype expects ${INDEX_DTYPES.join(" or ")}, got ${JSON.stringify(v)}`);
  }
  return v as IndexDtype;
}

function checkFits(cmd: string, spec: string, dataFeatures: number, features: number): void {
  if (dataFeatures > features)
    throw new UsageError(`${cmd}: data ${spec} has ${dataFeatures} features, the model takes ${features}`);
}

/** Train/test data for a model input of `features` (MNIST-like 784 samples are zero-padded up to it). */
export function dataFor(cmd: string, spec: string, features: number, seed: number): { train: Dataset; test: Dataset } {
  const data = loadData(spec, { seed });
  checkFits(cmd, spec, data.train.features, features);
  return { train: padFeatures(data.train, features), test: padFeatures(data.test, features) };
}

/**
 * The held-out half named by the `--data` and `--seed` flags (seed default: `defaultSeed`, the split the model was
 * trained on), zero-padded to `features`; the training half is left as loaded. `storedFeatures` is the width before
 * padding (one byte per pixel in the files).
 */
export function heldOutFromFlags(
  cmd: string,
  v: Record<string, unknown>,
  features: number,
  defaultSeed: number,
): { test: Dataset; storedFeatures: number } {
  const spec = (v.data as string | undefined) ?? "mnist";
  const test = loadTestData(spec, { seed: int(cmd, "seed", v.seed, defaultSeed) });
  checkFits(cmd, spec, test.features, features);
  return { test: padFeatures(test, features), storedFeatures: test.features };
}

/** Stored parameters, their 100%-density equivalent, and MACs per sample. */
export function sizeSummary(model: Model): { parameters: number; denseParameters: number; macs: number } {
  const layers: Layer[] = [...model.trunk, ...model.exits.flatMap((e) => e.layers)];
  const parameters = model.parameterCount();
  const denseParameters = layers.reduce(
    (s, l) => s + (l.denseParameterCount?.() ?? l.params().reduce((n, p) => n + p.values.length, 0)),
    0,
  );
  return { parameters, denseParameters, macs: model.trunkMacs().at(-1)! };
}

export function pct(x: number, digits = 2): string {
  return `${(100 * x).toFixed(digits)}%`;
}

export function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/**
 * The seed of the embedded train/test split a model was trained on (recorded by `presparse train`), so that
 * evaluating it on "the test split" never reads samples it was trained on; 0 when the file does not say.
 */
export function trainedSeed(extra: Record<string, unknown> | undefined): number {
  const t = extra?.trained as { seed?: unknown } | undefined;
  return typeof t?.seed === "number" && Number.isSafeInteger(t.seed) && t.seed >= 0 ? t.seed : 0;
}

/** `--link SPEC|PRESET` (and `--radio`, for a spec written out): the link, with the radio that prices it. */
export function linkFlag(cmd: string, v: Record<string, unknown>, flag = "link"): LinkSpec | undefined {
  const text = v[flag] as string | undefined;
  const radio = v.radio as string | undefined;
  if (radio !== undefined && !(RADIOS as readonly string[]).includes(radio))
    throw new UsageError(`${cmd}: --radio expects ${RADIOS.join(", ")}, got ${JSON.stringify(radio)}`);
  if (text === undefined) {
    if (radio !== undefined) throw new UsageError(`${cmd}: --radio goes with --${flag}`);
    return undefined;
  }
  let link: LinkSpec;
  try {
    link = parseLink(text);
  } catch (e) {
    if (e instanceof LinkSpecError) throw new UsageError(`${cmd}: --${flag}: ${e.message}`);
    throw e;
  }
  return radio === undefined ? link : { ...link, radio: radio as RadioClass };
}

/** `--edge-slowdown F`: the edge computes F times slower than this machine (default 1). */
export function slowdownFlag(cmd: string, v: Record<string, unknown>): number {
  const s = num(cmd, "edge-slowdown", v["edge-slowdown"], 1, 0);
  if (!(s > 0))
    throw new UsageError(`${cmd}: --edge-slowdown expects a number > 0, got ${JSON.stringify(v["edge-slowdown"])}`);
  return s;
}

/** `--energy key=value,…`: the documented energy model with those constants replaced. */
export function energyFlag(cmd: string, v: Record<string, unknown>): EnergyModel {
  const text = v.energy as string | undefined;
  if (text === undefined) return DEFAULT_ENERGY;
  try {
    return overrideEnergy(DEFAULT_ENERGY, text);
  } catch (e) {
    if (e instanceof ValidationError) throw new UsageError(`${cmd}: --energy: ${e.message}`);
    throw e;
  }
}

/** `--objective latency|energy` and `--min-accuracy A` (a fraction in [0, 1]). */
export function objectiveFlag(cmd: string, v: Record<string, unknown>): Objective {
  const minimize = (v.objective as string | undefined) ?? "latency";
  if (minimize !== "latency" && minimize !== "energy")
    throw new UsageError(`${cmd}: --objective expects latency or energy, got ${JSON.stringify(minimize)}`);
  const floor = v["min-accuracy"] === undefined ? undefined : num(cmd, "min-accuracy", v["min-accuracy"], 0, 0, 1);
  return { minimize, ...(floor !== undefined && { minAccuracy: floor }) };
}
