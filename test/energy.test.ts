// The energy model's arithmetic, case by case against numbers worked out by hand; its constants are the cited
// ones; overrides replace exactly what they name and nothing else.
import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/engine/errors.js";
import {
  DEFAULT_ENERGY,
  computeEnergy,
  csrBytesMoved,
  energyKeys,
  energyTable,
  formatEnergyTable,
  memoryPjPerByte,
  overrideEnergy,
  periodicRadioEnergy,
  radioEnergy,
  transferTiming,
  type RadioPower,
} from "../src/split/energy.js";
import { LINK_PRESETS } from "../src/split/links.js";

/** A radio with round numbers so every product is easy to check. */
const ROUND: RadioPower = {
  label: "round",
  txNjPerBit: 100,
  rxNjPerBit: 10,
  txMw: 0,
  rxMw: 0,
  activeMw: 1000,
  promotion: { mw: 500, ms: 200 },
  tail: [
    { mw: 400, ms: 1000 },
    { mw: 100, ms: 500 },
  ],
  source: "test",
};

describe("compute energy", () => {
  it("is pJ/MAC × MACs + pJ/B × bytes, with the memory level picked by the working set", () => {
    // 1600 MACs × 4.6 pJ = 7.36 nJ; 19,684 B × 2.5 pJ (12,740 B fits the 32 KB cache) = 49.21 nJ
    const e = computeEnergy(DEFAULT_ENERGY.compute, { macs: 1600, bytesMoved: 19_684, workingSetBytes: 12_740 });
    expect(e.macJ).toBeCloseTo(7.36e-9, 20);
    expect(e.memoryJ).toBeCloseTo(49.21e-9, 20);
    expect(e.totalJ).toBeCloseTo(56.57e-9, 20);
    const c = DEFAULT_ENERGY.compute;
    expect(memoryPjPerByte(c, 8192)).toBe(1.25);
    expect(memoryPjPerByte(c, 8193)).toBe(2.5);
    expect(memoryPjPerByte(c, 1024 * 1024)).toBe(12.5);
    expect(memoryPjPerByte(c, 1024 * 1024 + 1)).toBe(162.5);
    expect(memoryPjPerByte({ ...c, pjPerByte: 7 }, 10 ** 9)).toBe(7);
  });

  it("counts a sparse layer's loads and stores at batch 1: 12 B per stored connection, 12 B per row, 4 B", () => {
    expect(csrBytesMoved(40, 1600)).toBe(12 * 1600 + 12 * 40 + 4); // 19,684
    expect(csrBytesMoved(10, 400, true)).toBe(8 * 400 + 8 * 10); // 3,280
    expect(() => csrBytesMoved(-1, 3)).toThrow(ValidationError);
  });
});

describe("radio energy", () => {
  const link = { upBitsPerS: 1e6, downBitsPerS: 4e6, rttMs: 50, jitterMs: 0 };

  it("times an exchange: serialization each way plus the RTT and the server's time", () => {
    // 125,000 B at 1 Mbit/s = 1000 ms; 500 B at 4 Mbit/s = 1 ms; + 50 ms RTT + 5 ms server
    expect(transferTiming(link, 125_000, 500, 5)).toEqual({ upMs: 1000, downMs: 1, activeMs: 1056 });
  });

  it("an isolated exchange pays bits, the active spell, the promotion and the whole tail", () => {
    const t = transferTiming(link, 1000, 100, 0); // up 8 ms, down 0.2 ms, active 58.2 ms
    const e = radioEnergy(ROUND, 1000, 100, t);
    expect(e.bitsJ).toBeCloseTo((8000 * 100 + 800 * 10) * 1e-9, 15); // 808 µJ
    expect(e.activeJ).toBeCloseTo(58.2 * 1000 * 1e-6, 15); // 58.2 mJ
    expect(e.promotionJ).toBeCloseTo(500 * 200 * 1e-6, 15); // 100 mJ
    expect(e.tailJ).toBeCloseTo((400 * 1000 + 100 * 500) * 1e-6, 15); // 450 mJ
    expect(e.airtimeJ).toBe(0);
    expect(e.totalJ).toBeCloseTo(0.000808 + 0.0582 + 0.1 + 0.45, 12);
  });

  it("a gap shorter than the tail pays the tail up to the gap, stage by stage, and no promotion", () => {
    const t = transferTiming(link, 0, 0, 0);
    expect(radioEnergy(ROUND, 0, 0, t, 600).tailJ).toBeCloseTo(400 * 600 * 1e-6, 15);
    expect(radioEnergy(ROUND, 0, 0, t, 1200).tailJ).toBeCloseTo((400 * 1000 + 100 * 200) * 1e-6, 15);
    expect(radioEnergy(ROUND, 0, 0, t, 1499).promotionJ).toBe(0);
    expect(radioEnergy(ROUND, 0, 0, t, 1500).promotionJ).toBeCloseTo(0.1, 15);
    expect(radioEnergy(ROUND, 0, 0, t, 0).tailJ).toBe(0);
  });

  it(
    "periodic samples: a quarter of them sent every 1000 ms " + "leaves 4000 ms − the active spell between transfers",
    () => {
      const t = transferTiming(link, 1000, 100, 0); // active 58.2 ms → gap 3941.8 ms ≥ 1500: promotion + full tail
      expect(periodicRadioEnergy(ROUND, 1000, 100, t, 1000, 0.25)).toEqual(
        radioEnergy(ROUND, 1000, 100, t, 4000 - 58.2),
      );
      const fast = periodicRadioEnergy(ROUND, 1000, 100, t, 100, 1); // gap 41.8 ms: 400 mW × 41.8 ms
      expect(fast.tailJ).toBeCloseTo(400 * 41.8 * 1e-6, 12);
      expect(fast.promotionJ).toBe(0);
      expect(() => periodicRadioEnergy(ROUND, 1, 1, t, 100, 0)).toThrow(/sendRate must be in \(0, 1\]/);
    },
  );

  it("LTE, one 84-byte int8 frame up and 56 bytes back, isolated: Huang's constants worked by hand", () => {
    const lte = LINK_PRESETS.find((p) => p.name === "lte")!;
    const t = transferTiming(lte, 84, 56);
    expect(t.upMs).toBeCloseTo((672 / 5.64e6) * 1000, 12);
    expect(t.activeMs).toBeCloseTo((672 / 5.64e6) * 1000 + 69.5 + (448 / 12.74e6) * 1000, 12);
    const e = radioEnergy(DEFAULT_ENERGY.radios.lte, 84, 56, t);
    expect(e.bitsJ).toBeCloseTo((672 * 438.39 + 448 * 51.97) * 1e-9, 15); // 317.9 µJ
    expect(e.activeJ).toBeCloseTo(t.activeMs * 1288.04e-6, 15); // 89.7 mJ
    expect(e.promotionJ).toBeCloseTo(1210.7 * 260.1e-6, 12); // 314.9 mJ
    expect(e.tailJ).toBeCloseTo(1060 * 11576e-6, 12); // 12.27 J: the tail dominates an isolated exchange
    expect(e.totalJ).toBeCloseTo(12.6752, 3);
  });

  it("3G's tail is two stages (DCH then FACH); a 8500 ms gap ends in the second", () => {
    const r = DEFAULT_ENERGY.radios["3g"];
    const e = radioEnergy(r, 0, 0, { upMs: 0, downMs: 0, activeMs: 0 }, 8500);
    expect(e.tailJ).toBeCloseTo((803.9 * 8088.2 + 601.3 * (8500 - 8088.2)) * 1e-6, 12);
    expect(e.promotionJ).toBe(0); // 8500 < 8088.2 + 824.2
  });

  it("LoRa is priced by airtime: transmit and receive power above standby, standby for the whole exchange", () => {
    const lora = LINK_PRESETS.find((p) => p.name === "lora")!;
    const t = transferTiming(lora, 84, 56); // 672 bit / 5470 = 122.85 ms up, 81.90 ms down, + 1000 ms
    const e = radioEnergy(DEFAULT_ENERGY.radios.lpwan, 84, 56, t);
    // s × V × mA = mJ
    expect(e.airtimeJ).toBeCloseTo(((672 / 5470) * 3.3 * 27.4 + (448 / 5470) * 3.3 * 9.2) * 1e-3, 12);
    expect(e.activeJ).toBeCloseTo((t.activeMs / 1000) * 3.3 * 1.6e-3, 12);
    expect(e.bitsJ + e.promotionJ + e.tailJ).toBe(0);
  });

  it("every preset's radio has a power model", () => {
    for (const p of LINK_PRESETS) expect(DEFAULT_ENERGY.radios[p.radio]).toBeDefined();
  });
});

describe("overrides and the printed table", () => {
  it("replace exactly the named constants, in a copy", () => {
    const m = overrideEnergy(
      DEFAULT_ENERGY,
      "pjPerMac=1, lte.activeMw=1000,3g.tail1Ms=0,wifi.promotionMw=2,pjPerByte=3",
    );
    expect(m.compute.pjPerMac).toBe(1);
    expect(m.compute.pjPerByte).toBe(3);
    expect(m.radios.lte.activeMw).toBe(1000);
    expect(m.radios["3g"].tail[1]).toEqual({ mw: 601.3, ms: 0 });
    expect(m.radios.wifi.promotion).toEqual({ mw: 2, ms: 79.1 });
    expect(m.radios.lte.source).toMatch(/\[overridden: lte.activeMw=1000\]$/);
    // the default is untouched
    expect(DEFAULT_ENERGY.compute.pjPerMac).toBe(4.6);
    expect(DEFAULT_ENERGY.radios.lte.activeMw).toBe(1288.04);
    expect(DEFAULT_ENERGY.radios["3g"].tail[1]!.ms).toBe(824.2);
    expect(overrideEnergy(m, { pjPerByte: "auto" }).compute.pjPerByte).toBe("auto");
  });

  it("refuse an unknown key (listing the known ones), a value that is not a number ≥ 0, and a missing =", () => {
    expect(() => overrideEnergy(DEFAULT_ENERGY, "lte.tail1Mw=3")).toThrow(
      /unknown key "lte.tail1Mw"; expected one of pjPerMac, pjPerByte, lte.txNjPerBit/,
    );
    expect(() => overrideEnergy(DEFAULT_ENERGY, "pjPerMac=-1")).toThrow(/pjPerMac must be a number ≥ 0, got "-1"/);
    expect(() => overrideEnergy(DEFAULT_ENERGY, "pjPerMac=")).toThrow(/pjPerMac must be a number ≥ 0/);
    expect(() => overrideEnergy(DEFAULT_ENERGY, "pjPerMac")).toThrow(/expected key=value, got "pjPerMac"/);
    expect(energyKeys()).toContain("3g.tail1Ms");
  });

  it("print every constant with its unit and source", () => {
    const rows = energyTable();
    expect(rows.find((r) => r[0] === "compute: energy per f32 MAC")).toEqual([
      "compute: energy per f32 MAC",
      "4.6",
      "pJ",
      DEFAULT_ENERGY.compute.source,
    ]);
    expect(rows.filter((r) => r[0].startsWith("compute: per byte"))).toHaveLength(4);
    expect(rows.find((r) => r[0] === "lte: per bit sent (αu)")?.[1]).toBe("438.39");
    expect(rows.find((r) => r[0] === "3g: tail 2 824.2 ms")?.[1]).toBe("601.3");
    expect(rows.every((r) => r[3].length > 20)).toBe(true);
    const md = formatEnergyTable();
    expect(md.split("\n")[0]).toBe("| constant | value | unit | source |");
    expect(md.split("\n")).toHaveLength(rows.length + 2);
  });
});
