// Link specs: `RATE[/RATE],RTT[,JITTER]` and preset names parse to the numbers they say; a bad spec is a
// LinkSpecError naming the part, what was expected and what was found; formatLink writes what parseLink reads.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/engine/errors.js";
import { energyTable } from "../src/split/energy.js";
import {
  LINK_PRESETS,
  LinkSpecError,
  checkLink,
  formatLink,
  linkPreset,
  parseLink,
  withUplinkRate,
} from "../src/split/links.js";

describe("parseLink", () => {
  it("reads rates in bit/kbit/mbit/gbit (SI), times in us/ms/s, an optional jitter and up/down rates", () => {
    expect(parseLink("5mbit,40ms")).toEqual({ upBitsPerS: 5e6, downBitsPerS: 5e6, rttMs: 40, jitterMs: 0 });
    expect(parseLink("250kbit,120ms,10ms")).toEqual({
      upBitsPerS: 250e3,
      downBitsPerS: 250e3,
      rttMs: 120,
      jitterMs: 10,
    });
    expect(parseLink("1mbit/10mbit,60ms")).toEqual({ upBitsPerS: 1e6, downBitsPerS: 10e6, rttMs: 60, jitterMs: 0 });
    expect(parseLink(" 1.5Mbit , 0.2s ")).toEqual({ upBitsPerS: 1.5e6, downBitsPerS: 1.5e6, rttMs: 200, jitterMs: 0 });
    expect(parseLink("800bit,500us,0ms")).toEqual({ upBitsPerS: 800, downBitsPerS: 800, rttMs: 0.5, jitterMs: 0 });
    expect(parseLink("1gbit,0ms")).toMatchObject({ upBitsPerS: 1e9, rttMs: 0 });
  });

  it("reads a preset by name, case-insensitively, with its radio and its numbers", () => {
    for (const p of LINK_PRESETS) {
      const l = parseLink(p.name.toUpperCase());
      expect(l).toMatchObject({
        name: p.name,
        radio: p.radio,
        upBitsPerS: p.upBitsPerS,
        downBitsPerS: p.downBitsPerS,
        rttMs: p.rttMs,
        jitterMs: p.jitterMs,
      });
      expect(linkPreset(p.name)).toBe(p);
    }
  });

  const bad: [string, LinkSpecError["field"], RegExp][] = [
    ["5mbps,40ms", "rate", /megabytes per second/],
    ["5MBps,40ms", "rate", /megabytes per second/],
    ["5,40ms", "rate", /unit bit, kbit, mbit or gbit/],
    ["-5mbit,40ms", "rate", /unit/],
    ["0bit,40ms", "rate", /from 1bit to 100gbit/],
    ["1tbit,40ms", "rate", /unit/],
    ["1mbit/2mbit/3mbit,40ms", "rate", /RATE or UP\/DOWN/],
    ["5mbit", "spec", /preset \(lte, 3g, wifi, lora\) or RATE/],
    ["edge", "spec", /1 comma-separated part$/],
    ["5mbit,40ms,1ms,2ms", "spec", /4 comma-separated parts/],
    ["5mbit,40", "rtt", /unit us, ms or s/],
    ["5mbit,2min", "rtt", /unit us, ms or s/],
    ["5mbit,61s", "rtt", /from 0ms to 60s/],
    ["5mbit,40ms,x", "jitter", /unit/],
    ["5mbit,40ms,50ms", "jitter", /at most the RTT \(40ms\)/],
  ];
  it.each(bad)("%s is refused, naming %s", (spec, field, expected) => {
    let err: unknown;
    try {
      parseLink(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LinkSpecError);
    expect(err).toBeInstanceOf(ValidationError);
    const e = err as LinkSpecError;
    expect(e.field).toBe(field);
    expect(e.spec).toBe(spec);
    expect(e.message).toMatch(expected);
    expect(e.message).toBe(`link ${JSON.stringify(spec)}: ${field}: expected ${e.expected}, got ${e.got}`);
  });

  it("formatLink writes a spec that parses back to the same link", () => {
    const link = fc
      .record({
        up: fc.integer({ min: 1, max: 10 ** 11 }),
        down: fc.integer({ min: 1, max: 10 ** 11 }),
        rtt: fc.integer({ min: 0, max: 60_000_000 }),
        jitterFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      })
      .map(({ up, down, rtt, jitterFrac }) => ({
        upBitsPerS: up,
        downBitsPerS: down,
        rttMs: rtt / 1000,
        jitterMs: Math.floor((rtt * jitterFrac) / 1000),
      }));
    fc.assert(
      fc.property(link, (l) => {
        const back = parseLink(formatLink(l));
        // six significant digits
        for (const k of ["upBitsPerS", "downBitsPerS", "rttMs", "jitterMs"] as const)
          expect(Math.abs(back[k] - l[k])).toBeLessThanOrEqual(Math.abs(l[k]) * 5e-6 + 1e-9);
        expect(parseLink(formatLink(back))).toEqual(back);
      }),
    );
    expect(formatLink(parseLink("1mbit/10mbit,60ms,5ms"))).toBe("1mbit/10mbit,60ms,5ms");
    expect(formatLink(parseLink("lte"))).toBe("5.64mbit/12.74mbit,69.5ms,5.6ms");
  });
});

describe("presets", () => {
  it("each has a unique name, a radio, valid numbers and both sources", () => {
    expect(new Set(LINK_PRESETS.map((p) => p.name)).size).toBe(LINK_PRESETS.length);
    for (const p of LINK_PRESETS) {
      expect(() => checkLink("preset", p)).not.toThrow();
      expect(["lte", "3g", "wifi", "lpwan"]).toContain(p.radio);
      expect(p.rateSource.length).toBeGreaterThan(40);
      expect(p.rttSource.length).toBeGreaterThan(40);
    }
  });

  it("checkLink refuses a hand-built link with a zero rate or a jitter above the RTT", () => {
    expect(() => checkLink("op", { upBitsPerS: 0, downBitsPerS: 1e6, rttMs: 10, jitterMs: 0 })).toThrow(
      /op: upBitsPerS must be/,
    );
    expect(() => checkLink("op", { upBitsPerS: 1e6, downBitsPerS: 1e6, rttMs: 10, jitterMs: 11 })).toThrow(
      /jitterMs must be from 0 to rttMs \(10\), got 11/,
    );
  });

  it("withUplinkRate scales both directions by the same factor and keeps the RTT and radio", () => {
    const l = withUplinkRate(parseLink("lte"), 1e6);
    expect(l.upBitsPerS).toBe(1e6);
    expect(l.downBitsPerS).toBeCloseTo(1e6 * (12.74 / 5.64), 6);
    expect(l).toMatchObject({ rttMs: 69.5, radio: "lte", name: undefined });
  });
});

describe("docs/links.md", () => {
  const doc = readFileSync(join(import.meta.dirname, "..", "docs", "links.md"), "utf8");
  const rate = (b: number) => (b >= 5e5 ? `${b / 1e6} Mbit/s` : b >= 1e4 ? `${b / 1e3} kbit/s` : `${b} bit/s`);
  const ms = (v: number) => (v === 0 ? "0" : `${v} ms`);

  it("prints the presets table the code holds", () => {
    for (const p of LINK_PRESETS) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${p.name}\` |`));
      expect(row, p.name).toBeDefined();
      const cells = row!.split("|").map((c) => c.trim());
      expect(cells.slice(1, 7)).toEqual([
        `\`${p.name}\``,
        p.radio,
        rate(p.upBitsPerS),
        rate(p.downBitsPerS),
        ms(p.rttMs),
        ms(p.jitterMs),
      ]);
    }
  });

  it("states every energy constant the code uses", () => {
    for (const [what, value] of energyTable()) expect(doc, what).toContain(value);
  });
});
