// The link flags through the built command line, run as child processes: presparse plan (stored figures or held-out
// data, objective, accuracy floor, edge slowdown, energy overrides), infer --model (full offload) through --link
// against presparse serve of a whole model, and experiment --link/--links/--edge-slowdown/--energy/--objective; every
// bad value a one-line usage error (2) before any work, a file of the wrong kind a one-line error (1).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CLI, ROOT, spawnCli, stopChildren } from "./helpers/server_harness.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeout = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

function oneLine(r: Run, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^presparse: [^\n]+\n$/);
  expect(r.stderr).toMatch(message);
}

let dir: string;
const model = () => join(dir, "m.safetensors");
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "presparse-cli-links-"));
  const t = await cli(["train", "--epochs", "2", "--exits", "1", "--save", model()]);
  expect(t.code, t.stderr).toBe(0);
  const s = await cli(["split", "--model", model(), "--after", "1", "--out-dir", join(dir, "sp")]);
  expect(s.code, s.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await stopChildren();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("presparse plan", () => {
  it("from the file's stored figures: the measured costs, the table it chose from and the best row", async () => {
    const r = await cli(["plan", "--model", model(), "--link", "lte"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("accuracies and exit rates from the figures stored in the file");
    expect(r.stdout).toMatch(/\| trunk\.0 \| linear \| [\d.]+ \| 1600 \| /);
    expect(r.stdout).toMatch(/link lte \(5\.64mbit\/12\.74mbit,69\.5ms,5\.6ms\), radio lte, edge 1× slower/);
    for (const key of ["local", "offload", "split@1:f32", "split@1:f16", "split@1:int8", "split@2:int8"])
      expect(r.stdout).toMatch(new RegExp(`^\\| ${key.replace(/[.@]/g, "\\$&")}( \\*\\*\\(best\\)\\*\\*)? \\|`, "m"));
    expect(r.stdout).toMatch(/^best: local$/m);
  });

  it("with held-out data, an objective, an accuracy floor, one dtype and a policy; --json", async () => {
    const r = await cli([
      ...["plan", "--model", model(), "--link", "5mbit,40ms", "--radio", "wifi", "--data", "mnist"],
      ...["--objective", "energy", "--min-accuracy", "0.999", "--dtype", "int8", "--exit-policy", "maxprob:0.9"],
      ...["--energy", "pjPerMac=1,wifi.activeMw=200", "--json"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.costs.samples).toBe(2000);
    expect(j.plan.objective).toEqual({ minimize: "energy", minAccuracy: 0.999 });
    expect(j.plan.link.upBitsPerS).toBe(5e6);
    expect(j.plan.radio).toBe("wifi");
    expect(j.plan.best).toBeUndefined();
    const keys = j.plan.rows.map((x: { key: string }) => x.key);
    expect(keys).toEqual([
      "local",
      "offload",
      "split@1:int8",
      "split@1:int8+maxprob:0.9",
      "split@2:int8",
      "split@2:int8+maxprob:0.9",
    ]);
    // the override is in the energy: 1 pJ per MAC for local's MACs, plus its memory traffic at the level its working
    // set fits (24 KB: the 32 KB cache, 20 pJ per 64-bit access)
    const local = j.plan.rows[0];
    const full = j.costs.input.full;
    expect(full.macs).toBe(2360);
    expect(full.workingSetBytes).toBeLessThanOrEqual(32 * 1024);
    expect(local.computeJ).toBeCloseTo((full.macs * 1 + full.bytesMoved * 2.5) * 1e-12, 15);
  });

  it("an edge slow enough loses to sending: the best row is no longer local", async () => {
    const r = await cli(["plan", "--model", model(), "--link", "lte", "--edge-slowdown", "1e7"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("edge 10000000× slower");
    expect(r.stdout).toMatch(/^best: (offload|split@\d:\w+)/m);
  });

  it("bad flags are usage errors (2); a split half is refused (1)", async () => {
    const m = model();
    const cases: [string[], number, RegExp][] = [
      [["plan", "--model", m], 2, /--link is required/],
      [["plan", "--model", m, "--link", "5mbps,40ms"], 2, /--link: link "5mbps,40ms": rate: expected/],
      [["plan", "--model", m, "--link", "5mbit,40ms"], 2, /is written out: add --radio/],
      [["plan", "--model", m, "--link", "lte", "--radio", "5g"], 2, /--radio expects lte, 3g, wifi, lpwan/],
      [["plan", "--model", m, "--link", "lte", "--objective", "speed"], 2, /--objective expects latency or energy/],
      [
        ["plan", "--model", m, "--link", "lte", "--min-accuracy", "90"],
        2,
        /--min-accuracy expects a number in \[0, 1\]/,
      ],
      [["plan", "--model", m, "--link", "lte", "--edge-slowdown", "0"], 2, /--edge-slowdown expects a number > 0/],
      [
        ["plan", "--model", m, "--link", "lte", "--energy", "foo=1"],
        2,
        /--energy: energy overrides: unknown key "foo"/,
      ],
      [["plan", "--model", m, "--link", "lte", "--overhead-bytes", "12"], 2, /--overhead-bytes expects UP,DOWN/],
      [["plan", "--model", m, "--link", "lte", "--dtype", "f64"], 2, /--dtype expects f32, f16, int8/],
      [["plan", "--model", m, "--link", "lte", "--exit-policy", "maxprob:0.9"], 2, /--exit-policy needs --data/],
      [["plan", "--model", join(dir, "sp", "head.safetensors"), "--link", "lte"], 1, /is the head of a split/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((r, i) => oneLine(r, cases[i]![1], cases[i]![2]));
  });
});

describe("presparse infer --model (full offload) through --link", () => {
  it("serve takes the whole model; infer sends each input through the link and counts it on the wire", async () => {
    const server = await spawnCli(["serve", "--model", model(), "--port", "0"]);
    await vi.waitFor(() => expect(server.stderr()).toMatch(/whole \(full offload\)/), { timeout: 10_000 });
    const r = await cli([
      ...["infer", "--model", model(), "--server", server.url, "--link", "1mbit,10ms", "--dtype", "int8"],
      ...["--edge-slowdown", "3", "--limit", "12", "--json"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ offload: true, n: 12, exitRate: 0, edgeSlowdown: 3, bytesPerSample: 844, requests: 12 });
    expect(j.link.spec).toBe("1mbit,10ms");
    // an int8 frame of the 800 inputs and its HTTP headers, every sample; the answer's frame and headers back
    expect(Math.abs(j.wireBytesPerSample.up - 1088)).toBeLessThanOrEqual(6);
    expect(j.wireBytesPerSample.down).toBeGreaterThan(54);
    // each request crosses 10 ms of RTT and 8.7 ms of uplink at least
    expect(j.latencyMs.p50).toBeGreaterThan(18);
    const text = await cli(["infer", "--model", model(), "--server", server.url, "--link", "wifi", "--limit", "3"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/offloaded whole to .* over http, link wifi/);
    expect(text.stdout).toMatch(/on the link [\d.]+ B up and [\d.]+ B down per sample, protocol included/);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("bad combinations are usage errors (2)", async () => {
    const m = model(),
      head = join(dir, "sp", "head.safetensors"),
      url = "http://127.0.0.1:9";
    const cases: [string[], RegExp][] = [
      [["infer", "--head", head, "--model", m, "--server", url], /give --head FILE \(split\) or --model FILE/],
      [["infer", "--server", url], /give --head FILE \(split\) or --model FILE/],
      [["infer", "--model", m, "--server", url, "--exit-policy", "maxprob:0.9"], /full offload has no edge exits/],
      [["infer", "--model", m, "--server", url, "--link", "fast"], /--link: link "fast": spec: expected a preset/],
      [["infer", "--model", m, "--server", url, "--edge-slowdown=-1"], /--edge-slowdown expects a number/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((r, i) => oneLine(r, 2, cases[i]![1]));
    oneLine(await cli(["infer", "--model", head, "--server", url]), 1, /is the head of a split; --model takes a whole/);
  });
});

describe("presparse experiment through links", () => {
  it("--link, --radio, --link-samples, --edge-slowdown, --energy, --objective reach the study and report", async () => {
    const r = await cli(
      [
        ...["experiment", "--epochs", "1", "--out", dir, "--name", "links", "-q"],
        ...["--link", "2mbit,20ms", "--radio", "wifi", "--link-samples", "4"],
        ...["--edge-slowdown", "3", "--energy", "pjPerMac=1", "--objective", "energy", "--min-accuracy", "0.01"],
      ],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = join(dir, "links");
    const json = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
    expect(json.linkStudy).toMatchObject({
      samples: 4,
      edgeSlowdown: 3,
      objective: { minimize: "energy", minAccuracy: 0.01 },
    });
    expect(json.linkStudy.energy.compute.pjPerMac).toBe(1);
    expect(json.linkStudy.links).toEqual([
      { upBitsPerS: 2e6, downBitsPerS: 2e6, rttMs: 20, jitterMs: 0, radio: "wifi" },
    ]);
    for (const n of json.networks) expect(n.links.links[0].runs.map((x: { n: number }) => x.n)).toContain(4);
    const report = await readFile(join(out, "report.md"), "utf8");
    expect(report).toContain("### link1: 2 Mbit/s up, 2 Mbit/s down, RTT 20 ms (`2mbit,20ms`, radio wifi)");
    expect(report).toContain("the edge slowdown (3×)");
    expect(report).toMatch(
      /\| compute: energy per f32 MAC \| 1 \| pJ \| .*\[overridden|\| compute: energy per f32 MAC \| 1 \| pJ \|/,
    );
    expect(await readFile(join(out, "links.md"), "utf8")).toContain("| link1 (2mbit,20ms) | sparse |");
  }, 150_000);

  it("bad link flags are usage errors (2), found before any training", async () => {
    const cases: [string[], RegExp][] = [
      [["--links", "fast"], /--links expects all or preset names \(lte, 3g, wifi, lora\), got "fast"/],
      [["--link", "5mbit,40ms"], /--link 5mbit,40ms is written out: add --radio/],
      [["--link", "wifi", "--links", "all"], /--link and --links do not go together/],
      [["--link", "none", "--link", "wifi"], /--link none goes alone/],
      [["--edge-slowdown=-1"], /--edge-slowdown expects a number/],
      [["--energy", "x=1"], /--energy: energy overrides: unknown key "x"/],
      [["--link-samples", "0"], /--link-samples expects an integer in \[1, 100000\]/],
      [["--objective", "speed"], /--objective expects latency or energy/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(["experiment", "--out", dir, ...args])));
    runs.forEach((r, i) => oneLine(r, 2, cases[i]![1]));
  });
});
