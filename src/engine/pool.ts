// The engine's side of a thread pool: starts the supervisor (pool_worker.ts), posts each job's chunks into the shared
// control block, runs chunks itself and waits for the ones workers claimed. Calls stay synchronous: the engine's thread
// blocks with Atomics.wait where it may (Node, a Web Worker) and spins where it may not (a page's main thread).
import type { WasmMemory, WasmModule } from "./engine.js";
import { ThreadPoolError, WorkerDiedError } from "./errors.js";
import {
  ALIVE,
  ARGS_OFFSET,
  CLAIM,
  CONTROL_BYTES,
  DONE,
  GEN,
  MAX_ARGS,
  MAX_CHUNKS,
  MAX_THREADS,
  SEQ_LIMIT,
  STATE,
  TEXT_BYTES,
  TEXT_OFFSET,
  W,
  posted,
  type SupervisorMessage,
  type WorkerInit,
} from "./pool_protocol.js";

/** Where a debug-build assertion of a worker pointed: message and file (pointers into memory), line, column. */
export type AssertionReport = (msg: number, file: number, line: number, column: number) => Error;

/**
 * Microseconds a worker keeps polling for the next job before it sleeps. A futex wake-up on the 2-core VM this was
 * measured on takes tens of µs — as long as a whole split call of the paper's layers — while the kernels of a training
 * step follow each other a few µs apart: a worker that polls for 100 µs catches them, and sleeps when work pauses.
 */
const WORKER_SPIN_US = 100;
/** Milliseconds the engine's thread polls for the workers' chunks before it sleeps on them (Node, Web Workers). */
const CALLER_SPIN_MS = 2;
/** Longest the engine's thread sleeps between checks of a worker's state while it waits (deaths also wake it). */
const WAIT_MS = 100;

interface Supervisor {
  post(m: unknown): void;
  terminate(): void;
}

/** True where Atomics.wait may block this thread (everywhere but a page's main thread). */
function canBlock(ctl: Int32Array): boolean {
  try {
    Atomics.wait(ctl, W.STOP, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** A pool of threads over one shared WASM memory, running kernel chunks for the engine's thread. */
export class ThreadPool {
  readonly threads: number;
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly blocking: boolean;
  private seq = 0;
  private closed = false;
  /** Each slot's deaths when the current call was posted. */
  private readonly gens: Int32Array;
  /** Messages of workers that died (read for a notice; the control block is what calls rely on). */
  readonly deaths: string[] = [];

  private constructor(
    private readonly supervisor: Supervisor,
    control: SharedArrayBuffer,
    threads: number,
    private readonly report: AssertionReport,
  ) {
    this.threads = threads;
    this.ctl = new Int32Array(control);
    this.args = new Float64Array(control, ARGS_OFFSET);
    this.blocking = canBlock(this.ctl);
    this.gens = new Int32Array(threads);
  }

  /**
   * Starts threads − 1 workers on `module` (its code without data: see wasm_sections.ts) over `memory`, and resolves
   * once every one has instantiated it. Throws ThreadPoolError when workers or shared memory are missing or a worker
   * fails to start.
   */
  static async start(o: {
    /** A `WebAssembly.Module`; named by its shape, as engine.ts's types are, so the declarations need no DOM lib. */
    module: WasmModule;
    /** A shared `WebAssembly.Memory`. */
    memory: WasmMemory;
    threads: number;
    kernels: string[];
    report: AssertionReport;
    timeoutMs?: number;
  }): Promise<ThreadPool> {
    if (!(o.threads >= 2 && o.threads <= MAX_THREADS))
      throw new ThreadPoolError(`threads must be in [2, ${MAX_THREADS}], got ${o.threads}`);
    if (typeof SharedArrayBuffer === "undefined" || !(o.memory.buffer instanceof SharedArrayBuffer)) {
      throw new ThreadPoolError(
        "threads need SharedArrayBuffer and a shared WebAssembly.Memory (in a page: cross-origin isolation)",
      );
    }
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const ctl = new Int32Array(control);
    Atomics.store(ctl, W.KILL, -1);
    Atomics.store(ctl, W.SPIN, WORKER_SPIN_US);
    for (let s = 1; s < o.threads; s++) Atomics.store(ctl, STATE + s, 0);
    Atomics.store(ctl, STATE, ALIVE);
    // the worker script is its own file next to the package's module (dist/lib/pool_worker.js, built from
    // pool_worker.ts alone); run from the TypeScript sources (the tests do), the workers run that built copy. That
    // path is no literal: a bundler would take it for an asset to emit
    const fromSources = "../../dist/lib/pool_worker.js";
    const url = (
      /\.ts$/.test(new URL(import.meta.url).pathname)
        ? new URL(fromSources, import.meta.url)
        : new URL("./pool_worker.js", import.meta.url)
    ).href;
    const init: WorkerInit = {
      role: "supervisor",
      module: o.module as WebAssembly.Module,
      memory: o.memory as WebAssembly.Memory,
      control,
      kernels: o.kernels,
      threads: o.threads,
    };
    let supervisor: Supervisor;
    let listen: (fn: (m: SupervisorMessage) => void, fail: (e: string) => void) => void;
    const isNode =
      typeof process !== "undefined" &&
      typeof process.versions?.node === "string" &&
      typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined";
    try {
      if (isNode) {
        const name = "node:worker_threads";
        const { Worker } = (await import(/* @vite-ignore */ name)) as typeof import("node:worker_threads");
        const w = new Worker(new URL(url));
        supervisor = { post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
        listen = (fn, fail) => {
          w.on("message", fn);
          w.on("error", (e) => fail(`${e.name}: ${e.message}`));
          w.on("exit", (code) => fail(`the supervisor exited with code ${code}`));
          // after the listeners (a 'message' listener refs the port again): the pool never keeps a process alive
          w.unref();
        };
      } else {
        if (typeof Worker === "undefined")
          throw new ThreadPoolError("threads need Web Workers, which this context lacks");
        // the literal form, which bundlers recognize and rewrite along with the worker's file
        const w = new Worker(new URL("./pool_worker.js", import.meta.url), { type: "module" });
        supervisor = { post: (m) => w.postMessage(m), terminate: () => w.terminate() };
        listen = (fn, fail) => {
          w.addEventListener("message", (e) => fn(e.data as SupervisorMessage));
          w.addEventListener("error", (e) => fail(e.message || "the supervisor failed to load"));
        };
      }
    } catch (e) {
      throw e instanceof ThreadPoolError ? e : new ThreadPoolError(`cannot start a worker: ${(e as Error).message}`);
    }
    const pool = new ThreadPool(supervisor, control, o.threads, o.report);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        supervisor.terminate();
        reject(new ThreadPoolError(`thread pool did not start: ${why}`));
      };
      const timer = setTimeout(
        () => fail(`no answer from its workers in ${o.timeoutMs ?? 30_000} ms`),
        o.timeoutMs ?? 30_000,
      );
      listen(
        (m) => {
          if (m.type === "ready" && !settled) {
            settled = true;
            clearTimeout(timer);
            resolve();
          } else if (m.type === "failed") {
            clearTimeout(timer);
            fail(m.message);
          } else if (m.type === "died") pool.deaths.push(`worker ${m.slot}: ${m.message}`);
        },
        (why) => {
          clearTimeout(timer);
          if (!settled) fail(why);
          else pool.closed = true;
        },
      );
      try {
        supervisor.post(init);
      } catch (e) {
        clearTimeout(timer);
        fail(`the module or memory cannot be sent to a worker: ${(e as Error).message}`);
      }
    });
    return pool;
  }

  /** Workers alive now (a dead one is being restarted); the engine's thread is not counted. */
  alive(): number {
    let n = 0;
    for (let s = 1; s < this.threads; s++) if (Atomics.load(this.ctl, STATE + s) === ALIVE) n++;
    return n;
  }

  /** Whether calls may use the pool (false once closed, or when its supervisor is gone). */
  get usable(): boolean {
    return !this.closed;
  }

  /**
   * Runs kernel `k` (index in the pool's kernel list; `fn` is the engine's own instance of it) on each argument list of
   * `chunks`, spread over the threads; returns when every chunk has run. Chunks no worker has claimed by the time the
   * engine's thread finishes its own are run by it, so a call never waits for a worker that is asleep or gone; it
   * waits only for chunks a live worker is running. If a worker dies holding a chunk, the call throws WorkerDiedError
   * once the others have finished (so no thread still writes when the next call starts).
   */
  run(k: number, fn: (...a: number[]) => unknown, chunks: number[][]): void {
    const n = chunks.length;
    if (n > MAX_CHUNKS) throw new ThreadPoolError(`${n} chunks, at most ${MAX_CHUNKS}`);
    const ctl = this.ctl;
    this.seq = this.seq + 1 >= SEQ_LIMIT ? 1 : this.seq + 1;
    const seq = this.seq,
      tag = posted(seq);
    for (let s = 1; s < this.threads; s++) this.gens[s] = Atomics.load(ctl, GEN + s);
    for (let c = 0; c < n; c++) {
      const a = chunks[c]!;
      this.args.set(a, c * MAX_ARGS);
      Atomics.store(ctl, CLAIM + c, tag);
    }
    Atomics.store(ctl, W.KERNEL, k);
    Atomics.store(ctl, W.CHUNKS, n);
    Atomics.store(ctl, W.SEQ, seq);
    Atomics.notify(ctl, W.SEQ);
    let failure: unknown;
    for (let c = 0; c < n; c++) {
      if (Atomics.compareExchange(ctl, CLAIM + c, tag, tag | 1) !== tag) continue;
      if (failure === undefined) {
        try {
          fn(...chunks[c]!);
        } catch (e) {
          failure = e;
        }
      }
      Atomics.store(ctl, CLAIM + c, tag | DONE);
    }
    const dead = this.wait(seq, n);
    const error = this.takeError();
    if (failure !== undefined) throw failure;
    if (error) throw error;
    if (dead !== undefined) {
      throw new WorkerDiedError(
        dead,
        `worker ${dead} died during the call ` +
          "(its part of the outputs is unfinished; the engine goes on with the others)",
      );
    }
  }

  // Waits until every chunk is done or held by a dead worker; returns the slot of such a worker, if any.
  private wait(seq: number, n: number): number | undefined {
    const ctl = this.ctl,
      tag = posted(seq);
    const deadline = performance.now() + CALLER_SPIN_MS;
    for (;;) {
      const progress = Atomics.load(ctl, W.PROGRESS);
      let pending = 0,
        dead: number | undefined;
      for (let c = 0; c < n; c++) {
        const v = Atomics.load(ctl, CLAIM + c);
        if (v === (tag | DONE)) continue;
        // a chunk is pending while its holder is the worker that claimed it: one that died since the call was
        // posted (its slot's death count moved) will never finish it
        const holder = (v & 0xff) - 1;
        if (holder >= 1 && Atomics.load(ctl, GEN + holder) !== this.gens[holder]) dead = holder;
        else pending++;
      }
      if (pending === 0) return dead;
      if (this.blocking && performance.now() > deadline) Atomics.wait(ctl, W.PROGRESS, progress, WAIT_MS);
    }
  }

  private takeError(): Error | undefined {
    const ctl = this.ctl;
    if (Atomics.load(ctl, W.ERROR) === 0) return undefined;
    const kind = Atomics.load(ctl, W.ERR_KIND);
    let e: Error;
    if (kind === 1) {
      e = this.report(
        Atomics.load(ctl, W.ERR_A),
        Atomics.load(ctl, W.ERR_B),
        Atomics.load(ctl, W.ERR_C),
        Atomics.load(ctl, W.ERR_D),
      );
    } else {
      const len = Math.min(TEXT_BYTES, Atomics.load(ctl, W.ERR_LEN));
      const text = new TextDecoder().decode(new Uint8Array(ctl.buffer, TEXT_OFFSET, len).slice());
      const [name, ...rest] = text.split("\n");
      const message = rest.join("\n");
      // a trap in a worker's chunk is the same RuntimeError the single-thread engine would throw
      e =
        name === "RuntimeError"
          ? new WebAssembly.RuntimeError(message)
          : new ThreadPoolError(`a worker's chunk threw ${name}: ${message}`);
    }
    Atomics.store(ctl, W.ERR_KIND, 0);
    Atomics.store(ctl, W.ERROR, 0);
    return e;
  }

  /** Test hook: terminates worker `slot` while it holds a chunk of a later call. */
  terminateDuringNextCall(slot: number): void {
    if (!(slot >= 1 && slot < this.threads))
      throw new ThreadPoolError(`no worker ${slot} (slots 1–${this.threads - 1})`);
    this.supervisor.post({ type: "kill", slot });
  }

  /** Resolves once every worker is alive again (after a restart), or rejects after timeoutMs. */
  async whenAllAlive(timeoutMs = 10_000): Promise<void> {
    const t0 = Date.now();
    while (this.alive() < this.threads - 1) {
      if (Date.now() - t0 > timeoutMs)
        throw new ThreadPoolError(`${this.threads - 1 - this.alive()} workers still not alive after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops every worker. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, W.STOP, 1);
    Atomics.store(this.ctl, W.SEQ, this.seq + 1 >= SEQ_LIMIT ? 1 : this.seq + 1);
    Atomics.notify(this.ctl, W.SEQ);
    this.supervisor.post({ type: "stop" });
    // the supervisor ends its workers; ending it too ends the threads even if it missed the message
    setTimeout(() => this.supervisor.terminate(), 0);
  }
}
