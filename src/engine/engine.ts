import { KernelAssertionError, WasmLoadError, ValidationError, checkInt } from "./errors.js";
import { KERNEL_ARITY, type Kernels } from "./kernels.generated.js";
import { instantiateSync } from "./loader.js";

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
}

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): validates only where fixed SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
const ALIGN = 16;
const PAGE = 65536;

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
          `presparse.wasm: cannot read ${url.pathname}: ${(e as Error).message} (was \`npm install\` run? it builds the module)`,
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
      "presparse.wasm: this runtime lacks WebAssembly fixed-width SIMD (Node ≥ 16.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4 have it)",
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

  private constructor(instance: WebAssembly.Instance) {
    const ex = instance.exports as Record<string, unknown>;
    checkArity(ex);
    this.kernels = ex as unknown as Kernels;
    this.memory = this.kernels.memory;
    this.base = align(this.kernels.heapBase());
    this.top = this.base;
  }

  /** Loads and instantiates the module (release build by default). */
  static async load(options: LoadOptions = {}): Promise<Engine> {
    const src = options.wasm ?? defaultWasmUrl(options.debug);
    let module: WebAssembly.Module;
    if (src instanceof WebAssembly.Module) module = src;
    else {
      const bytes = await readBytes(src);
      checkBytes(bytes);
      try {
        module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
      } catch (e) {
        const msg = (e as Error).message;
        const csp = /unsafe-eval|Content Security Policy|CSP/i.test(msg);
        throw new WasmLoadError(
          `presparse.wasm: compile failed: ${msg}${csp ? " (the page's Content-Security-Policy must allow 'wasm-unsafe-eval')" : ""}`,
        );
      }
    }
    return Engine.fromModule(module);
  }

  /**
   * Instantiates a compiled module synchronously, through AssemblyScript's loader: a failed assertion of the debug
   * build calls `abort` with pointers to its message and file name, which the loader reads out of memory, and the
   * call throws a {@link KernelAssertionError}. The kernels are the instance's own exports (the loader's wrapped
   * copies would add a call to every kernel call).
   */
  static fromModule(module: WasmModule): Engine {
    if (!(module instanceof WebAssembly.Module)) {
      throw new WasmLoadError(
        `presparse.wasm: expected a WebAssembly.Module, got ${Object.prototype.toString.call(module)}`,
      );
    }
    checkExports(module);
    // abort runs only after instantiation, when the loader's reader of strings in the module's memory exists
    let read = (ptr: number): string => `the string at ${ptr}`;
    const { instance, exports } = instantiateSync(module, {
      env: {
        abort(msg: number, file: number, line: number, column: number) {
          throw new KernelAssertionError(read(msg), read(file), line, column);
        },
      },
    });
    read = (ptr) => exports.__getString(ptr);
    return new Engine(instance);
  }

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
