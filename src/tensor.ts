import type { Engine } from "./engine.js";
import { ShapeError, checkInt } from "./errors.js";

/** A Float32 array living in WASM memory. `view()` is fresh on every call (memory growth detaches views). */
export class F32Buffer {
  readonly ptr: number;
  private alive = true;
  constructor(
    readonly engine: Engine,
    readonly length: number,
  ) {
    checkInt("F32Buffer", "length", length);
    this.ptr = engine.alloc(length * 4);
  }
  static from(engine: Engine, data: ArrayLike<number>): F32Buffer {
    const b = new F32Buffer(engine, data.length);
    b.view().set(data);
    return b;
  }
  view(): Float32Array {
    return this.engine.f32(this.ptr, this.length);
  }
  /** A copy out of WASM memory. */
  toArray(): Float32Array {
    return this.view().slice();
  }
  dispose(): void {
    if (this.alive) this.engine.free(this.ptr);
    this.alive = false;
  }
}

/** An Int32 array living in WASM memory. */
export class I32Buffer {
  readonly ptr: number;
  private alive = true;
  constructor(
    readonly engine: Engine,
    readonly length: number,
  ) {
    checkInt("I32Buffer", "length", length);
    this.ptr = engine.alloc(length * 4);
  }
  static from(engine: Engine, data: ArrayLike<number>): I32Buffer {
    const b = new I32Buffer(engine, data.length);
    b.view().set(data);
    return b;
  }
  view(): Int32Array {
    return this.engine.i32(this.ptr, this.length);
  }
  toArray(): Int32Array {
    return this.view().slice();
  }
  dispose(): void {
    if (this.alive) this.engine.free(this.ptr);
    this.alive = false;
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
    if (data.length !== rows * cols) throw new ShapeError(`Matrix.from: expected ${rows}×${cols} = ${rows * cols} values, got ${data.length}`);
    const m = new Matrix(engine, rows, cols);
    m.data().set(data);
    return m;
  }
  /** A feature-major [features, n] matrix from n samples stored one after another (sample-major, as datasets hold them). */
  static fromSamples(engine: Engine, features: number, samples: ArrayLike<number>): Matrix {
    checkInt("Matrix.fromSamples", "features", features, 1);
    if (samples.length % features !== 0 || samples.length === 0) {
      throw new ShapeError(`Matrix.fromSamples: ${samples.length} values are not a whole number (≥ 1) of ${features}-feature samples`);
    }
    const n = samples.length / features;
    const m = new Matrix(engine, features, n);
    const d = m.data();
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
  data(): Float32Array {
    return this.engine.f32(this.ptr_, this.rows * this.cols_);
  }
  toArray(): Float32Array {
    return this.data().slice();
  }
  dispose(): void {
    if (this.ptr_ >= 0) this.engine.free(this.ptr_);
    this.ptr_ = -1;
  }
}
