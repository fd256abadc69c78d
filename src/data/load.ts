// Node-only: one entry point from a data spec to train/test datasets shaped for a network's input.
import { padFeatures, splitDataset, type Dataset } from "../nn/dataset.js";
import { loadIdxDataset, type IdxDatasetOptions } from "./idx.js";
import { loadMnist } from "./mnist.js";

/** Options of {@link loadData}. */
export interface LoadDataOptions extends IdxDatasetOptions {
  /** Zero-pad samples to this many features (800 for the paper's network); default: as stored. */
  padTo?: number;
  /** Seed of the "mnist" train/test split (default 0). */
  seed?: number;
  /** Test samples split off "mnist" (default 2,000, leaving 8,000 to train as in the paper's study). */
  test?: number;
}

/**
 * The held-out half alone: the same test set {@link loadData} gives (for "mnist", the same seeded split), without
 * reading an IDX directory's training file.
 */
export function loadTestData(spec: string, options: LoadDataOptions = {}): Dataset {
  const { padTo, seed = 0, test = 2000 } = options;
  const held =
    spec === "mnist" ? splitDataset(loadMnist(), { test, seed }).test : loadIdxDataset(spec, "test", options);
  return padTo === undefined ? held : padFeatures(held, padTo);
}

/**
 * Train and test sets from `"mnist"` (the embedded 10,000 digits, split by {@link splitDataset}) or from a
 * directory of IDX files (its own train and t10k halves), padded to `padTo` features if asked.
 */
export function loadData(spec: string, options: LoadDataOptions = {}): { train: Dataset; test: Dataset } {
  const { padTo, seed = 0, test = 2000 } = options;
  const halves =
    spec === "mnist"
      ? splitDataset(loadMnist(), { test, seed })
      : { train: loadIdxDataset(spec, "train", options), test: loadIdxDataset(spec, "test", options) };
  if (padTo === undefined) return halves;
  return { train: padFeatures(halves.train, padTo), test: padFeatures(halves.test, padTo) };
}
