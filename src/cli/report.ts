// How the command line ends on an error: one line on stderr and a documented exit status, whatever was thrown.
//   2  usage: an unknown command or flag, a missing or invalid value
//   1  the command failed on what it was given: a bad or unreadable file, an output it cannot write, a server it
//      cannot reach or that refused, a port in use (a typed error, named)
//   3  an internal error (a bug): the stack is printed when PRESPARSE_STACK=1
import { PresparseError } from "../engine/errors.js";
import { UsageError } from "./args.js";

/** Exit statuses of the presparse command. */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 3 } as const;

/** Writes the one line for an error thrown by a command and returns its exit status. */
export function reportError(e: unknown, stderr: { write(s: string): unknown } = process.stderr): number {
  const line = (s: string) => stderr.write(`presparse: ${s.replace(/\s*\n\s*/g, " ")}\n`);
  if (e instanceof UsageError) {
    line(e.message);
    return EXIT.usage;
  }
  if (e instanceof PresparseError) {
    line(`${e.name}: ${e.message}`);
    return EXIT.failed;
  }
  // a system call that failed on the environment (a disk full, a file gone under us): the command failed, not the
  // program
  const errno = e as NodeJS.ErrnoException | undefined;
  if (errno instanceof Error && typeof errno.code === "string" && typeof errno.syscall === "string") {
    line(`${errno.path ? `cannot ${errno.syscall} ${errno.path}` : errno.syscall}: ${errno.code}`);
    return EXIT.failed;
  }
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (process.env.PRESPARSE_STACK === "1" && e instanceof Error && e.stack) stderr.write(`${e.stack}\n`);
  line(`internal error: ${what} (PRESPARSE_STACK=1 prints the stack)`);
  return EXIT.internal;
}
