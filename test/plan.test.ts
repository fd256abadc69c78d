// The planner against hand-computed cases: each strategy's latency, bytes, MACs and energy; the choice under each
// objective and accuracy floor; the edge slowdown; and the crossovers (the rate at which split beats local, at
// which offload beats split) solved in closed form.
import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/engine/errors.js";
import { DEFAULT_ENERGY, periodicRadioEnergy, transferTiming, type EnergyModel } from "../src/split/energy.js";
import { crossovers, formatPlan, plan, planSweep, type PlanInput, type PlanRow } from "../src/split/plan.js";

/** Round numbers: 1 pJ per MAC and per byte; a radio with 100 nJ/bit up, 10 down, 1 W while active, no tail. */
const FLAT: EnergyModel = {
  compute: { pjPerMac: 1, pjPerByte: 1, source: "test" },
  radios: {
    ...DEFAULT_ENERGY.radios,
    lte: {
      label: "flat",
      txNjPerBit: 100,
      rxNjPerBit: 10,
      txMw: 0,
      rxMw: 0,
      activeMw: 1000,
      promotion: { mw: 0, ms: 0 },
      tail: [],
      source: "test",
    },
  },
};

// 1 Mbit/s both ways (1 ms per 125 B), 20 ms RTT. Local: 10 ms. The cut: 2 ms on the edge, 0.5 ms on the server,
// a 100-byte int8 or 250-byte f32 frame; an exit answering 80% of samples for 0.5 ms more on the edge.
const BASE: PlanInput = {
  full: { edgeMs: 10, serverMs: 1, macs: 1e6, bytesMoved: 1e6, workingSetBytes: 1e5, accuracy: 0.92 },
  inputBytes: 1000,
  answerBytes: 50,
  cuts: [
    {
      cut: 1,
      edgeMs: 2,
      serverMs: 0.5,
      edgeMacs: 2e5,
      serverMacs: 8e5,
      edgeBytesMoved: 2e5,
      edgeWorkingSetBytes: 1e4,
      frameBytes: { f32: 250, int8: 100 },
      accuracy: { int8: 0.915 },
      exits: [{ policy: "maxprob:0.6", exitRate: 0.8, accuracy: 0.9, ms: 0.5, macs: 1e4, bytesMoved: 1e4 }],
    },
  ],
  link: { upBitsPerS: 1e6, downBitsPerS: 1e6, rttMs: 20, jitterMs: 0, radio: "lte" },
  energy: FLAT,
};

const byKey = (rows: PlanRow[]) => Object.fromEntries(rows.map((r) => [r.key, r]));

describe("plan: latency", () => {
  it("predicts each strategy's mean latency, bytes and MACs per sample", () => {
    const p = plan(BASE);
    expect(p.rows.map((r) => r.key)).toEqual([
      "local",
      "offload",
      "split@1:f32",
      "split@1:f32+maxprob:0.6",
      "split@1:int8",
      "split@1:int8+maxprob:0.6",
    ]);
    const r = byKey(p.rows);
    expect(r.local!.latencyMs).toBe(10);
    expect(r.offload!.latencyMs).toBeCloseTo(8 + 20 + 1 + 0.4, 12); // 1000 B up, 50 B down
    expect(r["split@1:f32"]!.latencyMs).toBeCloseTo(2 + 2 + 20 + 0.5 + 0.4, 12); // 24.9
    expect(r["split@1:int8"]!.latencyMs).toBeCloseTo(2 + 0.8 + 20 + 0.5 + 0.4, 12); // 23.7
    const ee = r["split@1:int8+maxprob:0.6"]!;
    expect(ee.edgeLatencyMs).toBe(2.5);
    expect(ee.serverLatencyMs).toBeCloseTo(2.5 + 21.7, 12);
    expect(ee.latencyMs).toBeCloseTo(0.8 * 2.5 + 0.2 * 24.2, 12); // 6.84
    expect(ee.edgeRate).toBe(0.8);
    expect(ee.upBytes).toBeCloseTo(20, 12);
    expect(ee.downBytes).toBeCloseTo(10, 12);
    expect(ee.edgeMacs).toBe(2.1e5);
    expect(ee.serverMacs).toBeCloseTo(1.6e5, 6);
    expect(r.offload).toMatchObject({ upBytes: 1000, downBytes: 50, edgeMacs: 0, serverMacs: 1e6, edgeRate: 0 });
    expect(r.local).toMatchObject({ upBytes: 0, downBytes: 0, edgeMacs: 1e6, serverMacs: 0, edgeRate: 1 });
    expect(p.best?.key).toBe("split@1:int8+maxprob:0.6");
  });

  it("an accuracy floor keeps the table but only chooses rows that reach it", () => {
    const p = plan(BASE, { minimize: "latency", minAccuracy: 0.91 });
    expect(p.rows).toHaveLength(6);
    expect(p.rows.filter((r) => !r.feasible).map((r) => r.key)).toEqual([
      "split@1:f32+maxprob:0.6",
      "split@1:int8+maxprob:0.6",
    ]);
    expect(p.best?.key).toBe("local");
    expect(plan(BASE, { minimize: "latency", minAccuracy: 0.95 }).best).toBeUndefined();
  });

  it("a slow edge device moves the choice to full offload (edge slowdown 5)", () => {
    const p = plan({ ...BASE, edgeSlowdown: 5 }, { minimize: "latency", minAccuracy: 0.91 });
    const r = byKey(p.rows);
    expect(r.local!.latencyMs).toBe(50);
    expect(r["split@1:int8"]!.latencyMs).toBeCloseTo(10 + 21.7, 12);
    expect(r.offload!.latencyMs).toBeCloseTo(29.4, 12); // the server's time is not scaled
    expect(p.best?.key).toBe("offload");
    expect(p.edgeSlowdown).toBe(5);
  });

  it("the answer can cost a different size per dtype (it comes back in the dtype sent; offload takes f32's)", () => {
    const r = byKey(plan({ ...BASE, answerBytes: { f32: 50, int8: 25 } }).rows);
    expect(r["split@1:int8"]!.latencyMs).toBeCloseTo(2 + 0.8 + 20 + 0.5 + 0.2, 12);
    expect(r["split@1:f32"]!.latencyMs).toBeCloseTo(24.9, 12);
    expect(r.offload!.downBytes).toBe(50);
    expect(() => plan({ ...BASE, answerBytes: { int8: 25 } })).toThrow(/answerBytes per dtype needs an f32 figure/);
  });

  it("protocol overhead is added to every request and answer", () => {
    const r = byKey(plan({ ...BASE, overheadUpBytes: 150, overheadDownBytes: 100 }).rows);
    expect(r["split@1:int8"]!.latencyMs).toBeCloseTo(2 + 2 + 20 + 0.5 + 1.2, 12); // 250 B up, 150 B down
    expect(r["split@1:int8"]!.upBytes).toBe(250);
  });
});

describe("plan: energy", () => {
  it("prices compute at pJ/MAC and pJ/B and the radio per bit and per active millisecond", () => {
    const r = byKey(plan(BASE, { minimize: "energy" }).rows);
    expect(r.local!.energyJ).toBeCloseTo(2e-6, 18); // 1e6 MACs + 1e6 B at 1 pJ
    // offload: (8000 bit × 100 + 400 bit × 10) nJ + 29.4 ms × 1 W
    expect(r.offload!.energyJ).toBeCloseTo(0.804e-3 + 29.4e-3, 15);
    // split int8: 0.4 µJ on the edge + (800 × 100 + 400 × 10) nJ + 21.7 ms × 1 W
    expect(r["split@1:int8"]!.computeJ).toBeCloseTo(0.4e-6, 18);
    expect(r["split@1:int8"]!.energyJ).toBeCloseTo(0.4e-6 + 0.084e-3 + 21.7e-3, 15);
    // with the exit: 0.42 µJ for everyone, the radio for the 20% sent
    expect(r["split@1:int8+maxprob:0.6"]!.energyJ).toBeCloseTo(0.42e-6 + 0.2 * (0.084e-3 + 21.7e-3), 15);
    expect(plan(BASE, { minimize: "energy" }).best?.key).toBe("local");
  });

  it("shares the radio tail between transfers that come closer than it (periodMs, sendRate)", () => {
    const input: PlanInput = { ...BASE, energy: DEFAULT_ENERGY, periodMs: 100 };
    const r = byKey(plan(input).rows)["split@1:int8+maxprob:0.6"]!;
    const t = transferTiming(BASE.link, 100, 50, 0.5);
    // transfers 500 ms apart on average
    const sent = periodicRadioEnergy(DEFAULT_ENERGY.radios.lte, 100, 50, t, 100, 1 - 0.8);
    expect(r.radio).toEqual(sent);
    expect(r.radioJ).toBeCloseTo(0.2 * sent.totalJ, 15);
    expect(sent.promotionJ).toBe(0); // 500 ms ≪ LTE's 11.6 s tail
  });
});

describe("crossovers", () => {
  it("split beats local above 160 kbit/s: 10 ms = 2.5 ms + 1200 bit / R (RTT 0)", () => {
    const p: PlanInput = { ...BASE, link: { ...BASE.link, rttMs: 0 } };
    const [x, ...more] = crossovers(p, "split@1:int8", "local");
    expect(more).toEqual([]);
    expect(x! / 160_000 - 1).toBeCloseTo(0, 6);
    const below = byKey(plan({ ...p, link: { ...p.link, upBitsPerS: 150e3, downBitsPerS: 150e3 } }).rows);
    const above = byKey(plan({ ...p, link: { ...p.link, upBitsPerS: 170e3, downBitsPerS: 170e3 } }).rows);
    expect(below.local!.latencyMs).toBeLessThan(below["split@1:int8"]!.latencyMs);
    expect(above["split@1:int8"]!.latencyMs).toBeLessThan(above.local!.latencyMs);
  });

  it("offload beats split above 4.8 Mbit/s: 8400 bit / R + 21 ms = 1200 bit / R + 22.5 ms", () => {
    const [x] = crossovers(BASE, "offload", "split@1:int8");
    expect(x! / 4.8e6 - 1).toBeCloseTo(0, 6);
  });

  it("on energy: split beats a 30 mJ local computation above R = 1.2e6 bit / 9.4166 ms", () => {
    const p: PlanInput = { ...BASE, full: { ...BASE.full, macs: 3e10 } }; // local: 30 mJ + 1 µJ
    // split: 0.4 µJ + 84 µJ + (1.2e6 / R + 20.5) ms × 1 W  =  30.001 mJ
    const expected = 1.2e6 / (30.001 - 0.0004 - 0.084 - 20.5);
    const [x] = crossovers(p, "split@1:int8", "local", "energy");
    expect(x! / expected - 1).toBeCloseTo(0, 6);
  });

  it("none when one strategy is better at every rate", () => {
    expect(crossovers(BASE, "local", "split@1:f32")).toEqual([]); // 10 ms vs at least 22.9 ms
    expect(() => crossovers(BASE, "local", "split@2:int8")).toThrow(/no row "split@2:int8"/);
  });
});

describe("plan: sweep, table, validation", () => {
  it("planSweep plans at each uplink rate, the downlink scaled alike", () => {
    const plans = planSweep({ ...BASE, link: { ...BASE.link, downBitsPerS: 4e6 } }, [1e5, 1e6, 1e7]);
    expect(plans.map((p) => [p.link.upBitsPerS, p.link.downBitsPerS])).toEqual([
      [1e5, 4e5],
      [1e6, 4e6],
      [1e7, 4e7],
    ]);
    expect(plans.map((p) => p.best?.key)).toEqual([
      "split@1:int8+maxprob:0.6",
      "split@1:int8+maxprob:0.6",
      "split@1:int8+maxprob:0.6",
    ]);
  });

  it("formatPlan prints every row, marks the best and the rows below the floor", () => {
    const md = formatPlan(plan(BASE, { minimize: "latency", minAccuracy: 0.91 }));
    const lines = md.split("\n");
    expect(lines).toHaveLength(2 + 6);
    expect(lines[2]).toMatch(/^\| local \*\*\(best\)\*\* \| 92\.00% \| 100\.0% \| 10 \|/);
    expect(lines[7]).toMatch(
      /^\| split@1:int8\+maxprob:0\.6 \(below accuracy floor\) \| 90\.00% \| 80\.0% \| 6\.84 \|/,
    );
  });

  it("refuses bad input, naming the field", () => {
    const cut = BASE.cuts[0]!;
    const bad: [Partial<PlanInput>, RegExp][] = [
      [{ edgeSlowdown: 0 }, /edgeSlowdown must be a finite number > 0, got 0/],
      [{ inputBytes: -1 }, /inputBytes must be a number in \[0, Infinity\], got -1/],
      [{ full: { ...BASE.full, accuracy: 1.2 } }, /full.accuracy must be a number in \[0, 1\], got 1.2/],
      [
        { cuts: [{ ...cut, exits: [{ ...cut.exits![0]!, exitRate: 1.5 }] }] },
        /cut 1: maxprob:0.6: exitRate must be a number in \[0, 1\], got 1.5/,
      ],
      [
        { cuts: [{ ...cut, frameBytes: { f64: 3 } as never }] },
        /cut 1: frameBytes has dtype "f64", expected one of f32, f16, int8/,
      ],
      [{ cuts: [{ ...cut, edgeMs: Number.NaN }] }, /cut 1: edgeMs must be a number/],
      [{ link: { ...BASE.link, radio: undefined } }, /no radio for this link/],
      [{ link: { ...BASE.link, upBitsPerS: 0 } }, /upBitsPerS must be from 1/],
    ];
    for (const [patch, message] of bad) {
      expect(() => plan({ ...BASE, ...patch }), message.source).toThrow(ValidationError);
      expect(() => plan({ ...BASE, ...patch })).toThrow(message);
    }
    expect(() => plan(BASE, { minimize: "money" as never })).toThrow(/objective.minimize must be latency or energy/);
  });
});
