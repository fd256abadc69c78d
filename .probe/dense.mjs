// src/engine/errors.ts
var PresparseError = class extends Error {
  name = "PresparseError";
};
var ShapeError = class extends PresparseError {
  name = "ShapeError";
};
var PatternError = class extends PresparseError {
  name = "PatternError";
};
var ValidationError = class extends PresparseError {
  name = "ValidationError";
};
var WasmLoadError = class extends PresparseError {
  name = "WasmLoadError";
};
var KernelAssertionError = class extends PresparseError {
  constructor(assertion, file, line, column) {
    super(`${assertion} (${file}:${line}:${column})`);
    this.assertion = assertion;
    this.file = file;
    this.line = line;
    this.column = column;
  }
  assertion;
  file;
  line;
  column;
  name = "KernelAssertionError";
};
var FormatError = class extends PresparseError {
  constructor(format, field, detail) {
    super(`${format}: ${field}: ${detail}`);
    this.format = format;
    this.field = field;
  }
  format;
  field;
  name = "FormatError";
};
function checkInt(op, name, n, min = 0, max = 2 ** 31 - 1) {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(`${op}: ${name} must be an integer in [${min}, ${max}], got ${String(n)}`);
  }
  return n;
}
var HASH_FORMAT = /^[0-9a-f]{16}$/;
function hashHex(h1, h2) {
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

// src/engine/kernels.generated.ts
var KERNEL_ARITY = {
  heapBase: 0,
  csrSpmm: 9,
  csrSpmmT: 8,
  csrSddmm: 8,
  rowSums: 4,
  denseMatmul: 10,
  denseGradW: 7,
  reluForward: 2,
  reluBackward: 4,
  softmax: 4,
  softmaxCrossEntropy: 5,
  adamStep: 10,
  sgdStep: 7,
  addInPlace: 3,
  scaleInPlace: 3,
  gatherColumns: 6,
  gatherSamples: 5,
  sparseConv2d: 19,
  sparseConv2dBackwardInput: 18,
  sparseConv2dBackwardWeights: 16,
  maxPool2d: 10,
  maxPool2dBackward: 12,
  avgPool2d: 10,
  avgPool2dBackward: 10
};

// node_modules/@assemblyscript/loader/index.js
var ID_OFFSET = -8;
var SIZE_OFFSET = -4;
var ARRAYBUFFER_ID = 1;
var STRING_ID = 2;
var ARRAYBUFFERVIEW = 1 << 0;
var ARRAY = 1 << 1;
var STATICARRAY = 1 << 2;
var VAL_ALIGN_OFFSET = 6;
var VAL_SIGNED = 1 << 11;
var VAL_FLOAT = 1 << 12;
var VAL_MANAGED = 1 << 14;
var ARRAYBUFFERVIEW_BUFFER_OFFSET = 0;
var ARRAYBUFFERVIEW_DATASTART_OFFSET = 4;
var ARRAYBUFFERVIEW_BYTELENGTH_OFFSET = 8;
var ARRAYBUFFERVIEW_SIZE = 12;
var ARRAY_LENGTH_OFFSET = 12;
var ARRAY_SIZE = 16;
var E_NO_EXPORT_TABLE = "Operation requires compiling with --exportTable";
var E_NO_EXPORT_RUNTIME = "Operation requires compiling with --exportRuntime";
var F_NO_EXPORT_RUNTIME = () => {
  throw Error(E_NO_EXPORT_RUNTIME);
};
var BIGINT = typeof BigUint64Array !== "undefined";
var THIS = /* @__PURE__ */ Symbol();
var STRING_SMALLSIZE = 192;
var STRING_CHUNKSIZE = 1024;
var utf16 = new TextDecoder("utf-16le", { fatal: true });
Object.hasOwn = Object.hasOwn || function(obj, prop) {
  return Object.prototype.hasOwnProperty.call(obj, prop);
};
function getStringImpl(buffer, ptr) {
  let len = new Uint32Array(buffer)[ptr + SIZE_OFFSET >>> 2] >>> 1;
  const wtf16 = new Uint16Array(buffer, ptr, len);
  if (len <= STRING_SMALLSIZE) return String.fromCharCode(...wtf16);
  try {
    return utf16.decode(wtf16);
  } catch {
    let str = "", off = 0;
    while (len - off > STRING_CHUNKSIZE) {
      str += String.fromCharCode(...wtf16.subarray(off, off += STRING_CHUNKSIZE));
    }
    return str + String.fromCharCode(...wtf16.subarray(off));
  }
}
function preInstantiate(imports) {
  const extendedExports = {};
  function getString(memory, ptr) {
    if (!memory) return "<yet unknown>";
    return getStringImpl(memory.buffer, ptr);
  }
  const env = imports.env = imports.env || {};
  env.abort = env.abort || function abort(msg, file, line, colm) {
    const memory = extendedExports.memory || env.memory;
    throw Error(`abort: ${getString(memory, msg)} at ${getString(memory, file)}:${line}:${colm}`);
  };
  env.trace = env.trace || function trace(msg, n, ...args) {
    const memory = extendedExports.memory || env.memory;
    console.log(`trace: ${getString(memory, msg)}${n ? " " : ""}${args.slice(0, n).join(", ")}`);
  };
  env.seed = env.seed || Date.now;
  imports.Math = imports.Math || Math;
  imports.Date = imports.Date || Date;
  return extendedExports;
}
function postInstantiate(extendedExports, instance) {
  const exports = instance.exports;
  const memory = exports.memory;
  const table = exports.table;
  const __new = exports.__new || F_NO_EXPORT_RUNTIME;
  const __pin = exports.__pin || F_NO_EXPORT_RUNTIME;
  const __unpin = exports.__unpin || F_NO_EXPORT_RUNTIME;
  const __collect = exports.__collect || F_NO_EXPORT_RUNTIME;
  const __rtti_base = exports.__rtti_base;
  const getTypeinfoCount = __rtti_base ? (arr) => arr[__rtti_base >>> 2] : F_NO_EXPORT_RUNTIME;
  extendedExports.__new = __new;
  extendedExports.__pin = __pin;
  extendedExports.__unpin = __unpin;
  extendedExports.__collect = __collect;
  function getTypeinfo(id) {
    const U32 = new Uint32Array(memory.buffer);
    if ((id >>>= 0) >= getTypeinfoCount(U32)) throw Error(`invalid id: ${id}`);
    return U32[(__rtti_base + 4 >>> 2) + id];
  }
  function getArrayInfo(id) {
    const info = getTypeinfo(id);
    if (!(info & (ARRAYBUFFERVIEW | ARRAY | STATICARRAY))) throw Error(`not an array: ${id}, flags=${info}`);
    return info;
  }
  function getValueAlign(info) {
    return 31 - Math.clz32(info >>> VAL_ALIGN_OFFSET & 31);
  }
  function __newString(str) {
    if (str == null) return 0;
    const length = str.length;
    const ptr = __new(length << 1, STRING_ID);
    const U16 = new Uint16Array(memory.buffer);
    for (let i = 0, p = ptr >>> 1; i < length; ++i) U16[p + i] = str.charCodeAt(i);
    return ptr;
  }
  extendedExports.__newString = __newString;
  function __newArrayBuffer(buf) {
    if (buf == null) return 0;
    const bufview = new Uint8Array(buf);
    const ptr = __new(bufview.length, ARRAYBUFFER_ID);
    const U82 = new Uint8Array(memory.buffer);
    U82.set(bufview, ptr);
    return ptr;
  }
  extendedExports.__newArrayBuffer = __newArrayBuffer;
  function __getString(ptr) {
    if (!ptr) return null;
    const buffer = memory.buffer;
    const id = new Uint32Array(buffer)[ptr + ID_OFFSET >>> 2];
    if (id !== STRING_ID) throw Error(`not a string: ${ptr}`);
    return getStringImpl(buffer, ptr);
  }
  extendedExports.__getString = __getString;
  function getView(alignLog2, signed, float) {
    const buffer = memory.buffer;
    if (float) {
      switch (alignLog2) {
        case 2:
          return new Float32Array(buffer);
        case 3:
          return new Float64Array(buffer);
      }
    } else {
      switch (alignLog2) {
        case 0:
          return new (signed ? Int8Array : Uint8Array)(buffer);
        case 1:
          return new (signed ? Int16Array : Uint16Array)(buffer);
        case 2:
          return new (signed ? Int32Array : Uint32Array)(buffer);
        case 3:
          return new (signed ? BigInt64Array : BigUint64Array)(buffer);
      }
    }
    throw Error(`unsupported align: ${alignLog2}`);
  }
  function __newArray(id, valuesOrCapacity = 0) {
    const input = valuesOrCapacity;
    const info = getArrayInfo(id);
    const align2 = getValueAlign(info);
    const isArrayLike = typeof input !== "number";
    const length = isArrayLike ? input.length : input;
    const buf = __new(length << align2, info & STATICARRAY ? id : ARRAYBUFFER_ID);
    let result;
    if (info & STATICARRAY) {
      result = buf;
    } else {
      __pin(buf);
      const arr = __new(info & ARRAY ? ARRAY_SIZE : ARRAYBUFFERVIEW_SIZE, id);
      __unpin(buf);
      const U32 = new Uint32Array(memory.buffer);
      U32[arr + ARRAYBUFFERVIEW_BUFFER_OFFSET >>> 2] = buf;
      U32[arr + ARRAYBUFFERVIEW_DATASTART_OFFSET >>> 2] = buf;
      U32[arr + ARRAYBUFFERVIEW_BYTELENGTH_OFFSET >>> 2] = length << align2;
      if (info & ARRAY) U32[arr + ARRAY_LENGTH_OFFSET >>> 2] = length;
      result = arr;
    }
    if (isArrayLike) {
      const view = getView(align2, info & VAL_SIGNED, info & VAL_FLOAT);
      const start = buf >>> align2;
      if (info & VAL_MANAGED) {
        for (let i = 0; i < length; ++i) {
          view[start + i] = input[i];
        }
      } else {
        view.set(input, start);
      }
    }
    return result;
  }
  extendedExports.__newArray = __newArray;
  function __getArrayView(arr) {
    const U32 = new Uint32Array(memory.buffer);
    const id = U32[arr + ID_OFFSET >>> 2];
    const info = getArrayInfo(id);
    const align2 = getValueAlign(info);
    let buf = info & STATICARRAY ? arr : U32[arr + ARRAYBUFFERVIEW_DATASTART_OFFSET >>> 2];
    const length = info & ARRAY ? U32[arr + ARRAY_LENGTH_OFFSET >>> 2] : U32[buf + SIZE_OFFSET >>> 2] >>> align2;
    return getView(align2, info & VAL_SIGNED, info & VAL_FLOAT).subarray(buf >>>= align2, buf + length);
  }
  extendedExports.__getArrayView = __getArrayView;
  function __getArray(arr) {
    const input = __getArrayView(arr);
    const len = input.length;
    const out = new Array(len);
    for (let i = 0; i < len; i++) out[i] = input[i];
    return out;
  }
  extendedExports.__getArray = __getArray;
  function __getArrayBuffer(ptr) {
    const buffer = memory.buffer;
    const length = new Uint32Array(buffer)[ptr + SIZE_OFFSET >>> 2];
    return buffer.slice(ptr, ptr + length);
  }
  extendedExports.__getArrayBuffer = __getArrayBuffer;
  function __getFunction(ptr) {
    if (!table) throw Error(E_NO_EXPORT_TABLE);
    const index = new Uint32Array(memory.buffer)[ptr >>> 2];
    return table.get(index);
  }
  extendedExports.__getFunction = __getFunction;
  function getTypedArray(Type, alignLog2, ptr) {
    return new Type(getTypedArrayView(Type, alignLog2, ptr));
  }
  function getTypedArrayView(Type, alignLog2, ptr) {
    const buffer = memory.buffer;
    const U32 = new Uint32Array(buffer);
    return new Type(
      buffer,
      U32[ptr + ARRAYBUFFERVIEW_DATASTART_OFFSET >>> 2],
      U32[ptr + ARRAYBUFFERVIEW_BYTELENGTH_OFFSET >>> 2] >>> alignLog2
    );
  }
  function attachTypedArrayFunctions(ctor, name, align2) {
    extendedExports[`__get${name}`] = getTypedArray.bind(null, ctor, align2);
    extendedExports[`__get${name}View`] = getTypedArrayView.bind(null, ctor, align2);
  }
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array
  ].forEach((ctor) => {
    attachTypedArrayFunctions(ctor, ctor.name, 31 - Math.clz32(ctor.BYTES_PER_ELEMENT));
  });
  if (BIGINT) {
    [BigUint64Array, BigInt64Array].forEach((ctor) => {
      attachTypedArrayFunctions(ctor, ctor.name.slice(3), 3);
    });
  }
  extendedExports.memory = extendedExports.memory || memory;
  extendedExports.table = extendedExports.table || table;
  return demangle(exports, extendedExports);
}
function isModule(src) {
  return src instanceof WebAssembly.Module;
}
function instantiateSync(source, imports = {}) {
  const module = isModule(source) ? source : new WebAssembly.Module(source);
  const extended = preInstantiate(imports);
  const instance = new WebAssembly.Instance(module, imports);
  const exports = postInstantiate(extended, instance);
  return { module, instance, exports };
}
function demangle(exports, extendedExports = {}) {
  const setArgumentsLength = exports["__argumentsLength"] ? (length) => {
    exports["__argumentsLength"].value = length;
  } : exports["__setArgumentsLength"] || exports["__setargc"] || (() => {
  });
  for (let internalName of Object.keys(exports)) {
    const elem = exports[internalName];
    let parts = internalName.split(".");
    let curr = extendedExports;
    while (parts.length > 1) {
      let part = parts.shift();
      if (!Object.hasOwn(curr, part)) curr[part] = {};
      curr = curr[part];
    }
    let name = parts[0];
    let hash = name.indexOf("#");
    if (hash >= 0) {
      const className = name.substring(0, hash);
      const classElem = curr[className];
      if (typeof classElem === "undefined" || !classElem.prototype) {
        const ctor = function(...args) {
          return ctor.wrap(ctor.prototype.constructor(0, ...args));
        };
        ctor.prototype = {
          valueOf() {
            return this[THIS];
          }
        };
        ctor.wrap = function(thisValue) {
          return Object.create(ctor.prototype, { [THIS]: { value: thisValue, writable: false } });
        };
        if (classElem) Object.getOwnPropertyNames(classElem).forEach(
          (name2) => Object.defineProperty(ctor, name2, Object.getOwnPropertyDescriptor(classElem, name2))
        );
        curr[className] = ctor;
      }
      name = name.substring(hash + 1);
      curr = curr[className].prototype;
      if (/^(get|set):/.test(name)) {
        if (!Object.hasOwn(curr, name = name.substring(4))) {
          let getter = exports[internalName.replace("set:", "get:")];
          let setter = exports[internalName.replace("get:", "set:")];
          Object.defineProperty(curr, name, {
            get() {
              return getter(this[THIS]);
            },
            set(value) {
              setter(this[THIS], value);
            },
            enumerable: true
          });
        }
      } else {
        if (name === "constructor") {
          (curr[name] = function(...args) {
            setArgumentsLength(args.length);
            return elem(...args);
          }).original = elem;
        } else {
          (curr[name] = function(...args) {
            setArgumentsLength(args.length);
            return elem(this[THIS], ...args);
          }).original = elem;
        }
      }
    } else {
      if (/^(get|set):/.test(name)) {
        if (!Object.hasOwn(curr, name = name.substring(4))) {
          Object.defineProperty(curr, name, {
            get: exports[internalName.replace("set:", "get:")],
            set: exports[internalName.replace("get:", "set:")],
            enumerable: true
          });
        }
      } else if (typeof elem === "function" && elem !== setArgumentsLength) {
        (curr[name] = (...args) => {
          setArgumentsLength(args.length);
          return elem(...args);
        }).original = elem;
      } else {
        curr[name] = elem;
      }
    }
  }
  return extendedExports;
}

// src/engine/engine.ts
var SIMD_PROBE = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  5,
  1,
  96,
  0,
  1,
  123,
  3,
  2,
  1,
  0,
  10,
  10,
  1,
  8,
  0,
  65,
  0,
  253,
  15,
  253,
  98,
  11
]);
var ALIGN = 16;
var PAGE = 65536;
function isNode() {
  return typeof process !== "undefined" && typeof process.versions?.node === "string";
}
function defaultWasmUrl(debug = false) {
  try {
    return debug ? new URL("./presparse.debug.wasm", import.meta.url) : new URL("./presparse.wasm", import.meta.url);
  } catch {
    throw new WasmLoadError(
      "presparse.wasm: this bundle has no import.meta.url to find the module by; pass Engine.load({ wasm: url })"
    );
  }
}
async function readFileNode(url) {
  const fs = process.getBuiltinModule?.("node:fs");
  if (fs) return fs.readFileSync(url);
  const name = "node:fs/promises";
  const { readFile } = await import(
    /* @vite-ignore */
    name
  );
  return readFile(url);
}
function isResponse(x) {
  return typeof x === "object" && x !== null && typeof x.arrayBuffer === "function" && typeof x.ok === "boolean";
}
function isUrl(x) {
  return typeof x === "object" && x !== null && typeof x.href === "string";
}
async function readBytes(input) {
  const source = await input;
  if (isResponse(source)) {
    if (!source.ok) throw new WasmLoadError(`presparse.wasm: HTTP ${source.status} from ${source.url || "response"}`);
    return new Uint8Array(await source.arrayBuffer());
  }
  if (typeof source === "string" || isUrl(source)) {
    const url = typeof source === "string" ? new URL(source, isNode() ? `file://${process.cwd()}/` : globalThis.location?.href) : new URL(source.href);
    if (url.protocol === "file:" && isNode()) {
      try {
        return new Uint8Array(await readFileNode(url));
      } catch (e) {
        throw new WasmLoadError(
          `presparse.wasm: cannot read ${url.pathname}: ${e.message} (was \`npm install\` run? it builds the module)`
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
function checkBytes(bytes) {
  const magic = [0, 97, 115, 109];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new WasmLoadError(
      `presparse.wasm: expected magic word 00 61 73 6d, found ${got || "nothing"} (a 404 page served as WASM?)`
    );
  }
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new WasmLoadError(
      "presparse.wasm: this runtime lacks WebAssembly fixed-width SIMD (Node \u2265 16.4, Chrome \u2265 91, Firefox \u2265 89, Safari \u2265 16.4 have it)"
    );
  }
  if (!WebAssembly.validate(bytes))
    throw new WasmLoadError("presparse.wasm: module does not validate (truncated or corrupted file)");
}
function checkExports(module) {
  const kinds = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  const wanted = [
    ["memory", "memory"],
    ...Object.keys(KERNEL_ARITY).map((n) => [n, "function"])
  ];
  for (const [name, kind] of wanted) {
    const got = kinds.get(name);
    if (got === void 0) {
      throw new WasmLoadError(`presparse.wasm: export ${name} missing (not a presparse module, or a stale build)`);
    }
    if (got !== kind) throw new WasmLoadError(`presparse.wasm: export ${name} is a ${got}, expected a ${kind}`);
  }
}
function checkArity(exports) {
  for (const [name, n] of Object.entries(KERNEL_ARITY)) {
    const got = exports[name].length;
    if (got !== n) {
      throw new WasmLoadError(`presparse.wasm: ${name} takes ${got} arguments, expected ${n} (a stale build)`);
    }
  }
}
var Engine = class _Engine {
  kernels;
  memory;
  base;
  top;
  free_ = [];
  live = /* @__PURE__ */ new Map();
  stats_ = { allocations: 0, grows: 0 };
  disposed = false;
  constructor(instance) {
    const ex = instance.exports;
    checkArity(ex);
    this.kernels = ex;
    this.memory = this.kernels.memory;
    this.base = align(this.kernels.heapBase());
    this.top = this.base;
  }
  /** Loads and instantiates the module (release build by default). */
  static async load(options = {}) {
    const src = options.wasm ?? defaultWasmUrl(options.debug);
    let module;
    if (src instanceof WebAssembly.Module) module = src;
    else {
      const bytes = await readBytes(src);
      checkBytes(bytes);
      try {
        module = await WebAssembly.compile(bytes);
      } catch (e) {
        const msg = e.message;
        const csp = /unsafe-eval|Content Security Policy|CSP/i.test(msg);
        throw new WasmLoadError(
          `presparse.wasm: compile failed: ${msg}${csp ? " (the page's Content-Security-Policy must allow 'wasm-unsafe-eval')" : ""}`
        );
      }
    }
    return _Engine.fromModule(module);
  }
  /**
   * Instantiates a compiled module synchronously, through AssemblyScript's loader: a failed assertion of the debug
   * build calls `abort` with pointers to its message and file name, which the loader reads out of memory, and the
   * call throws a {@link KernelAssertionError}. The kernels are the instance's own exports (the loader's wrapped
   * copies would add a call to every kernel call).
   */
  static fromModule(module) {
    if (!(module instanceof WebAssembly.Module)) {
      throw new WasmLoadError(
        `presparse.wasm: expected a WebAssembly.Module, got ${Object.prototype.toString.call(module)}`
      );
    }
    checkExports(module);
    let read = (ptr) => `the string at ${ptr}`;
    const { instance, exports } = instantiateSync(module, {
      env: {
        abort(msg, file, line, column) {
          throw new KernelAssertionError(read(msg), read(file), line, column);
        }
      }
    });
    read = (ptr) => exports.__getString(ptr);
    return new _Engine(instance);
  }
  /** Reserves `bytes` (16-byte aligned) and returns the pointer; the memory is zeroed. */
  alloc(bytes) {
    this.checkLive();
    checkInt("alloc", "bytes", bytes, 0, 2 ** 31);
    const size = Math.max(ALIGN, align(bytes));
    this.stats_.allocations++;
    for (let i = 0; i < this.free_.length; i++) {
      const b = this.free_[i];
      if (b.bytes >= size) {
        const ptr2 = b.ptr;
        if (b.bytes === size) this.free_.splice(i, 1);
        else {
          b.ptr += size;
          b.bytes -= size;
        }
        this.live.set(ptr2, size);
        new Uint8Array(this.memory.buffer, ptr2, size).fill(0);
        return ptr2;
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
          `alloc: cannot grow WASM memory by ${pages} pages to ${end} bytes (4 GiB is the limit)`
        );
      }
      this.stats_.grows++;
    }
    this.top = end;
    this.live.set(ptr, size);
    new Uint8Array(this.memory.buffer, ptr, size).fill(0);
    return ptr;
  }
  /** Returns a block from {@link alloc} to the allocator. */
  free(ptr) {
    if (this.disposed) return;
    const size = this.live.get(ptr);
    if (size === void 0) throw new ValidationError(`free: ${ptr} is not a live allocation`);
    this.live.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      const last = this.free_[this.free_.length - 1];
      if (last && last.ptr + last.bytes === this.top) {
        this.top = last.ptr;
        this.free_.pop();
      }
      return;
    }
    let i = 0;
    while (i < this.free_.length && this.free_[i].ptr < ptr) i++;
    this.free_.splice(i, 0, { ptr, bytes: size });
    const next = this.free_[i + 1];
    if (next && ptr + size === next.ptr) {
      this.free_[i].bytes += next.bytes;
      this.free_.splice(i + 1, 1);
    }
    const prev = this.free_[i - 1];
    if (prev && prev.ptr + prev.bytes === ptr) {
      prev.bytes += this.free_[i].bytes;
      this.free_.splice(i, 1);
    }
  }
  /** A fresh Float32Array view of n floats at ptr (stale after the next allocation that grows memory). */
  f32(ptr, n) {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  /** A fresh Int32Array view of n ints at ptr. */
  i32(ptr, n) {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
  /** A fresh byte view. */
  u8(ptr, n) {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
  stats() {
    let liveBytes = 0;
    for (const s of this.live.values()) liveBytes += s;
    return { ...this.stats_, liveBlocks: this.live.size, liveBytes, memoryBytes: this.memory.buffer.byteLength };
  }
  /** Forgets every allocation; the engine may not be used afterwards. */
  dispose() {
    this.live.clear();
    this.free_ = [];
    this.top = this.base;
    this.disposed = true;
  }
  get isDisposed() {
    return this.disposed;
  }
  checkLive() {
    if (this.disposed) throw new ValidationError("engine: used after dispose()");
  }
};
function align(n) {
  return Math.ceil(n / ALIGN) * ALIGN;
}

// src/engine/buffers.ts
function checkOperands(op, first, ...rest) {
  const engine2 = first.engine;
  if (engine2.isDisposed) throw new ValidationError(`${op}: the engine was disposed`);
  if (first.disposed) throw new ValidationError(`${op}: an operand was disposed`);
  for (const x of rest) {
    if (x === void 0) continue;
    if (x.engine !== engine2) throw new ShapeError(`${op}: operands live in different engines`);
    if (x.disposed) throw new ValidationError(`${op}: an operand was disposed`);
  }
}
var WasmBuffer = class {
  constructor(engine2, length) {
    this.engine = engine2;
    this.length = length;
    checkInt(this.label, "length", length);
    this.ptr = engine2.alloc(length * 4);
  }
  engine;
  length;
  ptr;
  alive = true;
  /** A buffer holding a copy of `data`. */
  static from(engine2, data) {
    const b = new this(engine2, data.length);
    b.view().set(data);
    return b;
  }
  /** The class name for messages, spelled out (a minifier renames constructor.name); read in the constructor. */
  get label() {
    return "WasmBuffer";
  }
  /** A copy out of WASM memory. */
  toArray() {
    return this.view().slice();
  }
  /** True after dispose(): the block may belong to another buffer by now. */
  get disposed() {
    return !this.alive;
  }
  dispose() {
    if (this.alive) this.engine.free(this.ptr);
    this.alive = false;
  }
};
var F32Buffer = class extends WasmBuffer {
  get label() {
    return "F32Buffer";
  }
  view() {
    return this.engine.f32(this.ptr, this.length);
  }
};
var I32Buffer = class extends WasmBuffer {
  get label() {
    return "I32Buffer";
  }
  view() {
    return this.engine.i32(this.ptr, this.length);
  }
};
var Matrix = class _Matrix {
  constructor(engine2, rows, cols) {
    this.engine = engine2;
    this.rows = rows;
    checkInt("Matrix", "rows", rows);
    checkInt("Matrix", "cols", cols);
    this.capacity = rows * cols;
    this.cols_ = cols;
    this.ptr_ = engine2.alloc(this.capacity * 4);
  }
  engine;
  rows;
  ptr_;
  capacity;
  cols_;
  /** A matrix holding a copy of `data` (row-major [rows, cols]). */
  static from(engine2, rows, cols, data) {
    if (data.length !== rows * cols)
      throw new ShapeError(`Matrix.from: expected ${rows}\xD7${cols} = ${rows * cols} values, got ${data.length}`);
    const m = new _Matrix(engine2, rows, cols);
    m.view().set(data);
    return m;
  }
  /** A feature-major [features, n] matrix from n samples stored one after another (sample-major, as datasets hold them). */
  static fromSamples(engine2, features, samples) {
    checkInt("Matrix.fromSamples", "features", features, 1);
    if (samples.length % features !== 0 || samples.length === 0) {
      throw new ShapeError(
        `Matrix.fromSamples: ${samples.length} values are not a whole number (\u2265 1) of ${features}-feature samples`
      );
    }
    const n = samples.length / features;
    const m = new _Matrix(engine2, features, n);
    const d = m.view();
    for (let b = 0; b < n; b++) for (let f = 0; f < features; f++) d[f * n + b] = samples[b * features + f];
    return m;
  }
  get ptr() {
    return this.ptr_;
  }
  get cols() {
    return this.cols_;
  }
  get size() {
    return this.rows * this.cols_;
  }
  /** Sets the batch size; contents are undefined afterwards. Reallocates only past the capacity. */
  reshape(cols) {
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
  view() {
    return this.engine.f32(this.ptr_, this.rows * this.cols_);
  }
  toArray() {
    return this.view().slice();
  }
  /** True after dispose(). */
  get disposed() {
    return this.ptr_ < 0;
  }
  dispose() {
    if (this.ptr_ >= 0) this.engine.free(this.ptr_);
    this.ptr_ = -1;
  }
};

// src/ops/elementwise.ts
function addInPlace(Y, X) {
  checkOperands("addInPlace", Y, X);
  if (Y.rows !== X.rows || Y.cols !== X.cols)
    throw new ShapeError(`addInPlace: Y is ${Y.rows}\xD7${Y.cols}, X is ${X.rows}\xD7${X.cols}`);
  Y.engine.kernels.addInPlace(Y.size, Y.ptr, X.ptr);
  return Y;
}
function scaleInPlace(X, s) {
  checkOperands("scaleInPlace", X);
  X.engine.kernels.scaleInPlace(X.size, X.ptr, s);
  return X;
}
function gatherColumns(Src, cols, n, Dst) {
  checkOperands("gatherColumns", Src, cols, Dst);
  if (Dst === Src) throw new ValidationError("gatherColumns: Dst must not be Src");
  if (Dst.rows !== Src.rows) throw new ShapeError(`gatherColumns: Dst has ${Dst.rows} rows, Src has ${Src.rows}`);
  if (n > cols.length) throw new ShapeError(`gatherColumns: ${n} columns requested, index buffer holds ${cols.length}`);
  const c = cols.view();
  for (let j = 0; j < n; j++)
    if (!(c[j] >= 0 && c[j] < Src.cols))
      throw new ValidationError(`gatherColumns: column ${c[j]} outside [0, ${Src.cols})`);
  Dst.reshape(n);
  Src.engine.kernels.gatherColumns(Src.rows, Src.cols, Src.ptr, cols.ptr, n, Dst.ptr);
  return Dst;
}

// src/engine/scope.ts
var Scope = class {
  constructor(engine2) {
    this.engine = engine2;
  }
  engine;
  owned = [];
  keep(x) {
    this.owned.push(x);
    return x;
  }
  matrix(rows, cols, data) {
    return this.keep(data ? Matrix.from(this.engine, rows, cols, data) : new Matrix(this.engine, rows, cols));
  }
  f32(data) {
    return this.keep(typeof data === "number" ? new F32Buffer(this.engine, data) : F32Buffer.from(this.engine, data));
  }
  i32(data) {
    return this.keep(typeof data === "number" ? new I32Buffer(this.engine, data) : I32Buffer.from(this.engine, data));
  }
  dispose() {
    for (const x of this.owned.splice(0).reverse()) x.dispose();
  }
  /** Runs fn with a fresh scope (of the class it is called on) and frees it afterwards, whatever happens. */
  static run(engine2, fn) {
    const s = new this(engine2);
    try {
      return fn(s);
    } finally {
      s.dispose();
    }
  }
};
function buildOrRollBack(engine2, build) {
  const s = new Scope(engine2);
  try {
    return build(s);
  } catch (e) {
    s.dispose();
    throw e;
  }
}

// src/ops/csr_spmm.ts
var CsrWeights = class {
  constructor(engine2, pattern, values) {
    this.engine = engine2;
    this.pattern = pattern;
    if (values && values.length !== pattern.nnz)
      throw new ShapeError(`CsrWeights: ${values.length} values for a pattern with nnz = ${pattern.nnz}`);
    this.rowPtr = I32Buffer.from(engine2, pattern.rowPtr);
    this.colIdx = I32Buffer.from(engine2, pattern.colIdx);
    this.colPtr = I32Buffer.from(engine2, pattern.colPtr);
    this.rowIdx = I32Buffer.from(engine2, pattern.rowIdx);
    this.perm = I32Buffer.from(engine2, pattern.perm);
    this.values = new F32Buffer(engine2, pattern.nnz);
    if (values) this.values.view().set(values);
  }
  engine;
  pattern;
  rowPtr;
  colIdx;
  colPtr;
  rowIdx;
  perm;
  values;
  get inputs() {
    return this.pattern.inputs;
  }
  get outputs() {
    return this.pattern.outputs;
  }
  /** True after dispose(). */
  get disposed() {
    return this.values.disposed;
  }
  dispose() {
    for (const b of [this.rowPtr, this.colIdx, this.colPtr, this.rowIdx, this.perm, this.values]) b.dispose();
  }
};
function csrSpmm(A, X, Y, opts = {}) {
  const op = "csrSpmm";
  checkOperands(op, A, X, Y, opts.bias);
  if (X.rows !== A.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, A has ${A.inputs} columns`);
  if (Y.rows !== A.outputs) throw new ShapeError(`${op}: Y has ${Y.rows} rows, A has ${A.outputs} rows`);
  if (Y.cols !== X.cols) throw new ShapeError(`${op}: Y has ${Y.cols} columns (batch), X has ${X.cols}`);
  if (opts.bias && opts.bias.length !== A.outputs)
    throw new ShapeError(`${op}: bias has ${opts.bias.length} entries, A has ${A.outputs} rows`);
  A.engine.kernels.csrSpmm(
    A.outputs,
    X.cols,
    A.rowPtr.ptr,
    A.colIdx.ptr,
    A.values.ptr,
    X.ptr,
    opts.bias?.ptr ?? 0,
    Y.ptr,
    opts.relu ? 1 : 0
  );
  return Y;
}
function csrSpmmBackward(A, dY, dX) {
  const op = "csrSpmmBackward";
  checkOperands(op, A, dY, dX);
  if (dY.rows !== A.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, A has ${A.outputs} rows`);
  if (dX.rows !== A.inputs) throw new ShapeError(`${op}: dX has ${dX.rows} rows, A has ${A.inputs} columns`);
  if (dX.cols !== dY.cols) throw new ShapeError(`${op}: dX has ${dX.cols} columns (batch), dY has ${dY.cols}`);
  A.engine.kernels.csrSpmmT(A.inputs, dY.cols, A.colPtr.ptr, A.rowIdx.ptr, A.perm.ptr, A.values.ptr, dY.ptr, dX.ptr);
  return dX;
}
function csrSpmmBackwardWeights(A, dY, X, dValues, dBias) {
  const op = "csrSpmmBackwardWeights";
  checkOperands(op, A, dY, X, dValues, dBias);
  if (dY.rows !== A.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, A has ${A.outputs} rows`);
  if (X.rows !== A.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, A has ${A.inputs} columns`);
  if (X.cols !== dY.cols) throw new ShapeError(`${op}: X has ${X.cols} columns (batch), dY has ${dY.cols}`);
  if (dValues.length !== A.pattern.nnz)
    throw new ShapeError(`${op}: dValues has ${dValues.length} entries, A has nnz = ${A.pattern.nnz}`);
  if (dBias && dBias.length !== A.outputs)
    throw new ShapeError(`${op}: dBias has ${dBias.length} entries, A has ${A.outputs} rows`);
  A.engine.kernels.csrSddmm(A.outputs, X.cols, A.rowPtr.ptr, A.colIdx.ptr, dY.ptr, X.ptr, dValues.ptr, dBias?.ptr ?? 0);
  return dValues;
}

// src/ops/dense_matmul.ts
function check(op, W, ...operands) {
  if (W.values.engine !== W.engine) throw new ShapeError(`${op}: W's values live in another engine`);
  checkOperands(op, W.values, ...operands);
  checkInt(op, "outputs", W.outputs);
  checkInt(op, "inputs", W.inputs);
  if (W.values.length !== W.outputs * W.inputs)
    throw new ShapeError(`${op}: W has ${W.values.length} values, expected ${W.outputs}\xD7${W.inputs}`);
}
function denseMatmul(W, X, Y, opts = {}) {
  const op = "denseMatmul";
  check(op, W, X, Y, opts.bias);
  if (X.rows !== W.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, W has ${W.inputs} columns`);
  if (Y.rows !== W.outputs) throw new ShapeError(`${op}: Y has ${Y.rows} rows, W has ${W.outputs} rows`);
  if (Y.cols !== X.cols) throw new ShapeError(`${op}: Y has ${Y.cols} columns (batch), X has ${X.cols}`);
  if (opts.bias && opts.bias.length !== W.outputs)
    throw new ShapeError(`${op}: bias has ${opts.bias.length} entries, W has ${W.outputs} rows`);
  W.engine.kernels.denseMatmul(
    W.outputs,
    W.inputs,
    X.cols,
    W.values.ptr,
    W.inputs,
    1,
    X.ptr,
    opts.bias?.ptr ?? 0,
    Y.ptr,
    opts.relu ? 1 : 0
  );
  return Y;
}
function denseMatmulBackward(W, dY, dX) {
  const op = "denseMatmulBackward";
  check(op, W, dY, dX);
  if (dY.rows !== W.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, W has ${W.outputs} rows`);
  if (dX.rows !== W.inputs) throw new ShapeError(`${op}: dX has ${dX.rows} rows, W has ${W.inputs} columns`);
  if (dX.cols !== dY.cols) throw new ShapeError(`${op}: dX has ${dX.cols} columns (batch), dY has ${dY.cols}`);
  W.engine.kernels.denseMatmul(W.inputs, W.outputs, dY.cols, W.values.ptr, 1, W.inputs, dY.ptr, 0, dX.ptr, 0);
  return dX;
}
function denseMatmulBackwardWeights(W, dY, X, dW, dBias) {
  const op = "denseMatmulBackwardWeights";
  check(op, W, dY, X, dW, dBias);
  if (dY.rows !== W.outputs) throw new ShapeError(`${op}: dY has ${dY.rows} rows, W has ${W.outputs} rows`);
  if (X.rows !== W.inputs) throw new ShapeError(`${op}: X has ${X.rows} rows, W has ${W.inputs} columns`);
  if (X.cols !== dY.cols) throw new ShapeError(`${op}: X has ${X.cols} columns (batch), dY has ${dY.cols}`);
  if (dW.length !== W.outputs * W.inputs)
    throw new ShapeError(`${op}: dW has ${dW.length} entries, expected ${W.outputs}\xD7${W.inputs}`);
  if (dBias && dBias.length !== W.outputs)
    throw new ShapeError(`${op}: dBias has ${dBias.length} entries, W has ${W.outputs} rows`);
  W.engine.kernels.denseGradW(W.outputs, W.inputs, X.cols, dY.ptr, X.ptr, dW.ptr, dBias?.ptr ?? 0);
  return dW;
}

// src/ops/activations.ts
function reluBackward(Y, dY, dX) {
  checkOperands("reluBackward", Y, dY, dX);
  for (const [n, m] of [
    ["dY", dY],
    ["dX", dX]
  ]) {
    if (m.rows !== Y.rows || m.cols !== Y.cols)
      throw new ShapeError(`reluBackward: ${n} is ${m.rows}\xD7${m.cols}, Y is ${Y.rows}\xD7${Y.cols}`);
  }
  Y.engine.kernels.reluBackward(Y.size, Y.ptr, dY.ptr, dX.ptr);
  return dX;
}

// src/engine/random.ts
var Rng = class {
  s0;
  s1;
  s2;
  s3;
  spare;
  constructor(seed) {
    let x = seed >>> 0;
    const next = () => {
      x = x + 2654435769 | 0;
      let z = x;
      z = Math.imul(z ^ z >>> 16, 2246822507);
      z = Math.imul(z ^ z >>> 13, 3266489909);
      return (z ^ z >>> 16) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32() {
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const m = Math.imul(s1, 5);
    const r = Math.imul(m << 7 | m >>> 25, 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = s3 << 11 | s3 >>> 21;
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    return r;
  }
  /** Uniform in [0, 1) with 32 bits of resolution. */
  next() {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n) {
    return Math.floor(this.nextU32() / 4294967296 * n);
  }
  /** Standard normal (Box–Muller). */
  normal() {
    if (this.spare !== void 0) {
      const s = this.spare;
      this.spare = void 0;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Fisher–Yates shuffle in place. */
  shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
};

// src/nn/layers/sparse_linear.ts
var SparseLinear = class _SparseLinear {
  constructor(engine2, pattern, opts = {}) {
    this.engine = engine2;
    this.pattern = pattern;
    this.activation = opts.activation ?? "relu";
    if (this.activation !== "relu" && this.activation !== "linear")
      throw new ValidationError(`SparseLinear: activation must be relu or linear, got ${String(this.activation)}`);
    if (opts.bias && opts.bias.length !== pattern.outputs)
      throw new ShapeError(`SparseLinear: bias has ${opts.bias.length} entries, layer has ${pattern.outputs} outputs`);
    const values = opts.values ?? heNormal(pattern, opts.seed ?? 0);
    this.weights = new CsrWeights(engine2, pattern, values);
    this.bias = F32Buffer.from(engine2, opts.bias ?? new Float32Array(pattern.outputs).fill(opts.biasInit ?? 0.1));
    this.dValues = new F32Buffer(engine2, pattern.nnz);
    this.dBias = new F32Buffer(engine2, pattern.outputs);
    this.dense = pattern.nnz === pattern.inputs * pattern.outputs;
    this.Y = new Matrix(engine2, pattern.outputs, 1);
  }
  engine;
  pattern;
  kind = "linear";
  weights;
  bias;
  activation;
  dValues;
  dBias;
  dense;
  Y;
  dZ;
  dX;
  X;
  get inputSize() {
    return this.pattern.inputs;
  }
  get outputSize() {
    return this.pattern.outputs;
  }
  forward(X) {
    if (X.rows !== this.inputSize)
      throw new ShapeError(`SparseLinear.forward: X has ${X.rows} rows, layer has ${this.inputSize} inputs`);
    this.X = X;
    const Y = this.Y.reshape(X.cols);
    const opts = { bias: this.bias, relu: this.activation === "relu" };
    if (this.dense) denseMatmul(this.denseView(), X, Y, opts);
    else csrSpmm(this.weights, X, Y, opts);
    return Y;
  }
  backward(dY, needDx) {
    const X = this.X;
    if (!X) throw new ValidationError("SparseLinear.backward: called before forward");
    if (dY.rows !== this.outputSize || dY.cols !== X.cols)
      throw new ShapeError(`SparseLinear.backward: dY is ${dY.rows}\xD7${dY.cols}, expected ${this.outputSize}\xD7${X.cols}`);
    let dZ = dY;
    if (this.activation === "relu") {
      this.dZ ??= new Matrix(this.engine, this.outputSize, dY.cols);
      dZ = reluBackward(this.Y, dY, this.dZ.reshape(dY.cols));
    }
    if (this.dense) denseMatmulBackwardWeights(this.denseView(), dZ, X, this.dValues, this.dBias);
    else csrSpmmBackwardWeights(this.weights, dZ, X, this.dValues, this.dBias);
    if (!needDx) return void 0;
    this.dX ??= new Matrix(this.engine, this.inputSize, dY.cols);
    const dX = this.dX.reshape(dY.cols);
    if (this.dense) denseMatmulBackward(this.denseView(), dZ, dX);
    else csrSpmmBackward(this.weights, dZ, dX);
    return dX;
  }
  params() {
    return [
      { name: "values", values: this.weights.values, grad: this.dValues, decay: true },
      { name: "bias", values: this.bias, grad: this.dBias, decay: false }
    ];
  }
  macsPerSample() {
    return this.pattern.nnz;
  }
  denseParameterCount() {
    return this.pattern.inputs * this.pattern.outputs + this.pattern.outputs;
  }
  clone() {
    const state = { activation: this.activation, values: this.weights.values.toArray(), bias: this.bias.toArray() };
    return new _SparseLinear(this.engine, this.pattern, state);
  }
  dispose() {
    this.weights.dispose();
    for (const b of [this.bias, this.dValues, this.dBias]) b.dispose();
    for (const m of [this.Y, this.dZ, this.dX]) m?.dispose();
  }
  denseView() {
    return {
      engine: this.engine,
      outputs: this.pattern.outputs,
      inputs: this.pattern.inputs,
      values: this.weights.values
    };
  }
};
function heNormal(pattern, seed) {
  return heNormalRows(pattern.rowPtr, seed);
}
function heNormalRows(rowPtr, seed) {
  const rng = new Rng(seed);
  const rows = rowPtr.length - 1;
  const out = new Float32Array(rowPtr[rows]);
  for (let r = 0; r < rows; r++) {
    const a = rowPtr[r], b = rowPtr[r + 1];
    const sigma = Math.sqrt(2 / Math.max(1, b - a)) / 0.8796256610342398;
    for (let p = a; p < b; p++) {
      let z;
      do
        z = rng.normal();
      while (Math.abs(z) > 2);
      out[p] = z * sigma;
    }
  }
  return out;
}

// src/sparsity/pattern.ts
var MAX_DIM = 1 << 24;
var Pattern = class _Pattern {
  constructor(inputs, outputs, rowPtr, colIdx, kind) {
    this.inputs = inputs;
    this.outputs = outputs;
    this.rowPtr = rowPtr;
    this.colIdx = colIdx;
    this.kind = kind;
    this.nnz = colIdx.length;
    this.density = inputs * outputs === 0 ? 0 : this.nnz / (inputs * outputs);
    const colPtr = new Int32Array(inputs + 1);
    for (let p = 0; p < this.nnz; p++) colPtr[colIdx[p] + 1]++;
    for (let c = 0; c < inputs; c++) colPtr[c + 1] += colPtr[c];
    const next = colPtr.slice(0, inputs);
    const rowIdx = new Int32Array(this.nnz);
    const perm = new Int32Array(this.nnz);
    for (let r = 0; r < outputs; r++) {
      for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
        const q = next[colIdx[p]]++;
        rowIdx[q] = r;
        perm[q] = p;
      }
    }
    this.colPtr = colPtr;
    this.rowIdx = rowIdx;
    this.perm = perm;
    this.hash = hashPattern(inputs, outputs, rowPtr, colIdx);
  }
  inputs;
  outputs;
  rowPtr;
  colIdx;
  kind;
  nnz;
  density;
  colPtr;
  rowIdx;
  perm;
  /** 16 hex digits identifying sizes and connections; equal patterns have equal hashes on every machine. */
  hash;
  /**
   * Dey et al.'s fixed-degree ("basic") pattern: every input has exactly `outDegree` connections and every
   * output exactly inputs·outDegree/outputs. Built from a cyclic tiling (always valid) then randomized by
   * seeded degree-preserving edge swaps.
   */
  static fixedDegree(inputs, outputs, outDegree, seed = 0) {
    checkDims("Pattern.fixedDegree", inputs, outputs);
    checkInt("Pattern.fixedDegree", "outDegree", outDegree, 0, outputs);
    if (inputs * outDegree % outputs !== 0) {
      throw new PatternError(
        `Pattern.fixedDegree: out-degree ${outDegree} infeasible for ${inputs}\u2192${outputs}: inputs\xB7outDegree must be divisible by outputs; feasible out-degrees: ${feasibleOutDegrees(inputs, outputs).join(", ")} (densities k/${gcd(inputs, outputs)})`
      );
    }
    const inDegree = inputs * outDegree / outputs;
    const rng = new Rng(seed);
    const inPerm = rng.shuffle(Int32Array.from({ length: inputs }, (_, i) => i));
    const outPerm = rng.shuffle(Int32Array.from({ length: outputs }, (_, i) => i));
    const nnz = outputs * inDegree;
    const eOut = new Int32Array(nnz);
    const eIn = new Int32Array(nnz);
    const byte = inputs * outputs <= 1 << 24 ? new Uint8Array(inputs * outputs) : void 0;
    const set = byte ? void 0 : /* @__PURE__ */ new Set();
    const has = (k) => byte ? byte[k] === 1 : set.has(k);
    const put = (k, edge) => {
      if (byte) byte[k] = edge ? 1 : 0;
      else if (edge) set.add(k);
      else set.delete(k);
    };
    for (let o = 0, e = 0; o < outputs; o++) {
      for (let t = 0; t < inDegree; t++, e++) {
        eOut[e] = outPerm[o];
        eIn[e] = inPerm[(o * inDegree + t) % inputs];
        put(eOut[e] * inputs + eIn[e], true);
      }
    }
    if (nnz > 1 && inDegree < inputs) {
      for (let s = 0; s < 4 * nnz; s++) {
        const i = rng.int(nnz), j = rng.int(nnz);
        const a = eOut[i], x = eIn[i], b = eOut[j], y = eIn[j];
        if (a === b || x === y || has(a * inputs + y) || has(b * inputs + x)) continue;
        put(a * inputs + x, false);
        put(b * inputs + y, false);
        put(a * inputs + y, true);
        put(b * inputs + x, true);
        eIn[i] = y;
        eIn[j] = x;
      }
    }
    return _Pattern.fromEdges(inputs, outputs, eOut, eIn, `fixed-degree:${outDegree}`);
  }
  /** Each connection present independently with probability `density` (degrees not fixed). */
  static random(inputs, outputs, density, seed = 0) {
    checkDims("Pattern.random", inputs, outputs);
    if (!(density >= 0 && density <= 1))
      throw new ValidationError(`Pattern.random: density must be in [0, 1], got ${density}`);
    const rng = new Rng(seed);
    const rowPtr = new Int32Array(outputs + 1);
    const cols = [];
    for (let r = 0; r < outputs; r++) {
      for (let c = 0; c < inputs; c++) if (rng.next() < density) cols.push(c);
      rowPtr[r + 1] = cols.length;
    }
    return new _Pattern(inputs, outputs, rowPtr, Int32Array.from(cols), `random:${density}`);
  }
  /** Every connection (100% density). */
  static dense(inputs, outputs) {
    checkDims("Pattern.dense", inputs, outputs);
    const rowPtr = Int32Array.from({ length: outputs + 1 }, (_, r) => r * inputs);
    const colIdx = Int32Array.from({ length: inputs * outputs }, (_, p) => p % inputs);
    return new _Pattern(inputs, outputs, rowPtr, colIdx, "dense");
  }
  /** From a row-major 0/1 mask [outputs, inputs] (any non-zero counts as a connection). */
  static fromMask(inputs, outputs, mask) {
    checkDims("Pattern.fromMask", inputs, outputs);
    if (mask.length !== inputs * outputs) {
      throw new PatternError(
        `Pattern.fromMask: mask has ${mask.length} entries, expected outputs\xB7inputs = ${outputs}\xB7${inputs} = ${inputs * outputs}`
      );
    }
    const rowPtr = new Int32Array(outputs + 1);
    const cols = [];
    for (let r = 0; r < outputs; r++) {
      for (let c = 0; c < inputs; c++) if (mask[r * inputs + c]) cols.push(c);
      rowPtr[r + 1] = cols.length;
    }
    return new _Pattern(inputs, outputs, rowPtr, Int32Array.from(cols), "mask");
  }
  /** From CSR index arrays (copied), after checking every invariant the kernels rely on. */
  static fromCsr(inputs, outputs, rowPtr, colIdx, kind = "csr") {
    checkDims("Pattern.fromCsr", inputs, outputs);
    validateCsr("Pattern.fromCsr", inputs, outputs, rowPtr, colIdx);
    return new _Pattern(inputs, outputs, Int32Array.from(rowPtr), Int32Array.from(colIdx), kind);
  }
  static fromEdges(inputs, outputs, eOut, eIn, kind) {
    const rowPtr = new Int32Array(outputs + 1);
    for (let e = 0; e < eOut.length; e++) rowPtr[eOut[e] + 1]++;
    for (let r = 0; r < outputs; r++) rowPtr[r + 1] += rowPtr[r];
    const next = rowPtr.slice(0, outputs);
    const colIdx = new Int32Array(eOut.length);
    for (let e = 0; e < eOut.length; e++) colIdx[next[eOut[e]]++] = eIn[e];
    for (let r = 0; r < outputs; r++) colIdx.subarray(rowPtr[r], rowPtr[r + 1]).sort();
    return new _Pattern(inputs, outputs, rowPtr, colIdx, kind);
  }
  /** Number of connections into output r. */
  inDegree(r) {
    return this.rowPtr[r + 1] - this.rowPtr[r];
  }
  /** Number of connections out of input c. */
  outDegree(c) {
    return this.colPtr[c + 1] - this.colPtr[c];
  }
  /** Row-major 0/1 mask [outputs, inputs] (dense: for tests and small reports only). */
  toMask() {
    const m = new Uint8Array(this.inputs * this.outputs);
    for (let r = 0; r < this.outputs; r++)
      for (let p = this.rowPtr[r]; p < this.rowPtr[r + 1]; p++) m[r * this.inputs + this.colIdx[p]] = 1;
    return m;
  }
};
function feasibleOutDegrees(inputs, outputs) {
  const step = outputs / gcd(inputs, outputs);
  const out = [];
  for (let d = step; d <= outputs; d += step) out.push(d);
  return out;
}
function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}
function checkDims(op, inputs, outputs) {
  checkInt(op, "inputs", inputs, 1, MAX_DIM);
  checkInt(op, "outputs", outputs, 1, MAX_DIM);
  if (inputs * outputs > 2 ** 31 - 1)
    throw new ValidationError(`${op}: ${inputs}\xD7${outputs} connections exceed 2^31 \u2212 1`);
}
function validateCsr(op, inputs, outputs, rowPtr, colIdx) {
  if (rowPtr.length !== outputs + 1)
    throw new PatternError(`${op}: rowPtr has ${rowPtr.length} entries, expected outputs + 1 = ${outputs + 1}`);
  if (rowPtr[0] !== 0) throw new PatternError(`${op}: rowPtr[0] must be 0, got ${rowPtr[0]}`);
  if (rowPtr[outputs] !== colIdx.length)
    throw new PatternError(`${op}: rowPtr[${outputs}] = ${rowPtr[outputs]} but colIdx has ${colIdx.length} entries`);
  for (let r = 0; r < outputs; r++) {
    const a = rowPtr[r], b = rowPtr[r + 1];
    if (!Number.isInteger(b) || b < a) throw new PatternError(`${op}: rowPtr not monotone at row ${r}: ${a} then ${b}`);
    if (b > colIdx.length)
      throw new PatternError(
        `${op}: rowPtr not monotone: rowPtr[${r + 1}] = ${b} exceeds rowPtr[${outputs}] = ${colIdx.length}`
      );
    for (let p = a; p < b; p++) {
      const c = colIdx[p];
      if (!Number.isInteger(c) || c < 0 || c >= inputs)
        throw new PatternError(`${op}: colIdx[${p}] = ${c} out of range [0, ${inputs})`);
      if (p > a && c <= colIdx[p - 1])
        throw new PatternError(
          `${op}: colIdx not strictly increasing in row ${r} at position ${p} (${colIdx[p - 1]} then ${c})`
        );
    }
  }
}
function hashPattern(inputs, outputs, rowPtr, colIdx) {
  let h1 = 2166136261, h2 = 2538058380;
  const mix = (v) => {
    h1 = Math.imul(h1 ^ v, 16777619);
    let k = Math.imul(v, 3432918353);
    k = k << 15 | k >>> 17;
    h2 = Math.imul(h2 ^ Math.imul(k, 461845907), 5) + 3864292196;
  };
  mix(inputs);
  mix(outputs);
  for (let i = 0; i < rowPtr.length; i++) mix(rowPtr[i]);
  for (let i = 0; i < colIdx.length; i++) mix(colIdx[i]);
  return hashHex(h1, h2);
}

// src/ops/softmax_xent.ts
function softmaxCrossEntropy(Z, labels, dZ) {
  const op = "softmaxCrossEntropy";
  checkOperands(op, Z, labels, dZ);
  if (labels.length < Z.cols) throw new ShapeError(`${op}: ${labels.length} labels for a batch of ${Z.cols}`);
  if (dZ && (dZ.rows !== Z.rows || dZ.cols !== Z.cols))
    throw new ShapeError(`${op}: dZ is ${dZ.rows}\xD7${dZ.cols}, Z is ${Z.rows}\xD7${Z.cols}`);
  const l = labels.view();
  for (let b = 0; b < Z.cols; b++) {
    if (!(l[b] >= 0 && l[b] < Z.rows))
      throw new ValidationError(`${op}: label ${l[b]} of sample ${b} outside [0, ${Z.rows})`);
  }
  return Z.engine.kernels.softmaxCrossEntropy(Z.rows, Z.cols, Z.ptr, labels.ptr, dZ?.ptr ?? 0);
}
function softmaxStats(z, C, n) {
  checkInt("softmaxStats", "classes", C, 1);
  checkInt("softmaxStats", "columns", n);
  if (z.length !== C * n) throw new ShapeError(`softmaxStats: ${z.length} logits, expected ${C}\xD7${n} = ${C * n}`);
  const label = new Int32Array(n), mx = z.slice(0, n), S = new Float64Array(n), T = new Float64Array(n);
  for (let c = 1; c < C; c++) {
    for (let j = 0, o = c * n; j < n; j++) {
      const v = z[o + j];
      if (v > mx[j]) {
        mx[j] = v;
        label[j] = c;
      }
    }
  }
  for (let c = 0; c < C; c++) {
    for (let j = 0, o = c * n; j < n; j++) {
      const d = z[o + j] - mx[j];
      const e = Math.exp(d);
      S[j] += e;
      T[j] += e * d;
    }
  }
  const confidence = new Float64Array(n), entropy = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    confidence[j] = 1 / S[j];
    entropy[j] = Math.max(0, Math.log(S[j]) - T[j] / S[j]);
  }
  return { label, confidence, entropy };
}

// src/nn/model.ts
function checkPolicy(p, exits) {
  const bad = (detail) => new ValidationError(`exit policy: ${detail}`);
  if (p.kind !== "maxprob" && p.kind !== "entropy") throw bad(`kind must be maxprob or entropy, got ${String(p.kind)}`);
  if (p.thresholds.length !== exits) throw bad(`${p.thresholds.length} thresholds for ${exits} exits`);
  for (const t of p.thresholds) {
    if (!Number.isFinite(t) || t < 0 || p.kind === "maxprob" && t > 1) {
      throw bad(`${p.kind} threshold must be ${p.kind === "maxprob" ? "in [0, 1]" : "\u2265 0"}, got ${t}`);
    }
  }
  return p;
}
function layerSeeds(seed, i, exit) {
  const at = exit === void 0 ? i : 500 + 10 * i + exit;
  return { pattern: seed * 1e3 + at, weights: seed * 1e3 + 100 + at };
}
var Model = class _Model {
  constructor(engine2, trunk, exits = [], opts = {}) {
    this.engine = engine2;
    this.trunk = trunk;
    this.exits = exits;
    if (trunk.length === 0) throw new ValidationError("Model: the trunk needs at least one layer");
    for (let i = 1; i < trunk.length; i++) {
      if (trunk[i].inputSize !== trunk[i - 1].outputSize) {
        throw new ShapeError(
          `Model: trunk layer ${i} takes ${trunk[i].inputSize} features, layer ${i - 1} gives ${trunk[i - 1].outputSize}`
        );
      }
    }
    const head = opts.split?.role === "head";
    this.classes = head ? checkInt("Model", "split.classes", opts.split.classes, 1) : trunk.at(-1).outputSize;
    for (const [e, ex] of exits.entries()) {
      checkInt("Model", `exits[${e}].after`, ex.after, 0, trunk.length - (head ? 1 : 2));
      if (ex.layers.length === 0) throw new ValidationError(`Model: exit ${e} has no layers`);
      let width = trunk[ex.after].outputSize;
      for (const l of ex.layers) {
        if (l.inputSize !== width)
          throw new ShapeError(`Model: exit ${e} layer takes ${l.inputSize} features, gets ${width}`);
        width = l.outputSize;
      }
      if (width !== this.classes)
        throw new ShapeError(`Model: exit ${e} gives ${width} classes, the trunk gives ${this.classes}`);
      if (!(ex.weight >= 0 && Number.isFinite(ex.weight)))
        throw new ValidationError(`Model: exit ${e} weight must be \u2265 0, got ${ex.weight}`);
    }
    const sorted = exits.every((x, i) => i === 0 || exits[i - 1].after < x.after);
    if (!sorted) throw new ValidationError("Model: exits must be in increasing trunk order, at most one per layer");
    this.finalWeight = opts.finalWeight ?? (head ? 0 : 1);
    if (!(this.finalWeight >= 0 && Number.isFinite(this.finalWeight)))
      throw new ValidationError(`Model: finalWeight must be \u2265 0, got ${String(this.finalWeight)}`);
    if (head && this.finalWeight !== 0) {
      throw new ValidationError(`Model: a head (no final classifier): finalWeight must be 0, got ${this.finalWeight}`);
    }
    this.inputShape = opts.inputShape ?? [trunk[0].inputSize];
    const inSize = this.inputShape.reduce((a, b) => a * b, 1);
    if (inSize !== trunk[0].inputSize)
      throw new ShapeError(
        `Model: input shape [${this.inputShape}] has ${inSize} features, trunk takes ${trunk[0].inputSize}`
      );
    this.split = opts.split && checkSplit(opts.split, this);
  }
  engine;
  trunk;
  exits;
  classes;
  finalWeight;
  inputShape;
  split;
  dLogits = [];
  acts = [];
  /** The paper's MLP: sizes [in, h1, …, classes] with a fixed-degree pattern per layer; exits are linear heads. */
  static mlp(engine2, o) {
    const { sizes, outDegrees } = o;
    if (sizes.length < 2) throw new ValidationError(`Model.mlp: need at least 2 sizes, got [${sizes}]`);
    if (outDegrees.length !== sizes.length - 1)
      throw new ValidationError(
        `Model.mlp: ${sizes.length - 1} layers need ${sizes.length - 1} out-degrees, got ${outDegrees.length}`
      );
    const seed = o.seed ?? 0;
    const classes = sizes[sizes.length - 1];
    const linear = (inputs, outputs, d, seeds, last) => {
      const pattern = d >= outputs ? Pattern.dense(inputs, outputs) : Pattern.fixedDegree(inputs, outputs, d, seeds.pattern);
      const activation = last ? "linear" : "relu";
      return new SparseLinear(engine2, pattern, { activation, biasInit: o.biasInit, seed: seeds.weights });
    };
    return buildOrRollBack(engine2, (s) => {
      const L = outDegrees.length;
      const trunk = outDegrees.map((d, i) => {
        return s.keep(linear(sizes[i], sizes[i + 1], d, layerSeeds(seed, i), i === L - 1));
      });
      const exits = (o.exits ?? []).map((e, k) => {
        const head = linear(sizes[e.after + 1], classes, e.outDegree ?? classes, layerSeeds(seed, 0, k), true);
        return { after: e.after, weight: e.weight ?? 1, layers: [s.keep(head)] };
      });
      return new _Model(engine2, trunk, exits, { finalWeight: o.finalWeight });
    });
  }
  get inputSize() {
    return this.trunk[0].inputSize;
  }
  /** Every trainable parameter: trunk first, then exit heads. */
  params() {
    return [...this.trunk, ...this.exits.flatMap((e) => e.layers)].flatMap((l) => l.params());
  }
  /** Number of stored weights and biases. */
  parameterCount() {
    return this.params().reduce((n, p) => n + p.values.length, 0);
  }
  /** Runs the trunk; returns the final logits [classes, B] (owned by the last layer). */
  forward(X) {
    let h = X;
    for (let i = 0; i < this.trunk.length; i++) this.acts[i] = h = this.trunk[i].forward(h);
    return h;
  }
  /** Runs the trunk and every exit head; exit logits first, final last. Training and evaluation go through here. */
  forwardAll(X) {
    if (this.split?.role === "head")
      throw new ValidationError("Model: a split head has no final classifier; use the full model");
    const final = this.forward(X);
    return [...this.exits.map((e) => runLayers(e.layers, this.acts[e.after])), final];
  }
  /** One training step (forward, weighted cross-entropy over all classifiers, backward, optimizer update). */
  trainStep(X, labels, optimizer) {
    const logits = this.forwardAll(X);
    const B = X.cols;
    const weights = [...this.exits.map((e) => e.weight), this.finalWeight];
    const losses = logits.map((z, k) => {
      this.dLogits[k] ??= new Matrix(this.engine, this.classes, B);
      const dz = this.dLogits[k].reshape(B);
      const l = softmaxCrossEntropy(z, labels, dz);
      if (weights[k] !== 1) scaleInPlace(dz, weights[k]);
      return l;
    });
    let g = this.dLogits[this.exits.length];
    for (let i = this.trunk.length - 1; i >= 0; i--) {
      for (const [k, e] of this.exits.entries()) {
        if (e.after === i) addInPlace(g, backLayers(e.layers, this.dLogits[k], true));
      }
      g = this.trunk[i].backward(g, i > 0);
    }
    optimizer.step(this.params());
    const perExit = losses.slice(0, -1);
    const final = losses[losses.length - 1];
    return { total: perExit.reduce((s, l, k) => s + weights[k] * l, this.finalWeight * final), perExit, final };
  }
  /** Multiply-accumulates per sample through trunk layer i (inclusive), stored connections only. */
  trunkMacs() {
    let s = 0;
    return this.trunk.map((l) => s += l.macsPerSample());
  }
  /** MACs per sample of each exit head alone. */
  exitHeadMacs() {
    return this.exits.map((e) => e.layers.reduce((s, l) => s + l.macsPerSample(), 0));
  }
  dispose() {
    for (const l of [...this.trunk, ...this.exits.flatMap((e) => e.layers)]) l.dispose();
    for (const m of this.dLogits) m.dispose();
  }
};
function runLayers(layers, X) {
  let h = X;
  for (const l of layers) h = l.forward(h);
  return h;
}
function backLayers(layers, dY, needDx) {
  let g = dY;
  for (let i = layers.length - 1; i >= 0; i--) g = layers[i].backward(g, i > 0 || needDx);
  return g;
}
function checkSplit(r, m) {
  const bad = (detail) => new ValidationError(`Model: split.${detail}`);
  if (r.role !== "head" && r.role !== "tail") throw bad(`role must be head or tail, got ${String(r.role)}`);
  const cut = checkInt("Model", "split.cut", r.cut, 1);
  const shape = r.activationShape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3) {
    throw bad(`activationShape must have 1\u20133 dimensions, got ${JSON.stringify(shape)}`);
  }
  shape.forEach((d, i) => checkInt("Model", `split.activationShape[${i}]`, d, 1));
  const width = shape.reduce((a, b) => a * b, 1);
  const L = m.trunk.length, gives = m.trunk[L - 1].outputSize;
  if (r.role === "head") {
    if (L !== cut) throw bad(`cut: a head cut after layer ${cut} holds ${cut} trunk layers, got ${L}`);
    if (gives !== width) throw new ShapeError(`Model: the head's last layer gives ${gives} features, the cut ${width}`);
  } else {
    if (m.inputSize !== width) throw new ShapeError(`Model: the tail takes ${m.inputSize} features, the cut ${width}`);
    if (m.classes !== r.classes) throw new ShapeError(`Model: the tail gives ${m.classes} classes, split ${r.classes}`);
  }
  checkInt("Model", "split.totalExits", r.totalExits, m.exits.length);
  if (typeof r.hash !== "string" || !HASH_FORMAT.test(r.hash)) {
    throw bad(`hash must be 16 lowercase hex digits, got ${JSON.stringify(r.hash)}`);
  }
  if (r.policy) checkPolicy(r.policy, m.exits.length);
  if (r.dataSeed !== void 0) checkInt("Model", "split.dataSeed", r.dataSeed, 0, 2 ** 32 - 1);
  return r;
}

// src/nn/dataset.ts
function makeDataset(name, x, y, features, classes) {
  const op = `dataset ${name}`;
  checkInt(op, "features", features, 1);
  checkInt(op, "classes", classes, 1);
  const n = y.length;
  if (x.length !== n * features)
    throw new ShapeError(`${op}: ${n} labels need ${n * features} values of ${features} features, got ${x.length}`);
  for (let i = 0; i < n; i++) {
    const c = y[i];
    if (c < 0 || c >= classes)
      throw new ValidationError(`${op}: label ${i} is ${c}, expected a class in [0, ${classes})`);
  }
  return { x, y, n, features, classes, name };
}
function subset(ds, indices, name = ds.name) {
  const f = ds.features;
  const x = new Float32Array(indices.length * f);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const s = checkIndex(ds, indices[i], "subset");
    x.set(ds.x.subarray(s * f, s * f + f), i * f);
    y[i] = ds.y[s];
  }
  return { x, y, n: indices.length, features: f, classes: ds.classes, name };
}
function padFeatures(ds, target) {
  checkInt("padFeatures", "target", target, 1);
  if (target < ds.features)
    throw new ShapeError(`padFeatures: ${ds.name} has ${ds.features} features, cannot pad to fewer (${target})`);
  if (target === ds.features) return ds;
  const x = new Float32Array(ds.n * target);
  for (let i = 0; i < ds.n; i++) x.set(ds.x.subarray(i * ds.features, (i + 1) * ds.features), i * target);
  return { ...ds, x, features: target };
}
function splitDataset(ds, opts) {
  checkInt("splitDataset", "test", opts.test, 0, ds.n);
  const rng = new Rng(opts.seed);
  const byClass = Array.from({ length: ds.classes }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.y[i]].push(i);
  const quota = byClass.map((m) => ds.n === 0 ? 0 : opts.test * m.length / ds.n);
  const take = quota.map(Math.floor);
  let left = opts.test - take.reduce((a, b) => a + b, 0);
  const order = Array.from(quota.keys()).sort((a, b) => quota[b] - take[b] - (quota[a] - take[a]) || a - b);
  for (const c of order)
    if (left > 0 && take[c] < byClass[c].length) {
      take[c]++;
      left--;
    }
  const train = [];
  const test2 = [];
  byClass.forEach((members, c) => {
    rng.shuffle(members);
    test2.push(...members.slice(0, take[c]));
    train.push(...members.slice(take[c]));
  });
  return {
    train: subset(ds, rng.shuffle(train), `${ds.name}/train`),
    test: subset(ds, rng.shuffle(test2), `${ds.name}/test`)
  };
}
function checkIndex(ds, s, op) {
  if (!Number.isInteger(s) || s < 0 || s >= ds.n)
    throw new ValidationError(`${op}: sample index ${s} outside [0, ${ds.n}) of ${ds.name}`);
  return s;
}

// src/data/idx.ts
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
var U8 = 8;
function readIdx(path, options = {}) {
  const { maxBytes = 2 ** 30 } = options;
  const fail = (field, detail) => {
    throw new FormatError("idx", field, `${detail} in ${path}`);
  };
  let bytes = readFileSync(path);
  if (bytes[0] === 31 && bytes[1] === 139) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (e) {
      fail("gzip", e.message);
    }
  }
  if (bytes.length < 4) fail("magic", `need 4 bytes, file has ${bytes.length}`);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail("magic", `expected 00 00 <type> <rank>, got ${hex(bytes.subarray(0, 4))}`);
  if (bytes[2] !== U8) fail("dtype", `only unsigned bytes (0x08) are supported, got 0x${hex(bytes.subarray(2, 3))}`);
  const rank = bytes[3];
  if (rank === 0) fail("rank", "expected at least one dimension, got 0");
  if (bytes.length < 4 + 4 * rank)
    fail("dims", `rank ${rank} needs ${4 * rank} bytes of dimensions, file has ${bytes.length - 4}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  const start = 4 + 4 * rank;
  if (count !== bytes.length - start)
    fail("length", `dims [${dims.join(", ")}] need ${count} bytes of data, file has ${bytes.length - start}`);
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + start, count) };
}
function loadIdxDataset(dir, split, options = {}) {
  const { classes = 10 } = options;
  const prefix = split === "train" ? "train" : "t10k";
  const imagesPath = find(dir, prefix, "images", 3);
  const labelsPath = find(dir, prefix, "labels", 1);
  const images = readIdx(imagesPath, options);
  const labels = readIdx(labelsPath, options);
  if (images.dims.length !== 3)
    throw new FormatError(
      "idx",
      "rank",
      `images must be rank 3 [n, rows, cols], got [${images.dims.join(", ")}] in ${imagesPath}`
    );
  if (labels.dims.length !== 1)
    throw new FormatError("idx", "rank", `labels must be rank 1 [n], got [${labels.dims.join(", ")}] in ${labelsPath}`);
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n)
    throw new FormatError(
      "idx",
      "labels count",
      `${labels.dims[0]} labels in ${labelsPath} for ${n} images in ${imagesPath}`
    );
  if (rows * cols === 0)
    throw new FormatError("idx", "dims", `images of ${rows}\xD7${cols} pixels have no features in ${imagesPath}`);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = labels.data[i];
    if (c >= classes)
      throw new FormatError("idx", "label", `label ${i} is ${c}, expected a class below ${classes} in ${labelsPath}`);
    y[i] = c;
  }
  const scale = Float32Array.from({ length: 256 }, (_, v) => v / 255);
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = scale[images.data[i]];
  return makeDataset(`${basename(dir)}/${split}`, x, y, rows * cols, classes);
}
function find(dir, prefix, kind, rank) {
  const names = [`${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`].flatMap((s) => [
    s,
    `${s}.gz`
  ]);
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new ValidationError(`loadIdxDataset: no ${prefix} ${kind} in ${dir} (looked for ${names.join(", ")})`);
}
function hex(b) {
  return Array.from(b, (v) => v.toString(16).padStart(2, "0")).join(" ");
}

// src/data/mnist.ts
import { readFileSync as readFileSync2 } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join as join2 } from "node:path";
var PIXELS = 784;
var CLASSES = 10;
var cached;
function mnistDigitsDir() {
  return join2(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
}
function loadMnist() {
  if (cached) return cached;
  const dir = mnistDigitsDir();
  const perClass = Array.from({ length: CLASSES }, (_, c) => readDigits(join2(dir, `${c}.json`)));
  const n = perClass.reduce((a, d) => a + d.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  let i = 0;
  for (let k = 0; i < n; k++) {
    perClass.forEach((d, c) => {
      if ((k + 1) * PIXELS > d.length) return;
      x.set(d.subarray(k * PIXELS, (k + 1) * PIXELS), i * PIXELS);
      y[i++] = c;
    });
  }
  cached = makeDataset("mnist", x, y, PIXELS, CLASSES);
  return cached;
}
function readDigits(file) {
  const fail = (field, detail) => {
    throw new FormatError("mnist", field, `${detail} in ${file}`);
  };
  let json;
  try {
    json = JSON.parse(readFileSync2(file, "utf8"));
  } catch (e) {
    fail("json", e.message);
  }
  const data = json?.data;
  if (!Array.isArray(data)) return fail("data", "expected an array of pixel values");
  if (data.length % PIXELS !== 0)
    fail("data", `${data.length} values are not a whole number of ${PIXELS}-pixel digits`);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 1))
      fail("data", `value ${i} is ${JSON.stringify(v)}, expected a number in [0, 1]`);
    out[i] = v;
  }
  return out;
}

// src/data/load.ts
function loadData(spec, options = {}) {
  const { padTo, seed = 0, test: test2 = 2e3 } = options;
  const halves = spec === "mnist" ? splitDataset(loadMnist(), { test: test2, seed }) : { train: loadIdxDataset(spec, "train", options), test: loadIdxDataset(spec, "test", options) };
  if (padTo === void 0) return halves;
  return { train: padFeatures(halves.train, padTo), test: padFeatures(halves.test, padTo) };
}

// src/exits/runner.ts
function parseExitPolicy(text, exits) {
  const m = /^(maxprob|entropy):([^:]+)$/.exec(text.trim());
  if (!m)
    throw new ValidationError(
      `exit policy: expected maxprob:Q or entropy:T (e.g. maxprob:0.9), got ${JSON.stringify(text)}`
    );
  const thresholds = m[2].split(",").map((s) => s.trim() === "" ? NaN : Number(s));
  const kind = m[1];
  return checkPolicy(
    { kind, thresholds: thresholds.length === 1 ? new Array(exits).fill(thresholds[0]) : thresholds },
    exits
  );
}
function formatPolicy(p) {
  return `${p.kind}:${p.thresholds.join(",")}`;
}
function passes(p, e, confidence, entropy) {
  return p.kind === "maxprob" ? confidence >= p.thresholds[e] : entropy <= p.thresholds[e];
}
var ExitRunner = class {
  constructor(model, policy, opts = {}) {
    this.model = model;
    this.policy = policy && checkPolicy(policy, model.exits.length);
    this.until = checkInt("ExitRunner", "until", opts.until ?? model.trunk.length, 1, model.trunk.length);
    this.keepLogits = opts.logits ?? true;
  }
  model;
  policy;
  until;
  keepLogits;
  cols = [];
  compact = [];
  run(X) {
    const { model, policy } = this;
    if (X.rows !== model.inputSize) {
      throw new ShapeError(`ExitRunner.run: X has ${X.rows} rows, the model takes ${model.inputSize} features`);
    }
    const B = X.cols, C = model.classes;
    const head = model.split?.role === "head";
    const final = head ? model.split.totalExits : model.exits.length;
    const r = {
      exit: new Int32Array(B),
      label: new Int32Array(B),
      confidence: new Float32Array(B),
      entropy: new Float32Array(B),
      logits: new Float32Array(this.keepLogits ? B * C : 0),
      indices: new Int32Array(0),
      activation: new Float32Array(0)
    };
    let alive = Int32Array.from({ length: B }, (_, i) => i);
    const record = (z, e) => {
      const n = z.cols, d = z.view();
      const s = softmaxStats(d, C, n);
      const stay = [];
      for (let j = 0; j < n; j++) {
        if (e < final && !passes(policy, e, s.confidence[j], s.entropy[j])) {
          stay.push(j);
          continue;
        }
        const i = alive[j];
        r.exit[i] = e;
        r.label[i] = s.label[j];
        r.confidence[i] = s.confidence[j];
        r.entropy[i] = s.entropy[j];
        if (this.keepLogits) for (let c = 0; c < C; c++) r.logits[i * C + c] = d[c * n + j];
      }
      return stay;
    };
    let h = X;
    let next = 0;
    for (let i = 0; i < this.until && alive.length > 0; i++) {
      h = model.trunk[i].forward(h);
      const ex = model.exits[next];
      if (!ex || ex.after !== i) continue;
      const e = next++;
      if (!policy) continue;
      const stay = record(runLayers(ex.layers, h), e);
      if (stay.length === alive.length) continue;
      if (stay.length > 0) h = this.gather(e, h, stay);
      alive = Int32Array.from(stay, (j) => alive[j]);
    }
    if (head || this.until < model.trunk.length) {
      for (const i of alive) r.exit[i] = final;
      r.indices = alive;
      if (alive.length > 0) r.activation = h.toArray();
    } else if (alive.length > 0) record(h, final);
    return r;
  }
  /** h restricted to the columns in `stay`, in exit e's scratch. */
  gather(e, h, stay) {
    let idx = this.cols[e];
    if (!idx || idx.length < stay.length) {
      idx?.dispose();
      idx = this.cols[e] = new I32Buffer(this.model.engine, Math.max(stay.length, h.cols));
    }
    idx.view().set(stay);
    this.compact[e] ??= new Matrix(this.model.engine, h.rows, stay.length);
    return gatherColumns(h, idx, stay.length, this.compact[e]);
  }
  dispose() {
    for (const b of this.cols) b?.dispose();
    for (const m of this.compact) m?.dispose();
  }
};

// src/nn/batcher.ts
var Batcher = class {
  constructor(engine2, dataset, maxBatch) {
    this.engine = engine2;
    this.dataset = dataset;
    this.maxBatch = maxBatch;
    checkInt("Batcher", "maxBatch", maxBatch, 1, 1 << 20);
    checkInt("Batcher", "features", dataset.features, 1);
    if (dataset.x.length !== dataset.n * dataset.features || dataset.y.length !== dataset.n) {
      throw new ShapeError(
        `Batcher: ${dataset.name} has ${dataset.x.length} values and ${dataset.y.length} labels, expected ${dataset.n}\xD7${dataset.features} and ${dataset.n}`
      );
    }
    this.data = F32Buffer.from(engine2, dataset.x);
    this.idx = new I32Buffer(engine2, maxBatch);
    this.labels = new I32Buffer(engine2, maxBatch);
    this.X = new Matrix(engine2, dataset.features, maxBatch);
  }
  engine;
  dataset;
  maxBatch;
  X;
  labels;
  data;
  idx;
  /** Loads samples order[start .. start+size) into X (reshaped to size columns) and labels; returns X. */
  load(order, start, size) {
    checkOperands("Batcher.load", this.X, this.data);
    checkInt("Batcher.load", "size", size, 1, this.maxBatch);
    if (start < 0 || start + size > order.length)
      throw new ShapeError(`Batcher.load: samples [${start}, ${start + size}) outside an order of ${order.length}`);
    const n = this.dataset.n;
    const idx = this.idx.view(), lab = this.labels.view(), y = this.dataset.y;
    for (let j = 0; j < size; j++) {
      const s = order[start + j];
      if (!(Number.isInteger(s) && s >= 0 && s < n))
        throw new ValidationError(`Batcher.load: sample index ${s} outside [0, ${n})`);
      idx[j] = s;
      lab[j] = y[s];
    }
    this.X.reshape(size);
    this.engine.kernels.gatherSamples(this.dataset.features, this.data.ptr, this.idx.ptr, size, this.X.ptr);
    return this.X;
  }
  dispose() {
    this.data.dispose();
    this.idx.dispose();
    this.labels.dispose();
    this.X.dispose();
  }
};

// src/split/links.ts
var HUANG_2012 = 'Huang et al., "A close examination of performance and power characteristics of 4G LTE networks", MobiSys 2012';
var LINK_PRESETS = [
  {
    name: "lte",
    radio: "lte",
    label: "LTE phone uplink (4GTest medians, U.S., 2011)",
    upBitsPerS: 564e4,
    downBitsPerS: 1274e4,
    rttMs: 69.5,
    jitterMs: 5.6,
    rateSource: `${HUANG_2012}, \xA74.1 / Fig. 7: median LTE uplink 5.64 Mbit/s and downlink 12.74 Mbit/s over 4GTest users (the abstract rounds them to 6 and 13)`,
    rttSource: `${HUANG_2012}, \xA74.1 / Fig. 7: median LTE RTT 69.5 ms, RTT jitter 5.6 ms`
  },
  {
    name: "3g",
    radio: "3g",
    label: "3G UMTS uplink (Release 99 reference bearer 64/384 kbit/s)",
    upBitsPerS: 64e3,
    downBitsPerS: 384e3,
    rttMs: 200,
    jitterMs: 0,
    rateSource: "3GPP TS 34.108, \xA76.10: reference radio access bearer Interactive/Background UL 64 kbit/s, DL 384 kbit/s PS RAB",
    rttSource: `${HUANG_2012}, \xA74.1 / Fig. 7: median RTT of the 3G networks in 4GTest below 200 ms (200 ms taken as the bound)`
  },
  {
    name: "wifi",
    radio: "wifi",
    label: "Wi-Fi phone uplink (4GTest medians, U.S., 2011)",
    upBitsPerS: 94e4,
    downBitsPerS: 412e4,
    rttMs: 64.5,
    jitterMs: 7.9,
    rateSource: `${HUANG_2012}, \xA74.1 / Fig. 7: median Wi-Fi uplink 0.94 Mbit/s and downlink 4.12 Mbit/s over 4GTest users`,
    rttSource: `${HUANG_2012}, \xA74.1 / Fig. 7: median Wi-Fi RTT 64.5 ms, RTT jitter 7.9 ms`
  },
  {
    name: "lora",
    radio: "lpwan",
    label: "LoRaWAN sensor, EU868 DR5 (SF7, 125 kHz), class A",
    upBitsPerS: 5470,
    downBitsPerS: 5470,
    rttMs: 1e3,
    jitterMs: 0,
    maxPayloadBytes: 242,
    rateSource: "LoRa Alliance, LoRaWAN Regional Parameters RP002-1.0.3, EU863-870 data-rate table: DR5 = SF7/125 kHz, 5470 bit/s; FRMPayload at most 242 B",
    rttSource: "LoRa Alliance, LoRaWAN L2 1.0.4 Specification, class A: the first receive window opens RECEIVE_DELAY1 = 1 s after the uplink ends"
  }
];

// src/split/energy.ts
var HORO = `Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V)`;
var HUANG = 'Huang et al., "A close examination of performance and power characteristics of 4G LTE networks", MobiSys 2012';
var SX1276 = "Semtech SX1276/77/78/79 datasheet, \xA72.5 power consumption (3.3 V supply)";
var MEMORY_LEVELS = [
  { maxBytes: 8 * 1024, pjPerByte: 10 / 8, row: "8 KB cache, 64-bit access 10 pJ" },
  { maxBytes: 32 * 1024, pjPerByte: 20 / 8, row: "32 KB cache, 64-bit access 20 pJ" },
  { maxBytes: 1024 * 1024, pjPerByte: 100 / 8, row: "1 MB cache, 64-bit access 100 pJ" },
  { maxBytes: Infinity, pjPerByte: 1300 / 8, row: "DRAM, 64-bit access 1.3\u20132.6 nJ (low end)" }
];
var DEFAULT_ENERGY = {
  compute: {
    pjPerMac: 4.6,
    // 3.7 + 0.9
    pjPerByte: "auto",
    source: `${HORO}: 32-bit float multiply 3.7 pJ + add 0.9 pJ = 4.6 pJ per f32 MAC; memory per byte = 64-bit access energy / 8`
  },
  radios: {
    lte: {
      label: "LTE (HTC ThunderBolt, 2011)",
      txNjPerBit: 438.39,
      rxNjPerBit: 51.97,
      txMw: 0,
      rxMw: 0,
      activeMw: 1288.04,
      promotion: { mw: 1210.7, ms: 260.1 },
      tail: [{ mw: 1060, ms: 11576 }],
      source: `${HUANG}: Table 4 (\u03B1u 438.39, \u03B1d 51.97 mW/Mbps, \u03B2 1288.04 mW); Table 3 (promotion 1210.7 mW \xD7 260.1 ms, tail 1060.0 mW \xD7 11576.0 ms)`
    },
    "3g": {
      label: "3G UMTS/HSPA (same phone and study)",
      txNjPerBit: 868.98,
      rxNjPerBit: 122.12,
      txMw: 0,
      rxMw: 0,
      activeMw: 817.88,
      promotion: { mw: 659.4, ms: 582.1 },
      tail: [
        { mw: 803.9, ms: 8088.2 },
        { mw: 601.3, ms: 824.2 }
      ],
      source: `${HUANG}: Table 4 (\u03B1u 868.98, \u03B1d 122.12 mW/Mbps, \u03B2 817.88 mW); Table 3 (promotion 659.4 mW \xD7 582.1 ms, DCH tail 803.9 mW \xD7 8088.2 ms, then FACH tail 601.3 mW \xD7 824.2 ms)`
    },
    wifi: {
      label: "Wi-Fi (same phone and study)",
      txNjPerBit: 283.17,
      rxNjPerBit: 137.01,
      txMw: 0,
      rxMw: 0,
      activeMw: 132.86,
      promotion: { mw: 124.4, ms: 79.1 },
      tail: [{ mw: 119.3, ms: 238.1 }],
      source: `${HUANG}: Table 4 (\u03B1u 283.17, \u03B1d 137.01 mW/Mbps, \u03B2 132.86 mW); Table 3 (promotion 124.4 mW \xD7 79.1 ms, tail 119.3 mW \xD7 238.1 ms)`
    },
    lpwan: {
      label: "LoRa transceiver (SX1276), +13 dBm",
      txNjPerBit: 0,
      rxNjPerBit: 0,
      txMw: 3.3 * (29 - 1.6),
      rxMw: 3.3 * (10.8 - 1.6),
      activeMw: 3.3 * 1.6,
      promotion: { mw: 0, ms: 0 },
      tail: [],
      source: `${SX1276}: transmit at +13 dBm 29 mA, receive 10.8 mA, standby 1.6 mA; standby is charged for the whole exchange (the 1 s wait for the receive window included) and transmit / receive above standby for the airtime`
    }
  }
};
function csrBytesMoved(rows, nnz, dense = false) {
  nonNegative("csrBytesMoved", "rows", rows);
  nonNegative("csrBytesMoved", "nnz", nnz);
  return dense ? 8 * nnz + 8 * rows : 12 * nnz + 12 * rows + 4;
}
function nonNegative(op, name, v) {
  if (!(v >= 0) || Number.isNaN(v)) throw new ValidationError(`${op}: ${name} must be a number \u2265 0, got ${String(v)}`);
}

// src/io/crc32.ts
var TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 3988292384 ^ c >>> 1 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes, crc = 0) {
  let c = (crc ^ 4294967295) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 255] ^ c >>> 8;
  return (c ^ 4294967295) >>> 0;
}

// src/io/f16.ts
var f32 = new Float32Array(1);
var u32 = new Uint32Array(f32.buffer);
var F16_MIN_NORMAL = 2 ** -14;
function f32ToF16Bits(x) {
  f32[0] = x;
  let u = u32[0];
  const sign = u >>> 16 & 32768;
  u &= 2147483647;
  if (u >= 1199570944) return sign | (u > 2139095040 ? 32256 : 31744);
  if (u < 947912704) {
    const v = Math.fround(x < 0 ? -x : x) * 2 ** 24;
    let r = Math.floor(v);
    const d = v - r;
    if (d > 0.5 || d === 0.5 && r & 1) r++;
    return sign | r;
  }
  u += (15 - 127 << 23) + 4095 + (u >>> 13 & 1);
  return sign | u >>> 13;
}
var POW2 = /* @__PURE__ */ (() => Float64Array.from({ length: 32 }, (_, e) => 2 ** (e - 25)))();
function f16BitsToF32(h) {
  const e = h >>> 10 & 31;
  const m = h & 1023;
  const s = h & 32768 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * POW2[e];
}
function f16IsFinite(h) {
  return (h & 31744) !== 31744;
}

// src/split/frame.ts
var FRAME_MAGIC = "PSFR";
var MAGIC = Uint8Array.of(80, 83, 70, 82);
var FRAME_VERSION = 1;
var FRAME_MAX_RANK = 4;
var FRAME_DTYPES = ["f32", "f16", "int8"];
var KINDS = ["activation", "logits", "probabilities"];
var DTYPE_BYTES = { f32: 4, f16: 2, int8: 1 };
var FIXED_HEADER = 32;
var CRC_BYTES = 4;
var U32_MAX = 2 ** 32 - 1;
var FrameError = class extends FormatError {
  name = "FrameError";
  reason = "malformed";
  constructor(field, detail) {
    super("frame", field, detail);
  }
};
var FrameTooLargeError = class extends FrameError {
  name = "FrameTooLargeError";
  reason = "too_large";
};
var FrameMismatchError = class extends FrameError {
  name = "FrameMismatchError";
  reason = "mismatch";
};
var DEFAULT_FRAME_LIMITS = Object.freeze({
  maxBytes: 64 * 2 ** 20,
  maxRank: FRAME_MAX_RANK,
  maxDim: 2 ** 24,
  maxElements: 2 ** 24,
  nonFinite: "reject"
});
function frameHeaderBytes(rank) {
  checkInt("frameHeaderBytes", "rank", rank, 1, FRAME_MAX_RANK);
  return FIXED_HEADER + 4 * rank;
}
function frameBytes(shape, dtype) {
  const n = shapeElements("frameBytes", shape);
  return frameHeaderBytes(shape.length) + n * dtypeBytes("frameBytes", dtype) + CRC_BYTES;
}
function encodeFrame(input) {
  const op = "encodeFrame";
  const { data, shape, dtype, kind, splitId, modelHash } = input;
  if (!(data instanceof Float32Array)) throw new ValidationError(`${op}: data must be a Float32Array`);
  const n = shapeElements(op, shape);
  if (n !== data.length) {
    throw new ShapeError(`${op}: shape [${shape.join(", ")}] holds ${n} values, data has ${data.length}`);
  }
  const size = dtypeBytes(op, dtype);
  const kindCode = KINDS.indexOf(kind);
  if (kindCode < 0) throw new ValidationError(`${op}: kind must be one of ${KINDS.join(", ")}, got ${String(kind)}`);
  checkInt(op, "splitId", splitId, 0, U32_MAX);
  if (typeof modelHash !== "string" || !HASH_FORMAT.test(modelHash.toLowerCase())) {
    throw new ValidationError(`${op}: modelHash must be 16 hex digits, got ${JSON.stringify(modelHash)}`);
  }
  const allowNonFinite = input.nonFinite === "allow" && dtype !== "int8";
  if (!allowNonFinite) {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(data[i]))
        throw new ValidationError(`${op}: data[${i}] is ${data[i]}, frames carry finite values`);
    }
  }
  const payloadLength = n * size;
  if (payloadLength > U32_MAX) throw new ValidationError(`${op}: payload of ${payloadLength} bytes exceeds 2^32 - 1`);
  const headerLength = frameHeaderBytes(shape.length);
  const out = new Uint8Array(headerLength + payloadLength + CRC_BYTES);
  const dv = new DataView(out.buffer);
  const scale = dtype === "int8" ? int8Scale(op, data) : 0;
  out.set(MAGIC, 0);
  dv.setUint8(4, FRAME_VERSION);
  dv.setUint8(5, FRAME_DTYPES.indexOf(dtype));
  dv.setUint8(6, kindCode);
  dv.setUint8(7, shape.length);
  dv.setUint32(8, headerLength, true);
  dv.setUint32(12, splitId, true);
  for (let i = 0; i < 8; i++) out[16 + i] = parseInt(modelHash.slice(2 * i, 2 * i + 2), 16);
  dv.setFloat32(24, scale, true);
  dv.setUint32(28, payloadLength, true);
  shape.forEach((d, i) => dv.setUint32(FIXED_HEADER + 4 * i, d, true));
  let p = headerLength;
  if (dtype === "f32") {
    for (let i = 0; i < n; i++, p += 4) dv.setFloat32(p, data[i], true);
  } else if (dtype === "f16") {
    for (let i = 0; i < n; i++, p += 2) {
      const h = f32ToF16Bits(data[i]);
      if (!f16IsFinite(h) && Number.isFinite(data[i])) {
        throw new ValidationError(`${op}: data[${i}] = ${data[i]} is beyond the f16 range (\xB165504); use f32 or int8`);
      }
      dv.setUint16(p, h, true);
    }
  } else if (scale > 0) {
    for (let i = 0; i < n; i++, p++) dv.setInt8(p, Math.max(-127, Math.min(127, Math.round(data[i] / scale))));
  }
  const end = headerLength + payloadLength;
  dv.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}
function decodeFrame(bytes, limits = {}, expect = {}) {
  const lim = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new ValidationError("decodeFrame: bytes must be a Uint8Array");
  const len = bytes.length;
  if (len > lim.maxBytes) throw new FrameTooLargeError("length", `${len} bytes exceeds the limit of ${lim.maxBytes}`);
  const h = readHeader(bytes, lim, CRC_BYTES);
  const { headerLength, payloadLength, totalLength: total, dtype, shape } = h;
  if (len < total) throw new FrameError("length", `truncated: ${len} bytes, the frame declares ${total}`);
  if (len > total) throw new FrameError("trailing", `${len - total} bytes after the frame's declared ${total}`);
  const end = headerLength + payloadLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  const stored = dv.getUint32(end, true);
  const actual = crc32(bytes.subarray(0, end));
  if (stored !== actual)
    throw new FrameError("checksum", `CRC-32 ${hex32(actual)} of the frame, stored ${hex32(stored)}`);
  checkScale(h);
  checkExpected(h, expect);
  const n = payloadLength / DTYPE_BYTES[dtype];
  const data = new Float32Array(n);
  const reject = lim.nonFinite === "reject";
  const scale = h.scale;
  let p = headerLength;
  if (dtype === "f32") {
    for (let i = 0; i < n; i++, p += 4) {
      const v = dv.getFloat32(p, true);
      if (reject && !Number.isFinite(v)) throw new FrameError("payload", `element ${i} is ${v}`);
      data[i] = v;
    }
  } else if (dtype === "f16") {
    for (let i = 0; i < n; i++, p += 2) {
      const hb = dv.getUint16(p, true);
      if (reject && !f16IsFinite(hb)) throw new FrameError("payload", `element ${i} is ${f16BitsToF32(hb)}`);
      data[i] = f16BitsToF32(hb);
    }
  } else {
    for (let i = 0; i < n; i++, p++) {
      const q = dv.getInt8(p);
      if (q === -128) throw new FrameError("payload", `element ${i} is -128, int8 codes are in [-127, 127]`);
      if (scale === 0 && q !== 0)
        throw new FrameError("payload", `element ${i} is ${q} with scale 0, which only an all-zero tensor has`);
      data[i] = q * scale;
    }
  }
  return { data, shape, dtype, kind: h.kind, splitId: h.splitId, modelHash: h.modelHash, scale };
}
function readHeader(bytes, lim, after) {
  const len = bytes.length;
  if (len < FIXED_HEADER + after) {
    throw new FrameError(
      "length",
      `truncated: ${len} bytes, a frame${after ? "" : " header"} has at least ${FIXED_HEADER + after}`
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i])
      throw new FrameError("magic", `expected ${hex2(MAGIC)} ("${FRAME_MAGIC}"), got ${hex2(bytes.subarray(0, 4))}`);
  }
  const version = dv.getUint8(4);
  if (version !== FRAME_VERSION) throw new FrameError("version", `expected ${FRAME_VERSION}, got ${version}`);
  const dtype = FRAME_DTYPES[dv.getUint8(5)];
  if (dtype === void 0)
    throw new FrameError("dtype", `expected 0 (f32), 1 (f16) or 2 (int8), got ${dv.getUint8(5)}`);
  const kind = KINDS[dv.getUint8(6)];
  if (kind === void 0)
    throw new FrameError("kind", `expected 0 (activation), 1 (logits) or 2 (probabilities), got ${dv.getUint8(6)}`);
  const rank = dv.getUint8(7);
  if (rank < 1 || rank > lim.maxRank) throw new FrameError("rank", `expected 1..${lim.maxRank}, got ${rank}`);
  const headerLength = dv.getUint32(8, true);
  if (headerLength !== FIXED_HEADER + 4 * rank) {
    throw new FrameError("headerLength", `expected ${FIXED_HEADER + 4 * rank} for rank ${rank}, got ${headerLength}`);
  }
  if (len < headerLength + after) {
    throw new FrameError("length", `truncated: ${len} bytes, the header alone needs ${headerLength + after}`);
  }
  const shape = [];
  let n = 1;
  for (let i = 0; i < rank; i++) {
    const d = dv.getUint32(FIXED_HEADER + 4 * i, true);
    if (d < 1) throw new FrameError("dims", `dims[${i}] is 0`);
    if (d > lim.maxDim) throw new FrameTooLargeError("dims", `dims[${i}] = ${d} exceeds the limit of ${lim.maxDim}`);
    n *= d;
    if (n > lim.maxElements)
      throw new FrameTooLargeError("dims", `${rank}-d shape holds more than ${lim.maxElements} elements`);
    shape.push(d);
  }
  const payloadLength = dv.getUint32(28, true);
  const expectedPayload = n * DTYPE_BYTES[dtype];
  if (payloadLength !== expectedPayload) {
    throw new FrameError(
      "payloadLength",
      `shape [${shape.join(", ")}] of ${dtype} needs ${expectedPayload} bytes, header says ${payloadLength}`
    );
  }
  return {
    dtype,
    kind,
    shape,
    splitId: dv.getUint32(12, true),
    modelHash: hex2(bytes.subarray(16, 24), ""),
    scale: dv.getFloat32(24, true),
    headerLength,
    payloadLength,
    totalLength: headerLength + payloadLength + CRC_BYTES
  };
}
function checkScale(h) {
  const scale = h.scale;
  if (h.dtype === "int8") {
    if (!(scale >= 0) || Object.is(scale, -0) || !Number.isFinite(Math.fround(scale * 127))) {
      throw new FrameError(
        "scale",
        `expected a finite scale \u2265 +0 with 127\xB7scale finite, got ${Object.is(scale, -0) ? "-0" : scale}`
      );
    }
  } else if (!Object.is(scale, 0)) {
    throw new FrameError("scale", `expected 0 for ${h.dtype}, got ${Object.is(scale, -0) ? "-0" : scale}`);
  }
}
function checkExpected(h, expect) {
  if (expect.modelHash !== void 0 && expect.modelHash.toLowerCase() !== h.modelHash) {
    throw new FrameMismatchError("modelHash", `expected model ${expect.modelHash.toLowerCase()}, got ${h.modelHash}`);
  }
  if (expect.splitId !== void 0 && expect.splitId !== h.splitId) {
    throw new FrameMismatchError("splitId", `expected split after layer ${expect.splitId}, got ${h.splitId}`);
  }
  if (expect.kind !== void 0 && expect.kind !== h.kind) {
    throw new FrameMismatchError("kind", `expected ${expect.kind}, got ${h.kind}`);
  }
  const shapes = expect.sampleShapes;
  if (shapes !== void 0) {
    const per = h.shape.slice(0, -1);
    const fits = h.shape.length >= 2 && shapes.some((s) => s.length === per.length && s.every((d, i) => d === per[i]));
    if (!fits) {
      const want = shapes.map((s) => `[${[...s, "batch"].join(", ")}]`).join(" or ");
      throw new FrameError("dims", `expected ${want} (features first, batch last), got [${h.shape.join(", ")}]`);
    }
  }
}
function int8Scale(op, data) {
  let maxabs = 0;
  for (let i = 0; i < data.length; i++) maxabs = Math.max(maxabs, Math.abs(data[i]));
  if (maxabs === 0) return 0;
  let scale = Math.fround(maxabs / 127);
  if (scale * 127 < maxabs) scale = nextUpF32(scale);
  if (!Number.isFinite(Math.fround(scale * 127))) {
    throw new ValidationError(
      `${op}: max |x| = ${maxabs} is too close to the float32 limit for an int8 scale; use f32`
    );
  }
  return scale;
}
function nextUpF32(x) {
  const b = new Float32Array([x]);
  new Uint32Array(b.buffer)[0] += 1;
  return b[0];
}
function resolveLimits(l) {
  const op = "decodeFrame";
  const r = { ...DEFAULT_FRAME_LIMITS, ...l };
  checkInt(op, "limits.maxBytes", r.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  checkInt(op, "limits.maxRank", r.maxRank, 1, FRAME_MAX_RANK);
  checkInt(op, "limits.maxDim", r.maxDim, 1, U32_MAX);
  checkInt(op, "limits.maxElements", r.maxElements, 1, Number.MAX_SAFE_INTEGER);
  if (r.nonFinite !== "reject" && r.nonFinite !== "allow") {
    throw new ValidationError(`${op}: limits.nonFinite must be "reject" or "allow", got ${String(r.nonFinite)}`);
  }
  return r;
}
function shapeElements(op, shape) {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > FRAME_MAX_RANK) {
    throw new ShapeError(`${op}: shape must have rank 1..${FRAME_MAX_RANK}, got ${JSON.stringify(shape)}`);
  }
  let n = 1;
  for (const d of shape) n *= checkInt(op, "shape dimension", d, 1, U32_MAX);
  if (!Number.isSafeInteger(n)) throw new ShapeError(`${op}: shape [${shape.join(", ")}] holds too many elements`);
  return n;
}
function dtypeBytes(op, dtype) {
  if (!FRAME_DTYPES.includes(dtype)) {
    throw new ValidationError(`${op}: dtype must be one of ${FRAME_DTYPES.join(", ")}, got ${String(dtype)}`);
  }
  return DTYPE_BYTES[dtype];
}
function hex2(b, sep = " ") {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(sep);
}
function hex32(x) {
  return `0x${x.toString(16).padStart(8, "0")}`;
}

// src/split/costs.ts
function layerBytesMoved(l) {
  const macs = l.macsPerSample();
  if (l.kind === "linear") return csrBytesMoved(l.outputSize, macs, macs === l.inputSize * l.outputSize);
  return 12 * macs + 4 * (l.inputSize + l.outputSize);
}
function layerStoredBytes(l) {
  const values = l.params().reduce((s, p) => s + p.values.length, 0);
  const macs = l.macsPerSample();
  const sparse = l.kind === "linear" ? macs < l.inputSize * l.outputSize : macs > 0;
  return 4 * values + (sparse ? 4 * (macs + l.outputSize + 1) : 0);
}
function timeMs(fn, blockMs = 2, blocks = 7) {
  let reps = 1;
  for (; ; ) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    if (performance.now() - t0 >= blockMs || reps >= 1 << 20) break;
    reps *= 2;
  }
  const times = [];
  for (let b = 0; b < blocks; b++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    times.push((performance.now() - t0) / reps);
  }
  return times.sort((a, b) => a - b)[blocks >> 1];
}
var NO_MODEL = "0000000000000000";
function wire(x, dtype) {
  if (dtype === "f32") return x;
  if (dtype === "f16" && x.some((v) => Math.abs(v) >= 65520)) return x;
  const f = encodeFrame({ data: x, shape: [x.length, 1], dtype, kind: "activation", splitId: 0, modelHash: NO_MODEL });
  return decodeFrame(f).data;
}
function wireColumns(a, w, m, dtype) {
  if (dtype === "f32") return;
  const col = new Float32Array(w);
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < w; i++) col[i] = a[i * m + j];
    const r = wire(col, dtype);
    for (let i = 0; i < w; i++) a[i * m + j] = r[i];
  }
}
function systemAnswers(model, data, o) {
  const L = model.trunk.length, E = model.exits.length, C = model.classes;
  const cut = checkInt("systemAnswers", "cut", o.cut, 0, L - 1);
  if (model.split) throw new ValidationError("systemAnswers: needs the whole model, not a half of a split");
  if (data.features !== model.inputSize)
    throw new ValidationError(`systemAnswers: data has ${data.features} features, the model takes ${model.inputSize}`);
  const out = { exit: new Int32Array(data.n), label: new Int32Array(data.n) };
  const batcher = new Batcher(model.engine, data, Math.min(256, Math.max(1, data.n)));
  const runner = cut > 0 ? new ExitRunner(model, o.policy, { until: cut, logits: false }) : void 0;
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  try {
    for (let s = 0; s < data.n; s += batcher.maxBatch) {
      const size = Math.min(batcher.maxBatch, data.n - s);
      const X = batcher.load(order, s, size);
      let rest, act;
      if (runner) {
        const r = runner.run(X);
        for (let j = 0; j < size; j++) [out.exit[s + j], out.label[s + j]] = [r.exit[j], r.label[j]];
        [rest, act] = [r.indices, r.activation];
      } else [rest, act] = [order.subarray(0, size), X.toArray()];
      const m = rest.length;
      if (m === 0) continue;
      const w = act.length / m;
      wireColumns(act, w, m, o.dtype);
      const A = Matrix.from(model.engine, w, m, act);
      const z = runLayers(model.trunk.slice(cut), A).toArray();
      A.dispose();
      wireColumns(z, C, m, o.dtype);
      const st = softmaxStats(z, C, m);
      for (let j = 0; j < m; j++) [out.exit[s + rest[j]], out.label[s + rest[j]]] = [E, st.label[j]];
    }
  } finally {
    runner?.dispose();
    batcher.dispose();
  }
  let right = 0, edge = 0;
  for (let i = 0; i < data.n; i++) {
    if (out.label[i] === data.y[i]) right++;
    if (out.exit[i] < E) edge++;
  }
  const n = Math.max(1, data.n);
  return { ...out, accuracy: right / n, exitRate: edge / n };
}
function measureCosts(model, o = {}) {
  if (model.split) throw new ValidationError("measureCosts: needs the whole model, not a half of a split");
  const L = model.trunk.length, E = model.exits.length, C = model.classes;
  if (!o.data && !o.known) throw new ValidationError("measureCosts: give held-out data or known accuracies");
  const dtypes = o.dtypes ?? [...FRAME_DTYPES];
  for (const d of [...dtypes, o.offloadDtype ?? "int8"])
    if (!FRAME_DTYPES.includes(d)) throw new ValidationError(`measureCosts: no frame dtype ${JSON.stringify(d)}`);
  const cuts = o.cuts ?? Array.from({ length: L - 1 }, (_, i) => i + 1);
  cuts.forEach((k) => checkInt("measureCosts", "cut", k, 1, L - 1));
  const policies = (o.policies ?? []).map((p) => typeof p === "string" ? parseExitPolicy(p, E) : checkPolicy(p, E));
  const protocolMs = o.protocolMs ?? 0;
  if (!(protocolMs >= 0 && Number.isFinite(protocolMs)))
    throw new ValidationError(`measureCosts: protocolMs must be \u2265 0, got ${String(protocolMs)}`);
  const time = (fn) => timeMs(fn, o.blockMs, o.blocks);
  const x0 = o.data ? o.data.x.subarray(0, model.inputSize) : new Float32Array(model.inputSize);
  const X = Matrix.from(model.engine, model.inputSize, 1, x0);
  const layers = [];
  const acts = [];
  try {
    let h = X;
    model.trunk.forEach((l, i) => {
      const input2 = h;
      layers.push(
        piece(
          `trunk.${i}`,
          l,
          [l],
          time(() => l.forward(input2))
        )
      );
      acts.push(h = l.forward(input2));
    });
    model.exits.forEach((e, k) => {
      const input2 = acts[e.after];
      const ms = time(() => softmaxStats(runLayers(e.layers, input2).view(), C, 1));
      layers.push(piece(`exit.${k}`, e.layers[0], e.layers, ms));
    });
  } finally {
    X.dispose();
  }
  const trunk = layers.slice(0, L), heads = layers.slice(L);
  const sum = (ls, k) => ls.reduce((s, l) => s + l[k], 0);
  const act = (k) => 4 * Math.max(model.inputSize, ...model.trunk.slice(0, k).map((l) => l.outputSize));
  const workingSet = (ls, k) => sum(ls, "storedBytes") + 2 * act(k);
  const answers = (cut, dtype, policy) => systemAnswers(model, o.data, { cut, dtype, ...policy && { policy } });
  const finalAccuracy = o.data ? answers(0, "f32").accuracy : o.known.accuracy;
  const offloadDtype = o.offloadDtype ?? "int8";
  const cutCosts = cuts.map((k) => {
    const edge = trunk.slice(0, k), edgeExits = model.exits.flatMap((e, i) => e.after <= k - 1 ? [heads[i]] : []);
    const w = model.trunk[k - 1].outputSize;
    const exits = [];
    if (edgeExits.length > 0) {
      const known = o.data ? [] : o.known.exits ?? [];
      const candidates = o.data ? policies.map(formatPolicy) : known.map((e) => e.policy);
      candidates.forEach((policy, i) => {
        const measured = o.data ? Object.fromEntries(dtypes.map((d) => [d, answers(k, d, policies[i])])) : void 0;
        exits.push({
          policy,
          exitRate: measured ? measured[dtypes[0]].exitRate : known[i].exitRate,
          accuracy: measured ? Object.fromEntries(dtypes.map((d) => [d, measured[d].accuracy])) : known[i].accuracy,
          ms: sum(edgeExits, "ms"),
          macs: sum(edgeExits, "macs"),
          bytesMoved: sum(edgeExits, "bytesMoved")
        });
      });
    }
    return {
      cut: k,
      edgeMs: sum(edge, "ms"),
      serverMs: sum(trunk.slice(k), "ms") + protocolMs,
      edgeMacs: sum(edge, "macs"),
      serverMacs: sum(trunk.slice(k), "macs"),
      edgeBytesMoved: sum(edge, "bytesMoved"),
      edgeWorkingSetBytes: workingSet([...edge, ...edgeExits], k),
      frameBytes: Object.fromEntries(dtypes.map((d) => [d, frameBytes([w, 1], d)])),
      accuracy: Object.fromEntries(dtypes.map((d) => [d, o.data ? answers(k, d).accuracy : finalAccuracy])),
      exits
    };
  });
  const input = {
    full: {
      edgeMs: sum(trunk, "ms"),
      serverMs: sum(trunk, "ms") + protocolMs,
      macs: sum(trunk, "macs"),
      bytesMoved: sum(trunk, "bytesMoved"),
      workingSetBytes: workingSet(trunk, L),
      accuracy: finalAccuracy
    },
    offloadAccuracy: o.data ? answers(0, offloadDtype).accuracy : finalAccuracy,
    offloadDtype,
    inputBytes: frameBytes([model.inputSize, 1], offloadDtype),
    answerBytes: Object.fromEntries(
      ["f32", offloadDtype, ...dtypes].map((d) => [d, frameBytes([C, 1], d)])
    ),
    cuts: cutCosts
  };
  return { input, layers, samples: o.data?.n ?? 0 };
}
function piece(name, first, ls, ms) {
  const add = (f) => ls.reduce((s, l) => s + f(l), 0);
  return {
    name,
    kind: first.kind,
    ms,
    macs: add((l) => l.macsPerSample()),
    bytesMoved: add(layerBytesMoved),
    storedBytes: add(layerStoredBytes)
  };
}

// ../../../tmp/lp/dense.ts
var engine = await Engine.load({ wasm: "/work/wt/links/dist/lib/presparse.wasm" });
var { test } = loadData("mnist", { seed: 0, padTo: 800 });
for (const degs of [[40, 40, 10], [2, 9, 10]]) {
  const model = Model.mlp(engine, { sizes: [800, 40, 40, 10], outDegrees: degs, seed: 0, exits: [{ after: 0, weight: 1 }], finalWeight: 0.3 });
  for (let rep = 0; rep < 3; rep++) {
    const c = measureCosts(model, { data: test, dtypes: ["int8"] });
    const runner = new ExitRunner(model, void 0, { logits: false });
    const b = new Batcher(engine, test, 1);
    const order = Int32Array.from({ length: 200 }, (_, i) => i);
    const ts = [];
    for (let i = 0; i < 200; i++) {
      const X = b.load(order, i, 1);
      const t0 = performance.now();
      runner.run(X);
      ts.push(performance.now() - t0);
    }
    ts.sort((a, b2) => a - b2);
    console.log(degs.join(","), c.layers.map((l) => (l.ms * 1e3).toFixed(2) + "us").join(" "), "runner p50", (ts[100] * 1e3).toFixed(2), "us");
  }
}
