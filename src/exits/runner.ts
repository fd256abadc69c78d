// Early-exit inference: after each exit head, samples whose confidence passes the policy stop; the rest are
// compacted (gatherColumns) and only they continue through deeper layers — the saving is real compute.
import { gatherColumns } from "../ops/elementwise.js";
import type { Engine } from "../engine/engine.js";
import { ValidationError } from "../engine/errors.js";
import { runLayers, type Model } from "../nn/model.js";
import { I32Buffer, Matrix } from "../engine/buffers.js";

/** Per-column softmax statistics of a batch of logits. */
export interface SoftmaxStats {
  label: Int32Array;
  confidence: Float64Array;
  entropy: Float64Array;
}

/** Max-softmax ≥ q (Shallow-Deep Networks) or softmax entropy ≤ T in nats (BranchyNet); one threshold per exit. */
export interface ExitPolicy {
  kind: "maxprob" | "entropy";
  thresholds: number[];
}

/** Per sample: which classifier answered (0…E−1 an exit, E the final one), its class, confidence and entropy. */
export interface ExitResult {
  exit: Int32Array;
  label: Int32Array;
  /** Max softmax probability of the answering classifier. */
  confidence: Float32Array;
  /** Softmax entropy (nats) of the answering classifier. */
  entropy: Float32Array;
  /** Logits of the answering classifier, [B × classes] sample-major; empty when the runner keeps no logits. */
  logits: Float32Array;
}

/** Parses `maxprob:0.9`, `entropy:0.05` or per-exit `maxprob:0.9,0.95`. */
export function parseExitPolicy(text: string, exits: number): ExitPolicy {
  const m = /^(maxprob|entropy):([^:]+)$/.exec(text.trim());
  if (!m) throw new ValidationError(`exit policy: expected maxprob:Q or entropy:T (e.g. maxprob:0.9), got ${JSON.stringify(text)}`);
  // Number("") is 0: an empty entry ("maxprob:0.9,") must not become a threshold that every sample passes
  const thresholds = m[2]!.split(",").map((s) => (s.trim() === "" ? NaN : Number(s)));
  const kind = m[1] as ExitPolicy["kind"];
  return checkPolicy({ kind, thresholds: thresholds.length === 1 ? new Array(exits).fill(thresholds[0]) : thresholds }, exits);
}

/** Throws unless the policy has one finite threshold per exit in the kind's range. */
export function checkPolicy(p: ExitPolicy, exits: number): ExitPolicy {
  if (p.kind !== "maxprob" && p.kind !== "entropy") throw new ValidationError(`exit policy: kind must be maxprob or entropy, got ${String(p.kind)}`);
  if (p.thresholds.length !== exits) throw new ValidationError(`exit policy: ${p.thresholds.length} thresholds for ${exits} exits`);
  for (const t of p.thresholds) {
    if (!Number.isFinite(t) || t < 0 || (p.kind === "maxprob" && t > 1)) throw new ValidationError(`exit policy: ${p.kind} threshold must be ${p.kind === "maxprob" ? "in [0, 1]" : "≥ 0"}, got ${t}`);
  }
  return p;
}

export function formatPolicy(p: ExitPolicy): string {
  return `${p.kind}:${p.thresholds.join(",")}`;
}

/**
 * Softmax statistics of column b of logits [C, n]: argmax (first of ties), max probability 1/S and entropy
 * log S − Σ e·d / S (d = z − max, e = exp(d), S = Σ e) in nats — one exp per class. Every early-exit decision in
 * the package (runner, split head, calibration, client) comes from this one function, so they agree exactly.
 */
export function columnStats(z: Float32Array, C: number, n: number, b: number): { label: number; confidence: number; entropy: number } {
  let label = 0, mx = z[b]!;
  for (let c = 1; c < C; c++) {
    const v = z[c * n + b]!;
    if (v > mx) { mx = v; label = c; }
  }
  let S = 0, T = 0;
  for (let c = 0; c < C; c++) {
    const d = z[c * n + b]! - mx;
    const e = Math.exp(d);
    S += e;
    T += e * d;
  }
  return { label, confidence: 1 / S, entropy: Math.max(0, Math.log(S) - T / S) };
}

/** Does a classifier with these statistics answer under the policy at exit e? */
export function passes(p: ExitPolicy, e: number, confidence: number, entropy: number): boolean {
  return p.kind === "maxprob" ? confidence >= p.thresholds[e]! : entropy <= p.thresholds[e]!;
}

/**
 * The per-exit machinery shared by {@link ExitRunner} and the split head: softmax statistics of an exit's
 * logits, the policy decision, and the gather of the samples that go on into scratch
 * kept per exit (reused across calls; reallocated only when a batch is larger than any before).
 */
export class ExitGate {
  private readonly cols: I32Buffer[] = [];
  private readonly compact: Matrix[] = [];

  constructor(readonly engine: Engine) {}

  /** Softmax statistics of every column of z (see {@link columnStats}). */
  statsOf(z: Matrix): SoftmaxStats {
    const n = z.cols, C = z.rows, d = z.view();
    const label = new Int32Array(n), mx = d.slice(0, n), S = new Float64Array(n), T = new Float64Array(n);
    // class by class over contiguous rows; per column the same operations in the same order as columnStats
    for (let c = 1; c < C; c++) {
      for (let j = 0, o = c * n; j < n; j++) {
        const v = d[o + j]!;
        if (v > mx[j]!) { mx[j] = v; label[j] = c; }
      }
    }
    for (let c = 0; c < C; c++) {
      for (let j = 0, o = c * n; j < n; j++) {
        const dv = d[o + j]! - mx[j]!;
        const e = Math.exp(dv);
        S[j]! += e;
        T[j]! += e * dv;
      }
    }
    const confidence = new Float64Array(n), entropy = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      confidence[j] = 1 / S[j]!;
      entropy[j] = Math.max(0, Math.log(S[j]!) - T[j]! / S[j]!);
    }
    return { label, confidence, entropy };
  }

  /** Local indices (columns of z), increasing, of the samples that do not pass exit e under the policy. */
  decide(s: SoftmaxStats, policy: ExitPolicy, e: number): number[] {
    const stay: number[] = [];
    for (let j = 0; j < s.label.length; j++) if (!passes(policy, e, s.confidence[j]!, s.entropy[j]!)) stay.push(j);
    return stay;
  }

  /** h restricted to the columns in `stay`, in exit e's scratch. */
  gather(e: number, h: Matrix, stay: number[]): Matrix {
    let idx = this.cols[e];
    if (!idx || idx.length < stay.length) {
      idx?.dispose();
      idx = this.cols[e] = new I32Buffer(this.engine, Math.max(stay.length, h.cols));
    }
    idx.view().set(stay);
    this.compact[e] ??= new Matrix(this.engine, h.rows, stay.length);
    return gatherColumns(h, idx, stay.length, this.compact[e]!);
  }

  dispose(): void {
    for (const b of this.cols) b?.dispose();
    for (const m of this.compact) m?.dispose();
  }
}

/**
 * Runs a batch X [features, B] through the model with early exits. Samples that exit stop there; the others
 * are gathered into a smaller batch that continues. Scratch is kept per model and reused across calls.
 */
export class ExitRunner {
  private readonly gate: ExitGate;
  private readonly keepLogits: boolean;

  /** `logits: false` skips copying each answer's logits out (classes and confidences only). */
  constructor(
    readonly model: Model,
    readonly policy: ExitPolicy,
    opts: { logits?: boolean } = {},
  ) {
    checkPolicy(policy, model.exits.length);
    this.gate = new ExitGate(model.engine);
    this.keepLogits = opts.logits ?? true;
  }

  run(X: Matrix): ExitResult {
    const { model, policy, gate } = this;
    const B = X.cols, C = model.classes, E = model.exits.length;
    const r: ExitResult = {
      exit: new Int32Array(B), label: new Int32Array(B), confidence: new Float32Array(B),
      entropy: new Float32Array(B), logits: new Float32Array(this.keepLogits ? B * C : 0),
    };
    const keep = this.keepLogits;
    let alive = Int32Array.from({ length: B }, (_, i) => i);
    // records the samples of z that answer at classifier e (all of them at the final one); returns the rest
    const record = (z: Matrix, e: number): number[] => {
      const s = gate.statsOf(z);
      const stay = e < E ? gate.decide(s, policy, e) : [];
      const n = z.cols, d = keep ? z.view() : undefined;
      for (let j = 0, k = 0; j < n; j++) {
        if (k < stay.length && stay[k] === j) { k++; continue; }
        const i = alive[j]!;
        r.exit[i] = e; r.label[i] = s.label[j]!; r.confidence[i] = s.confidence[j]!; r.entropy[i] = s.entropy[j]!;
        if (d) for (let c = 0; c < C; c++) r.logits[i * C + c] = d[c * n + j]!;
      }
      return stay;
    };
    let h = X;
    let next = 0;
    for (let i = 0; i < model.trunk.length && alive.length > 0; i++) {
      h = model.trunk[i]!.forward(h);
      const ex = model.exits[next];
      if (ex && ex.after === i) {
        const e = next++;
        const stay = record(runLayers(ex.layers, h), e);
        if (stay.length === alive.length) continue;
        if (stay.length > 0) h = gate.gather(e, h, stay);
        alive = Int32Array.from(stay, (j) => alive[j]!);
      }
    }
    if (alive.length > 0) record(h, E);
    return r;
  }

  dispose(): void {
    this.gate.dispose();
  }
}

/**
 * Exact MACs per sample (stored connections only): `perExit[k]` for a sample answered at exit k (trunk to its
 * branch point plus the heads of exits 0…k), `final` for one answered by the last classifier (whole trunk
 * plus every head it passed), `trunk` for the trunk alone (the model without exits).
 */
export function exitMacs(model: Model): { perExit: number[]; final: number; trunk: number } {
  const trunk = model.trunkMacs();
  const heads = model.exitHeadMacs();
  return {
    perExit: model.exits.map((e, k) => trunk[e.after]! + heads.slice(0, k + 1).reduce((a, b) => a + b, 0)),
    final: trunk[trunk.length - 1]! + heads.reduce((a, b) => a + b, 0),
    trunk: trunk[trunk.length - 1]!,
  };
}
