// Whatever holds WASM memory is freed by hand (JS has no destructors), so things made together are owned together:
// a scope keeps them and frees them all at once, newest first.
import type { Engine } from "./engine.js";
import { F32Buffer, I32Buffer, Matrix } from "./buffers.js";

/** Anything that holds WASM memory until it is disposed. */
export interface Disposable {
  dispose(): void;
}

/** Keeps what is made in it (layers, buffers, scratch) and frees it all with one `dispose()`, newest first. */
export class Scope {
  private readonly owned: Disposable[] = [];
  constructor(readonly engine: Engine) {}

  keep<T extends Disposable>(x: T): T {
    this.owned.push(x);
    return x;
  }
  matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
    return this.keep(data ? Matrix.from(this.engine, rows, cols, data) : new Matrix(this.engine, rows, cols));
  }
  f32(data: ArrayLike<number> | number): F32Buffer {
    return this.keep(typeof data === "number" ? new F32Buffer(this.engine, data) : F32Buffer.from(this.engine, data));
  }
  i32(data: ArrayLike<number> | number): I32Buffer {
    return this.keep(typeof data === "number" ? new I32Buffer(this.engine, data) : I32Buffer.from(this.engine, data));
  }
  dispose(): void {
    for (const x of this.owned.splice(0).reverse()) x.dispose();
  }

  /** Runs fn with a fresh scope (of the class it is called on) and frees it afterwards, whatever happens. */
  static run<S extends Scope, T>(this: new (engine: Engine) => S, engine: Engine, fn: (s: S) => T): T {
    const s = new this(engine);
    try {
      return fn(s);
    } finally {
      s.dispose();
    }
  }
}

/**
 * Builds something from parts kept in a scope: if `build` throws, every part made so far is freed and the error
 * rethrown, so a refused model leaves nothing behind; if it returns, the result owns the parts.
 */
export function buildOrRollBack<T>(engine: Engine, build: (s: Scope) => T): T {
  const s = new Scope(engine);
  try {
    return build(s);
  } catch (e) {
    s.dispose();
    throw e;
  }
}
