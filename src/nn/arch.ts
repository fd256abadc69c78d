// Architecture strings: "conv:1>8:3x3,pool:2,conv:8>16:3x3:deg4,pool:2,fc:10" → a checked plan → a Model.
import type { Engine } from "../engine/engine.js";
import { ValidationError } from "../engine/errors.js";
import type { Layer } from "./layers/layer.js";
import { AvgPool2d, MaxPool2d } from "./layers/pool2d.js";
import { SparseConv2d } from "./layers/sparse_conv2d.js";
import { Flatten } from "./layers/flatten.js";
import { SparseLinear, type Activation } from "./layers/sparse_linear.js";
import { Model, layerSeeds, type Exit, type Seeds } from "./model.js";
import { buildOrRollBack, type Scope } from "../engine/scope.js";
import { Pattern, feasibleBlocks } from "../sparsity/pattern.js";
import { convOutputSize } from "../ops/sparse_conv2d.js";

/**
 * A malformed or ill-fitting architecture string. `position` is the 0-based index of the offending token among
 * the comma-separated tokens, `column` its 0-based character offset in the string.
 */
export class ArchError extends ValidationError {
  override readonly name: string = "ArchError";
  constructor(
    readonly arch: string,
    readonly token: string,
    readonly position: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`arch: token ${position} "${token}" (column ${column}): ${detail}`);
  }
}

/** One parsed token. `inputs`/`inC` are optional restatements of the incoming size, checked when given. */
export type ArchToken = { token: string; position: number; column: number } & (
  | {
      kind: "conv";
      inC?: number;
      outC: number;
      kh: number;
      kw: number;
      stride: number;
      padding: number;
      degree?: number;
      activation?: Activation;
    }
  | { kind: "maxpool" | "avgpool"; k: number; stride?: number }
  | { kind: "flatten" }
  | { kind: "fc"; inputs?: number; outputs: number; degree?: number; block?: number; activation?: Activation }
);

/** A token with its shapes resolved: per-sample input and output shapes ([C, H, W] for images, [n] flat). */
export type ArchStep = ArchToken & { inShape: number[]; outShape: number[]; activationResolved?: Activation };

const INT = /^[1-9][0-9]*$/;

/**
 * Parses an architecture string (syntax only; {@link planArch} checks it against an input shape). Grammar, tokens
 * separated by commas, fields by colons:
 *
 * - `conv:[IN>]OUT:KHxKW` (or `:K` for K×K), then options: `degD` (each input channel feeds D output channels,
 *   a fixed-degree channel pattern; default every channel: `dense`), `sS` stride (default 1), `pP` zero padding
 *   (default 0, so sizes shrink by kernel − 1: out = ⌊(n + 2P − K)/S⌋ + 1), `relu` / `linear`.
 * - `maxpool:K[:sS]`, `avgpool:K[:sS]`; `pool:K` is `maxpool:K`. Stride defaults to K.
 * - `fc:[IN>]OUT`, options `degD` (out-degree of each input) or `dense`, `blockR` (with `degD`: groups of R
 *   consecutive outputs read the same inputs, see `Pattern.fixedDegree`), `relu` / `linear`. An fc after images
 *   reads the [C, H, W] activation as C·H·W features as it lies in memory.
 * - `flatten`: [C, H, W] → C·H·W, moving no data (the layout is already flat); optional before an fc, it makes
 *   the shape change explicit and gives a split point whose frames are [C·H·W, batch].
 *
 * Every conv and fc is followed by ReLU except the string's last token, which is linear (the logits);
 * `relu` / `linear` override that.
 */
export function parseArch(arch: string): ArchToken[] {
  if (typeof arch !== "string" || arch.trim() === "")
    throw new ArchError(String(arch), "", 0, 0, "empty architecture: expected tokens like conv:1>8:3x3,pool:2,fc:10");
  const out: ArchToken[] = [];
  let column = 0;
  arch.split(",").forEach((raw, position) => {
    const token = raw.trim();
    const at = column + raw.indexOf(token);
    column += raw.length + 1;
    const fail = (detail: string): never => {
      throw new ArchError(arch, token, position, at, detail);
    };
    if (token === "") fail("empty token (two commas in a row, or a trailing comma?)");
    const [head, ...fields] = token.split(":");
    const int = (s: string | undefined, what: string): number => {
      if (s === undefined || !INT.test(s))
        fail(`${what} must be a positive integer, got ${s === undefined ? "nothing" : JSON.stringify(s)}`);
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n > 1 << 24) fail(`${what} ${s} is too large`);
      return n;
    };
    const inOut = (s: string | undefined, what: string): [number | undefined, number] => {
      if (s === undefined) return fail(`missing ${what} count`);
      const parts = s.split(">");
      if (parts.length === 1) return [undefined, int(parts[0], what)];
      if (parts.length === 2) return [int(parts[0], `input ${what}`), int(parts[1], what)];
      return fail(`expected [IN>]OUT, got ${JSON.stringify(s)}`);
    };
    const base = { token, position, column: at };
    switch (head) {
      case "conv": {
        const [inC, outC] = inOut(fields[0], "channel");
        const ks = fields[1];
        if (ks === undefined) fail("missing kernel size (e.g. 3x3)");
        const kp = ks!.split("x");
        if (kp.length > 2) fail(`kernel size must be KHxKW or K, got ${JSON.stringify(ks)}`);
        const kh = int(kp[0], "kernel height"),
          kw = kp.length === 2 ? int(kp[1], "kernel width") : kh;
        const t: ArchToken = { ...base, kind: "conv", inC, outC, kh, kw, stride: 1, padding: 0 };
        for (const f of fields.slice(2)) {
          if (f === "dense") t.degree = undefined;
          else if (f.startsWith("deg")) t.degree = int(f.slice(3), "degree");
          else if (/^s[0-9]/.test(f)) t.stride = int(f.slice(1), "stride");
          else if (/^p[0-9]/.test(f)) t.padding = f.slice(1) === "0" ? 0 : int(f.slice(1), "padding");
          else if (f === "relu" || f === "linear") t.activation = f;
          else fail(`unknown conv option ${JSON.stringify(f)} (expected degD, dense, sS, pP, relu or linear)`);
        }
        out.push(t);
        break;
      }
      case "pool":
      case "maxpool":
      case "avgpool": {
        const t: ArchToken = {
          ...base,
          kind: head === "avgpool" ? "avgpool" : "maxpool",
          k: int(fields[0], "pool size"),
        };
        for (const f of fields.slice(1)) {
          if (/^s[0-9]/.test(f)) t.stride = int(f.slice(1), "stride");
          else fail(`unknown pool option ${JSON.stringify(f)} (expected sS)`);
        }
        out.push(t);
        break;
      }
      case "fc": {
        const [inputs, outputs] = inOut(fields[0], "unit");
        const t: ArchToken = { ...base, kind: "fc", inputs, outputs };
        for (const f of fields.slice(1)) {
          if (f === "dense") t.degree = undefined;
          else if (f.startsWith("deg")) t.degree = int(f.slice(3), "degree");
          else if (f.startsWith("block")) t.block = int(f.slice(5), "block");
          else if (f === "relu" || f === "linear") t.activation = f;
          else fail(`unknown fc option ${JSON.stringify(f)} (expected degD, dense, blockR, relu or linear)`);
        }
        out.push(t);
        break;
      }
      case "flatten":
        if (fields.length) fail(`flatten takes no options, got ${JSON.stringify(fields.join(":"))}`);
        out.push({ ...base, kind: "flatten" });
        break;
      default:
        fail(`unknown layer ${JSON.stringify(head)} (expected conv, pool, maxpool, avgpool, flatten or fc)`);
    }
  });
  return out;
}

/** Parses "1x28x28" / "784" into a per-sample shape. */
export function parseShape(s: string): number[] {
  const parts = s.trim().split("x");
  if (parts.length > 3 || !parts.every((p) => INT.test(p)))
    throw new ValidationError(
      `parseShape: expected C×H×W like 1x28x28 or a feature count like 784, got ${JSON.stringify(s)}`,
    );
  return parts.map(Number);
}

/**
 * Resolves every token's shapes from the per-sample input shape ([C, H, W] for images, [n] for flat features) and
 * checks that each token fits: restated sizes, kernels and windows no larger than their input, feasible degrees.
 * Throws {@link ArchError} naming the token.
 */
export function planArch(arch: string, inputShape: readonly number[]): ArchStep[] {
  const tokens = parseArch(arch);
  if (
    !(inputShape.length === 1 || inputShape.length === 3) ||
    !inputShape.every((d) => Number.isSafeInteger(d) && d > 0)
  ) {
    throw new ValidationError(
      `planArch: input shape must be [C, H, W] or [features] of positive integers, got [${inputShape.join(", ")}]`,
    );
  }
  let shape = [...inputShape];
  return tokens.map((t, i) => {
    const fail = (detail: string): never => {
      throw new ArchError(arch, t.token, t.position, t.column, detail);
    };
    const inShape = shape;
    const image = (): [number, number, number] => {
      if (shape.length !== 3) {
        const got =
          shape.length === 1 ? `${shape[0]} flat features (after an fc, or a flat input shape)` : `[${shape}]`;
        fail(`needs an image [C, H, W] input, got ${got}`);
      }
      return shape as [number, number, number];
    };
    const last = i === tokens.length - 1;
    let activationResolved: Activation | undefined;
    switch (t.kind) {
      case "conv": {
        const [C, H, W] = image();
        if (t.inC !== undefined && t.inC !== C)
          fail(`says ${t.inC} input channels, the incoming activation has ${C} ([${C}, ${H}, ${W}])`);
        if (H + 2 * t.padding < t.kh || W + 2 * t.padding < t.kw)
          fail(`kernel ${t.kh}×${t.kw} is larger than the padded input ${H + 2 * t.padding}×${W + 2 * t.padding}`);
        checkDegree(t.degree, C, t.outC, "input channel", fail);
        shape = [t.outC, convOutputSize(H, t.kh, t.stride, t.padding), convOutputSize(W, t.kw, t.stride, t.padding)];
        activationResolved = t.activation ?? (last ? "linear" : "relu");
        break;
      }
      case "maxpool":
      case "avgpool": {
        const [C, H, W] = image();
        const s = t.stride ?? t.k;
        if (t.k > H || t.k > W) fail(`window ${t.k}×${t.k} is larger than the input ${H}×${W}`);
        shape = [C, Math.floor((H - t.k) / s) + 1, Math.floor((W - t.k) / s) + 1];
        break;
      }
      case "flatten": {
        image();
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      }
      case "fc": {
        const n = shape.reduce((a, b) => a * b, 1);
        if (t.inputs !== undefined && t.inputs !== n)
          fail(`says ${t.inputs} inputs, the incoming activation has ${n} features ([${shape.join(", ")}])`);
        checkDegree(t.degree, n, t.outputs, "input", fail);
        if (t.block !== undefined && t.block > 1) {
          if (t.degree === undefined) fail(`block ${t.block} needs an out-degree (degD)`);
          const ok = feasibleBlocks(t.outputs, t.degree!);
          if (!ok.includes(t.block))
            fail(
              `block ${t.block} infeasible for ${t.outputs} outputs at out-degree ${t.degree}; feasible: ` +
                `${ok.join(", ")}`,
            );
        }
        shape = [t.outputs];
        activationResolved = t.activation ?? (last ? "linear" : "relu");
        break;
      }
    }
    return { ...t, inShape, outShape: shape, activationResolved };
  });
}

function checkDegree(
  degree: number | undefined,
  inputs: number,
  outputs: number,
  what: string,
  fail: (d: string) => never,
): void {
  if (degree === undefined) return;
  if (degree > outputs) fail(`out-degree ${degree} exceeds the ${outputs} outputs`);
  if ((inputs * degree) % outputs !== 0) {
    const g = gcd(inputs, outputs),
      step = outputs / g;
    const feasible: number[] = [];
    for (let d = step; d <= outputs && feasible.length < 12; d += step) feasible.push(d);
    fail(
      `out-degree ${degree} infeasible for ${inputs}→${outputs}: ${what}s·degree must be divisible by ${outputs}; ` +
        `feasible degrees: ${feasible.join(", ")}${outputs / step > 12 ? ", …" : ""}`,
    );
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Options of {@link buildModel}. */
export interface BuildOptions {
  /** Per-sample input shape: [C, H, W] for images (e.g. [1, 28, 28]) or [features]. */
  inputShape: number[];
  /** Seeds patterns and weights (default 0) by the rule Model.mlp follows (see layerSeeds): the same string, shape
   * and seed give the same model, and an fc-only string the network Model.mlp builds for the same seed. */
  seed?: number;
  /** Initial bias of every layer (default 0.1). */
  biasInit?: number;
  /**
   * Exit heads: after trunk token `after` (0-based), an arch string (default `fc:<classes>`), a loss weight
   * (default 1).
   */
  exits?: { after: number; arch?: string; weight?: number }[];
  finalWeight?: number;
}

/** The layers of a plan; layer i is seeded by `seeds(i)` (see layerSeeds) and kept in the scope. */
function buildLayers(
  engine: Engine,
  arch: string,
  steps: ArchStep[],
  seeds: (i: number) => Seeds,
  biasInit: number | undefined,
  s: Scope,
): Layer[] {
  return steps.map((st, i) => {
    let layer: Layer;
    const seed = seeds(i);
    const fail = (e: unknown): never => {
      throw new ArchError(arch, st.token, st.position, st.column, (e as Error).message);
    };
    try {
      switch (st.kind) {
        case "conv": {
          const [C, H, W] = st.inShape as [number, number, number];
          const dense = st.degree === undefined || st.degree === st.outC;
          const pattern = dense ? Pattern.dense(C, st.outC) : Pattern.fixedDegree(C, st.outC, st.degree!, seed.pattern);
          layer = new SparseConv2d(engine, {
            inC: C,
            outC: st.outC,
            H,
            W,
            kh: st.kh,
            kw: st.kw,
            stride: st.stride,
            padding: st.padding,
            pattern,
            activation: st.activationResolved,
            seed: seed.weights,
            biasInit,
          });
          break;
        }
        case "maxpool":
        case "avgpool": {
          const [C, H, W] = st.inShape as [number, number, number];
          const Cls = st.kind === "maxpool" ? MaxPool2d : AvgPool2d;
          layer = new Cls(engine, { C, H, W, k: st.k, stride: st.stride });
          break;
        }
        case "flatten":
          layer = new Flatten(st.inShape);
          break;
        case "fc": {
          const n = st.inShape.reduce((a, b) => a * b, 1);
          const block = st.block ?? 1;
          const dense = st.degree === undefined || (st.degree === st.outputs && block === 1);
          const pattern = dense
            ? Pattern.dense(n, st.outputs)
            : Pattern.fixedDegree(n, st.outputs, st.degree!, seed.pattern, { block });
          const opts = { activation: st.activationResolved, seed: seed.weights, biasInit };
          layer = new SparseLinear(engine, pattern, opts);
          break;
        }
      }
    } catch (e) {
      return fail(e);
    }
    return s.keep(layer);
  });
}

/**
 * Builds a Model from an architecture string (see {@link parseArch}) and a per-sample input shape, e.g.
 * `buildModel(engine, "conv:1>8:3x3,pool:2,conv:8>16:3x3:deg4,pool:2,fc:10", { inputShape: [1, 28, 28] })`.
 * Shapes are checked token by token before anything is allocated; errors are {@link ArchError}s naming the token.
 */
export function buildModel(engine: Engine, arch: string, o: BuildOptions): Model {
  const seed = o.seed ?? 0;
  const steps = planArch(arch, o.inputShape);
  const classes = steps[steps.length - 1]!.outShape.reduce((a, b) => a * b, 1);
  const heads = (o.exits ?? []).map((e, k) => {
    if (!Number.isInteger(e.after) || e.after < 0 || e.after >= steps.length - 1) {
      throw new ValidationError(
        `buildModel: exit ${k} after token ${e.after}: must be a trunk token index in [0, ${steps.length - 2}]`,
      );
    }
    const headArch = e.arch ?? `fc:${classes}`;
    const plan = planArch(headArch, steps[e.after]!.outShape);
    return { after: e.after, weight: e.weight ?? 1, arch: headArch, plan };
  });
  return buildOrRollBack(engine, (s) => {
    const trunk = buildLayers(engine, arch, steps, (i) => layerSeeds(seed, i), o.biasInit, s);
    const exits: Exit[] = heads.map((h, k) => {
      const layers = buildLayers(engine, h.arch, h.plan, (i) => layerSeeds(seed, i, k), o.biasInit, s);
      return { after: h.after, weight: h.weight, layers };
    });
    return new Model(engine, trunk, exits, { inputShape: [...o.inputShape], finalWeight: o.finalWeight });
  });
}
