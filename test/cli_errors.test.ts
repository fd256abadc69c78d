// Every bad command line ends the same way, run as a user runs it (`node dist/cli/main.js …`): exactly one line on
// stderr naming the problem, no stack trace, nothing half written, and the documented exit status — 2 for a usage
// error, 1 for a command that failed on what it was given (a bad file, an output it cannot write, a server it
// cannot reach) — and outputs are checked before any work starts.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel } from "../src/io/model_io.js";
import { Model } from "../src/nn/model.js";
import { split } from "../src/split/split.js";
import { EXIT, reportError } from "../src/cli/report.js";
import { UsageError } from "../src/cli/args.js";
import { ValidationError } from "../src/engine/errors.js";
import { CLI } from "./helpers/server_harness.js";
import { getEngine } from "./helpers/engine.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

let dir: string;
const at = (p: string) => join(dir, p);

function cli(args: string[]): Promise<Run> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: dir, timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr, ms: performance.now() - t });
      },
    );
  });
}

/** Runs every command line, four at a time (the machine is shared). */
async function runAll(lines: string[][]): Promise<Run[]> {
  const out: Run[] = new Array(lines.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < lines.length) {
        const k = next++;
        out[k] = await cli(lines[k]!);
      }
    }),
  );
  return out;
}

/**
 * A loopback port nothing listens on, below the kernel's ephemeral range: a port that an ephemeral bind handed out
 * and gave back could be taken again by another test file's server (listening on port 0) before infer connects.
 */
async function closedPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the usual lower bound
  }
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createTcpServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let port = low - 2000; port < low; port++) if (await bindable(port)) return port;
  throw new Error(`no free loopback port in [${low - 2000}, ${low})`);
}

let closed: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "presparse-cli-errors-"));
  const engine = await getEngine();
  const model = Model.mlp(engine, {
    sizes: [800, 20, 10],
    outDegrees: [1, 10],
    seed: 1,
    exits: [{ after: 0, weight: 1 }],
  });
  const { head, tail } = split(model, { cut: 1 });
  await writeFile(at("m.safetensors"), encodeModel(model).bytes);
  await mkdir(at("sp"));
  await writeFile(at("sp/head.safetensors"), encodeModel(head).bytes);
  await writeFile(at("sp/tail.safetensors"), encodeModel(tail).bytes);
  for (const x of [head, tail, model]) x.dispose();
  await writeFile(at("afile"), "not a directory\n");
  await writeFile(at("bad.safetensors"), "<!doctype html>\n");
  await mkdir(at("adir"));
  closed = await closedPort();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("bad command lines", () => {
  it("each gives one line on stderr, no stack trace and its documented status", async () => {
    const down = `http://127.0.0.1:${closed}`;
    const small = ["--layers", "800,20,10", "--out-degrees", "1,10"];
    // [command line, exit status, what the line says]
    const table: [string[], number, RegExp][] = [
      // usage errors: 2
      [["frobnicate"], 2, /unknown command "frobnicate"/],
      [["train", "--bogus"], 2, /Unknown option '--bogus'/],
      [["train", "stray"], 2, /Unexpected argument 'stray'/],
      [["train", "--epochs"], 2, /argument missing/],
      [["train", "--epochs", "1e9"], 2, /--epochs expects an integer/],
      [["train", "--batch", "0"], 2, /--batch expects an integer in \[1, 65536\]/],
      [["train", "--seed", "-1"], 2, /--seed.*ambiguous/],
      [["train", "--optimizer", "rmsprop"], 2, /--optimizer expects adam or sgd/],
      [["train", "--momentum", "2", "--optimizer", "sgd"], 2, /--momentum expects a number/],
      [["train", "--arch", "fc:10", "--layers", "800,10"], 2, /give --arch or --layers/],
      [["train", "--exit-out-degree", "0"], 2, /--exit-out-degree expects an integer/],
      [["train", "--input-shape", "1x28x28"], 2, /--input-shape goes with --arch/],
      [["eval"], 2, /eval: --model is required/],
      [["eval", "--model="], 2, /eval: --model is required/],
      [["eval", "--model", "m.safetensors", "--batch", "0"], 2, /--batch expects an integer/],
      [["eval", "--model", "sp/tail.safetensors"], 2, /data mnist has 784 features, the model takes 20/],
      [["calibrate"], 2, /--model is required/],
      [["calibrate", "--model", "m.safetensors", "--policy", "foo"], 2, /--policy expects maxprob or entropy/],
      [["calibrate", "--model", "m.safetensors", "--pick", "x"], 2, /--pick expects knee/],
      [
        ["calibrate", "--model", "m.safetensors", "--target-loss", "200"],
        2,
        /--target-loss expects a number in \[0, 100\]/,
      ],
      [["calibrate", "--model", "m.safetensors", "--pick", "knee", "--target-loss", "1"], 2, /not both/],
      [["calibrate", "--model", "sp/tail.safetensors"], 2, /has no exits/],
      [["split", "--model", "m.safetensors", "--out-dir", "o"], 2, /--after is required/],
      [["split", "--model", "m.safetensors", "--after", "1"], 2, /--out-dir is required/],
      [
        ["split", "--model", "m.safetensors", "--after", "0", "--out-dir", "o"],
        2,
        /--after expects an integer in \[1, 1\]/,
      ],
      [
        ["split", "--model", "m.safetensors", "--after", "5", "--out-dir", "o"],
        2,
        /--after expects an integer in \[1, 1\]/,
      ],
      [["split", "--model", "sp/head.safetensors", "--after", "1", "--out-dir", "o"], 2, /a split needs at least 2/],
      [["serve"], 2, /--model is required/],
      [["serve", "--model", "sp/tail.safetensors", "--port", "99999"], 2, /--port expects an integer in \[0, 65535\]/],
      [["serve", "--model", "sp/tail.safetensors", "--workers", "0"], 2, /--workers expects an integer/],
      [["serve", "--model", "sp/tail.safetensors", "--head", "x"], 2, /--head goes with --demo/],
      [
        ["serve", "--model", "sp/tail.safetensors", "--max-body-bytes", "1"],
        2,
        /--max-body-bytes expects an integer in \[64,/,
      ],
      [
        ["serve", "--model", "sp/tail.safetensors", "--max-connections", "0"],
        2,
        /--max-connections expects an integer in \[1,/,
      ],
      [["infer", "--head", "sp/head.safetensors"], 2, /--server is required/],
      [["infer", "--head", "sp/head.safetensors", "--server", "notaurl"], 2, /--server expects an http\(s\) URL/],
      [
        ["infer", "--head", "sp/head.safetensors", "--server", down, "--dtype", "f64"],
        2,
        /--dtype expects f32, f16, int8/,
      ],
      [["infer", "--head", "sp/head.safetensors", "--server", down, "--limit", "0"], 2, /--limit expects an integer/],
      [["experiment", "--name", "../x"], 2, /--name may contain/],
      [["experiment", "--layers", "800,10"], 2, /at least one hidden layer/],
      [["experiment", "--narrow", "700,3,10"], 2, /same input and output sizes/],
      [["experiment", "--seeds", "0"], 2, /--seeds expects an integer/],
      // outputs that cannot be written, found before any work: 1
      [
        ["train", ...small, "--save", "missing/m.safetensors"],
        1,
        /^presparse: ValidationError: train: --save missing\/m\.safetensors: directory missing does not exist$/,
      ],
      [["train", ...small, "--save", "adir"], 1, /train: --save adir: is a directory, not a file/],
      [
        ["train", ...small, "--save", "afile/x.safetensors"],
        1,
        /train: --save afile\/x\.safetensors: cannot be written as a file/,
      ],
      [
        ["calibrate", "--model", "m.safetensors", "--out-dir", "afile"],
        1,
        /calibrate: --out-dir afile: is not a directory/,
      ],
      [
        ["calibrate", "--model", "m.safetensors", "--out-dir", "afile/sub"],
        1,
        /calibrate: --out-dir afile\/sub: is not a directory/,
      ],
      [
        ["split", "--model", "m.safetensors", "--after", "1", "--out-dir", "afile"],
        1,
        /split: --out-dir afile: is not a directory/,
      ],
      [
        ["split", "--model", "m.safetensors", "--after", "1", "--out-dir", "afile/sub"],
        1,
        /split: --out-dir afile\/sub: is not a directory/,
      ],
      [
        ["experiment", "--out", "afile", "--epochs", "1", "--no-serve", "-q"],
        1,
        /experiment: --out\/--name afile\/paper: is not a directory/,
      ],
      [["experiment", "--out", "afile/sub", "--epochs", "1", "--no-serve", "-q"], 1, /is not a directory/],
      // files that cannot be read or are not what the command needs: 1
      [
        ["eval", "--model", "missing.safetensors"],
        1,
        /ValidationError: cannot read model missing\.safetensors: ENOENT/,
      ],
      [["eval", "--model", "adir"], 1, /ValidationError: adir: not a file/],
      [["eval", "--model", "bad.safetensors"], 1, /FormatError: safetensors: header length/],
      [["eval", "--model", "sp/head.safetensors"], 1, /a split head has no final classifier/],
      [["eval", "--model", "m.safetensors", "--data", "nope"], 1, /no t10k images in nope/],
      [
        ["eval", "--model", "m.safetensors", "--exit-policy", "bogus"],
        1,
        /exit policy: expected maxprob:Q or entropy:T/,
      ],
      [["eval", "--model", "m.safetensors", "--exit-policy", "maxprob:2"], 1, /maxprob threshold must be in \[0, 1\]/],
      [["train", ...small, "--data", "nope"], 1, /no train images in nope/],
      [["train", "--arch", "garbage"], 1, /ArchError: .*unknown layer "garbage"/],
      [["train", "--arch", "conv:1>4:99x99"], 1, /kernel 99×99 is larger than the padded input 28×28/],
      [["train", "--layers", "800,30,10", "--out-degrees", "2,10"], 1, /PatternError: .*feasible out-degrees: 3, 6, 9/],
      [["train", "--layers", "800,40,10", "--out-degrees", "2,10", "--blocks", "4,1"], 1, /feasible blocks: 1, 2$/],
      [["train", "--layers", "800,40,10", "--out-degrees", "2,10", "--blocks", "2"], 2, /--blocks needs 2 values/],
      [["train", "--arch", "fc:40:deg10:block4,fc:10"], 1, /ArchError: .*block 4 infeasible .* 1, 2, 5, 10$/],
      [["calibrate", "--model", "missing"], 1, /cannot read model missing: ENOENT/],
      [["split", "--model", "missing", "--after", "1", "--out-dir", "o"], 1, /cannot read model missing: ENOENT/],
      [
        ["split", "--model", "m.safetensors", "--after", "1", "--out-dir", "o", "--exit-policy", "bad"],
        1,
        /exit policy: expected/,
      ],
      [["serve", "--model", "missing"], 1, /startServer: cannot read missing: ENOENT/],
      [["serve", "--model", "adir"], 1, /startServer: cannot read adir: EISDIR/],
      [["serve", "--model", "bad.safetensors"], 1, /FormatError: safetensors: header length/],
      // a whole model is served for full offload; the demo's head must be a split of what is served
      [
        ["serve", "--model", "m.safetensors", "--demo", "--head", "sp/head.safetensors", "--port", "0"],
        1,
        /head of model \w+ cut after layer 1; the served tail is model \w+ cut after layer 0/,
      ],
      [
        ["serve", "--model", "sp/head.safetensors", "--port", "0"],
        1,
        /expected a tail bundle or a whole model, got "head"/,
      ],
      [
        ["serve", "--model", "sp/tail.safetensors", "--demo", "--head", "missing", "--port", "0"],
        1,
        /cannot read the head bundle missing: ENOENT/,
      ],
      [
        ["serve", "--model", "sp/tail.safetensors", "--host", "203.0.113.7", "--port", "0"],
        1,
        /cannot listen on 203\.0\.113\.7:0: EADDRNOTAVAIL/,
      ],
      [["infer", "--head", "missing", "--server", down], 1, /cannot read head missing: ENOENT/],
      [["infer", "--head", "adir", "--server", down], 1, /cannot read head adir: EISDIR/],
      [["infer", "--head", "sp/tail.safetensors", "--server", down], 1, /expected a head bundle, got "tail"/],
      [["infer", "--head", "m.safetensors", "--server", down], 1, /no split record/],
      [
        ["infer", "--head", "sp/head.safetensors", "--server", down, "--exit-policy", "bad"],
        1,
        /exit policy: expected/,
      ],
      // a server that is not there: a typed error naming the URL and the cause
      [
        ["infer", "--head", "sp/head.safetensors", "--server", down, "--limit", "3"],
        1,
        new RegExp(
          `^presparse: SplitServerError: unreachable: cannot reach ${down}/v1/infer: ` +
            `fetch failed \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\)$`,
        ),
      ],
      [
        ["infer", "--head", "sp/head.safetensors", "--server", "http://no-such-host.invalid", "--limit", "3"],
        1,
        /SplitServerError: unreachable: cannot reach http:\/\/no-such-host\.invalid\/v1\/infer: .*ENOTFOUND/,
      ],
    ];
    const runs = await runAll(table.map(([args]) => args));
    const wrong: string[] = [];
    table.forEach(([args, status, message], k) => {
      const r = runs[k]!;
      const ok =
        r.code === status &&
        /^presparse: [^\n]+\n$/.test(r.stderr) &&
        !/\n\s+at /.test(r.stderr) &&
        message.test(r.stderr.trimEnd());
      if (!ok) wrong.push(`${args.join(" ")} → ${r.code}: ${r.stderr}`);
    });
    expect(wrong).toEqual([]);
    // nothing was created on the way to a refusal
    for (const p of ["o", "missing", "m.safetensors.tmp"]) expect(existsSync(at(p)), p).toBe(false);
    // a --save that cannot be written is found before 50 epochs of training, not after
    const save = runs[table.findIndex(([a]) => a.includes("missing/m.safetensors"))]!;
    expect(save.ms).toBeLessThan(20_000);
    expect(table.length).toBeGreaterThanOrEqual(75);
  });
});

describe("reportError", () => {
  it("maps every kind of error to one line and its status: usage 2, typed 1, system 1, anything else 3", () => {
    const lines: string[] = [];
    const out = { write: (s: string) => lines.push(s) };
    const sys = Object.assign(new Error("EISDIR: illegal operation on a directory, open 'x'"), {
      code: "EISDIR",
      syscall: "open",
      path: "x",
    });
    const codes = [
      new UsageError("train: bad"),
      new ValidationError("no"),
      sys,
      new TypeError("oops\n  at somewhere"),
      "thrown string",
    ].map((e) => reportError(e, out));
    expect(codes).toEqual([EXIT.usage, EXIT.failed, EXIT.failed, EXIT.internal, EXIT.internal]);
    expect(lines).toEqual([
      "presparse: train: bad\n",
      "presparse: ValidationError: no\n",
      "presparse: cannot open x: EISDIR\n",
      "presparse: internal error: TypeError: oops at somewhere (PRESPARSE_STACK=1 prints the stack)\n",
      "presparse: internal error: thrown string (PRESPARSE_STACK=1 prints the stack)\n",
    ]);
  });
});
