// Early-exit inference: after each exit head, samples whose confidence passes the policy stop; the rest are
// compacted (gatherColumns) and only they continue through deeper layers — the saving is real compute. A run may
// stop at a cut (a split head, or `until`): the samples left then travel on as their activation there.
import { gatherColumns } from "../ops/elementwise.js";
import { softmaxStats } from "../ops/softmax_xent.js";
import { ShapeError, ValidationError, checkInt } from "../engine/errors.js";
import { checkPolicy, runLayers, type ExitPolicy, type Model } from "../nn/model.js";
import { I32Buffer, Matrix } from "../engine/buffers.js";

export { checkPolicy, type ExitPolicy } from "../nn/model.js";

/**
 * Per sample of a batch: who answered it — `exit` k for the model's exit k (0-based; a split head's exits are the
 * full model's first ones), or E for the final classifier (E = the model's exit count; on a split head the full
 * model's, `split.totalExits`, whose final classifier the server's tail runs) — with its class, confidence and
 * entropy. Arrays indexed by who answered (costs, exit rates) list the exits first and the final classifier last.
 */
export interface ExitResult {
  exit: Int32Array;
  label: Int32Array;
  /** Max softmax probability of the answering classifier (0 for a sample in `indices`). */
  confidence: Float32Array;
  /** Softmax entropy (nats) of the answering classifier (0 for a sample in `indices`). */
  entropy: Float32Array;
  /** Logits of the answering classifier, [B × classes] sample-major; empty when the runner keeps no logits. */
  logits: Float32Array;
  /** When the run stops at a cut: positions in the batch, increasing, of the samples no exit answered (else empty). */
  indices: Int32Array;
  /** Their activation at the cut, feature-major [width, indices.length] (a copy out of WASM memory). */
  activation: Float32Array;
}

/** Options of {@link ExitRunner}. */
export interface ExitRunnerOptions {
  /** Copy each answer's logits out (default true; false keeps classes and confidences only). */
  logits?: boolean;
  /**
   * Stop at cut k (1-based: trunk layers 0…k−1 and the exits on them run) and hand back the samples no exit answered
   * as their activation there. Default: the whole trunk — a split head's ends at its cut.
   */
  until?: number;
}

/** Parses `maxprob:0.9`, `entropy:0.05` or per-exit `maxprob:0.9,0.95`. */
export function parseExitPolicy(text: string, exits: number): ExitPolicy {
  const m = /^(maxprob|entropy):([^:]+)$/.exec(text.trim());
  if (!m)
    throw new ValidationError(
      `exit policy: expected maxprob:Q or entropy:T (e.g. maxprob:0.9), got ${JSON.stringify(text)}`,
    );
  // Number("") is 0: an empty entry ("maxprob:0.9,") must not become a threshold that every sample passes
  const thresholds = m[2]!.split(",").map((s) => (s.trim() === "" ? NaN : Number(s)));
  const kind = m[1] as ExitPolicy["kind"];
  return checkPolicy(
    { kind, thresholds: thresholds.length === 1 ? new Array(exits).fill(thresholds[0]) : thresholds },
    exits,
  );
}

export function formatPolicy(p: ExitPolicy): string {
  return `${p.kind}:${p.thresholds.join(",")}`;
}

/** Does a classifier with these statistics (see softmaxStats) answer under the policy at exit e? */
export function passes(p: ExitPolicy, e: number, confidence: number, entropy: number): boolean {
  return p.kind === "maxprob" ? confidence >= p.thresholds[e]! : entropy <= p.thresholds[e]!;
}

/**
 * Runs a batch X [features, B] through the model with early exits. Samples that exit stop there; the others
 * are gathered into a smaller batch that continues. Without a policy no exit head runs. Scratch is kept per exit
 * and reused across calls (reallocated only when a batch is larger than any before).
 */
export class ExitRunner {
  readonly policy: ExitPolicy | undefined;
  private readonly until: number;
  private readonly keepLogits: boolean;
  private readonly cols: I32Buffer[] = [];
  private readonly compact: Matrix[] = [];

  constructor(
    readonly model: Model,
    policy?: ExitPolicy,
    opts: ExitRunnerOptions = {},
  ) {
    this.policy = policy && checkPolicy(policy, model.exits.length);
    this.until = checkInt("ExitRunner", "until", opts.until ?? model.trunk.length, 1, model.trunk.length);
    this.keepLogits = opts.logits ?? true;
  }

  run(X: Matrix): ExitResult {
    const { model, policy } = this;
    if (X.rows !== model.inputSize) {
      throw new ShapeError(`ExitRunner.run: X has ${X.rows} rows, the model takes ${model.inputSize} features`);
    }
    const B = X.cols,
      C = model.classes;
    const head = model.split?.role === "head";
    const final = head ? model.split!.totalExits : model.exits.length;
    const r: ExitResult = {
      exit: new Int32Array(B),
      label: new Int32Array(B),
      confidence: new Float32Array(B),
      entropy: new Float32Array(B),
      logits: new Float32Array(this.keepLogits ? B * C : 0),
      indices: new Int32Array(0),
      activation: new Float32Array(0),
    };
    let alive = Int32Array.from({ length: B }, (_, i) => i);
    // records the samples of z that answer at classifier e (all of them at the final one); returns the rest
    const record = (z: Matrix, e: number): number[] => {
      const n = z.cols,
        d = z.view();
      const s = softmaxStats(d, C, n);
      const stay: number[] = [];
      for (let j = 0; j < n; j++) {
        if (e < final && !passes(policy!, e, s.confidence[j]!, s.entropy[j]!)) {
          stay.push(j);
          continue;
        }
        const i = alive[j]!;
        r.exit[i] = e;
        r.label[i] = s.label[j]!;
        r.confidence[i] = s.confidence[j]!;
        r.entropy[i] = s.entropy[j]!;
        if (this.keepLogits) for (let c = 0; c < C; c++) r.logits[i * C + c] = d[c * n + j]!;
      }
      return stay;
    };
    let h = X;
    let next = 0;
    for (let i = 0; i < this.until && alive.length > 0; i++) {
      h = model.trunk[i]!.forward(h);
      const ex = model.exits[next];
      if (!ex || ex.after !== i) continue;
      const e = next++;
      if (!policy) continue;
      const stay = record(runLayers(ex.layers, h), e);
      if (stay.length === alive.length) continue;
      if (stay.length > 0) h = this.gather(e, h, stay);
      alive = Int32Array.from(stay, (j) => alive[j]!);
    }
    if (head || this.until < model.trunk.length) {
      // h holds the cut's activation for exactly the samples in `alive` (or nothing when every sample exited)
      for (const i of alive) r.exit[i] = final;
      r.indices = alive;
      if (alive.length > 0) r.activation = h.toArray();
    } else if (alive.length > 0) record(h, final);
    return r;
  }

  /** h restricted to the columns in `stay`, in exit e's scratch. */
  private gather(e: number, h: Matrix, stay: number[]): Matrix {
    let idx = this.cols[e];
    if (!idx || idx.length < stay.length) {
      idx?.dispose();
      idx = this.cols[e] = new I32Buffer(this.model.engine, Math.max(stay.length, h.cols));
    }
    idx.view().set(stay);
    this.compact[e] ??= new Matrix(this.model.engine, h.rows, stay.length);
    return gatherColumns(h, idx, stay.length, this.compact[e]!);
  }

  dispose(): void {
    for (const b of this.cols) b?.dispose();
    for (const m of this.compact) m?.dispose();
  }
}

/**
 * Exact MACs per sample (stored connections only): `perExit[k]` for a sample answered at exit k (trunk to its
 * branch point plus the heads of exits 0…k), `final` for one answered by the last classifier (whole trunk
 * plus every head it passed; on a split head: a sample it sends on), `trunk` for the trunk alone.
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
