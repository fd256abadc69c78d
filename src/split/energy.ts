// Energy per sample on the edge device: compute (pJ per MAC and per byte moved) + radio (nJ per bit sent and
// received, mW while a transfer is active, a promotion when the radio wakes, a tail after the last byte). Every
// constant carries its source; docs/links.md prints them with the conversions. Browser-safe and pure: joules out.
//   E_compute = macs·pJ/MAC + bytesMoved·pJ/B
//   E_radio   = bitsUp·αu + bitsDown·αd + tUp·Ptx + tDown·Prx + tActive·β + [gap ≥ Σtail] Ppromo·Tpromo
//               + Σᵢ Ptailᵢ·clamp(gap − T<ᵢ, 0, Tᵢ)
// with tActive = tUp + RTT + server time + tDown and gap the idle time until the next transfer.
import { ValidationError } from "../engine/errors.js";
import { checkLink, type LinkSpec, type RadioClass } from "./links.js";

const HORO =
  'Horowitz, "Computing\'s energy problem (and what we can do about it)", ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V)';
const HUANG =
  'Huang et al., "A close examination of performance and power characteristics of 4G LTE networks", MobiSys 2012';
const SX1276 = "Semtech SX1276/77/78/79 datasheet, §2.5 power consumption (3.3 V supply)";

/** One power stage: this many mW for this many ms. */
export interface PowerStage {
  mw: number;
  ms: number;
}

/** The radio power model of one link class (all powers in mW, energies per bit in nJ = mW/Mbps). */
export interface RadioPower {
  label: string;
  /** Energy per transmitted bit (Huang's αu; 1 mW/Mbps = 1 nJ/bit). */
  txNjPerBit: number;
  /** Energy per received bit (Huang's αd). */
  rxNjPerBit: number;
  /** Power while the transmitter is on, charged for the uplink's serialization time (radios priced by airtime). */
  txMw: number;
  /** Power while the receiver is on, charged for the downlink's serialization time. */
  rxMw: number;
  /** Power for the whole active spell, first bit sent to last bit received (Huang's β). */
  activeMw: number;
  /** Waking from idle; charged when the idle gap before a transfer outlasts the tail. */
  promotion: PowerStage;
  /** After the last byte, stage after stage, until the radio is idle. */
  tail: PowerStage[];
  source: string;
}

/** Edge compute energy. */
export interface ComputeEnergy {
  /** Energy per multiply-accumulate, pJ. */
  pjPerMac: number;
  /**
   * Energy per byte loaded or stored, pJ; "auto" picks the smallest memory of Horowitz's table the working set
   * fits.
   */
  pjPerByte: number | "auto";
  source: string;
}

/** The whole model: compute plus one radio per link class. */
export interface EnergyModel {
  compute: ComputeEnergy;
  radios: Record<RadioClass, RadioPower>;
}

/** Horowitz's 64-bit access energies, per byte: [largest working set in bytes, pJ per byte, the table's row]. */
export const MEMORY_LEVELS: readonly { maxBytes: number; pjPerByte: number; row: string }[] = [
  { maxBytes: 8 * 1024, pjPerByte: 10 / 8, row: "8 KB cache, 64-bit access 10 pJ" },
  { maxBytes: 32 * 1024, pjPerByte: 20 / 8, row: "32 KB cache, 64-bit access 20 pJ" },
  { maxBytes: 1024 * 1024, pjPerByte: 100 / 8, row: "1 MB cache, 64-bit access 100 pJ" },
  { maxBytes: Infinity, pjPerByte: 1300 / 8, row: "DRAM, 64-bit access 1.3–2.6 nJ (low end)" },
];

/** The default model: Horowitz for compute, Huang for LTE / 3G / Wi-Fi, the SX1276 datasheet for LoRa. */
export const DEFAULT_ENERGY: EnergyModel = {
  compute: {
    pjPerMac: 4.6, // 3.7 + 0.9
    pjPerByte: "auto",
    source:
      `${HORO}: 32-bit float multiply 3.7 pJ + add 0.9 pJ = 4.6 pJ per f32 MAC; ` +
      "memory per byte = 64-bit access energy / 8",
  },
  radios: {
    lte: {
      label: "LTE (HTC ThunderBolt, 2011)",
      txNjPerBit: 438.39,
      rxNjPerBit: 51.97,
      txMw: 0,
      rxMw: 0,
      activeMw: 1288.04,
      promotion: { mw: 1210.7, ms: 260.1 },
      tail: [{ mw: 1060.0, ms: 11576.0 }],
      source:
        `${HUANG}: Table 4 (αu 438.39, αd 51.97 mW/Mbps, β 1288.04 mW); ` +
        "Table 3 (promotion 1210.7 mW × 260.1 ms, tail 1060.0 mW × 11576.0 ms)",
    },
    "3g": {
      label: "3G UMTS/HSPA (same phone and study)",
      txNjPerBit: 868.98,
      rxNjPerBit: 122.12,
      txMw: 0,
      rxMw: 0,
      activeMw: 817.88,
      promotion: { mw: 659.4, ms: 582.1 },
      tail: [
        { mw: 803.9, ms: 8088.2 },
        { mw: 601.3, ms: 824.2 },
      ],
      source:
        `${HUANG}: Table 4 (αu 868.98, αd 122.12 mW/Mbps, β 817.88 mW); ` +
        "Table 3 (promotion 659.4 mW × 582.1 ms, DCH tail 803.9 mW × 8088.2 ms, then FACH tail 601.3 mW × 824.2 ms)",
    },
    wifi: {
      label: "Wi-Fi (same phone and study)",
      txNjPerBit: 283.17,
      rxNjPerBit: 137.01,
      txMw: 0,
      rxMw: 0,
      activeMw: 132.86,
      promotion: { mw: 124.4, ms: 79.1 },
      tail: [{ mw: 119.3, ms: 238.1 }],
      source:
        `${HUANG}: Table 4 (αu 283.17, αd 137.01 mW/Mbps, β 132.86 mW); ` +
        "Table 3 (promotion 124.4 mW × 79.1 ms, tail 119.3 mW × 238.1 ms)",
    },
    lpwan: {
      label: "LoRa transceiver (SX1276), +13 dBm",
      txNjPerBit: 0,
      rxNjPerBit: 0,
      txMw: 3.3 * (29 - 1.6),
      rxMw: 3.3 * (10.8 - 1.6),
      activeMw: 3.3 * 1.6,
      promotion: { mw: 0, ms: 0 },
      tail: [],
      source:
        `${SX1276}: transmit at +13 dBm 29 mA, receive 10.8 mA, standby 1.6 mA; ` +
        "standby is charged for the whole exchange (the 1 s wait for the receive window included) " +
        "and transmit / receive above standby for the airtime",
    },
  },
};

/** pJ per byte moved for a working set of this many bytes ("auto"), or the fixed figure. */
export function memoryPjPerByte(c: ComputeEnergy, workingSetBytes: number): number {
  if (c.pjPerByte !== "auto") return c.pjPerByte;
  return MEMORY_LEVELS.find((l) => workingSetBytes <= l.maxBytes)!.pjPerByte;
}

/** What the edge computes for one sample. */
export interface ComputeWork {
  macs: number;
  /** Bytes loaded and stored (see {@link csrBytesMoved}). */
  bytesMoved: number;
  /** Bytes the computation touches (weights, indices, activations): picks the memory level when pJ/B is "auto". */
  workingSetBytes: number;
}

/** Compute energy of one sample, joules. */
export function computeEnergy(c: ComputeEnergy, w: ComputeWork): { macJ: number; memoryJ: number; totalJ: number } {
  for (const k of ["macs", "bytesMoved", "workingSetBytes"] as const) nonNegative("computeEnergy", k, w[k]);
  const macJ = w.macs * c.pjPerMac * 1e-12;
  const memoryJ = w.bytesMoved * memoryPjPerByte(c, w.workingSetBytes) * 1e-12;
  return { macJ, memoryJ, totalJ: macJ + memoryJ };
}

/**
 * Loads and stores of one sparse layer at batch 1, 4 bytes each: per stored connection its value, its column index
 * and the input it multiplies; per output row its two row pointers' worth (rows + 1 in all), its bias and its output.
 * Dense layers (no index arrays) pass `dense: true`.
 */
export function csrBytesMoved(rows: number, nnz: number, dense = false): number {
  nonNegative("csrBytesMoved", "rows", rows);
  nonNegative("csrBytesMoved", "nnz", nnz);
  return dense ? 8 * nnz + 8 * rows : 12 * nnz + 12 * rows + 4;
}

/** The timing of one request/answer exchange over a link, ms. */
export interface TransferTiming {
  upMs: number;
  downMs: number;
  /** First bit sent to last bit received: upMs + RTT + serverMs + downMs. */
  activeMs: number;
}

/** Serialization times and the active spell of sending `upBytes` and receiving `downBytes`. */
export function transferTiming(link: LinkSpec, upBytes: number, downBytes: number, serverMs = 0): TransferTiming {
  checkLink("transferTiming", link);
  nonNegative("transferTiming", "upBytes", upBytes);
  nonNegative("transferTiming", "downBytes", downBytes);
  nonNegative("transferTiming", "serverMs", serverMs);
  const upMs = (upBytes * 8 * 1000) / link.upBitsPerS;
  const downMs = (downBytes * 8 * 1000) / link.downBitsPerS;
  return { upMs, downMs, activeMs: upMs + link.rttMs + serverMs + downMs };
}

/** The parts of a transfer's radio energy, joules. */
export interface RadioEnergy {
  bitsJ: number;
  airtimeJ: number;
  activeJ: number;
  promotionJ: number;
  tailJ: number;
  totalJ: number;
}

/**
 * Radio energy of one exchange, joules. `gapMs` is the idle time from this exchange's last byte to the next one's
 * first (Infinity: an isolated exchange, which pays the promotion and the whole tail); a radio that stays awake
 * through the gap pays the tail only up to the gap and no promotion.
 */
export function radioEnergy(
  r: RadioPower,
  upBytes: number,
  downBytes: number,
  t: TransferTiming,
  gapMs = Infinity,
): RadioEnergy {
  nonNegative("radioEnergy", "gapMs", gapMs);
  const bitsJ = (upBytes * 8 * r.txNjPerBit + downBytes * 8 * r.rxNjPerBit) * 1e-9;
  const airtimeJ = (t.upMs * r.txMw + t.downMs * r.rxMw) * 1e-6;
  const activeJ = t.activeMs * r.activeMw * 1e-6;
  const tailMs = r.tail.reduce((a, s) => a + s.ms, 0);
  const promotionJ = gapMs >= tailMs ? r.promotion.mw * r.promotion.ms * 1e-6 : 0;
  let tailJ = 0,
    before = 0;
  for (const s of r.tail) {
    tailJ += s.mw * Math.min(s.ms, Math.max(0, gapMs - before)) * 1e-6;
    before += s.ms;
  }
  return { bitsJ, airtimeJ, activeJ, promotionJ, tailJ, totalJ: bitsJ + airtimeJ + activeJ + promotionJ + tailJ };
}

/**
 * Radio energy of one exchange per sample when samples come every `periodMs` and a fraction `sendRate` of them
 * transfers (the rest exit on the edge): transfers are then periodMs / sendRate apart on average, so the gap after
 * one is that minus its active spell. Returns the energy per *transferring* sample.
 */
export function periodicRadioEnergy(
  r: RadioPower,
  upBytes: number,
  downBytes: number,
  t: TransferTiming,
  periodMs: number,
  sendRate = 1,
): RadioEnergy {
  if (!(sendRate > 0 && sendRate <= 1))
    throw new ValidationError(`periodicRadioEnergy: sendRate must be in (0, 1], got ${String(sendRate)}`);
  nonNegative("periodicRadioEnergy", "periodMs", periodMs);
  return radioEnergy(r, upBytes, downBytes, t, Math.max(0, periodMs / sendRate - t.activeMs));
}

function nonNegative(op: string, name: string, v: number): void {
  if (!(v >= 0) || Number.isNaN(v)) throw new ValidationError(`${op}: ${name} must be a number ≥ 0, got ${String(v)}`);
}

/** Every overridable constant's key, for {@link overrideEnergy} and its error message. */
export function energyKeys(m: EnergyModel = DEFAULT_ENERGY): string[] {
  const keys = ["pjPerMac", "pjPerByte"];
  for (const [c, r] of Object.entries(m.radios)) {
    keys.push(
      ...["txNjPerBit", "rxNjPerBit", "txMw", "rxMw", "activeMw", "promotionMw", "promotionMs"].map((k) => `${c}.${k}`),
    );
    r.tail.forEach((_, i) => keys.push(`${c}.tail${i}Mw`, `${c}.tail${i}Ms`));
  }
  return keys;
}

/**
 * A copy of `m` with constants replaced: `"pjPerMac=1,lte.activeMw=1000,3g.tail1Ms=0"` or the same as an object.
 * Keys are those of {@link energyKeys}; values are numbers ≥ 0 (`pjPerByte` also takes `auto`).
 */
export function overrideEnergy(m: EnergyModel, overrides: string | Record<string, number | "auto">): EnergyModel {
  const out: EnergyModel = {
    compute: { ...m.compute },
    radios: Object.fromEntries(
      Object.entries(m.radios).map(([k, r]) => [
        k,
        { ...r, promotion: { ...r.promotion }, tail: r.tail.map((s) => ({ ...s })) },
      ]),
    ) as EnergyModel["radios"],
  };
  const entries: [string, string | number][] =
    typeof overrides === "string"
      ? overrides
          .split(",")
          .filter((s) => s.trim() !== "")
          .map((kv) => {
            const i = kv.indexOf("=");
            if (i < 0) throw new ValidationError(`energy overrides: expected key=value, got ${JSON.stringify(kv)}`);
            return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()];
          })
      : Object.entries(overrides);
  const keys = energyKeys(m);
  for (const [key, raw] of entries) {
    if (!keys.includes(key))
      throw new ValidationError(
        `energy overrides: unknown key ${JSON.stringify(key)}; expected one of ${keys.join(", ")}`,
      );
    if (key === "pjPerByte" && raw === "auto") {
      out.compute.pjPerByte = "auto";
      continue;
    }
    const v = typeof raw === "number" ? raw : raw.trim() === "" ? NaN : Number(raw);
    if (!(Number.isFinite(v) && v >= 0))
      throw new ValidationError(`energy overrides: ${key} must be a number ≥ 0, got ${JSON.stringify(raw)}`);
    if (key === "pjPerMac" || key === "pjPerByte") {
      out.compute[key] = v;
      continue;
    }
    const [cls, field] = key.split(".") as [RadioClass, string];
    const r = out.radios[cls];
    const tail = /^tail(\d+)(Mw|Ms)$/.exec(field);
    if (tail) r.tail[Number(tail[1])]![tail[2] === "Mw" ? "mw" : "ms"] = v;
    else if (field === "promotionMw") r.promotion.mw = v;
    else if (field === "promotionMs") r.promotion.ms = v;
    else (r as unknown as Record<string, number>)[field] = v;
    r.source = `${r.source} [overridden: ${key}=${v}]`;
  }
  return out;
}

/** One row per constant, for a report: [what, value, unit, source]. */
export function energyTable(m: EnergyModel = DEFAULT_ENERGY): [string, string, string, string][] {
  const rows: [string, string, string, string][] = [];
  const n = (v: number) => String(+v.toPrecision(6));
  rows.push(["compute: energy per f32 MAC", n(m.compute.pjPerMac), "pJ", m.compute.source]);
  if (m.compute.pjPerByte === "auto")
    for (const l of MEMORY_LEVELS)
      rows.push([
        `compute: per byte, working set ≤ ${l.maxBytes === Infinity ? "∞" : `${l.maxBytes / 1024} KB`}`,
        n(l.pjPerByte),
        "pJ/B",
        `${HORO}: ${l.row}`,
      ]);
  else rows.push(["compute: per byte moved", n(m.compute.pjPerByte), "pJ/B", m.compute.source]);
  for (const [c, r] of Object.entries(m.radios)) {
    const add = (what: string, v: number, unit: string) => rows.push([`${c}: ${what}`, n(v), unit, r.source]);
    if (r.txNjPerBit) add("per bit sent (αu)", r.txNjPerBit, "nJ/bit");
    if (r.rxNjPerBit) add("per bit received (αd)", r.rxNjPerBit, "nJ/bit");
    if (r.txMw) add("transmitting", r.txMw, "mW");
    if (r.rxMw) add("receiving", r.rxMw, "mW");
    add("active spell (β)", r.activeMw, "mW");
    if (r.promotion.ms) add(`promotion, ${n(r.promotion.ms)} ms`, r.promotion.mw, "mW");
    r.tail.forEach((s, i) => add(`tail ${r.tail.length > 1 ? `${i + 1} ` : ""}${n(s.ms)} ms`, s.mw, "mW"));
  }
  return rows;
}

/** {@link energyTable} as a Markdown table. */
export function formatEnergyTable(m: EnergyModel = DEFAULT_ENERGY): string {
  const rows = energyTable(m);
  return [
    "| constant | value | unit | source |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}
