import type { Engine } from "./engine.js";
import { ShapeError, ValidationError, checkInt } from "./errors.js";

/** Anything an op hands to a kernel: it lives in one engine's memory and may have been freed. */
export interface Operand {
  readonly engine: Engine;
  readonly disposed: boolean;
}

/**
 * Throws unless every operand lives in the same engine, that engine is live and no operand was disposed: a kernel
 * given a pointer from another engine's memory, or a freed block that may belong to someone else by now, would
 * read and write the wrong floats without a sound. Optional operands may be passed as undefined.
 */
export function checkOperands(op: string, first: Operand, ...rest: (Operand | undefined)[]): void {
  const engine = first.engine;
  if (engine.isDisposed) throw new ValidationError(`${op}: the engine was disposed`);
  if (first.disposed) throw new ValidationError(`${op}: an operand was disposed`);
  for (const x of rest) {
    if (x === undefined) continue;
    if (x.engine !== engine) throw new ShapeError(`${op}: operands live in different engines`);
    if (x.disposed) throw new ValidationError(`${op}: an operand was disposed`);
  }
}

/**
 * The activations of a layer-shaped op: In has inRows rows, Out outRows, and both the same batch (columns); `note`
 * follows the expected row count of In in the message.
 */
export function checkActs(
  op: string,
  inName: string,
  In: Matrix,
  outName: string,
  Out: Matrix,
  inRows: number,
  outRows: number,
  note = "",
): void {
  if (In.rows !== inRows) throw new ShapeError(`${op}: ${inName} has ${In.rows} rows, expected ${inRows}${note}`);
  if (Out.rows !== outRows) throw new ShapeError(`${op}: ${outName} has ${Out.rows} rows, expected ${outRows}`);
  if (Out.cols !== In.cols)
    throw new ShapeError(`${op}: ${outName} has ${Out.cols} columns (batch), ${inName} has ${In.cols}`);
}

/**
 * A typed array living in WASM memory: Float32 ({@link F32Buffer}) or Int32 ({@link I32Buffer}), the one difference
 * being the view. `view()` is fresh on every call (memory growth detaches views).
 */
export abstract class WasmBuffer<T extends Float32Array | Int32Array> {
  readonly ptr: number;
  private alive = true;
  constructor(
    readonly engine: Engine,
    readonly length: number,
  ) {
    checkInt(this.label, "length", length);
    this.ptr = engine.alloc(length * 4);
  }
  /** A buffer holding a copy of `data`. */
  static from<B extends WasmBuffer<Float32Array | Int32Array>>(
    this: new (
      engine: Engine,
      length: number,
    ) => B,
    engine: Engine,
    data: ArrayLike<number>,
  ): B {
    const b = new this(engine, data.length);
    b.view().set(data);
    return b;
  }
  abstract view(): T;
  /** The class name for messages, spelled out (a minifier renames constructor.name); read in the constructor. */
  protected get label(): string {
    return "WasmBuffer";
  }
  /** A copy out of WASM memory. */
  toArray(): T {
    return this.view().slice() as T;
  }
  /** True after dispose(): the block may belong to another buffer by now. */
  get disposed(): boolean {
    return !this.alive;
  }
  dispose(): void {
    if (this.alive) this.engine.free(this.ptr);
    this.alive = false;
  }
}

/** A Float32 array living in WASM memory. */
export class F32Buffer extends WasmBuffer<Float32Array> {
  protected override get label(): string {
    return "F32Buffer";
  }
  view(): Float32Array {
    return this.engine.f32(this.ptr, this.length);
  }
}

/** An Int32 array living in WASM memory. */
export class I32Buffer extends WasmBuffer<Int32Array> {
  protected override get label(): string {
    return "I32Buffer";
  }
  view(): Int32Array {
    return this.engine.i32(this.ptr, this.length);
  }
}

/**
 * A feature-major activation matrix [rows = features, cols = batch] in WASM memory, batch contiguous.
 * `cols` may change within the allocated capacity (scratch reused across batch sizes); growing past it
 * reallocates, so steady-state training at a fixed batch size allocates nothing.
 */
export class Matrix {
  private ptr_: number;
  private capacity: number;
  private cols_: number;
  constructor(
    readonly engine: Engine,
    readonly rows: number,
    cols: number,
  ) {
    checkInt("Matrix", "rows", rows);
    checkInt("Matrix", "cols", cols);
    this.capacity = rows * cols;
    this.cols_ = cols;
    this.ptr_ = engine.alloc(this.capacity * 4);
  }
  /** A matrix holding a copy of `data` (row-major [rows, cols]). */
  static from(engine: Engine, rows: number, cols: number, data: ArrayLike<number>): Matrix {
    if (data.length !== rows * cols)
      throw new ShapeError(`Matrix.from: expected ${rows}×${cols} = ${rows * cols} values, got ${data.length}`);
    const m = new Matrix(engine, rows, cols);
    m.view().set(data);
    return m;
  }
  /** A feature-major [features, n] matrix from n samples stored one after another (sample-major, as datasets are). */
  static fromSamples(engine: Engine, features: number, samples: ArrayLike<number>): Matrix {
    checkInt("Matrix.fromSamples", "features", features, 1);
    if (samples.length % features !== 0 || samples.length === 0) {
      throw new ShapeError(
        `Matrix.fromSamples: ${samples.length} values are not a whole number (≥ 1) of ${features}-feature samples`,
      );
    }
    const n = samples.length / features;
    const m = new Matrix(engine, features, n);
    const d = m.view();
    for (let b = 0; b < n; b++) for (let f = 0; f < features; f++) d[f * n + b] = samples[b * features + f]!;
    return m;
  }
  get ptr(): number {
    return this.ptr_;
  }
  get cols(): number {
    return this.cols_;
  }
  get size(): number {
    return this.rows * this.cols_;
  }
  /** Sets the batch size; contents are undefined afterwards. Reallocates only past the capacity. */
  reshape(cols: number): this {
    checkInt("Matrix.reshape", "cols", cols);
    if (this.rows * cols > this.capacity) {
      this.engine.free(this.ptr_);
      this.capacity = this.rows * cols;
      this.ptr_ = this.engine.alloc(this.capacity * 4);
    }
    this.cols_ = cols;
    return this;
  }
  /** Fresh view of the [rows, cols] values, row-major (feature-major activations). */
  view(): Float32Array {
    return this.engine.f32(this.ptr_, this.rows * this.cols_);
  }
  toArray(): Float32Array {
    return this.view().slice();
  }
  /** True after dispose(). */
  get disposed(): boolean {
    return this.ptr_ < 0;
  }
  dispose(): void {
    if (this.ptr_ >= 0) this.engine.free(this.ptr_);
    this.ptr_ = -1;
  }
}
