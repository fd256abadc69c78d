// Node-only: model files on disk.
import { readFile, stat } from "node:fs/promises";
import type { Engine } from "../engine/engine.js";
import { ValidationError } from "../engine/errors.js";
import type { Model } from "../nn/model.js";
import { decodeModel, encodeModel, type EncodeModelOptions, type LoadedModel } from "../io/model_io.js";
import { writeFileAtomic } from "./files.js";

/** Writes a model as safetensors (atomically, via a temporary file); returns its size and hash. */
export async function saveModel(
  model: Model,
  path: string,
  opts: EncodeModelOptions = {},
): Promise<{ bytes: number; hash: string }> {
  const { bytes, hash } = encodeModel(model, opts);
  await writeFileAtomic(path, bytes);
  return { bytes: bytes.length, hash };
}

/** Reads and validates a model file; errors name the file. */
export async function loadModel(engine: Engine, path: string): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new ValidationError(`${path}: not a file`);
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(
      `cannot read model ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return decodeModel(engine, bytes, { source: path });
}
