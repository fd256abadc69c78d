// The built command line, run as a user runs it: `node dist/cli/main.js …` (npm test builds dist first).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Command } from "../src/cli/args.js";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeout = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** Exactly one line on stderr, starting with the program name. */
function expectOneLineError(r: Run, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^presparse: [^\n]+\n$/);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Every Command object exported by a module in src/cli, by name. */
async function commandObjects(): Promise<Map<string, Command>> {
  const dir = fileURLToPath(new URL("../src/cli/", import.meta.url));
  const found = new Map<string, Command>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
    const mod = (await import(join(dir, f))) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      const c = v as Partial<Command> | null;
      if (
        c &&
        typeof c === "object" &&
        typeof c.name === "string" &&
        typeof c.usage === "string" &&
        typeof c.run === "function" &&
        c.options
      )
        found.set(c.name, c as Command);
    }
  }
  return found;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "presparse-cli-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("presparse --help", () => {
  it("lists the commands, and each command's --help exits 0 and documents every one of its flags", async () => {
    const top = await cli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stderr).toBe("");
    const listed = top.stdout
      .split("Commands:")[1]!
      .split("\n")
      .map((l) => /^ {2}(\S+)\s{2,}\S/.exec(l)?.[1])
      .filter((x): x is string => !!x);
    expect(listed).toEqual(expect.arrayContaining(["train", "eval"]));
    const objects = await commandObjects();
    const runs = await Promise.all(listed.map((name) => cli([name, "--help"])));
    listed.forEach((name, k) => {
      const r = runs[k]!;
      const cmd = objects.get(name);
      expect(cmd, `command object for ${name}`).toBeDefined();
      expect(r.code, `${name} --help`).toBe(0);
      expect(r.stderr, `${name} --help`).toBe("");
      expect(r.stdout).toMatch(new RegExp(`presparse ${name}\\b`));
      for (const [flag, o] of Object.entries(cmd!.options)) {
        expect(r.stdout, `${name} --help mentions --${flag}`).toMatch(new RegExp(`--${flag}(?![\\w-])`));
        if (o.short) expect(r.stdout, `${name} --help mentions -${o.short}`).toMatch(new RegExp(`-${o.short}\\b`));
      }
    });
    // -h is --help everywhere
    const short = await cli([listed[0]!, "-h"]);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(runs[0]!.stdout);
  });

  it("no command at all prints the usage and exits 2; --version prints the package version", async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^Usage: presparse <command>/);
    const v = await cli(["--version"]);
    expect(v.code).toBe(0);
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(v.stdout).toBe(`${pkg.version}\n`);
  });
});

describe("bad command lines", () => {
  it("unknown commands and flags, missing and invalid values: one line on stderr, exit 2, nothing run", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command "frobnicate"; commands: train, eval/],
      [["train", "--bogus"], /train: Unknown option '--bogus' \(see presparse train --help\)/],
      [["train", "stray"], /train: Unexpected argument 'stray'/],
      [["train", "--epochs"], /train: Option '--epochs <value>' argument missing/],
      [["train", "--epochs", "abc"], /--epochs expects an integer in \[1, \d+\], got "abc"/],
      [["train", "--epochs", "0"], /--epochs expects an integer in \[1,/],
      [["train", "--epochs", "2.5"], /--epochs expects an integer/],
      [["train", "--batch", "70000"], /--batch expects an integer in \[1, 65536\]/],
      [["train", "--lr=-1"], /--lr expects a number in \[0, Infinity\], got "-1"/],
      [["train", "--lr", "fast"], /--lr expects a number/],
      [["train", "--optimizer", "rmsprop"], /--optimizer expects adam or sgd, got "rmsprop"/],
      [["train", "--layers", "800,x,10"], /--layers expects an integer/],
      [["train", "--layers", "800"], /--out-degrees needs 0 values|--layers needs at least two sizes/],
      [
        ["train", "--layers", "800,40,10", "--out-degrees", "2,9,10"],
        /--out-degrees needs 2 values for --layers 800,40,10, got 3/,
      ],
      [["train", "--exits", "3"], /--exits 3: there are only 2 hidden layers/],
      [["train", "--exits", "1", "--exit-weights", "1"], /--exit-weights needs 2 values/],
      [["train", "--json=yes"], /--json/],
      [
        ["train", "--layers", "100,10", "--out-degrees", "10"],
        /train: data mnist has 784 features, the model takes 100/,
      ],
      [["eval"], /eval: --model is required/],
      [["eval", "--model"], /eval: Option '--model <value>' argument missing/],
      [["eval", "--nope", "x"], /eval: Unknown option '--nope'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    cases.forEach(([args, message], k) => {
      const r = runs[k]!;
      expectOneLineError(r, 2, message);
      expect(r.stdout, args.join(" ")).toBe("");
    });
  });

  it("an infeasible pattern is a one-line typed error listing the feasible degrees (exit 1)", async () => {
    const r = await cli(["train", "--layers", "800,30,10", "--out-degrees", "2,10", "--epochs", "1", "-q"]);
    expectOneLineError(
      r,
      1,
      /^presparse: PatternError: Pattern\.fixedDegree: out-degree 2 infeasible for 800→30.*out-degrees: 3, 6, 9,/,
    );
  });
});

describe("train then eval", () => {
  it("train --epochs 2 --json --save writes one JSON object per epoch and a model that eval reads back", async () => {
    const path = join(dir, "paper.safetensors");
    const t = await cli(["train", "--epochs", "2", "--seed", "1", "--exits", "1", "--save", path, "--json"], 60_000);
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    const epochs = lines.slice(0, 2) as {
      epoch: number;
      loss: number;
      losses: number[];
      trainAccuracy: number[];
      testAccuracy: number[];
      seconds: number;
    }[];
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of epochs) {
      expect(e.losses).toHaveLength(2);
      expect(e.testAccuracy).toHaveLength(2);
      expect(e.trainAccuracy).toHaveLength(2);
      expect(e.seconds).toBeGreaterThan(0);
    }
    expect(epochs[1]!.loss).toBeLessThan(epochs[0]!.loss);
    const saved = lines[2] as { saved: string; bytes: number; denseBytes: number; hash: string };
    expect(saved.saved).toBe(path);
    expect(saved.bytes).toBe((await stat(path)).size);
    expect(saved.bytes).toBeLessThan(saved.denseBytes);
    expect(saved.hash).toMatch(/^[0-9a-f]{16}$/);
    // progress went to stderr as plain lines (not a TTY), one per epoch plus the header and the save line
    expect(t.stderr).toMatch(/^train: 8000 samples, test 2000;/);
    expect(t.stderr.match(/^epoch \d\/2 /gm)).toHaveLength(2);

    const [text, json] = await Promise.all([
      cli(["eval", "--model", path, "--seed", "1"]),
      cli(["eval", "--model", path, "--seed", "1", "--json"]),
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`hash ${saved.hash}`);
    expect(text.stdout).toMatch(/exit 1 \(after layer 1\)\s+accuracy \d+\.\d\d%/);
    expect(text.stdout).toMatch(/final\s+accuracy \d+\.\d\d%/);
    expect(json.code, json.stderr).toBe(0);
    const ev = JSON.parse(json.stdout) as { hash: string; n: number; accuracy: number[] };
    expect(ev.hash).toBe(saved.hash);
    expect(ev.n).toBe(2000);
    // the same weights on the same 2,000 held-out digits: the accuracy train reported for its last epoch
    ev.accuracy.forEach((a, k) => expect(Math.abs(a - epochs[1]!.testAccuracy[k]!)).toBeLessThanOrEqual(1 / 2000));
    expect(ev.accuracy[1]).toBeGreaterThan(0.1);

    // without --seed, eval and calibrate hold out the split the model was trained on (seed 1, recorded in the file)
    const out = join(dir, "calibration");
    const [unseeded, cal] = await Promise.all([
      cli(["eval", "--model", path, "--json"]),
      cli(["calibrate", "--model", path, "--out-dir", out, "--json"]),
    ]);
    expect(unseeded.code, unseeded.stderr).toBe(0);
    expect(JSON.parse(unseeded.stdout)).toEqual(ev);
    expect(cal.code, cal.stderr).toBe(0);
    const c = JSON.parse(cal.stdout) as {
      calibrationSamples: number;
      verificationSamples: number;
      curve: { finalAccuracy: number };
    };
    expect(c.calibrationSamples + c.verificationSamples).toBe(2000);
    expect(c.curve.finalAccuracy).toBe(ev.accuracy[1]);
    expect(JSON.parse(await readFile(join(out, "calibration.json"), "utf8"))).toEqual(c);
  });

  it("eval of a corrupted, foreign or missing model file: one line naming the typed error, exit 1", async () => {
    const good = join(dir, "small.safetensors");
    const t = await cli(
      ["train", "--layers", "800,20,10", "--out-degrees", "1,10", "--epochs", "1", "--save", good, "-q"],
      60_000,
    );
    expect(t.code, t.stderr).toBe(0);
    const bytes = await readFile(good);
    const truncated = join(dir, "truncated.safetensors");
    const flipped = join(dir, "flipped.safetensors");
    const foreign = join(dir, "foreign.safetensors");
    await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
    const f = Buffer.from(bytes);
    const n = Number(f.readBigUInt64LE(0));
    // the first col_idx entry of the first layer: well inside the data region, an index that must be < 800
    const hdr = JSON.parse(f.subarray(8, 8 + n).toString("utf8")) as Record<string, { data_offsets: [number, number] }>;
    f.writeInt32LE(5000, 8 + n + hdr["trunk.0.col_idx"]!.data_offsets[0]);
    await writeFile(flipped, f);
    await writeFile(foreign, "<!doctype html><title>404</title>");
    const runs = await Promise.all(
      [truncated, flipped, foreign, join(dir, "absent.safetensors"), dir].map((p) => cli(["eval", "--model", p])),
    );
    expectOneLineError(runs[0]!, 1, /^presparse: FormatError: safetensors: data: .*truncated\.safetensors/);
    expectOneLineError(
      runs[1]!,
      1,
      /^presparse: FormatError: model: trunk\.0\.pattern: .*colIdx\[\d+\] = 5000 out of range/,
    );
    expectOneLineError(runs[2]!, 1, /^presparse: FormatError: safetensors: header length/);
    expectOneLineError(runs[3]!, 1, /^presparse: ValidationError: cannot read model .*absent\.safetensors: ENOENT/);
    expectOneLineError(runs[4]!, 1, /^presparse: ValidationError: .*not a file/);
    for (const r of runs) expect(r.stdout).toBe("");
  });
});
