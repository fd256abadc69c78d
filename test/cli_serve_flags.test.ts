// Flags of `presparse serve` and `presparse infer` that cannot work together, refused as usage errors naming the
// flag, run as a user runs it (`node dist/cli/main.js …`), before any model is read.
import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI } from "./helpers/server_harness.js";

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stderr });
    });
  });
}

describe("serve --max-inflight-bytes", () => {
  it("below --max-body-bytes is a usage error naming the flag and its range", async () => {
    const args = ["serve", "--model", "missing.safetensors", "--max-body-bytes", "1000", "--max-inflight-bytes", "999"];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^presparse: [^\n]*--max-inflight-bytes expects an integer in \[1000, [^\n]*\n$/);
  });
});

describe("infer --link", () => {
  it("with an https:// server is a usage error: the emulated link relays plain HTTP", async () => {
    const args = ["infer", "--head", "missing.safetensors", "--server", "https://127.0.0.1:1", "--link", "lte"];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^presparse: [^\n]*--link goes with an http:\/\/ --server[^\n]*\n$/);
  });
});
