// Node-only: safetensors files on disk. Errors name the file.
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import {
  decodeSafetensors,
  encodeSafetensors,
  type DecodeOptions,
  type SafeTensor,
  type SafetensorsFile,
} from "../io/safetensors.js";

/** Reads and decodes a safetensors file; a malformed file throws FormatError naming it. */
export async function readSafetensorsFile(
  path: string,
  options: Omit<DecodeOptions, "source"> = {},
): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  return decodeSafetensors(bytes, { ...options, source: path });
}

/**
 * Encodes tensors and writes them to `path`, through a temporary file renamed into place so a reader
 * never sees half a model. Returns the file size in bytes.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<number> {
  const bytes = encodeSafetensors(tensors, metadata);
  await writeFileAtomic(path, bytes);
  return bytes.length;
}

/** Writes `bytes` to a temporary file beside `path`, then renames it into place: readers see all or nothing. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
