// The engine's side of a thread pool: starts the supervisor (pool_worker.ts), posts each job's chunks into the shared
// control block, runs chunks itself and waits for the ones workers claimed. Calls stay synchronous: the engine's thread
// blocks with Atomics.wait where it may (Node, a Web Worker) and spins where it may not (a page's main thread).
import type { WasmMemory } from "./engine.js";
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

/** The pool's options: the module's code without its data, the shared memory, the threads, the kernels by name. */
export interface PoolOptions {
  /** The module's bytes without its data section (wasm_sections.ts): the supervisor compiles them, off this thread. */
  code: Uint8Array;
  /** A shared `WebAssembly.Memory`, named by its shape as engine.ts's types are (the declarations need no DOM lib). */
  memory: WasmMemory;
  threads: number;
  kernels: string[];
  report: AssertionReport;
  timeoutMs?: number;
}

/** A timer as Node makes it (a browser's is a number, without these). */
interface Timer {
  ref?(): void;
  unref?(): void;
}

type WorkerThreads = typeof import("node:worker_threads");
/** node:worker_threads once imported by ThreadPool.prepare (Node before 20.16). */
let imported: WorkerThreads | undefined;

function isNode(): boolean {
  return (
    typeof process !== "undefined" &&
    typeof process.versions?.node === "string" &&
    typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined"
  );
}

/** node:worker_threads, synchronously, as Node ≥ 20.16 hands it over. */
function workerThreads(): WorkerThreads | undefined {
  return imported ?? (process.getBuiltinModule?.("node:worker_threads") as WorkerThreads | undefined);
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
  /**
   * Settles once every worker is up, or rejects with a ThreadPoolError if they cannot start; it holds no process open
   * unless {@link hold} is called.
   */
  readonly started: Promise<void> = Promise.resolve();
  private timer: Timer | undefined;
  /** Ends the start while it is under way (close() before the workers are up). */
  private abandon: ((why?: string) => void) | undefined;

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
   * Starts threads − 1 workers on `code` (the module's bytes without its data: see wasm_sections.ts) over `memory`, and
   * resolves once every one has instantiated it. Throws ThreadPoolError when workers or shared memory are missing or a
   * worker fails to start.
   */
  static async start(o: PoolOptions): Promise<ThreadPool> {
    await ThreadPool.prepare();
    const pool = ThreadPool.launch(o);
    pool.hold();
    await pool.started;
    return pool;
  }

  /**
   * Makes what {@link launch} needs and cannot get synchronously: Node's `worker_threads` where
   * `process.getBuiltinModule` (Node ≥ 20.16) does not hand it over at once. Nothing elsewhere.
   */
  static async prepare(): Promise<void> {
    // with getBuiltinModule, worker_threads is loaded when a pool launches, not before (a process may never need it)
    if (!isNode() || imported || typeof process.getBuiltinModule === "function") return;
    const name = "node:worker_threads";
    imported = (await import(/* @vite-ignore */ name)) as WorkerThreads;
  }

  /**
   * Starts the pool without waiting for it (after {@link prepare}): the supervisor is created now and starts the
   * workers on its own thread, so they come up while this thread goes on, even inside a long synchronous loop. Calls
   * may use the pool at once; until a worker is alive the calling thread runs every chunk, and each worker joins the
   * calls posted after it came up. {@link started} settles when all are up, or rejects with a ThreadPoolError.
   * The pool keeps no process alive while it starts (its timer and supervisor are unref'd in Node).
   */
  static launch(o: PoolOptions): ThreadPool {
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
      code: o.code,
      memory: o.memory as WebAssembly.Memory,
      control,
      kernels: o.kernels,
      threads: o.threads,
    };
    let supervisor: Supervisor;
    let listen: (fn: (m: SupervisorMessage) => void, fail: (e: string) => void) => void;
    try {
      if (isNode()) {
        const w = new (workerThreads() as WorkerThreads).Worker(new URL(url));
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
    const timeoutMs = o.timeoutMs ?? 30_000;
    const started = new Promise<void>((resolve, reject) => {
      // settles the start once: with no reason when every worker is up
      const end = (why?: string) => {
        if (!pool.abandon) return;
        pool.abandon = pool.timer = undefined;
        clearTimeout(timer);
        if (why === undefined) return resolve();
        pool.closed = true;
        supervisor.terminate();
        reject(new ThreadPoolError(`thread pool did not start: ${why}`));
      };
      pool.abandon = end;
      const timer = setTimeout(() => end(`no answer from its workers in ${timeoutMs} ms`), timeoutMs);
      // a start nobody waits for holds no process open; hold() holds it while someone does
      pool.timer = timer as unknown as Timer;
      pool.timer.unref?.();
      listen(
        (m) => {
          if (m.type === "ready") end();
          else if (m.type === "failed") end(m.message);
          else if (m.type === "died") pool.deaths.push(`worker ${m.slot}: ${m.message}`);
        },
        (why) => {
          if (pool.abandon) end(why);
          else pool.closed = true;
        },
      );
      try {
        supervisor.post(init);
      } catch (e) {
        end(`the module or memory cannot be sent to a worker: ${(e as Error).message}`);
      }
    });
    // whoever cares about a failed start asks for it; the bare promise never counts as unhandled
    started.catch(() => undefined);
    (pool as { started: Promise<void> }).started = started;
    return pool;
  }

  /** In Node, holds the process open until the start settles, as any awaited work does. */
  hold(): void {
    this.timer?.ref?.();
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
      // a longer list (a call with extra arguments) would spill into the next chunk's slots
      if (a.length > MAX_ARGS) throw new ThreadPoolError(`${a.length} arguments, at most ${MAX_ARGS}`);
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
    this.abandon?.("the pool was closed before its workers were up");
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
