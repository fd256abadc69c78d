// A link emulator: a TCP proxy between a client and a server that behaves like a network link. Each direction is a
// lane: bytes are cut into segments, each segment leaves once a token bucket (rate, depth burstBytes) has paid for
// it — with the default depth 0 that is its serialization time behind the segments before it — and arrives a
// one-way delay (± jitter) later, never before the segment ahead of it. So a transfer of N bytes takes N/rate plus
// the delay, data in flight is delayed as a whole, and byte order holds. FIN and RST travel the lane behind the data.
// Semantics and presets: docs/links.md.
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { Rng } from "../engine/random.js";
import { ValidationError, checkInt } from "../engine/errors.js";
import { checkLink, parseLink, type LinkSpec } from "../split/links.js";

/** Options of {@link startLink}. */
export interface LinkOptions {
  /** Where connections go: `http://host:port` (the path is ignored) or `host:port`. */
  target: string;
  /** The link: a spec or preset name (`"5mbit,40ms"`, `"lte"`), or a LinkSpec. */
  link?: string | LinkSpec;
  /** Edge → server rate, bits per second (overrides `link`). */
  up?: number;
  /** Server → edge rate, bits per second (overrides `link`). */
  down?: number;
  /** One-way delay of each direction, ms (default: half the link's RTT). */
  delayMs?: number;
  /** Each one-way delay varies uniformly within ±jitterMs/2 (default: the link's jitter). */
  jitterMs?: number;
  /** Token-bucket depth in bytes: how much may leave at once after an idle spell (default 0: pure serialization). */
  burstBytes?: number;
  /** Bytes per segment (default 1448, a TCP segment on a 1500-byte MTU). */
  segmentBytes?: number;
  /** Extra bytes charged per segment for headers (default 0: the rate applies to the stream's bytes). */
  overheadBytes?: number;
  /** Bytes waiting to be serialized before the sender is paused (default 64 KiB). */
  queueBytes?: number;
  /** A new connection's first bytes wait one RTT, as behind a TCP handshake (default true). */
  handshake?: boolean;
  /** Seed of the jitter draws (default 1). */
  seed?: number;
  /** Where the proxy listens (default 127.0.0.1, a free port). */
  host?: string;
  port?: number;
}

/** Counters of one direction. */
export interface LaneStats {
  /** Stream bytes delivered to the far end. */
  bytes: number;
  segments: number;
}

/** Counters of a running link. */
export interface LinkStats {
  connections: number;
  open: number;
  up: LaneStats;
  down: LaneStats;
  /** Connections the target refused or dropped before connecting. */
  targetErrors: number;
}

/** The link's resolved settings. */
export interface LinkConfig {
  upBitsPerS: number;
  downBitsPerS: number;
  delayMs: number;
  jitterMs: number;
  burstBytes: number;
  segmentBytes: number;
  overheadBytes: number;
  queueBytes: number;
  handshake: boolean;
}

/** A listening link. */
export interface RunningLink {
  /** `http://host:port` of the proxy: use it in place of the target's URL. */
  url: string;
  host: string;
  port: number;
  config: LinkConfig;
  stats(): LinkStats;
  /**
   * Stops listening and destroys every connection and pending byte; resolves when the listener is closed.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Settings of one lane's timing (a direction of a link). */
export interface LaneTiming {
  bitsPerS: number;
  delayMs: number;
  jitterMs: number;
  burstBytes: number;
  overheadBytes: number;
}

/**
 * The timing of one direction, pure: a segment of n bytes offered at `now` leaves when a token bucket (rate,
 * depth burstBytes, refilled continuously) has paid for n + overheadBytes, behind every segment offered before it,
 * and arrives delayMs ± jitterMs/2 (uniform) later — never before the segment ahead of it.
 */
export class LaneSchedule {
  private tokens: number;
  private tLast = -Infinity;
  private lastLeaves = -Infinity;
  private lastArrival = -Infinity;
  private readonly bytesPerMs: number;

  constructor(
    private readonly t: LaneTiming,
    private readonly rng: Rng,
    /** Nothing leaves before this time. */
    private readonly notBefore = -Infinity,
  ) {
    this.bytesPerMs = t.bitsPerS / 8000;
    this.tokens = t.burstBytes;
  }

  /** Departure and arrival times of a segment of `bytes` offered at `now` (ms). */
  segment(now: number, bytes: number): { leaves: number; at: number } {
    const t = Math.max(now, this.lastLeaves, this.notBefore);
    const refill = this.tLast === -Infinity ? Infinity : (t - this.tLast) * this.bytesPerMs;
    this.tokens = Math.min(this.t.burstBytes, this.tokens + refill) - (bytes + this.t.overheadBytes);
    this.tLast = t;
    let leaves = t;
    if (this.tokens < 0) {
      leaves = t - this.tokens / this.bytesPerMs;
      this.tokens = 0;
      this.tLast = leaves;
    }
    this.lastLeaves = leaves;
    return { leaves, at: this.arrival(leaves) };
  }

  /** A FIN or RST offered at `now`: it takes no time on the wire but queues behind the data. */
  signal(now: number): { leaves: number; at: number } {
    const leaves = Math.max(now, this.lastLeaves, this.notBefore);
    return { leaves, at: this.arrival(leaves) };
  }

  private arrival(leaves: number): number {
    const j = this.t.jitterMs > 0 ? (this.rng.next() - 0.5) * this.t.jitterMs : 0;
    this.lastArrival = Math.max(leaves + this.t.delayMs + j, this.lastArrival);
    return this.lastArrival;
  }
}

type Item = { kind: "data"; buf: Buffer; at: number } | { kind: "end" | "reset"; at: number };

/** One direction of one connection: a LaneSchedule, then in-order delivery to `to` at the arrival times. */
class Lane {
  /** What arrives at the far end, in order of arrival. */
  private readonly arrivals: Item[] = [];
  /** Segments not yet paid for by the bucket: [departure time, bytes], in order; they count against queueBytes. */
  private readonly departures: [number, number][] = [];
  private backlog = 0;
  private readonly schedule_: LaneSchedule;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  /** FIN delivered: only a reset may follow. */
  private ended = false;
  private closed = false;

  constructor(
    private readonly cfg: LinkConfig,
    bitsPerS: number,
    rng: Rng,
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly stats: LaneStats,
    notBefore: number,
  ) {
    this.schedule_ = new LaneSchedule(
      {
        bitsPerS,
        delayMs: cfg.delayMs,
        jitterMs: cfg.jitterMs,
        burstBytes: cfg.burstBytes,
        overheadBytes: cfg.overheadBytes,
      },
      rng,
      notBefore,
    );
    to.on("drain", () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  push(chunk: Buffer): void {
    if (this.closed || this.ended) return;
    const now = performance.now();
    for (let o = 0; o < chunk.length; o += this.cfg.segmentBytes) {
      const buf = chunk.subarray(o, Math.min(chunk.length, o + this.cfg.segmentBytes));
      const { leaves, at } = this.schedule_.segment(now, buf.length);
      this.departures.push([leaves, buf.length]);
      this.backlog += buf.length;
      this.arrivals.push({ kind: "data", buf, at });
    }
    if (this.backlog > this.cfg.queueBytes) this.from.pause();
    this.schedule();
  }

  /** FIN or RST from the sender: travels behind the data already queued. */
  signal(kind: "end" | "reset"): void {
    if (this.closed || (this.ended && kind === "end")) return;
    this.arrivals.push({ kind, at: this.schedule_.signal(performance.now()).at });
    this.schedule();
  }

  /** Drops everything queued and stops (the far end is gone, or the link is closing). */
  abort(): void {
    this.closed = true;
    this.arrivals.length = 0;
    this.departures.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    let wake = this.waitingDrain ? Infinity : (this.arrivals[0]?.at ?? Infinity);
    // a paused sender is resumed when enough of its backlog has left
    if (this.from.isPaused() && this.departures.length > 0) wake = Math.min(wake, this.departures[0]![0]);
    if (wake === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, wake - performance.now()),
    );
  }

  private pump(): void {
    if (this.closed) return;
    const now = performance.now();
    while (this.departures.length > 0 && this.departures[0]![0] <= now) this.backlog -= this.departures.shift()![1];
    if (this.from.isPaused() && this.backlog <= this.cfg.queueBytes && !this.from.destroyed) this.from.resume();
    while (!this.waitingDrain) {
      const it = this.arrivals[0];
      if (!it || it.at > now) break;
      this.arrivals.shift();
      if (it.kind === "data") {
        this.stats.bytes += it.buf.length;
        this.stats.segments++;
        if (!this.to.destroyed && !this.to.write(it.buf)) this.waitingDrain = true;
        continue;
      }
      if (it.kind === "end") {
        this.ended = true;
        if (!this.to.destroyed) this.to.end();
        continue;
      }
      if (!this.to.destroyed) this.to.resetAndDestroy();
      this.abort();
      return;
    }
    this.schedule();
  }
}

function resolveTarget(target: string): { host: string; port: number } {
  const m = /^(?:https?:\/\/)?(\[[^\]]+\]|[^:/]+):(\d+)(?:\/.*)?$/.exec(target);
  if (!m)
    throw new ValidationError(`startLink: target must be http://host:port or host:port, got ${JSON.stringify(target)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: checkInt("startLink", "target port", Number(m[2]), 1, 65535) };
}

function rate(name: string, v: number | undefined, fallback: number | undefined): number {
  const r = v ?? fallback;
  if (r === undefined) throw new ValidationError(`startLink: no ${name} rate: pass options.link or options.${name}`);
  if (!(Number.isFinite(r) && r >= 1))
    throw new ValidationError(`startLink: ${name} must be a rate ≥ 1 bit/s, got ${String(r)}`);
  return r;
}

function nonNegative(name: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0))
    throw new ValidationError(`startLink: ${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

/** Resolves options into the link's settings (exported for tests and reports). */
export function linkConfig(o: Omit<LinkOptions, "target">): LinkConfig {
  const spec =
    o.link === undefined ? undefined : checkLink("startLink", typeof o.link === "string" ? parseLink(o.link) : o.link);
  const delayMs = nonNegative("delayMs", o.delayMs ?? (spec ? spec.rttMs / 2 : 0));
  const jitterMs = nonNegative("jitterMs", o.jitterMs ?? spec?.jitterMs ?? 0);
  if (jitterMs > 2 * delayMs)
    throw new ValidationError(`startLink: jitterMs must be at most twice delayMs (${2 * delayMs}), got ${jitterMs}`);
  return {
    upBitsPerS: rate("up", o.up, spec?.upBitsPerS),
    downBitsPerS: rate("down", o.down, spec?.downBitsPerS),
    delayMs,
    jitterMs,
    burstBytes: checkInt("startLink", "burstBytes", o.burstBytes ?? 0, 0, 2 ** 30),
    segmentBytes: checkInt("startLink", "segmentBytes", o.segmentBytes ?? 1448, 1, 2 ** 20),
    overheadBytes: checkInt("startLink", "overheadBytes", o.overheadBytes ?? 0, 0, 2 ** 16),
    queueBytes: checkInt("startLink", "queueBytes", o.queueBytes ?? 64 * 1024, 1, 2 ** 30),
    handshake: o.handshake ?? true,
  };
}

/**
 * Starts a link emulator in front of `target`: connect to the returned `url` instead of the target and every byte
 * crosses a link with the given rates, delay and jitter. Half-close (FIN) and reset (RST) pass through in both
 * directions; a refused or failed target connection resets the client's. `close()` tears everything down.
 */
export async function startLink(o: LinkOptions): Promise<RunningLink> {
  const target = resolveTarget(o.target);
  const config = linkConfig(o);
  const rng = new Rng(o.seed ?? 1);
  const stats: LinkStats = {
    connections: 0,
    open: 0,
    up: { bytes: 0, segments: 0 },
    down: { bytes: 0, segments: 0 },
    targetErrors: 0,
  };
  const sockets = new Set<Socket>();
  const lanes = new Set<Lane>();

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    stats.open++;
    // before the handshake completes a real client could not send: its first bytes wait one RTT
    const start = config.handshake ? performance.now() + 2 * config.delayMs : 0;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    const up = new Lane(config, config.upBitsPerS, rng, client, upstream, stats.up, start);
    const down = new Lane(config, config.downBitsPerS, rng, upstream, client, stats.down, 0);
    for (const s of [client, upstream]) sockets.add(s);
    for (const l of [up, down]) lanes.add(l);
    let closed = 0;
    // `from` closed: unless it had ended cleanly (FIN, already queued), the far end is reset after the delay;
    // whatever the far end still sends to it is lost
    const onClose = (from: Socket, lane: Lane, back: Lane) => (hadError: boolean) => {
      sockets.delete(from);
      if (hadError || !from.readableEnded) lane.signal("reset");
      back.abort();
      if (++closed === 2) {
        stats.open--;
        lanes.delete(up);
        lanes.delete(down);
      }
    };
    client.on("data", (b: Buffer) => up.push(b));
    upstream.on("data", (b: Buffer) => down.push(b));
    client.on("end", () => up.signal("end"));
    upstream.on("end", () => down.signal("end"));
    upstream.on("connect", () => (connected = true));
    client.on("close", onClose(client, up, down));
    upstream.on("close", onClose(upstream, down, up));
    client.on("error", () => {});
    upstream.on("error", () => {
      if (!connected) stats.targetErrors++;
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    config,
    stats: () => ({ ...stats, up: { ...stats.up }, down: { ...stats.down } }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const l of lanes) l.abort();
        lanes.clear();
        for (const s of sockets) s.destroy();
        sockets.clear();
      })),
  };
}
