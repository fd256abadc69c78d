// The one place the server touches the split API. Everything else in src/server/ sees a ServedTail: what the
// wire needs to know of the tail (its identity and shapes) and its forward pass. A change to how a tail is
// represented or loaded lands here.
import { readFile } from "node:fs/promises";
import type { Matrix } from "../engine/buffers.js";
import type { Engine } from "../engine/engine.js";
import { ValidationError } from "../engine/errors.js";
import { decodeModel } from "../io/model_io.js";
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

/** A Tail seen through {@link ServedTail}. */
export function servedTail(tail: Tail): ServedTail {
  return {
    hash: tail.split.hash,
    splitId: tail.split.cut,
    after: tail.split.cut,
    activationShape: tail.split.activationShape,
    activationWidth: tail.inputSize,
    classes: tail.classes,
    engine: tail.engine,
    forward: (X) => tail.forward(X),
  };
}

/** A tail the server serves, and how to let go of it. */
export interface OpenTail {
  tail: Tail;
  dispose(): void;
}

/**
 * The server's model from what the caller gave: a bundle's bytes or path (loaded here; `dispose` frees it) or a
 * loaded Tail (the caller keeps it; `dispose` leaves it alone).
 */
export async function openTail(model: Uint8Array | string | Tail, engine: Engine): Promise<OpenTail> {
  if (typeof model !== "string" && !(model instanceof Uint8Array)) return { tail: model, dispose: () => {} };
  const bytes = typeof model === "string" ? await readBundle(model) : model;
  const tail = decodeModel(engine, bytes, { source: typeof model === "string" ? model : "model", role: "tail" })
    .model as Tail;
  return { tail, dispose: () => tail.dispose() };
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
