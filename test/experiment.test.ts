import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { subset } from "../src/nn/dataset.js";
import { loadData } from "../src/data/load.js";
import { runExperiment, type ExperimentOptions } from "../src/node/experiment.js";
import { DEFAULT_ENERGY } from "../src/split/energy.js";
import { parseLink } from "../src/split/links.js";
import { getEngine } from "./helpers/engine.js";
import { parseXml } from "./helpers/xml.js";

const engine = await getEngine();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function options(): ExperimentOptions {
  const dir = mkdtempSync(join(tmpdir(), "presparse-exp-"));
  dirs.push(dir);
  const data = loadData("mnist", { seed: 3, padTo: 800 });
  // a short run on part of the data: the study's whole path, sized for a test
  const test = subset(
    data.test,
    Int32Array.from({ length: 300 }, (_, i) => i),
  );
  return {
    outDir: dir,
    data: { train: data.train, test, name: "mnist (test subset)" },
    networks: [
      { name: "sparse", description: "sparse", sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10] },
      { name: "dense", description: "dense twin", sizes: [800, 40, 40, 10], outDegrees: [40, 40, 10] },
    ],
    epochs: 5,
    batch: 256,
    lr: 1e-3,
    decay: 1e-5,
    seed: 3,
    seeds: 2,
    exitAfter: 1,
    exitWeights: [1, 0.3],
    targetLoss: 0.5,
    front: { firstDegrees: [1], secondDegrees: [9], narrowWidths: [3] },
    serve: true,
    commandLine: "test",
    log: () => {},
  };
}

describe("experiment", () => {
  it("runs the study end to end, writes the report, and reproduces itself with the same seed", async () => {
    const a = await runExperiment(engine, options());
    const b = await runExperiment(engine, options());
    expect(a.networks.map((n) => [n.accuracyFinal, n.accuracyExit, n.hash, n.policy])).toEqual(
      b.networks.map((n) => [n.accuracyFinal, n.accuracyExit, n.hash, n.policy]),
    );
    // every seed's numbers, and the intervals over them, are the same again; the seeds differ from each other
    expect(a.seeds).toEqual([3, 4]);
    expect(a.networks.map((n) => [n.runs.map(({ secondsPerEpoch, ...x }) => x), n.stats.accuracyFinal])).toEqual(
      b.networks.map((n) => [n.runs.map(({ secondsPerEpoch, ...x }) => x), n.stats.accuracyFinal]),
    );
    const noTime = ({ secondsPerEpoch, ...rest }: { secondsPerEpoch: unknown }) => rest;
    expect(a.front.map((p) => noTime(p.stats))).toEqual(b.front.map((p) => noTime(p.stats)));
    // the front: the two networks and the grid's (the dense-narrow 800-3-3-10 and the sparse (1,9,10))
    expect(a.front.map((p) => [p.label, p.kind])).toEqual([
      ["sparse (2,9,10)", "sparse"],
      ["dense 800-40-40-10", "dense"],
      ["sparse (1,9,10)", "sparse"],
      ["dense 800-3-3-10", "dense-narrow"],
    ]);
    expect(a.front[2]!.parameters).toBe(800 + 360 + 400 + 40 + 40 + 10 + 400 + 10);
    expect(a.front[2]!.macs).toBe(800 + 360 + 400);
    expect(a.front.some((p) => p.pareto)).toBe(true);
    // training cost: the three ways timed back to back; the masked dense twin pays the dense cost and more
    expect(a.training!.epochs).toBe(5);
    for (const k of ["sparse", "dense", "maskedDense"] as const) expect(a.training![k]).toBeGreaterThan(0);
    const h = a.headline!;
    expect(h.seeds).toBe(2);
    expect(h.dense.accuracy).toEqual(a.networks[1]!.stats.accuracyFinal);
    if (h.bestStorage) expect(h.bestStorage.overlaps).toBe(true);
    expect(h.holds).toBe(h.atFourX?.overlaps ?? false);
    expect(h.byParameters.holds).toBe(h.byParameters.atFourX?.overlaps ?? false);
    for (const n of a.networks) {
      expect(n.runs.map((x) => x.seed)).toEqual([3, 4]);
      expect(n.runs[0]!.accuracyFinal).toBe(n.accuracyFinal);
      expect(n.runs[0]!.accuracyFinal).not.toBe(n.runs[1]!.accuracyFinal);
      const st = n.stats.accuracyFinal;
      expect(st.mean).toBeCloseTo((n.runs[0]!.accuracyFinal + n.runs[1]!.accuracyFinal) / 2, 12);
      expect(st.low).toBeLessThan(st.mean);
      expect(n.stats.exitRate.n).toBe(2);
    }
    const [sparse, dense] = a.networks;
    // learned, and the bookkeeping agrees with the architecture
    expect(sparse!.accuracyFinal).toBeGreaterThan(0.5);
    expect(sparse!.parameters).toBe(1600 + 360 + 400 + 40 + 40 + 10 + 400 + 10);
    expect(sparse!.macs.edge).toBe(1600);
    expect(sparse!.macs.server).toBe(360 + 400);
    expect(dense!.macs.edge).toBe(32000);
    // the split run answered every test sample and its accounting is consistent
    for (const n of a.networks) {
      const s = n.split!;
      expect(s.n).toBe(300);
      // the final classifier's accuracy agrees with the threshold sweep over the same test set, and the edge exits
      // through the real client exactly the samples the sweep predicted for the chosen policy
      expect(n.accuracyFinal).toBe(n.calibration.finalAccuracy);
      expect(s.exitRate).toBe(
        n.policy === undefined ? 0 : n.calibration.points.find((p) => p.policy === n.policy)!.earlyRate,
      );
      expect(s.bytesPerSample).toBeCloseTo((1 - s.exitRate) * s.frameBytes.int8, 6);
      expect(s.frameBytes.int8).toBe(40 + 4 + 40);
    }
    expect(a.reductions!.macs).toBeCloseTo(dense!.macs.full / sparse!.macs.full, 9);
    expect(a.reductions!.storage).toBeCloseTo(dense!.fileBytes / sparse!.fileBytes, 9);
    expect(a.reductions!.sentPerSample).toEqual({ sparse: sparse!.stats.bytesSent, dense: dense!.stats.bytesSent });
    // the first seed's simulated exit rate is what the real client measured
    for (const n of a.networks) expect(n.runs[0]!.bytesSent).toBeCloseTo(n.split!.bytesPerSample, 9);
    expect(a.reductions!.frameVsRawInput).toBeCloseTo(784 / 84, 9);
    const dir = dirs[0]!;
    const report = readFileSync(join(dir, "report.md"), "utf8");
    expect(report).toContain("| network |");
    expect(report).toContain("over 2 seeds (seeds 3–4)");
    expect(report).toContain("## The headline tested");
    expect(report).toMatch(/masked dense — the seed paper's method, .* [\d.]+ ms \([\d.]+×\)/);
    expect(report).toMatch(/"More than 4× at no loss" (holds|does not hold) here with storage counted in file bytes/);
    expect(report).toContain("| budget (params) | dense-narrow |");
    expect(report).toMatch(/\| sparse 800-40-40-10 \(2,9,10\) \| \d+\.\d\d ± \d+\.\d\d \| /);
    expect(report).toContain("![accuracy vs MACs](accuracy-vs-macs.svg)");
    expect(readFileSync(join(dir, "accuracy-vs-macs.svg"), "utf8")).toMatch(/^<svg /);
    expect(JSON.parse(readFileSync(join(dir, "results.json"), "utf8")).networks).toHaveLength(2);
    // the front's charts: valid SVG with every series, each beside its Vega-Lite spec
    for (const stem of ["front-accuracy-vs-parameters", "front-accuracy-vs-macs", "front-accuracy-vs-bytes-sent"]) {
      const doc = parseXml(readFileSync(join(dir, `${stem}.svg`), "utf8"));
      for (const name of ["predefined sparse", "dense-narrow", "dense twin"]) expect(doc.texts).toContain(name);
      expect(JSON.parse(readFileSync(join(dir, `${stem}.vl.json`), "utf8")).data.values).toHaveLength(4);
      expect(report).toContain(`(${stem}.svg)`);
    }
  }, 120_000);

  const LINKS =
    "through links: a table per link, the winners and crossovers, the energy constants, " +
    "charts with a line per strategy";
  it(LINKS, async () => {
    const o = options();
    const r = await runExperiment(engine, {
      ...o,
      front: undefined,
      links: {
        links: [parseLink("wifi"), parseLink("lte")],
        samples: 8,
        devices: 4,
        dtype: "int8",
        edgeSlowdown: 2,
        energy: DEFAULT_ENERGY,
        periodMs: 1000,
        objective: { minimize: "energy" },
      },
    });
    const dir = o.outDir;
    const report = readFileSync(join(dir, "report.md"), "utf8");
    expect(report).toContain("## Strategies over links");
    expect(report).toMatch(/### wifi: 940 kbit\/s up, 4\.12 Mbit\/s down, RTT 64\.5 ms/);
    expect(report).toMatch(/### lte: 5\.64 Mbit\/s up, 12\.7 Mbit\/s down, RTT 69\.5 ms/);
    expect(report).toContain("| network | strategy | accuracy | edge-answered | latency ms p50 / p95 / p99 / mean |");
    expect(report).toMatch(/- \*\*sparse\*\*: fastest measured .*; the plan \(minimize energy\) chose /);
    expect(report).toContain("## Energy model");
    expect(report).toContain("Horowitz");
    expect(report).toContain("Huang et al.");
    for (const net of ["sparse", "dense"]) {
      const l = r.networks.find((n) => n.spec.name === net)!.links!;
      expect(l.links.map((x) => x.link.name)).toEqual(["wifi", "lte"]);
      for (const link of l.links) {
        const keys = link.runs.map((x) => x.key);
        expect(keys.slice(0, 3)).toEqual(["local", "offload", "split@1:int8"]);
        // the plan's choice was run too
        expect(keys).toContain(link.plan.best!.key);
        for (const run of link.runs) expect(run.agree).toBe(run.n);
        for (const metric of ["latency", "energy"]) {
          const svg = readFileSync(join(dir, `links-${metric}-${net}-${link.link.name}.svg`), "utf8");
          expect(svg).toMatch(/^<svg /);
          expect(report).toContain(`(links-${metric}-${net}-${link.link.name}.svg)`);
          // one line per charted strategy, and the measured runs
          for (const name of ["local", "full offload", "split after 1 (int8)", `measured on ${link.link.name}`])
            expect(svg).toContain(`>${name}</text>`);
          expect(svg.match(/<polyline /g)!.length).toBe(Object.keys(link.sweep[0]!.latencyMs).length);
        }
      }
    }
    // the README's block, marked for the commit it is spliced in at
    const block = readFileSync(join(dir, "links.md"), "utf8");
    expect(block).toContain("(commit {commit}, ");
    expect(block).toMatch(/\| wifi \(940kbit\/4\.12mbit,64\.5ms,7\.9ms\) \| sparse \| [\d.]+ ms · /);
    const json = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    expect(json.linkStudy.edgeSlowdown).toBe(2);
    expect(json.networks[0].links.links[0].runs[1].key).toBe("offload");
  }, 180_000);
});
