// Links for split computing: a rate per direction, a round-trip time and a jitter, written `RATE[/RATE],RTT[,JITTER]`
// (`5mbit,40ms`, `250kbit,120ms,10ms`, `1mbit/10mbit,60ms`: up/down) or named by a preset whose figures come from
// a cited measurement or standard (table below, and docs/links.md). Browser-safe and pure: the emulator
// (src/node/link.ts), the energy model and the planner all read links from here.
import { ValidationError } from "../engine/errors.js";

/** The radio whose power model (energy.ts) prices a transfer on a link. */
export type RadioClass = "lte" | "3g" | "wifi" | "lpwan";

/** A link between the edge and the server. */
export interface LinkSpec {
  /** The preset's name; absent for a spec written out. */
  name?: string;
  /** Edge → server, bits per second. */
  upBitsPerS: number;
  /** Server → edge, bits per second. */
  downBitsPerS: number;
  /** Round-trip time, ms; each direction adds half of it. */
  rttMs: number;
  /** Each one-way delay varies uniformly within ±jitterMs/2 (so the RTT within ±jitterMs); 0 for none. */
  jitterMs: number;
  /** Which radio power model applies (presets set it; a spec written out leaves it to the caller). */
  radio?: RadioClass;
}

/** A named link whose figures come from a cited measurement or standard. */
export interface LinkPreset extends LinkSpec {
  name: string;
  radio: RadioClass;
  /** One line for a report. */
  label: string;
  /** Where the rates come from: document, table or figure, statistic. */
  rateSource: string;
  /** Where the RTT and jitter come from. */
  rttSource: string;
  /** Largest application payload the link carries in one message, when the standard caps it. */
  maxPayloadBytes?: number;
}

const HUANG_2012 =
  'Huang et al., "A close examination of performance and power characteristics of 4G LTE networks", MobiSys 2012';

/**
 * The presets, one table (docs/links.md prints the same with its caveats). Rates and RTTs are medians of the
 * cited measurement, or a standard's nominal figure where no measurement fits; override any of them with a
 * spec written out.
 */
export const LINK_PRESETS: readonly LinkPreset[] = [
  {
    name: "lte",
    radio: "lte",
    label: "LTE phone uplink (4GTest medians, U.S., 2011)",
    upBitsPerS: 5.64e6,
    downBitsPerS: 12.74e6,
    rttMs: 69.5,
    jitterMs: 5.6,
    rateSource:
      `${HUANG_2012}, §4.1 / Fig. 7: median LTE uplink 5.64 Mbit/s and downlink 12.74 Mbit/s over 4GTest users ` +
      "(the abstract rounds them to 6 and 13)",
    rttSource: `${HUANG_2012}, §4.1 / Fig. 7: median LTE RTT 69.5 ms, RTT jitter 5.6 ms`,
  },
  {
    name: "3g",
    radio: "3g",
    label: "3G UMTS uplink (Release 99 reference bearer 64/384 kbit/s)",
    upBitsPerS: 64e3,
    downBitsPerS: 384e3,
    rttMs: 200,
    jitterMs: 0,
    rateSource:
      "3GPP TS 34.108, §6.10: reference radio access bearer Interactive/Background UL 64 kbit/s, DL 384 kbit/s PS RAB",
    rttSource:
      `${HUANG_2012}, §4.1 / Fig. 7: median RTT of the 3G networks in 4GTest below 200 ms ` +
      "(200 ms taken as the bound)",
  },
  {
    name: "wifi",
    radio: "wifi",
    label: "Wi-Fi phone uplink (4GTest medians, U.S., 2011)",
    upBitsPerS: 0.94e6,
    downBitsPerS: 4.12e6,
    rttMs: 64.5,
    jitterMs: 7.9,
    rateSource:
      `${HUANG_2012}, §4.1 / Fig. 7: ` +
      "median Wi-Fi uplink 0.94 Mbit/s and downlink 4.12 Mbit/s " +
      "over 4GTest users",
    rttSource: `${HUANG_2012}, §4.1 / Fig. 7: median Wi-Fi RTT 64.5 ms, RTT jitter 7.9 ms`,
  },
  {
    name: "lora",
    radio: "lpwan",
    label: "LoRaWAN sensor, EU868 DR5 (SF7, 125 kHz), class A",
    upBitsPerS: 5470,
    downBitsPerS: 5470,
    rttMs: 1000,
    jitterMs: 0,
    maxPayloadBytes: 242,
    rateSource:
      "LoRa Alliance, LoRaWAN Regional Parameters RP002-1.0.3, EU863-870 data-rate table: DR5 = SF7/125 kHz, " +
      "5470 bit/s; FRMPayload at most 242 B",
    rttSource:
      "LoRa Alliance, LoRaWAN L2 1.0.4 Specification, class A: " +
      "the first receive window opens RECEIVE_DELAY1 = 1 s after the uplink ends",
  },
];

/** A link spec that does not parse; says which part, what was expected and what was found. */
export class LinkSpecError extends ValidationError {
  override readonly name: string = "LinkSpecError";
  constructor(
    readonly spec: string,
    readonly field: "spec" | "rate" | "rtt" | "jitter",
    readonly expected: string,
    readonly got: string,
  ) {
    super(`link ${JSON.stringify(spec)}: ${field}: expected ${expected}, got ${got}`);
  }
}

// tc's units: kbit = 1000 bit/s. tc reads "kbps"/"mbps" as *bytes* per second, so those are refused, not guessed.
const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const TIME_UNITS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3 };
const NUMBER = /^(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?([a-z]*)$/i;
const MAX_RATE = 1e11;
const MAX_MS = 60_000;

/** The number of `text` in its unit, scaled by `units`; undefined when the form or the unit is not one of them. */
function scaled(text: string, units: Record<string, number>): { v: number; unit?: string } {
  const m = NUMBER.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === undefined || !(unit in units)) return { v: NaN, unit };
  return { v: Number(text.trim().slice(0, text.trim().length - unit.length)) * units[unit]!, unit };
}

function parseRate(spec: string, text: string): number {
  const { v, unit } = scaled(text, RATE_UNITS);
  if (Number.isNaN(v)) {
    const hint = unit && /ps$/.test(unit) ? " (bits per second; tc reads 'mbps' as megabytes per second)" : "";
    throw new LinkSpecError(spec, "rate", `a number with a unit bit, kbit, mbit or gbit${hint}`, JSON.stringify(text));
  }
  if (!(v >= 1 && v <= MAX_RATE))
    throw new LinkSpecError(spec, "rate", "a rate from 1bit to 100gbit", JSON.stringify(text));
  return v;
}

function parseTime(spec: string, field: "rtt" | "jitter", text: string): number {
  const { v } = scaled(text, TIME_UNITS);
  if (Number.isNaN(v)) throw new LinkSpecError(spec, field, "a number with a unit us, ms or s", JSON.stringify(text));
  if (!(v >= 0 && v <= MAX_MS)) throw new LinkSpecError(spec, field, "a time from 0ms to 60s", JSON.stringify(text));
  return v;
}

/** The preset of that name (case-insensitive), or undefined. */
export function linkPreset(name: string): LinkPreset | undefined {
  const n = name.trim().toLowerCase();
  return LINK_PRESETS.find((p) => p.name === n);
}

/**
 * Reads a preset name (`lte`, `3g`, `wifi`, `lora`) or `RATE[/RATE],RTT[,JITTER]`: RATE in bit, kbit, mbit or
 * gbit (SI, bits per second; `UP/DOWN` for an asymmetric link), RTT and JITTER in us, ms or s, JITTER ≤ RTT.
 * Throws {@link LinkSpecError} naming the part that is wrong.
 */
export function parseLink(spec: string): LinkSpec {
  if (typeof spec !== "string") throw new LinkSpecError(String(spec), "spec", "a string", typeof spec);
  const preset = linkPreset(spec);
  if (preset) return { ...preset };
  const parts = spec.split(",");
  if (parts.length < 2 || parts.length > 3) {
    const names = LINK_PRESETS.map((p) => p.name).join(", ");
    throw new LinkSpecError(
      spec,
      "spec",
      `a preset (${names}) or RATE[/RATE],RTT[,JITTER] such as 5mbit,40ms`,
      `${parts.length} comma-separated part${parts.length === 1 ? "" : "s"}`,
    );
  }
  const rates = parts[0]!.split("/");
  if (rates.length > 2) throw new LinkSpecError(spec, "rate", "RATE or UP/DOWN", JSON.stringify(parts[0]));
  const upBitsPerS = parseRate(spec, rates[0]!);
  const downBitsPerS = rates.length === 2 ? parseRate(spec, rates[1]!) : upBitsPerS;
  const rttMs = parseTime(spec, "rtt", parts[1]!);
  const jitterMs = parts.length === 3 ? parseTime(spec, "jitter", parts[2]!) : 0;
  if (jitterMs > rttMs)
    throw new LinkSpecError(
      spec,
      "jitter",
      `at most the RTT (${formatMs(rttMs)}), so no one-way delay goes below 0`,
      formatMs(jitterMs),
    );
  return { upBitsPerS, downBitsPerS, rttMs, jitterMs };
}

/** Checks a LinkSpec built by hand (rates > 0, 0 ≤ jitter ≤ RTT); returns it. */
export function checkLink(op: string, l: LinkSpec): LinkSpec {
  for (const k of ["upBitsPerS", "downBitsPerS"] as const) {
    if (!(Number.isFinite(l[k]) && l[k] >= 1 && l[k] <= MAX_RATE))
      throw new ValidationError(`${op}: ${k} must be from 1 to ${MAX_RATE} bit/s, got ${String(l[k])}`);
  }
  if (!(Number.isFinite(l.rttMs) && l.rttMs >= 0 && l.rttMs <= MAX_MS))
    throw new ValidationError(`${op}: rttMs must be from 0 to ${MAX_MS}, got ${String(l.rttMs)}`);
  if (!(Number.isFinite(l.jitterMs) && l.jitterMs >= 0 && l.jitterMs <= l.rttMs))
    throw new ValidationError(`${op}: jitterMs must be from 0 to rttMs (${l.rttMs}), got ${String(l.jitterMs)}`);
  return l;
}

function formatRate(bitsPerS: number): string {
  for (const [u, f] of [
    ["gbit", 1e9],
    ["mbit", 1e6],
    ["kbit", 1e3],
  ] as const)
    if (bitsPerS >= f) return `${+(bitsPerS / f).toPrecision(6)}${u}`;
  return `${+bitsPerS.toPrecision(6)}bit`;
}

function formatMs(ms: number): string {
  return `${+ms.toPrecision(6)}ms`;
}

/** The spec written out, `UP[/DOWN],RTT[,JITTER]`; parseLink reads it back to the same numbers. */
export function formatLink(l: LinkSpec): string {
  const rate =
    l.upBitsPerS === l.downBitsPerS
      ? formatRate(l.upBitsPerS)
      : `${formatRate(l.upBitsPerS)}/${formatRate(l.downBitsPerS)}`;
  return `${rate},${formatMs(l.rttMs)}${l.jitterMs > 0 ? `,${formatMs(l.jitterMs)}` : ""}`;
}

/** The same link with the uplink at `upBitsPerS` and the downlink scaled by the same factor (for rate sweeps). */
export function withUplinkRate(l: LinkSpec, upBitsPerS: number): LinkSpec {
  const f = upBitsPerS / l.upBitsPerS;
  return { ...l, name: undefined, upBitsPerS, downBitsPerS: l.downBitsPerS * f };
}
