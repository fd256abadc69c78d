import { KernelAssertionError, ThreadPoolError, WasmLoadError, ValidationError, checkInt } from "./errors.js";
import { KERNEL_ARITY, type Kernels } from "./kernels.generated.js";
import { instantiateSync } from "./loader.js";
import { ThreadPool, type PoolOptions } from "./pool.js";
import { importedMemory, withoutData } from "./wasm_sections.js";
import { threadedKernels, type ThresholdOption } from "./work_split.js";

export type { Kernels };

// The WebAssembly and fetch types the public API names, declared by their shape: the declarations then compile
// under lib es2022 alone (no DOM lib, no @types/node), and a real Memory, URL or Response fits them.

/** The parts of a `WebAssembly.Memory` the engine uses. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/**
 * A compiled `WebAssembly.Module`. The standard type has no members to tell it apart, so any object fits here (a
 * number or `undefined` does not); {@link Engine.load} checks it is a module at run time.
 */
export type WasmModule = object;

/** A `URL`, or anything with an absolute `href`. */
export interface WasmUrl {
  readonly href: string;
}

/** A fetch `Response`, as far as reading the module goes. */
export interface WasmResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly url: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Where the module comes from: bytes, a compiled module, a URL or path, or a fetch Response (or its promise). */
export type WasmSource =
  | ArrayBuffer
  | ArrayBufferView
  | WasmModule
  | WasmUrl
  | string
  | WasmResponse
  | PromiseLike<WasmResponse>;

export interface LoadOptions {
  /** Module bytes, compiled module, URL or fetch Response; default: the `.wasm` shipped next to this package. */
  wasm?: WasmSource;
  /** Load the debug build (assertions on, names kept) instead of the release build. */
  debug?: boolean;
  /**
   * Threads the kernels run on, the calling thread included. Default: in Node the cores, at most
   * {@link MAX_DEFAULT_THREADS}; in a page the cores (same cap) when it is cross-origin isolated, else 1 with a
   * one-line notice naming the headers that enable more. 1 is the single-thread engine exactly. Asked for and
   * impossible, it throws a ThreadPoolError; defaulted and impossible, it falls back to 1 with a notice.
   */
  threads?: number;
  /** Work below which a call stays on the calling thread (default: the measured table; 0 splits every call). */
  thresholds?: ThresholdOption;
  /**
   * On one thread, load the relaxed-SIMD build (`presparse.relaxed.wasm`: fused multiply-adds in the blocked forward
   * product, 1.09–1.26× its rate on Node 24) when the runtime validates relaxed SIMD ({@link relaxedSimdSupported}),
   * else the fixed-SIMD build. Default false: its blocked results may differ from the fixed build's in the last bit.
   */
  relaxedSimd?: boolean;
}

/**
 * The cap on the default thread count. The sparse kernels are bound by loads, not arithmetic, so past a few cores
 * a shared memory bus gains little, while every call pays to wake each thread; 4 is where onnxruntime-web caps too
 * (tfjs-wasm at 8), and it leaves cores to a server's other processes. More can always be asked for.
 */
export const MAX_DEFAULT_THREADS = 4;

let noticed = false;
function notice(line: string): void {
  if (noticed) return;
  noticed = true;
  if (isNode()) console.warn(line);
  else console.info(line);
}

/**
 * The default thread count here (see {@link LoadOptions.threads}), with the notice a page gets when isolation is
 * missing.
 */
export async function defaultThreads(): Promise<number> {
  if (isNode()) {
    // node:os as Node hands it over (≥ 20.16; loaded at startup), else imported: see readFileNode
    let os = process.getBuiltinModule?.("node:os");
    if (!os) {
      const name = "node:os";
      os = (await import(/* @vite-ignore */ name)) as typeof import("node:os");
    }
    return Math.max(1, Math.min(MAX_DEFAULT_THREADS, os.availableParallelism?.() ?? os.cpus().length));
  }
  const cores = Math.max(1, Math.min(MAX_DEFAULT_THREADS, globalThis.navigator?.hardwareConcurrency ?? 1));
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true) return cores;
  if (cores > 1) {
    notice(
      `presparse: 1 thread (${cores} with cross-origin isolation: serve the page with ` +
        "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)",
    );
  }
  return 1;
}

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): validates only where fixed SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
// (module (func (result v128) three i8x16.splat of i32.const 0, f32x4.relaxed_madd)): only where relaxed SIMD exists.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65,
  0, 253, 15, 253, 133, 2, 11,
]);
const ALIGN = 16;
const PAGE = 65536;

/** Whether this runtime validates relaxed SIMD (Node ≥ 21, Chrome ≥ 114); Node 20 rejects such a module whole. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * The URL of the relaxed-SIMD release build next to this code. Its name is not a literal `new URL` argument, so
 * bundlers do not emit it for every page: a page that wants it imports `presparse/presparse.relaxed.wasm`'s URL and
 * passes it as `wasm` after checking {@link relaxedSimdSupported}.
 */
export function defaultRelaxedWasmUrl(): URL {
  const name = "./presparse.relaxed.wasm";
  return new URL(name, import.meta.url);
}

function isNode(): boolean {
  return typeof process !== "undefined" && typeof process.versions?.node === "string";
}

/**
 * The URL of the shipped module (release or debug build): the file next to this code, `dist/lib/` in the package
 * (`src/engine/` links to `build/` for the sources). Each build is one literal `new URL("./….wasm",
 * import.meta.url)`, the form Vite, webpack and Parcel find, emit and rewrite; esbuild leaves it as it is, so the
 * module is then looked for next to the bundle.
 */
export function defaultWasmUrl(debug = false): URL {
  try {
    return debug ? new URL("./presparse.debug.wasm", import.meta.url) : new URL("./presparse.wasm", import.meta.url);
  } catch {
    // a classic-script bundle (IIFE, UMD) has no import.meta.url to resolve against
    throw new WasmLoadError(
      "presparse.wasm: this bundle has no import.meta.url to find the module by; pass Engine.load({ wasm: url })",
    );
  }
}

/**
 * Reads a file in Node without a static import of a Node module (this file runs in browsers too). Node ≥ 20.16 hands
 * over `node:fs`, loaded at startup; importing `node:fs/promises` instead costs a cold Node 22 or 24 process about
 * 2 ms more CPU time (the cold-start probe, 30 interleaved runs each).
 */
async function readFileNode(url: URL): Promise<Uint8Array> {
  const fs = process.getBuiltinModule?.("node:fs");
  if (fs) return fs.readFileSync(url);
  const name = "node:fs/promises";
  const { readFile } = (await import(/* @vite-ignore */ name)) as typeof import("node:fs/promises");
  return readFile(url);
}

function isResponse(x: unknown): x is WasmResponse {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as WasmResponse).arrayBuffer === "function" &&
    typeof (x as WasmResponse).ok === "boolean"
  );
}

function isUrl(x: unknown): x is WasmUrl {
  return typeof x === "object" && x !== null && typeof (x as WasmUrl).href === "string";
}

/**
 * The URL of the shipped threaded module (release or debug build: shared, imported memory, the same code), next to
 * the single-thread one and named the same way: one literal `new URL("./….wasm", import.meta.url)` per build. Only
 * {@link Engine.load} with more than one thread reads it.
 */
export function defaultThreadedWasmUrl(debug = false): URL {
  try {
    return debug
      ? new URL("./presparse.threads.debug.wasm", import.meta.url)
      : new URL("./presparse.threads.wasm", import.meta.url);
  } catch {
    throw new WasmLoadError(
      "presparse.threads.wasm: this bundle has no import.meta.url to find the module by; " +
        "pass Engine.load({ wasm: url })",
    );
  }
}

async function readBytes(input: WasmSource): Promise<Uint8Array> {
  const source: unknown = await input;
  if (isResponse(source)) {
    if (!source.ok) throw new WasmLoadError(`presparse.wasm: HTTP ${source.status} from ${source.url || "response"}`);
    return new Uint8Array(await source.arrayBuffer());
  }
  if (typeof source === "string" || isUrl(source)) {
    const url =
      typeof source === "string"
        ? new URL(source, isNode() ? `file://${process.cwd()}/` : globalThis.location?.href)
        : new URL(source.href);
    if (url.protocol === "file:" && isNode()) {
      try {
        return new Uint8Array(await readFileNode(url));
      } catch (e) {
        throw new WasmLoadError(
          `presparse.wasm: cannot read ${url.pathname}: ${(e as Error).message} ` +
            "(was `npm install` run? it builds the module)",
        );
      }
    }
    const res = await fetch(url);
    if (!res.ok) throw new WasmLoadError(`presparse.wasm: HTTP ${res.status} fetching ${url.href}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  throw new WasmLoadError(`presparse.wasm: unsupported source ${Object.prototype.toString.call(source)}`);
}

function checkBytes(bytes: Uint8Array): void {
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new WasmLoadError(
      `presparse.wasm: expected magic word 00 61 73 6d, found ${got || "nothing"} (a 404 page served as WASM?)`,
    );
  }
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new WasmLoadError(
      "presparse.wasm: this runtime lacks WebAssembly fixed-width SIMD " +
        "(Node ≥ 16.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4 have it)",
    );
  }
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>))
    throw new WasmLoadError("presparse.wasm: module does not validate (truncated or corrupted file)");
}

// Every export the generated list names, of the right kind: a stale build fails at load, not with a TypeError
// mid-training. The arity is checked on the instance (an exported function's length is its parameter count).
function checkExports(module: WebAssembly.Module): void {
  const kinds = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  const wanted: [string, WebAssembly.ImportExportKind][] = [
    ["memory", "memory"],
    ...Object.keys(KERNEL_ARITY).map((n): [string, WebAssembly.ImportExportKind] => [n, "function"]),
  ];
  for (const [name, kind] of wanted) {
    const got = kinds.get(name);
    if (got === undefined) {
      throw new WasmLoadError(`presparse.wasm: export ${name} missing (not a presparse module, or a stale build)`);
    }
    if (got !== kind) throw new WasmLoadError(`presparse.wasm: export ${name} is a ${got}, expected a ${kind}`);
  }
}

function checkArity(exports: Record<string, unknown>): void {
  for (const [name, n] of Object.entries(KERNEL_ARITY)) {
    const got = (exports[name] as (...args: number[]) => unknown).length;
    if (got !== n) {
      throw new WasmLoadError(`presparse.wasm: ${name} takes ${got} arguments, expected ${n} (a stale build)`);
    }
  }
}

interface Block {
  ptr: number;
  bytes: number;
}

/** Live-memory counters; `allocations` counts every alloc() ever made, so a steady state shows no growth. */
export interface MemoryStats {
  allocations: number;
  liveBlocks: number;
  liveBytes: number;
  memoryBytes: number;
  grows: number;
}

/**
 * Owns one instance of the kernel module and its linear memory. Long-lived buffers (weights, CSR arrays,
 * optimizer state) and scratch are carved out of memory above the module's heap base by a first-fit
 * allocator with coalescing; memory grows on demand, which detaches old ArrayBuffers, so every typed view
 * is made fresh from `memory.buffer` by {@link f32}/{@link i32} and must not be kept across allocations.
 */
export class Engine {
  readonly kernels: Kernels;
  private readonly memory: WebAssembly.Memory;
  private readonly base: number;
  private top: number;
  private free_: Block[] = [];
  private live = new Map<number, number>();
  private stats_ = { allocations: 0, grows: 0 };
  private disposed = false;

  private threads_ = 1;
  private pool_: ThreadPool | undefined;
  /** Launches the pool of an engine whose threads were defaulted; set until the first call that needs the pool. */
  private launch: (() => void) | undefined;
  /** The threads calls run on once the pool is up (1 after a pool that could not start). */
  private settled: Promise<number> | undefined;

  private constructor(instance: WebAssembly.Instance, memory?: WebAssembly.Memory) {
    const ex = instance.exports as Record<string, unknown>;
    checkArity(ex);
    this.kernels = ex as unknown as Kernels;
    // a module that imports its memory exports it too; the imported one is the one to trust
    this.memory = memory ?? this.kernels.memory;
    this.base = align(this.kernels.heapBase());
    this.top = this.base;
  }

  /**
   * Threads the kernels run on (the calling thread included): 1 for the single-thread engine. With defaulted threads,
   * the threads calls run on once the pool is up ({@link ready}); 1 again if it could not start.
   */
  get threads(): number {
    return this.threads_;
  }

  /**
   * The pool of a threaded engine: undefined on one thread, and with defaulted threads until a call first needs it.
   */
  get pool(): ThreadPool | undefined {
    return this.pool_;
  }

  /**
   * Resolves with the threads calls run on once every worker is up. With defaulted threads, {@link load} does not wait
   * for the pool: it starts when a call's work first passes its kernel's threshold (below it a call runs on the calling
   * thread alone anyway), and calls run on the calling thread until workers are up, then on them too, with the same
   * bits. `ready()` starts it now, for a caller who would rather pay for the start before its work than during it; it
   * resolves with 1, after the notice, if the pool could not start. Threads asked for were waited for by `load`, and
   * one thread has no pool: then it resolves at once.
   */
  async ready(): Promise<number> {
    // a start nobody waits for holds no process open; this one is waited for
    this.poolForWork()?.hold();
    return (await this.settled) ?? this.threads_;
  }

  // The pool a call big enough to split runs on, launched by the first such call; undefined: the call runs here.
  private poolForWork(): ThreadPool | undefined {
    const launch = this.launch;
    this.launch = undefined;
    launch?.();
    return this.pool_;
  }

  // Defaulted threads never cost a working engine: a pool that does not start leaves this one on one thread.
  private fallBack(e: unknown): number {
    this.pool_?.close();
    this.pool_ = undefined;
    this.threads_ = 1;
    if (!this.disposed) notice(`presparse: ${(e as Error).message}; running on 1 thread`);
    return 1;
  }

  /**
   * Loads and instantiates the module (release build by default) on `threads` threads: more than one loads the
   * threaded build (or takes `wasm` as one), puts its memory in a SharedArrayBuffer and starts a worker pool.
   */
  static async load(options: LoadOptions = {}): Promise<Engine> {
    const asked =
      options.threads === undefined ? undefined : checkInt("Engine.load", "threads", options.threads, 1, 64);
    const given = options.wasm;
    if (given instanceof WebAssembly.Module) {
      if ((asked ?? 1) > 1) {
        throw new ThreadPoolError(
          "Engine.load: threads need the module's bytes (workers instantiate its code without its data), " +
            "not a compiled module",
        );
      }
      return Engine.fromModule(given);
    }
    if (given === undefined) {
      const threads = asked ?? (await defaultThreads());
      if (threads > 1) {
        try {
          const bytes = await readBytes(defaultThreadedWasmUrl(options.debug));
          checkBytes(bytes);
          return await Engine.threaded(bytes, threads, options, asked === undefined);
        } catch (e) {
          // defaulted threads never cost a working engine: a pool that cannot start, or a threaded module that is not
          // served next to the single-thread one, leaves one thread and a notice
          if (asked !== undefined || !(e instanceof ThreadPoolError || e instanceof WasmLoadError)) throw e;
          notice(`presparse: ${e.message}; running on 1 thread`);
        }
      }
      const relaxed = options.relaxedSimd === true && !options.debug && relaxedSimdSupported();
      const bytes = await readBytes(relaxed ? defaultRelaxedWasmUrl() : defaultWasmUrl(options.debug));
      checkBytes(bytes);
      return Engine.fromModule(await compile(bytes));
    }
    // bytes, a URL or a response: the module decides whether threads are possible, the options how many
    const bytes = await readBytes(given);
    checkBytes(bytes);
    if (importedMemory(bytes))
      return Engine.threaded(bytes, asked ?? (await defaultThreads()), options, asked === undefined);
    if ((asked ?? 1) > 1)
      throw new ThreadPoolError(
        "Engine.load: the module was built without threads (it does not import a shared memory)",
      );
    return Engine.fromModule(await compile(bytes));
  }

  // The threaded engine: the module instantiated over a shared memory, a pool of threads − 1 workers over it. With
  // defaulted threads the pool is launched by the first call that needs it, and load does not wait for it.
  private static async threaded(
    bytes: Uint8Array,
    threads: number,
    options: LoadOptions,
    defaulted: boolean,
  ): Promise<Engine> {
    const limits = importedMemory(bytes);
    if (!limits?.shared || limits.maximum === undefined) {
      throw new ThreadPoolError("Engine.load: the module imports a memory that is not shared (not a threaded build)");
    }
    if (typeof SharedArrayBuffer === "undefined") {
      throw new ThreadPoolError(
        "Engine.load: SharedArrayBuffer is missing " +
          "(a page must be cross-origin isolated: COOP same-origin, COEP require-corp)",
      );
    }
    // the module is compiled (validated) before the memory its bytes ask for is reserved
    const module = await compile(bytes);
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: limits.initial, maximum: limits.maximum, shared: true });
    } catch (e) {
      throw new ThreadPoolError(
        `Engine.load: cannot make a shared memory of ${limits.maximum} pages at most: ${(e as Error).message}`,
      );
    }
    const engine = Engine.instantiate(module, memory);
    if (threads === 1) return engine;
    const kernels = Object.keys(KERNEL_ARITY);
    const pool = (): PoolOptions => ({
      code: withoutData(bytes),
      memory,
      threads,
      kernels,
      report: (msg, file, line, column) =>
        new KernelAssertionError(engine.readString(msg), engine.readString(file), line, column),
    });
    (engine as { kernels: Kernels }).kernels = threadedKernels(
      engine.kernels,
      threads,
      () => engine.poolForWork(),
      kernels,
      (bytes) => engine.scratch(bytes),
      options.thresholds,
    );
    engine.threads_ = threads;
    if (!defaulted) {
      engine.pool_ = await ThreadPool.start(pool());
      return engine;
    }
    await ThreadPool.prepare();
    engine.launch = () => {
      try {
        const started = ThreadPool.launch(pool());
        engine.pool_ = started;
        engine.settled = started.started.then(
          () => engine.threads_,
          (e: unknown) => (engine.pool_ === started ? engine.fallBack(e) : 1),
        );
      } catch (e) {
        engine.settled = Promise.resolve(engine.fallBack(e));
      }
    };
    return engine;
  }

  /**
   * Instantiates a compiled module synchronously, through AssemblyScript's loader: a failed assertion of the debug
   * build calls `abort` with pointers to its message and file name, which the loader reads out of memory, and the
   * call throws a {@link KernelAssertionError}. The kernels are the instance's own exports (the loader's wrapped
   * copies would add a call to every kernel call).
   */
  static fromModule(module: WasmModule): Engine {
    return Engine.instantiate(module);
  }

  // fromModule, or the threaded build over the shared memory it imports (given by Engine.threaded alone)
  private static instantiate(module: WasmModule, memory?: WebAssembly.Memory): Engine {
    if (!(module instanceof WebAssembly.Module)) {
      throw new WasmLoadError(
        `presparse.wasm: expected a WebAssembly.Module, got ${Object.prototype.toString.call(module)}`,
      );
    }
    checkExports(module);
    const imports = WebAssembly.Module.imports(module);
    if (!memory && imports.some((i) => i.kind === "memory")) {
      throw new WasmLoadError(
        "presparse.wasm: this build imports its memory (the threaded build): load it with Engine.load",
      );
    }
    // abort runs only after instantiation, when the loader's reader of strings in the module's memory exists
    let read = (ptr: number): string => `the string at ${ptr}`;
    const { instance, exports } = instantiateSync(module, {
      env: {
        ...(memory ? { memory } : {}),
        abort(msg: number, file: number, line: number, column: number) {
          throw new KernelAssertionError(read(msg), read(file), line, column);
        },
      },
    });
    read = (ptr) => exports.__getString(ptr);
    const engine = new Engine(instance, memory);
    engine.readString = read;
    return engine;
  }

  private scratch_ = { ptr: 0, bytes: 0 };
  // One block the thread split keeps for kernels whose chunks leave partial results (the cross-entropy's loss terms),
  // reallocated only when a call needs more than any before.
  private scratch(bytes: number): number {
    if (bytes > this.scratch_.bytes) {
      if (this.scratch_.bytes > 0) this.free(this.scratch_.ptr);
      this.scratch_ = { ptr: this.alloc(bytes), bytes };
    }
    return this.scratch_.ptr;
  }

  /** Reads a string the module wrote into memory (an assertion's message), through AssemblyScript's loader. */
  private readString: (ptr: number) => string = (ptr) => `the string at ${ptr}`;

  /** Reserves `bytes` (16-byte aligned) and returns the pointer; the memory is zeroed. */
  alloc(bytes: number): number {
    this.checkLive();
    checkInt("alloc", "bytes", bytes, 0, 2 ** 31);
    const size = Math.max(ALIGN, align(bytes));
    this.stats_.allocations++;
    for (let i = 0; i < this.free_.length; i++) {
      const b = this.free_[i]!;
      if (b.bytes >= size) {
        const ptr = b.ptr;
        if (b.bytes === size) this.free_.splice(i, 1);
        else {
          b.ptr += size;
          b.bytes -= size;
        }
        this.live.set(ptr, size);
        new Uint8Array(this.memory.buffer, ptr, size).fill(0);
        return ptr;
      }
    }
    const ptr = this.top;
    const end = ptr + size;
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil((end - this.memory.buffer.byteLength) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new ValidationError(
          `alloc: cannot grow WASM memory by ${pages} pages to ${end} bytes (4 GiB is the limit)`,
        );
      }
      this.stats_.grows++;
    }
    this.top = end;
    this.live.set(ptr, size);
    // memory above the top may hold a block freed earlier (free() lowers the top), so zero it too
    new Uint8Array(this.memory.buffer, ptr, size).fill(0);
    return ptr;
  }

  /** Returns a block from {@link alloc} to the allocator. */
  free(ptr: number): void {
    if (this.disposed) return;
    const size = this.live.get(ptr);
    if (size === undefined) throw new ValidationError(`free: ${ptr} is not a live allocation`);
    this.live.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      // the block below the top may now touch it
      const last = this.free_[this.free_.length - 1];
      if (last && last.ptr + last.bytes === this.top) {
        this.top = last.ptr;
        this.free_.pop();
      }
      return;
    }
    let i = 0;
    while (i < this.free_.length && this.free_[i]!.ptr < ptr) i++;
    this.free_.splice(i, 0, { ptr, bytes: size });
    const next = this.free_[i + 1];
    if (next && ptr + size === next.ptr) {
      this.free_[i]!.bytes += next.bytes;
      this.free_.splice(i + 1, 1);
    }
    const prev = this.free_[i - 1];
    if (prev && prev.ptr + prev.bytes === ptr) {
      prev.bytes += this.free_[i]!.bytes;
      this.free_.splice(i, 1);
    }
  }

  /** A fresh Float32Array view of n floats at ptr (stale after the next allocation that grows memory). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** A fresh Int32Array view of n ints at ptr. */
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  /** A fresh byte view. */
  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }

  stats(): MemoryStats {
    let liveBytes = 0;
    for (const s of this.live.values()) liveBytes += s;
    return { ...this.stats_, liveBlocks: this.live.size, liveBytes, memoryBytes: this.memory.buffer.byteLength };
  }

  /** Forgets every allocation; the engine may not be used afterwards. */
  dispose(): void {
    this.launch = undefined;
    this.pool_?.close();
    this.live.clear();
    this.free_ = [];
    this.top = this.base;
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkLive(): void {
    if (this.disposed) throw new ValidationError("engine: used after dispose()");
  }
}

async function compile(bytes: Uint8Array): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    const msg = (e as Error).message;
    const csp = /unsafe-eval|Content Security Policy|CSP/i.test(msg);
    throw new WasmLoadError(
      `presparse.wasm: compile failed: ` +
        `${msg}${csp ? " (the page's Content-Security-Policy must allow 'wasm-unsafe-eval')" : ""}`,
    );
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

let shared: Promise<Engine> | undefined;

/** The process-wide engine, loaded once on first use (release build from the shipped file). */
export function defaultEngine(options?: LoadOptions): Promise<Engine> {
  if (!shared)
    shared = Engine.load(options).catch((e) => {
      shared = undefined;
      throw e;
    });
  return shared;
}
