#!/usr/bin/env node
// presparse command line: one subcommand per file, flags parsed strictly, one-line errors.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, UsageError, helpText, parse } from "./args.js";
import { calibrateCommand } from "./calibrate.js";
import { evalCommand } from "./eval.js";
import { experimentCommand } from "./experiment.js";
import { inferCommand } from "./infer.js";
import { planCommand } from "./plan.js";
import { reportError } from "./report.js";
import { serveCommand } from "./serve.js";
import { splitCommand } from "./split.js";
import { trainCommand } from "./train.js";

const commands: Command[] = [
  trainCommand,
  evalCommand,
  calibrateCommand,
  splitCommand,
  serveCommand,
  inferCommand,
  planCommand,
  experimentCommand,
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: presparse <command> [flags]   (presparse <command> --help for its flags)",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

/** Runs the CLI on argv (without node and script); returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  try {
    if (!cmd)
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}; commands: ${commands.map((c) => c.name).join(", ")}`,
      );
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      process.stdout.write(helpText(cmd));
      return 0;
    }
    return (await cmd.run(values, positionals)) ?? 0;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * True when Node was started on this file: npm runs a bin through a symlink (node_modules/.bin, npx, a global
 * install), so compare real paths.
 */
function isEntry(argv1: string | undefined): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
