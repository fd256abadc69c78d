// Flag parsing for the CLI on node:util parseArgs: strict, one-line errors, typed conversions.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { PresparseError } from "../engine/errors.js";

/** A usage error: printed as one line, exit status 2. */
export class UsageError extends PresparseError {
  override readonly name: string = "UsageError";
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** A subcommand: its flags, one-paragraph help, and its body. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  // biome-ignore lint/suspicious/noConfusingVoidType: a command resolves to nothing, or to its exit status
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number | void>;
}

/** Parses argv for a command; unknown flags, missing values and stray positionals are UsageErrors. */
export function parse(
  cmd: Command,
  argv: string[],
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
    throw new UsageError(`${cmd.name}: ${msg} (see presparse ${cmd.name} --help)`);
  }
}

/** Integer flag within [min, max]. */
export function int(
  cmd: string,
  flag: string,
  v: unknown,
  def: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== "string" || !/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${cmd}: --${flag} expects an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Finite number flag within [min, max]. */
export function num(cmd: string, flag: string, v: unknown, def: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${cmd}: --${flag} expects a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Comma-separated integers. */
export function intList(cmd: string, flag: string, v: unknown, def: number[], min = 0): number[] {
  if (v === undefined) return def;
  if (typeof v !== "string" || v.trim() === "")
    throw new UsageError(`${cmd}: --${flag} expects comma-separated integers, got ${JSON.stringify(v)}`);
  return v.split(",").map((s) => int(cmd, flag, s.trim(), 0, min));
}

/** Comma-separated numbers. */
export function numList(cmd: string, flag: string, v: unknown, def: number[], min = -Infinity): number[] {
  if (v === undefined) return def;
  if (typeof v !== "string" || v.trim() === "")
    throw new UsageError(`${cmd}: --${flag} expects comma-separated numbers, got ${JSON.stringify(v)}`);
  return v.split(",").map((s) => num(cmd, flag, s.trim(), 0, min));
}

/** Required string flag. */
export function required(cmd: string, flag: string, v: unknown): string {
  if (typeof v !== "string" || v === "")
    throw new UsageError(`${cmd}: --${flag} is required (see presparse ${cmd} --help)`);
  return v;
}

/** Help text of a command. */
export function helpText(cmd: Command): string {
  return `${cmd.usage.trim()}\n`;
}
