// Progress on stderr: a live bar on a TTY, plain lines otherwise.

/** Reports batches of an epoch; call done() to finish the line. */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = 0;

  constructor(private readonly quiet: boolean) {}

  batch(label: string, i: number, n: number): void {
    if (this.quiet || !this.tty) return;
    const now = Date.now();
    if (i < n && now - this.last < 100) return;
    this.last = now;
    const width = 28;
    const filled = Math.round((i / n) * width);
    process.stderr.write(`\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${i}/${n}`);
  }

  line(text: string): void {
    if (this.quiet) return;
    process.stderr.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}
