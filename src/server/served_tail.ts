// The one place the server touches the split API. Everything else in src/server/ sees a ServedTail: what the
// wire needs to know of the tail (its identity and shapes) and its forward pass. A change to how a tail is
// represented or loaded lands here. A whole model (no split record) is served as the tail of a cut after 0 layers:
// frames carry split id 0 and its input, for full offload.
import { readFile } from "node:fs/promises";
import type { Matrix } from "../engine/buffers.js";
import type { Engine } from "../engine/engine.js";
import { FormatError, ValidationError } from "../engine/errors.js";
import { decodeModel } from "../io/model_io.js";
import type { Model } from "../nn/model.js";
import type { Tail } from "../split/split.js";

export type { Tail };

/** The tail as the server serves it. */
export interface ServedTail {
  /** The full model's hash (16 hex digits): frames carry it. */
  readonly hash: string;
  /** The split's id on the wire: frames carry it. */
  readonly splitId: number;
  /** Trunk layers on the edge (the 1-based cut), as /healthz reports it. */
  readonly after: number;
  /** One sample's shape at the cut: [width], or [C, H, W] after a convolution or pooling layer. */
  readonly activationShape: readonly number[];
  /** Features per sample at the cut: the product of `activationShape`. */
  readonly activationWidth: number;
  readonly classes: number;
  readonly engine: Engine;
  /** Final logits [classes, B] of X [activationWidth, B]; the tail owns the result until its next call. */
  forward(X: Matrix): Matrix;
}

/**
 * A Tail seen through {@link ServedTail}; or a whole model (no split record) with its hash, served for full
 * offload: split id 0, the model's input shape.
 */
export function servedTail(tail: Tail): ServedTail;
export function servedTail(model: Model, hash: string): ServedTail;
export function servedTail(m: Model, hash?: string): ServedTail {
  const s = m.split;
  if (s?.role === "head") throw new ValidationError("startServer: a split head runs on the edge, not on the server");
  if (!s && hash === undefined) throw new ValidationError("startServer: a whole model is served with its hash");
  return {
    hash: s?.hash ?? hash!,
    splitId: s?.cut ?? 0,
    after: s?.cut ?? 0,
    activationShape: s?.activationShape ?? m.inputShape,
    activationWidth: m.inputSize,
    classes: m.classes,
    engine: m.engine,
    forward: (X) => m.forward(X),
  };
}

/** What the server serves (a split's tail, or a whole model), its identity, and how to let go of it. */
export interface OpenTail {
  tail: Model;
  served: ServedTail;
  dispose(): void;
}

/**
 * The server's model from what the caller gave: a tail bundle or a whole model file, as bytes or a path (loaded
 * here; `dispose` frees it), or a loaded Tail (the caller keeps it; `dispose` leaves it alone).
 */
export async function openTail(model: Uint8Array | string | Tail, engine: Engine): Promise<OpenTail> {
  if (typeof model !== "string" && !(model instanceof Uint8Array)) {
    return { tail: model, served: servedTail(model), dispose: () => {} };
  }
  const bytes = typeof model === "string" ? await readBundle(model) : model;
  const source = typeof model === "string" ? model : "model";
  const loaded = decodeModel(engine, bytes, { source });
  if (loaded.model.split?.role === "head") {
    loaded.model.dispose();
    throw new FormatError(
      "split",
      "extra.split.role",
      `${source}: expected a tail bundle or a whole model, got "head"`,
    );
  }
  const m = loaded.model;
  return { tail: m, served: servedTail(m, loaded.hash), dispose: () => m.dispose() };
}

async function readBundle(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ValidationError(`startServer: cannot read ${path}: ${why}`);
  }
}

/** Whose head an edge bundle is (model hash, cut) and the features it takes. */
export interface HeadIdentity {
  hash: string;
  splitId: number;
  inputSize: number;
}

/** What the demo checks of an edge bundle before serving it: whose head it is, and what it takes. */
export function headIdentity(engine: Engine, bytes: Uint8Array, source: string): HeadIdentity {
  const head = decodeModel(engine, bytes, { source, role: "head" }).model;
  const id = { hash: head.split!.hash, splitId: head.split!.cut, inputSize: head.inputSize };
  head.dispose();
  return id;
}
