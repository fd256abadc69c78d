// Where a command will write, checked before it does any work: a run that trains for minutes must not find out at
// the end that its output path is a directory or sits in one that does not exist.
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ValidationError } from "../engine/errors.js";

/** What a path is now: a file, a directory, something else, or nothing. */
async function kind(path: string): Promise<"file" | "directory" | "other" | "missing"> {
  try {
    const s = await stat(path);
    return s.isFile() ? "file" : s.isDirectory() ? "directory" : "other";
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "missing";
    // ENOTDIR: a file stands where a directory on the path should be
    if (code === "ENOTDIR") return "other";
    throw new ValidationError(`cannot inspect ${path}: ${code ?? (e as Error).message}`);
  }
}

async function writable(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws ValidationError unless `path` can be written as a file: not a directory, in a writable directory that
 * exists.
 */
export async function checkWritableFile(cmd: string, flag: string, path: string): Promise<void> {
  const what = `${cmd}: ${flag} ${path}`;
  const k = await kind(path);
  if (k === "directory") throw new ValidationError(`${what}: is a directory, not a file`);
  if (k === "other")
    throw new ValidationError(`${what}: cannot be written as a file (not a regular file, or a file is in its path)`);
  const dir = dirname(resolve(path));
  const d = await kind(dir);
  if (d === "missing") throw new ValidationError(`${what}: directory ${dirname(path)} does not exist`);
  if (d !== "directory") throw new ValidationError(`${what}: ${dirname(path)} is not a directory`);
  // the file is written beside itself and renamed into place: the directory must take new files
  if (!(await writable(dir))) throw new ValidationError(`${what}: directory ${dirname(path)} is not writable`);
}

/**
 * Throws ValidationError unless `dir` is a writable directory or can be made one (its nearest existing ancestor is a
 * writable directory), and none of `files` inside it is a directory.
 */
export async function checkWritableDir(cmd: string, flag: string, dir: string, files: string[] = []): Promise<void> {
  const what = `${cmd}: ${flag} ${dir}`;
  const k = await kind(dir);
  if (k === "file" || k === "other")
    throw new ValidationError(`${what}: is not a directory (a file is there or in its path)`);
  if (k === "directory") {
    if (!(await writable(dir))) throw new ValidationError(`${what}: is not writable`);
    for (const f of files)
      if ((await kind(join(dir, f))) === "directory") throw new ValidationError(`${what}: ${f} in it is a directory`);
    return;
  }
  let up = dirname(resolve(dir));
  for (;;) {
    const u = await kind(up);
    if (u === "directory") break;
    if (u !== "missing") throw new ValidationError(`${what}: cannot be created: ${up} is not a directory`);
    up = dirname(up);
  }
  if (!(await writable(up))) throw new ValidationError(`${what}: cannot be created: ${up} is not writable`);
}
