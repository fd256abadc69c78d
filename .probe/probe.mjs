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
    let hash2 = name.indexOf("#");
    if (hash2 >= 0) {
      const className = name.substring(0, hash2);
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
      name = name.substring(hash2 + 1);
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
  const { readFile: readFile3 } = await import(
    /* @vite-ignore */
    name
  );
  return readFile3(url);
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
var shared;
function defaultEngine(options) {
  if (!shared)
    shared = Engine.load(options).catch((e) => {
      shared = void 0;
      throw e;
    });
  return shared;
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
  static fromSamples(engine2, features, samples2) {
    checkInt("Matrix.fromSamples", "features", features, 1);
    if (samples2.length % features !== 0 || samples2.length === 0) {
      throw new ShapeError(
        `Matrix.fromSamples: ${samples2.length} values are not a whole number (\u2265 1) of ${features}-feature samples`
      );
    }
    const n = samples2.length / features;
    const m = new _Matrix(engine2, features, n);
    const d = m.view();
    for (let b = 0; b < n; b++) for (let f = 0; f < features; f++) d[f * n + b] = samples2[b * features + f];
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
function softmax(Z, P) {
  checkOperands("softmax", Z, P);
  if (P.rows !== Z.rows || P.cols !== Z.cols)
    throw new ShapeError(`softmax: P is ${P.rows}\xD7${P.cols}, Z is ${Z.rows}\xD7${Z.cols}`);
  Z.engine.kernels.softmax(Z.rows, Z.cols, Z.ptr, P.ptr);
  return P;
}
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
  const bad2 = (detail) => new ValidationError(`exit policy: ${detail}`);
  if (p.kind !== "maxprob" && p.kind !== "entropy") throw bad2(`kind must be maxprob or entropy, got ${String(p.kind)}`);
  if (p.thresholds.length !== exits) throw bad2(`${p.thresholds.length} thresholds for ${exits} exits`);
  for (const t of p.thresholds) {
    if (!Number.isFinite(t) || t < 0 || p.kind === "maxprob" && t > 1) {
      throw bad2(`${p.kind} threshold must be ${p.kind === "maxprob" ? "in [0, 1]" : "\u2265 0"}, got ${t}`);
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
    const { sizes: sizes2, outDegrees } = o;
    if (sizes2.length < 2) throw new ValidationError(`Model.mlp: need at least 2 sizes, got [${sizes2}]`);
    if (outDegrees.length !== sizes2.length - 1)
      throw new ValidationError(
        `Model.mlp: ${sizes2.length - 1} layers need ${sizes2.length - 1} out-degrees, got ${outDegrees.length}`
      );
    const seed = o.seed ?? 0;
    const classes = sizes2[sizes2.length - 1];
    const linear = (inputs, outputs, d, seeds, last) => {
      const pattern = d >= outputs ? Pattern.dense(inputs, outputs) : Pattern.fixedDegree(inputs, outputs, d, seeds.pattern);
      const activation2 = last ? "linear" : "relu";
      return new SparseLinear(engine2, pattern, { activation: activation2, biasInit: o.biasInit, seed: seeds.weights });
    };
    return buildOrRollBack(engine2, (s) => {
      const L = outDegrees.length;
      const trunk = outDegrees.map((d, i) => {
        return s.keep(linear(sizes2[i], sizes2[i + 1], d, layerSeeds(seed, i), i === L - 1));
      });
      const exits = (o.exits ?? []).map((e, k) => {
        const head = linear(sizes2[e.after + 1], classes, e.outDegree ?? classes, layerSeeds(seed, 0, k), true);
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
  const bad2 = (detail) => new ValidationError(`Model: split.${detail}`);
  if (r.role !== "head" && r.role !== "tail") throw bad2(`role must be head or tail, got ${String(r.role)}`);
  const cut = checkInt("Model", "split.cut", r.cut, 1);
  const shape = r.activationShape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3) {
    throw bad2(`activationShape must have 1\u20133 dimensions, got ${JSON.stringify(shape)}`);
  }
  shape.forEach((d, i) => checkInt("Model", `split.activationShape[${i}]`, d, 1));
  const width = shape.reduce((a, b) => a * b, 1);
  const L = m.trunk.length, gives = m.trunk[L - 1].outputSize;
  if (r.role === "head") {
    if (L !== cut) throw bad2(`cut: a head cut after layer ${cut} holds ${cut} trunk layers, got ${L}`);
    if (gives !== width) throw new ShapeError(`Model: the head's last layer gives ${gives} features, the cut ${width}`);
  } else {
    if (m.inputSize !== width) throw new ShapeError(`Model: the tail takes ${m.inputSize} features, the cut ${width}`);
    if (m.classes !== r.classes) throw new ShapeError(`Model: the tail gives ${m.classes} classes, split ${r.classes}`);
  }
  checkInt("Model", "split.totalExits", r.totalExits, m.exits.length);
  if (typeof r.hash !== "string" || !HASH_FORMAT.test(r.hash)) {
    throw bad2(`hash must be 16 lowercase hex digits, got ${JSON.stringify(r.hash)}`);
  }
  if (r.policy) checkPolicy(r.policy, m.exits.length);
  if (r.dataSeed !== void 0) checkInt("Model", "split.dataSeed", r.dataSeed, 0, 2 ** 32 - 1);
  return r;
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
  constructor(model2, policy, opts = {}) {
    this.model = model2;
    this.policy = policy && checkPolicy(policy, model2.exits.length);
    this.until = checkInt("ExitRunner", "until", opts.until ?? model2.trunk.length, 1, model2.trunk.length);
    this.keepLogits = opts.logits ?? true;
  }
  model;
  policy;
  until;
  keepLogits;
  cols = [];
  compact = [];
  run(X) {
    const { model: model2, policy } = this;
    if (X.rows !== model2.inputSize) {
      throw new ShapeError(`ExitRunner.run: X has ${X.rows} rows, the model takes ${model2.inputSize} features`);
    }
    const B = X.cols, C = model2.classes;
    const head = model2.split?.role === "head";
    const final = head ? model2.split.totalExits : model2.exits.length;
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
      h = model2.trunk[i].forward(h);
      const ex = model2.exits[next];
      if (!ex || ex.after !== i) continue;
      const e = next++;
      if (!policy) continue;
      const stay = record(runLayers(ex.layers, h), e);
      if (stay.length === alive.length) continue;
      if (stay.length > 0) h = this.gather(e, h, stay);
      alive = Int32Array.from(stay, (j) => alive[j]);
    }
    if (head || this.until < model2.trunk.length) {
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

// src/nn/layers/flatten.ts
var Flatten = class _Flatten {
  kind = "flatten";
  inputShape;
  inputSize;
  constructor(inputShape) {
    if (inputShape.length < 1 || inputShape.length > 3)
      throw new ValidationError(`Flatten: input shape must have 1\u20133 dimensions, got [${inputShape.join(", ")}]`);
    inputShape.forEach((d, i) => checkInt("Flatten", `inputShape[${i}]`, d, 1));
    this.inputShape = [...inputShape];
    this.inputSize = inputShape.reduce((a, b) => a * b, 1);
  }
  get outputSize() {
    return this.inputSize;
  }
  get outputShape() {
    return [this.inputSize];
  }
  forward(X) {
    if (X.rows !== this.inputSize)
      throw new ShapeError(
        `Flatten.forward: X has ${X.rows} rows, expected ${this.inputSize} ([${this.inputShape.join(", ")}])`
      );
    return X;
  }
  backward(dY, needDx) {
    if (dY.rows !== this.inputSize)
      throw new ShapeError(`Flatten.backward: dY has ${dY.rows} rows, expected ${this.inputSize}`);
    return needDx ? dY : void 0;
  }
  params() {
    return [];
  }
  macsPerSample() {
    return 0;
  }
  denseParameterCount() {
    return 0;
  }
  clone() {
    return new _Flatten(this.inputShape);
  }
  dispose() {
  }
};

// src/ops/pool2d.ts
function pool2dShape(op, g) {
  const stride = g.stride ?? g.k;
  checkInt(op, "C", g.C, 1, 1 << 20);
  checkInt(op, "H", g.H, 1, 1 << 16);
  checkInt(op, "W", g.W, 1, 1 << 16);
  checkInt(op, "k", g.k, 1, 1 << 16);
  checkInt(op, "stride", stride, 1, 1 << 16);
  if (g.k > g.H || g.k > g.W)
    throw new ShapeError(`${op}: window ${g.k}\xD7${g.k} is larger than the input ${g.H}\xD7${g.W}`);
  if (g.C * g.H * g.W > 2 ** 31 - 1) throw new ValidationError(`${op}: ${g.C}\xD7${g.H}\xD7${g.W} features exceed 2^31 \u2212 1`);
  return {
    C: g.C,
    H: g.H,
    W: g.W,
    k: g.k,
    stride,
    outH: Math.floor((g.H - g.k) / stride) + 1,
    outW: Math.floor((g.W - g.k) / stride) + 1
  };
}
function check2(op, g, inName, In, outName, Out, inRows, outRows) {
  checkOperands(op, In, Out);
  if (In.rows !== inRows)
    throw new ShapeError(
      `${op}: ${inName} has ${In.rows} rows, expected ${inRows} (${g.C}\xD7${g.H}\xD7${g.W} or ${g.C}\xD7${g.outH}\xD7${g.outW})`
    );
  if (Out.rows !== outRows) throw new ShapeError(`${op}: ${outName} has ${Out.rows} rows, expected ${outRows}`);
  if (Out.cols !== In.cols)
    throw new ShapeError(`${op}: ${outName} has ${Out.cols} columns (batch), ${inName} has ${In.cols}`);
}
function sizes(op, g) {
  const d = pool2dShape(op, g);
  if (d.outH !== g.outH || d.outW !== g.outW) {
    throw new ShapeError(
      `${op}: output ${g.outH}\xD7${g.outW} does not follow from ${g.H}\xD7${g.W}, window ${g.k}, stride ${g.stride} (expected ${d.outH}\xD7${d.outW})`
    );
  }
  return [g.C * g.H * g.W, g.C * g.outH * g.outW];
}
function maxPool2d(g, X, Y) {
  const [inRows, outRows] = sizes("maxPool2d", g);
  check2("maxPool2d", g, "X", X, "Y", Y, inRows, outRows);
  X.engine.kernels.maxPool2d(g.C, g.H, g.W, g.outH, g.outW, g.k, g.stride, X.cols, X.ptr, Y.ptr);
  return Y;
}
function maxPool2dBackward(g, X, Y, dY, dX) {
  const [inRows, outRows] = sizes("maxPool2dBackward", g);
  check2("maxPool2dBackward", g, "X", X, "Y", Y, inRows, outRows);
  check2("maxPool2dBackward", g, "dX", dX, "dY", dY, inRows, outRows);
  checkOperands("maxPool2dBackward", X, dX);
  if (dY.cols !== X.cols) throw new ShapeError(`maxPool2dBackward: dY has ${dY.cols} columns (batch), X has ${X.cols}`);
  X.engine.kernels.maxPool2dBackward(
    g.C,
    g.H,
    g.W,
    g.outH,
    g.outW,
    g.k,
    g.stride,
    X.cols,
    X.ptr,
    Y.ptr,
    dY.ptr,
    dX.ptr
  );
  return dX;
}
function avgPool2d(g, X, Y) {
  const [inRows, outRows] = sizes("avgPool2d", g);
  check2("avgPool2d", g, "X", X, "Y", Y, inRows, outRows);
  X.engine.kernels.avgPool2d(g.C, g.H, g.W, g.outH, g.outW, g.k, g.stride, X.cols, X.ptr, Y.ptr);
  return Y;
}
function avgPool2dBackward(g, dY, dX) {
  const [inRows, outRows] = sizes("avgPool2dBackward", g);
  check2("avgPool2dBackward", g, "dX", dX, "dY", dY, inRows, outRows);
  dY.engine.kernels.avgPool2dBackward(g.C, g.H, g.W, g.outH, g.outW, g.k, g.stride, dY.cols, dY.ptr, dX.ptr);
  return dX;
}

// src/nn/layers/pool2d.ts
var Pool2dLayer = class {
  constructor(engine2, geometry, op) {
    this.engine = engine2;
    this.op = op;
    this.shape = pool2dShape(op, geometry);
  }
  engine;
  op;
  shape;
  // made at the first forward: a layer read from a file has no tensors to pay for its scratch, only numbers
  Y;
  dX;
  X;
  get inputSize() {
    return this.shape.C * this.shape.H * this.shape.W;
  }
  get outputSize() {
    return this.shape.C * this.shape.outH * this.shape.outW;
  }
  /** Per-sample output shape [C, outH, outW]. */
  get outputShape() {
    return [this.shape.C, this.shape.outH, this.shape.outW];
  }
  forward(X) {
    if (X.rows !== this.inputSize)
      throw new ShapeError(
        `${this.op}.forward: X has ${X.rows} rows, layer takes ${this.inputSize} (${this.shape.C}\xD7${this.shape.H}\xD7${this.shape.W})`
      );
    this.X = X;
    this.Y ??= new Matrix(this.engine, this.outputSize, X.cols);
    return this.pool(X, this.Y.reshape(X.cols));
  }
  backward(dY, needDx) {
    const X = this.X;
    if (!X) throw new ValidationError(`${this.op}.backward: called before forward`);
    if (dY.rows !== this.outputSize || dY.cols !== X.cols)
      throw new ShapeError(`${this.op}.backward: dY is ${dY.rows}\xD7${dY.cols}, expected ${this.outputSize}\xD7${X.cols}`);
    if (!needDx) return void 0;
    this.dX ??= new Matrix(this.engine, this.inputSize, dY.cols);
    return this.unpool(X, dY, this.dX.reshape(dY.cols));
  }
  params() {
    return [];
  }
  /** Pooling multiplies nothing by a weight. */
  macsPerSample() {
    return 0;
  }
  dispose() {
    for (const m of [this.Y, this.dX]) m?.dispose();
  }
};
var MaxPool2d = class _MaxPool2d extends Pool2dLayer {
  kind = "maxpool2d";
  constructor(engine2, geometry) {
    super(engine2, geometry, "MaxPool2d");
  }
  pool(X, Y) {
    return maxPool2d(this.shape, X, Y);
  }
  unpool(X, dY, dX) {
    return maxPool2dBackward(this.shape, X, this.Y, dY, dX);
  }
  clone() {
    return new _MaxPool2d(this.engine, this.shape);
  }
};
var AvgPool2d = class _AvgPool2d extends Pool2dLayer {
  kind = "avgpool2d";
  constructor(engine2, geometry) {
    super(engine2, geometry, "AvgPool2d");
  }
  pool(X, Y) {
    return avgPool2d(this.shape, X, Y);
  }
  unpool(_X, dY, dX) {
    return avgPool2dBackward(this.shape, dY, dX);
  }
  clone() {
    return new _AvgPool2d(this.engine, this.shape);
  }
};

// src/ops/sparse_conv2d.ts
var MAX_KERNEL = 65535;
function convOutputSize(n, k, s, p) {
  return Math.floor((n + 2 * p - k) / s) + 1;
}
var CONV_GEOMETRY_KEYS = ["inC", "outC", "H", "W", "kh", "kw", "stride", "padding"];
var ConvWeights = class {
  constructor(engine2, geometry, pattern, opts = {}) {
    this.engine = engine2;
    this.pattern = pattern;
    const op = "ConvWeights";
    const g = checkGeometry(op, geometry);
    ({
      inC: this.inC,
      outC: this.outC,
      H: this.H,
      W: this.W,
      kh: this.kh,
      kw: this.kw,
      stride: this.stride,
      padding: this.padding
    } = g);
    this.outH = convOutputSize(g.H, g.kh, g.stride, g.padding);
    this.outW = convOutputSize(g.W, g.kw, g.stride, g.padding);
    if (pattern.inputs !== g.inC || pattern.outputs !== g.outC) {
      throw new PatternError(
        `${op}: channel pattern is ${pattern.inputs}\u2192${pattern.outputs}, layer is ${g.inC}\u2192${g.outC} channels`
      );
    }
    const K = g.kh * g.kw;
    this.tapMask = expandTaps(op, opts.taps, pattern.nnz, K);
    const mask = this.tapMask;
    const stored = (p, t) => mask === void 0 || mask[p * K + t] !== 0;
    const connStart = new Int32Array(pattern.nnz + 1);
    for (let p = 0; p < pattern.nnz; p++) {
      let n = 0;
      for (let t = 0; t < K; t++) if (stored(p, t)) n++;
      connStart[p + 1] = connStart[p] + n;
    }
    this.nnz = connStart[pattern.nnz];
    checkInt(op, "stored taps", this.nnz, 0, 2 ** 31 - 1);
    if (opts.values && opts.values.length !== this.nnz)
      throw new ShapeError(`${op}: ${opts.values.length} values for ${this.nnz} stored taps`);
    const plane = g.H * g.W, planeO = this.outH * this.outW;
    const rowPtr = Int32Array.from(pattern.rowPtr, (p) => connStart[p]);
    const fOff = new Int32Array(this.nnz), fTap = new Int32Array(this.nnz);
    for (let p = 0, j2 = 0; p < pattern.nnz; p++) {
      const c = pattern.colIdx[p];
      for (let t = 0; t < K; t++) {
        if (!stored(p, t)) continue;
        const ky = Math.floor(t / g.kw), kx = t % g.kw;
        fOff[j2] = c * plane + ky * g.W + kx;
        fTap[j2++] = ky << 16 | kx;
      }
    }
    const bPtr = new Int32Array(g.inC + 1);
    const bOff = new Int32Array(this.nnz), bTap = new Int32Array(this.nnz), bPerm = new Int32Array(this.nnz);
    let j = 0;
    for (let c = 0; c < g.inC; c++) {
      for (let q = pattern.colPtr[c]; q < pattern.colPtr[c + 1]; q++) {
        const p = pattern.perm[q], o = pattern.rowIdx[q];
        let v = connStart[p];
        for (let t = 0; t < K; t++) {
          if (!stored(p, t)) continue;
          const ky = Math.floor(t / g.kw), kx = t % g.kw;
          bOff[j] = o * planeO - ky * this.outW - kx;
          bTap[j] = ky << 16 | kx;
          bPerm[j++] = v++;
        }
      }
      bPtr[c + 1] = j;
    }
    let macs = 0;
    for (let e = 0; e < this.nnz; e++) {
      macs += validCount(fTap[e] >>> 16, g.H, this.outH, g.stride, g.padding) * validCount(fTap[e] & 65535, g.W, this.outW, g.stride, g.padding);
    }
    this.macs = macs;
    this.rowPtr = rowPtr;
    this.fwdPtr = I32Buffer.from(engine2, rowPtr);
    this.fwdOff = I32Buffer.from(engine2, fOff);
    this.fwdTap = I32Buffer.from(engine2, fTap);
    this.bwdPtr = I32Buffer.from(engine2, bPtr);
    this.bwdOff = I32Buffer.from(engine2, bOff);
    this.bwdTap = I32Buffer.from(engine2, bTap);
    this.bwdPerm = I32Buffer.from(engine2, bPerm);
    this.values = new F32Buffer(engine2, this.nnz);
    if (opts.values) this.values.view().set(opts.values);
  }
  engine;
  pattern;
  inC;
  outC;
  H;
  W;
  kh;
  kw;
  stride;
  padding;
  outH;
  outW;
  /** Stored taps = length of values. */
  nnz;
  /** Per connection × tap (pattern.nnz·kh·kw), 1 = stored; undefined when every tap is stored. */
  tapMask;
  values;
  fwdPtr;
  fwdOff;
  fwdTap;
  bwdPtr;
  bwdOff;
  bwdTap;
  bwdPerm;
  /** Row pointers of the values over output channels (outC + 1). */
  rowPtr;
  macs;
  /** The checked geometry, stride and padding filled in. */
  get geometry() {
    return Object.fromEntries(CONV_GEOMETRY_KEYS.map((k) => [k, this[k]]));
  }
  /** Features per sample in (inC·H·W) and out (outC·outH·outW). */
  get inputSize() {
    return this.inC * this.H * this.W;
  }
  get outputSize() {
    return this.outC * this.outH * this.outW;
  }
  /** Multiply-accumulates per sample: stored taps × the output positions where the tap lands inside the image. */
  macsPerSample() {
    return this.macs;
  }
  /** True after dispose(). */
  get disposed() {
    return this.values.disposed;
  }
  dispose() {
    for (const b of [
      this.values,
      this.fwdPtr,
      this.fwdOff,
      this.fwdTap,
      this.bwdPtr,
      this.bwdOff,
      this.bwdTap,
      this.bwdPerm
    ])
      b.dispose();
  }
};
function validCount(k, n, outN, s, p) {
  const lo = Math.max(0, Math.ceil((p - k) / s));
  const hi = Math.min(outN - 1, Math.floor((n - 1 + p - k) / s));
  return Math.max(0, hi - lo + 1);
}
function checkGeometry(op, g) {
  const r = { ...g, stride: g.stride ?? 1, padding: g.padding ?? 0 };
  checkInt(op, "inC", r.inC, 1, 1 << 20);
  checkInt(op, "outC", r.outC, 1, 1 << 20);
  checkInt(op, "H", r.H, 1, 1 << 16);
  checkInt(op, "W", r.W, 1, 1 << 16);
  checkInt(op, "kh", r.kh, 1, MAX_KERNEL);
  checkInt(op, "kw", r.kw, 1, MAX_KERNEL);
  checkInt(op, "stride", r.stride, 1, 1 << 16);
  checkInt(op, "padding", r.padding, 0, 1 << 16);
  if (r.H + 2 * r.padding < r.kh || r.W + 2 * r.padding < r.kw) {
    throw new ShapeError(
      `${op}: kernel ${r.kh}\xD7${r.kw} is larger than the padded input ${r.H + 2 * r.padding}\xD7${r.W + 2 * r.padding} (H ${r.H}, W ${r.W}, padding ${r.padding})`
    );
  }
  const outSize = r.outC * convOutputSize(r.H, r.kh, r.stride, r.padding) * convOutputSize(r.W, r.kw, r.stride, r.padding);
  if (r.inC * r.H * r.W > 2 ** 31 - 1 || outSize > 2 ** 31 - 1)
    throw new ValidationError(`${op}: activations of ${r.inC}\xD7${r.H}\xD7${r.W} or ${outSize} features exceed 2^31 \u2212 1`);
  return r;
}
function expandTaps(op, taps, conns, K) {
  if (taps === void 0) return void 0;
  if (taps.length !== K && taps.length !== conns * K) {
    throw new ShapeError(
      `${op}: tap mask has ${taps.length} entries, expected kh\xB7kw = ${K} or connections\xB7kh\xB7kw = ${conns * K}`
    );
  }
  const m = new Uint8Array(conns * K);
  for (let i = 0; i < m.length; i++) m[i] = taps[taps.length === K ? i % K : i] ? 1 : 0;
  return m.every((v) => v === 1) ? void 0 : m;
}
function checkActs(op, inName, In, outName, Out, inRows, outRows) {
  if (In.rows !== inRows) throw new ShapeError(`${op}: ${inName} has ${In.rows} rows, expected ${inRows}`);
  if (Out.rows !== outRows) throw new ShapeError(`${op}: ${outName} has ${Out.rows} rows, expected ${outRows}`);
  if (Out.cols !== In.cols)
    throw new ShapeError(`${op}: ${outName} has ${Out.cols} columns (batch), ${inName} has ${In.cols}`);
}
function sparseConv2d(Wt, X, Y, opts = {}) {
  const op = "sparseConv2d";
  checkOperands(op, Wt, X, Y, opts.bias);
  checkActs(op, "X", X, "Y", Y, Wt.inputSize, Wt.outputSize);
  if (opts.bias && opts.bias.length !== Wt.outC)
    throw new ShapeError(`${op}: bias has ${opts.bias.length} entries, layer has ${Wt.outC} output channels`);
  Wt.engine.kernels.sparseConv2d(
    Wt.outC,
    Wt.outH,
    Wt.outW,
    Wt.H,
    Wt.W,
    Wt.kh,
    Wt.kw,
    Wt.stride,
    Wt.padding,
    Wt.padding,
    X.cols,
    Wt.fwdPtr.ptr,
    Wt.fwdOff.ptr,
    Wt.fwdTap.ptr,
    Wt.values.ptr,
    X.ptr,
    opts.bias?.ptr ?? 0,
    Y.ptr,
    opts.relu ? 1 : 0
  );
  return Y;
}
function sparseConv2dBackward(Wt, dY, dX) {
  const op = "sparseConv2dBackward";
  checkOperands(op, Wt, dY, dX);
  checkActs(op, "dY", dY, "dX", dX, Wt.outputSize, Wt.inputSize);
  Wt.engine.kernels.sparseConv2dBackwardInput(
    Wt.inC,
    Wt.H,
    Wt.W,
    Wt.outH,
    Wt.outW,
    Wt.kh,
    Wt.kw,
    Wt.stride,
    Wt.padding,
    Wt.padding,
    dY.cols,
    Wt.bwdPtr.ptr,
    Wt.bwdOff.ptr,
    Wt.bwdTap.ptr,
    Wt.bwdPerm.ptr,
    Wt.values.ptr,
    dY.ptr,
    dX.ptr
  );
  return dX;
}
function sparseConv2dBackwardWeights(Wt, dY, X, dValues, dBias) {
  const op = "sparseConv2dBackwardWeights";
  checkOperands(op, Wt, dY, X, dValues, dBias);
  checkActs(op, "X", X, "dY", dY, Wt.inputSize, Wt.outputSize);
  if (dValues.length !== Wt.nnz)
    throw new ShapeError(`${op}: dValues has ${dValues.length} entries, layer stores ${Wt.nnz} taps`);
  if (dBias && dBias.length !== Wt.outC)
    throw new ShapeError(`${op}: dBias has ${dBias.length} entries, layer has ${Wt.outC} output channels`);
  Wt.engine.kernels.sparseConv2dBackwardWeights(
    Wt.outC,
    Wt.outH,
    Wt.outW,
    Wt.H,
    Wt.W,
    Wt.stride,
    Wt.padding,
    Wt.padding,
    X.cols,
    Wt.fwdPtr.ptr,
    Wt.fwdOff.ptr,
    Wt.fwdTap.ptr,
    dY.ptr,
    X.ptr,
    dValues.ptr,
    dBias?.ptr ?? 0
  );
  return dValues;
}

// src/nn/layers/sparse_conv2d.ts
var SparseConv2d = class _SparseConv2d {
  constructor(engine2, opts) {
    this.engine = engine2;
    this.activation = opts.activation ?? "relu";
    if (this.activation !== "relu" && this.activation !== "linear")
      throw new ValidationError(`SparseConv2d: activation must be relu or linear, got ${String(this.activation)}`);
    if (opts.bias && opts.bias.length !== opts.outC) {
      throw new ShapeError(
        `SparseConv2d: bias has ${opts.bias.length} entries, layer has ${opts.outC} output channels`
      );
    }
    this.pattern = opts.pattern ?? Pattern.dense(opts.inC, opts.outC);
    this.weights = new ConvWeights(engine2, opts, this.pattern, { taps: opts.taps, values: opts.values });
    if (!opts.values) this.weights.values.view().set(heNormalConv(this.weights, opts.seed ?? 0));
    this.bias = F32Buffer.from(engine2, opts.bias ?? new Float32Array(opts.outC).fill(opts.biasInit ?? 0.1));
    this.dValues = new F32Buffer(engine2, this.weights.nnz);
    this.dBias = new F32Buffer(engine2, opts.outC);
  }
  engine;
  kind = "conv2d";
  weights;
  bias;
  activation;
  pattern;
  dValues;
  dBias;
  // made at the first forward: its size (outC·outH·outW) comes from the geometry, which no tensor pays for
  Y;
  dZ;
  dX;
  X;
  get inputSize() {
    return this.weights.inputSize;
  }
  get outputSize() {
    return this.weights.outputSize;
  }
  /** Per-sample output shape [outC, outH, outW]. */
  get outputShape() {
    return [this.weights.outC, this.weights.outH, this.weights.outW];
  }
  forward(X) {
    if (X.rows !== this.inputSize)
      throw new ShapeError(
        `SparseConv2d.forward: X has ${X.rows} rows, layer takes ${this.inputSize} (${this.weights.inC}\xD7${this.weights.H}\xD7${this.weights.W})`
      );
    this.X = X;
    this.Y ??= new Matrix(this.engine, this.outputSize, X.cols);
    return sparseConv2d(this.weights, X, this.Y.reshape(X.cols), { bias: this.bias, relu: this.activation === "relu" });
  }
  backward(dY, needDx) {
    const X = this.X;
    if (!X) throw new ValidationError("SparseConv2d.backward: called before forward");
    if (dY.rows !== this.outputSize || dY.cols !== X.cols)
      throw new ShapeError(`SparseConv2d.backward: dY is ${dY.rows}\xD7${dY.cols}, expected ${this.outputSize}\xD7${X.cols}`);
    let dZ = dY;
    if (this.activation === "relu") {
      this.dZ ??= new Matrix(this.engine, this.outputSize, dY.cols);
      dZ = reluBackward(this.Y, dY, this.dZ.reshape(dY.cols));
    }
    sparseConv2dBackwardWeights(this.weights, dZ, X, this.dValues, this.dBias);
    if (!needDx) return void 0;
    this.dX ??= new Matrix(this.engine, this.inputSize, dY.cols);
    return sparseConv2dBackward(this.weights, dZ, this.dX.reshape(dY.cols));
  }
  params() {
    return [
      { name: "values", values: this.weights.values, grad: this.dValues, decay: true },
      { name: "bias", values: this.bias, grad: this.dBias, decay: false }
    ];
  }
  macsPerSample() {
    return this.weights.macsPerSample();
  }
  clone() {
    const w = this.weights;
    return new _SparseConv2d(this.engine, {
      ...w.geometry,
      pattern: this.pattern,
      taps: w.tapMask,
      activation: this.activation,
      values: w.values.toArray(),
      bias: this.bias.toArray()
    });
  }
  dispose() {
    this.weights.dispose();
    for (const b of [this.bias, this.dValues, this.dBias]) b.dispose();
    for (const m of [this.Y, this.dZ, this.dX]) m?.dispose();
  }
};
function heNormalConv(w, seed) {
  return heNormalRows(w.rowPtr, seed);
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

// src/io/safetensors.ts
var DTYPES = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  U16: Uint16Array,
  I16: Int16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  U32: Uint32Array,
  I32: Int32Array,
  F32: Float32Array,
  U64: BigUint64Array,
  I64: BigInt64Array,
  F64: Float64Array
};
var SAFETENSORS_DTYPES = Object.keys(DTYPES);
var METADATA = "__metadata__";
function isDtype(d) {
  return typeof d === "string" && Object.hasOwn(DTYPES, d);
}
function byteLength(shape, size) {
  let n = size;
  for (const d of shape) {
    if (d !== 0 && n > Number.MAX_SAFE_INTEGER / d) return void 0;
    n *= d;
  }
  return n;
}
function isShape(s) {
  return Array.isArray(s) && s.every((d) => Number.isSafeInteger(d) && d >= 0);
}
function encodeSafetensors(tensors, metadata = {}) {
  const op = "encodeSafetensors";
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA) throw new ValidationError(`${op}: "${METADATA}" is reserved and cannot name a tensor`);
    if (!isDtype(t.dtype))
      throw new ValidationError(
        `${op}: tensor "${name}": dtype must be one of ${SAFETENSORS_DTYPES.join(", ")}, got ${String(t.dtype)}`
      );
    const ctor = DTYPES[t.dtype];
    if (!isShape(t.shape))
      throw new ValidationError(
        `${op}: tensor "${name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`
      );
    const tag = Object.prototype.toString.call(t.data);
    if (tag !== `[object ${ctor.name}]`)
      throw new ValidationError(`${op}: tensor "${name}": ${t.dtype} data must be a ${ctor.name}, got ${tag}`);
    const bytes = byteLength(t.shape, ctor.BYTES_PER_ELEMENT);
    if (bytes !== t.data.byteLength) {
      throw new ValidationError(
        `${op}: tensor "${name}": shape [${t.shape.join(", ")}] needs ${bytes ?? "too many"} bytes, data has ${t.data.byteLength}`
      );
    }
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") throw new ValidationError(`${op}: metadata "${k}" must be a string, got ${typeof v}`);
  }
  const size = (t) => DTYPES[t.dtype].BYTES_PER_ELEMENT;
  entries.sort(([a, ta], [b, tb]) => size(tb) - size(ta) || (a < b ? -1 : a > b ? 1 : 0));
  const header2 = [];
  if (Object.keys(metadata).length > 0) header2.push([METADATA, metadata]);
  let offset = 0;
  for (const [name, t] of entries) {
    header2.push([name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header2)));
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n % 2 ** 32, true);
  view.setUint32(4, Math.floor(n / 2 ** 32), true);
  out.set(json, 8);
  out.fill(32, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
function decodeSafetensors(bytes, options = {}) {
  const { maxHeaderBytes = 1e8, copy = false, source, maxJsonDepth = 64 } = options;
  const fail = (field, detail) => {
    throw new FormatError("safetensors", field, source === void 0 ? detail : `${detail} (in ${source})`);
  };
  if (bytes.length < 8) fail("header length", `need 8 bytes, buffer has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (n > maxHeaderBytes) fail("header length", `${n} bytes exceeds the ${maxHeaderBytes}-byte cap`);
  if (8 + n > bytes.length) fail("header length", `${n} bytes of header but only ${bytes.length - 8} follow`);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header", "not valid UTF-8");
  }
  checkJsonDepth(
    text,
    maxJsonDepth,
    (detail) => new FormatError("safetensors", "header", source === void 0 ? detail : `${detail} (in ${source})`)
  );
  let header2;
  try {
    header2 = JSON.parse(text);
  } catch (e) {
    fail("header", `not valid JSON (${e.message})`);
  }
  if (typeof header2 !== "object" || header2 === null || Array.isArray(header2)) fail("header", "JSON is not an object");
  const dup = duplicateKey(text);
  if (dup !== void 0) fail("header", `duplicate key ${JSON.stringify(dup)}`);
  let metadata = {};
  const infos = [];
  for (const [name, info] of Object.entries(header2)) {
    if (name === METADATA) {
      metadata = readMetadata(info, fail);
      continue;
    }
    if (typeof info !== "object" || info === null || Array.isArray(info)) fail("tensor", `"${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDtype(dtype)) fail("dtype", `tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
    if (!isShape(shape))
      fail("shape", `tensor "${name}": expected an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      fail(
        "data_offsets",
        `tensor "${name}": expected [begin, end] integers with begin \u2264 end, got ${JSON.stringify(offsets)}`
      );
    }
    const [begin, end] = offsets;
    const want = byteLength(shape, DTYPES[dtype].BYTES_PER_ELEMENT);
    if (want === void 0) fail("shape", `tensor "${name}": [${shape.join(", ")}] overflows`);
    if (want !== end - begin)
      fail(
        "data_offsets",
        `tensor "${name}": ${dtype} [${shape.join(", ")}] needs ${want} bytes, range [${begin}, ${end}] has ${end - begin}`
      );
    infos.push({ name, dtype, shape, begin, end });
  }
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let expected2 = 0;
  for (const t of infos) {
    if (t.begin !== expected2) {
      fail(
        "data_offsets",
        `tensor "${t.name}" starts at ${t.begin}, expected ${expected2} (${t.begin < expected2 ? "overlap" : "gap"})`
      );
    }
    expected2 = t.end;
  }
  if (expected2 !== dataLength) fail("data", `tensors cover ${expected2} bytes, data region has ${dataLength}`);
  const tensors = /* @__PURE__ */ new Map();
  for (const t of infos) {
    const ctor = DTYPES[t.dtype];
    const at = bytes.byteOffset + dataStart + t.begin;
    const count = (t.end - t.begin) / ctor.BYTES_PER_ELEMENT;
    const data = !copy && at % ctor.BYTES_PER_ELEMENT === 0 ? new ctor(bytes.buffer, at, count) : (
      // Uint8Array's slice copies; a Node Buffer's slice would be a view of a shared pool
      new ctor(Uint8Array.prototype.slice.call(bytes, dataStart + t.begin, dataStart + t.end).buffer, 0, count)
    );
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  return { tensors, metadata };
}
function readMetadata(info, fail) {
  if (info === null) return {};
  if (typeof info !== "object" || Array.isArray(info)) fail(METADATA, "expected an object of strings");
  const entries = Object.entries(info);
  for (const [k, v] of entries) {
    if (typeof v !== "string") fail(METADATA, `"${k}" must be a string, got ${JSON.stringify(v)}`);
  }
  return Object.fromEntries(entries);
}
function checkJsonDepth(json, max, fail) {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34) {
      i++;
      while (i < json.length && json.charCodeAt(i) !== 34) i += json.charCodeAt(i) === 92 ? 2 : 1;
    } else if (c === 123 || c === 91) {
      if (++depth > max) throw fail(`JSON nested deeper than ${max} levels`);
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
}
function duplicateKey(json) {
  const stack = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34) {
      let j = i + 1;
      while (json.charCodeAt(j) !== 34) j += json.charCodeAt(j) === 92 ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(json.slice(i, j + 1));
        const keys = stack[stack.length - 1];
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 123) {
      stack.push(/* @__PURE__ */ new Set());
      expectKey = true;
    } else if (c === 91) {
      stack.push(null);
    } else if (c === 125 || c === 93) {
      stack.pop();
    } else if (c === 44) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return void 0;
}

// src/io/model_io.ts
var MODEL_FORMAT_VERSION = 1;
var STORED_DTYPES = ["F32", "I32", "U16"];
var DEFAULT_MODEL_LIMITS = Object.freeze({
  maxFeatures: 2 ** 22,
  maxTotalFeatures: 2 ** 25,
  maxLayers: 4096,
  maxJsonDepth: 64
});
var CODECS = {
  linear: {
    encode(layer, o) {
      const l = layer, p = l.pattern;
      const full = p.nnz === p.inputs * p.outputs;
      const spec = {
        kind: l.kind,
        inputs: p.inputs,
        outputs: p.outputs,
        activation: l.activation,
        pattern: p.kind,
        patternHash: p.hash,
        nnz: p.nnz,
        shape: [p.outputs, p.inputs],
        layout: full ? "dense" : "csr"
      };
      const tensors = {
        values: { dtype: "F32", shape: [p.nnz], data: l.weights.values.toArray() },
        bias: { dtype: "F32", shape: [p.outputs], data: l.bias.toArray() }
      };
      if (!full) {
        tensors.row_ptr = { dtype: "I32", shape: [p.outputs + 1], data: p.rowPtr };
        tensors.col_idx = colIdxTensor(p, o.indexDtype ?? "i32");
      }
      return { spec, tensors };
    },
    features: (r) => [r.int("inputs"), r.int("outputs")],
    decode(engine2, r) {
      const inputs = r.spec.inputs, outputs = r.spec.outputs;
      const values = r.tensor("values", "F32").data, bias = r.tensor("bias", "F32").data;
      const full = r.spec.nnz === inputs * outputs && !r.has("row_ptr") && !r.has("col_idx");
      if (full && values.length !== r.spec.nnz) {
        throw r.fail("values", `${values.length} values for ${inputs}\xD7${outputs} connections`);
      }
      const d = full ? r.build("pattern", () => Pattern.dense(inputs, outputs)) : void 0;
      const rowPtr = d?.rowPtr ?? r.tensor("row_ptr", "I32").data;
      const colIdx = d?.colIdx ?? r.tensor("col_idx", "U16", "I32").data;
      const pattern = r.pattern(inputs, outputs, rowPtr, colIdx);
      if (values.length !== pattern.nnz) throw r.fail("values", `${values.length} values for nnz ${pattern.nnz}`);
      if (bias.length !== outputs) throw r.fail("bias", `${bias.length} entries for ${outputs} outputs`);
      checkReaderRecord(r, [outputs, inputs], full ? "dense" : "csr");
      return new SparseLinear(engine2, pattern, { activation: r.activation(), values, bias });
    }
  },
  conv2d: {
    encode(layer) {
      const l = layer, p = l.pattern, w = l.weights;
      const spec = {
        kind: l.kind,
        ...w.geometry,
        outH: w.outH,
        outW: w.outW,
        inputs: l.inputSize,
        outputs: l.outputSize,
        activation: l.activation,
        pattern: p.kind,
        patternHash: p.hash,
        taps: w.tapMask ? "mask" : "all",
        nnz: w.nnz,
        shape: [w.outC, w.inC, w.kh, w.kw],
        layout: "csr-taps"
      };
      const tensors = {
        row_ptr: { dtype: "I32", shape: [p.outputs + 1], data: p.rowPtr },
        col_idx: { dtype: "I32", shape: [p.nnz], data: p.colIdx },
        values: { dtype: "F32", shape: [w.nnz], data: w.values.toArray() },
        bias: { dtype: "F32", shape: [w.outC], data: l.bias.toArray() }
      };
      if (w.tapMask) tensors.tap_mask = { dtype: "I32", shape: [p.nnz, w.kh, w.kw], data: Int32Array.from(w.tapMask) };
      return { spec, tensors };
    },
    features(r) {
      const [H, W, stride, padding] = [r.int("H"), r.int("W"), r.int("stride"), r.int("padding")];
      const outH = convOutputSize(H, r.int("kh"), stride, padding), outW = convOutputSize(W, r.int("kw"), stride, padding);
      return [r.int("inC") * H * W, r.int("outC") * outH * outW];
    },
    decode(engine2, r) {
      const g = Object.fromEntries(CONV_GEOMETRY_KEYS.map((k) => [k, r.int(k)]));
      const pattern = r.pattern(g.inC, g.outC, r.tensor("row_ptr", "I32").data, r.tensor("col_idx", "I32").data);
      const activation2 = r.activation();
      const mask = r.has("tap_mask") ? r.tensor("tap_mask", "I32").data : void 0;
      const K = g.kh * g.kw;
      if (mask && mask.length !== pattern.nnz * K) {
        throw r.fail("tap_mask", `${mask.length} entries for ${pattern.nnz} connections \xD7 ${K} taps`);
      }
      const values = r.tensor("values", "F32").data, bias = r.tensor("bias", "F32").data;
      let stored = pattern.nnz * K;
      if (mask) {
        stored = 0;
        for (let i = 0; i < mask.length; i++) if (mask[i]) stored++;
      }
      if (values.length !== stored) throw r.fail("values", `${values.length} values for ${stored} stored taps`);
      if (bias.length !== g.outC) throw r.fail("bias", `${bias.length} entries for ${g.outC} output channels`);
      checkReaderRecord(r, [g.outC, g.inC, g.kh, g.kw], "csr-taps");
      const state = { pattern, taps: mask, activation: activation2, values, bias };
      return r.build(void 0, () => new SparseConv2d(engine2, { ...g, ...state }));
    }
  },
  maxpool2d: pool((engine2, g) => new MaxPool2d(engine2, g)),
  avgpool2d: pool((engine2, g) => new AvgPool2d(engine2, g)),
  flatten: {
    encode(layer) {
      return { spec: { kind: layer.kind, inputShape: [...layer.inputShape] }, tensors: {} };
    },
    features(r) {
      const n = flattenShape(r).reduce((a, b) => a * b, 1);
      return [n, n];
    },
    decode(_engine, r) {
      const s = flattenShape(r);
      return r.build("inputShape", () => new Flatten(s));
    }
  }
};
function flattenShape(r) {
  const s = r.spec.inputShape;
  if (!Array.isArray(s) || !s.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw r.fail("inputShape", `expected positive integers, got ${JSON.stringify(s)}`);
  }
  return s;
}
var INDEX_DTYPES = ["i32", "u16"];
function checkReaderRecord(r, shape, layout) {
  const s = r.spec.shape, l = r.spec.layout;
  if (s !== void 0 && (!Array.isArray(s) || s.length !== shape.length || s.some((d, i) => d !== shape[i]))) {
    throw r.fail("shape", `expected [${shape.join(", ")}], got ${JSON.stringify(s)}`);
  }
  if (l !== void 0 && l !== layout) throw r.fail("layout", `expected ${layout}, got ${JSON.stringify(l)}`);
}
function colIdxTensor(p, dtype) {
  return dtype === "u16" && p.inputs <= 65536 ? { dtype: "U16", shape: [p.nnz], data: Uint16Array.from(p.colIdx) } : { dtype: "I32", shape: [p.nnz], data: p.colIdx };
}
function pool(make) {
  return {
    encode(layer) {
      const s = layer.shape;
      const spec = {
        kind: layer.kind,
        C: s.C,
        H: s.H,
        W: s.W,
        k: s.k,
        stride: s.stride,
        outH: s.outH,
        outW: s.outW,
        inputs: layer.inputSize,
        outputs: layer.outputSize
      };
      return { spec, tensors: {} };
    },
    features(r) {
      const geometry = { C: r.int("C"), H: r.int("H"), W: r.int("W"), k: r.int("k"), stride: r.int("stride") };
      const g = r.build(void 0, () => pool2dShape("pool2d", geometry));
      return [g.C * g.H * g.W, g.C * g.outH * g.outW];
    },
    decode(engine2, r) {
      const g = { C: r.int("C"), H: r.int("H"), W: r.int("W"), k: r.int("k"), stride: r.int("stride") };
      return r.build(void 0, () => make(engine2, g));
    }
  };
}
var LayerReader = class {
  constructor(spec, tensors, where) {
    this.spec = spec;
    this.tensors = tensors;
    this.where = where;
  }
  spec;
  tensors;
  where;
  fail(part, detail) {
    return new FormatError("model", `${this.where}.${part}`, detail);
  }
  has(name) {
    return this.tensors[name] !== void 0;
  }
  tensor(name, ...dtypes) {
    const x = this.tensors[name];
    if (!x) throw this.fail(name, "tensor missing");
    if (!dtypes.includes(x.dtype)) throw this.fail(name, `dtype ${x.dtype}, expected ${dtypes.join(" or ")}`);
    if (x.data instanceof Float32Array) {
      const d = x.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i]))
          throw this.fail(name, `element ${i} is ${d[i]}; weights and biases must be finite`);
      }
    }
    return x;
  }
  int(key) {
    const v = this.spec[key];
    if (typeof v !== "number" || !Number.isInteger(v)) {
      throw this.fail(key, `expected an integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  activation() {
    const a = this.spec.activation;
    if (a !== "relu" && a !== "linear") throw this.fail("activation", `unknown activation ${String(a)}`);
    return a;
  }
  /** The pattern of stored CSR arrays, checked for every CSR invariant and against the hash in the record. */
  pattern(inputs, outputs, rowPtr, colIdx) {
    const kind = String(this.spec.pattern ?? "csr");
    const pattern = this.build("pattern", () => Pattern.fromCsr(inputs, outputs, rowPtr, colIdx, kind));
    const want = this.spec.patternHash;
    if (want !== void 0 && want !== pattern.hash) {
      throw this.fail("patternHash", `metadata says ${String(want)}, tensors hash to ${pattern.hash}`);
    }
    return pattern;
  }
  /** Runs build; whatever it rejects becomes a FormatError at the part (or the layer itself). */
  build(part, build) {
    return rejectedAt(part === void 0 ? this.where : `${this.where}.${part}`, build);
  }
};
function rejectedAt(where, build, source) {
  try {
    return build();
  } catch (e) {
    throw new FormatError("model", where, `${source === void 0 ? "" : `${source}: `}${e.message}`);
  }
}
function encodeLayer(layer, opts = {}) {
  const codec = Object.hasOwn(CODECS, layer.kind) ? CODECS[layer.kind] : void 0;
  if (!codec) {
    const kinds = Object.keys(CODECS).join(", ");
    throw new ValidationError(`encodeLayer: kind must be one of ${kinds}, got ${JSON.stringify(layer.kind)}`);
  }
  if (opts.indexDtype !== void 0 && !INDEX_DTYPES.includes(opts.indexDtype)) {
    throw new ValidationError(
      `encodeLayer: indexDtype must be ${INDEX_DTYPES.join(" or ")}, got ${JSON.stringify(opts.indexDtype)}`
    );
  }
  return codec.encode(layer, opts);
}
function decodeLayer(engine2, spec, tensors, where) {
  const codec = Object.hasOwn(CODECS, spec.kind) ? CODECS[spec.kind] : void 0;
  if (!codec) throw new FormatError("model", `${where}.kind`, `unknown layer kind ${JSON.stringify(spec.kind)}`);
  return codec.decode(engine2, new LayerReader(spec, tensors, where));
}
function fileSplitRecord(r) {
  const activationWidth = r.activationShape.reduce((a, b) => a * b, 1);
  return {
    role: r.role,
    after: r.cut,
    splitId: r.cut,
    activationWidth,
    activationShape: r.activationShape,
    classes: r.classes,
    totalExits: r.totalExits,
    ...r.dataSeed !== void 0 ? { dataSeed: r.dataSeed } : {}
  };
}
function modelSpec(model2, extra) {
  const r = model2.split;
  const all = r ? { ...extra, split: fileSplitRecord(r), ...r.policy && { policy: formatPolicy(r.policy) } } : extra;
  return {
    format: "presparse",
    version: MODEL_FORMAT_VERSION,
    classes: model2.classes,
    inputShape: model2.inputShape,
    finalWeight: model2.finalWeight,
    trunk: model2.trunk.map((l) => encodeLayer(l).spec),
    exits: model2.exits.map((e) => ({
      after: e.after,
      weight: e.weight,
      layers: e.layers.map((l) => encodeLayer(l).spec)
    })),
    ...all ? { extra: all } : {}
  };
}
function modelTensors(model2, opts = {}) {
  const out = {};
  const add = (prefix, l) => {
    for (const [name, t] of Object.entries(encodeLayer(l, opts).tensors)) {
      out[`${prefix}.${name}`] = { ...t, data: t.data };
    }
  };
  model2.trunk.forEach((l, i) => add(`trunk.${i}`, l));
  model2.exits.forEach((e, k) => e.layers.forEach((l, j) => add(`exit.${k}.${j}`, l)));
  return out;
}
function hashModel(spec, tensors) {
  let h1 = 2166136261, h2 = 625341585;
  const byte = (b) => {
    h1 = Math.imul(h1 ^ b, 16777619);
    h2 = Math.imul(h2 ^ b, 1540483477);
    h2 ^= h2 >>> 15;
  };
  const { extra: _extra, ...arch } = spec;
  for (const c of new TextEncoder().encode(JSON.stringify(arch))) byte(c);
  for (const name of Object.keys(tensors).sort()) {
    for (const c of new TextEncoder().encode(name)) byte(c);
    const d = tensors[name].data;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    for (let i = 0; i < bytes.length; i++) byte(bytes[i]);
  }
  return hashHex(h1, h2);
}
function tensorsChecksum(tensors) {
  const enc = new TextEncoder();
  let crc = 0;
  for (const [name, t] of [...tensors].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) {
    crc = crc32(enc.encode(name), crc);
    crc = crc32(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), crc);
  }
  return crc.toString(16).padStart(8, "0");
}
function checkTensorsChecksum(file, source) {
  const want = file.metadata.tensors_crc32;
  if (want === void 0) return;
  const got = tensorsChecksum(file.tensors);
  if (want !== got)
    throw new FormatError(
      "model",
      "__metadata__.tensors_crc32",
      `${source}: tensors checksum ${got}, the file says ${want} (corrupted weights?)`
    );
}
function encodeModel(model2, opts = {}) {
  const spec = modelSpec(model2, opts.extra);
  const tensors = modelTensors(model2, { indexDtype: opts.indexDtype });
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t.data instanceof Float32Array)) continue;
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0)
      throw new ValidationError(
        `encodeModel: ${name}[${i}] is ${t.data[i]}; a model file holds finite weights and biases`
      );
  }
  const hash2 = opts.hash ?? model2.split?.hash ?? hashModel(spec, opts.indexDtype === "u16" ? modelTensors(model2) : tensors);
  const metadata = {
    presparse: JSON.stringify(spec),
    model_hash: hash2,
    tensors_crc32: tensorsChecksum(Object.entries(tensors))
  };
  return { bytes: encodeSafetensors(tensors, metadata), hash: hash2 };
}
function checkSpec(x) {
  const f = (field, detail) => new FormatError("model", field, detail);
  if (typeof x !== "object" || x === null) throw f("presparse", "not a JSON object");
  const s = x;
  if (s.format !== "presparse") throw f("presparse.format", `expected "presparse", got ${JSON.stringify(s.format)}`);
  if (s.version !== MODEL_FORMAT_VERSION)
    throw f("presparse.version", `expected ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(s.version)}`);
  if (!Array.isArray(s.trunk) || s.trunk.length === 0)
    throw f("presparse.trunk", "expected a non-empty array of layers");
  if (!Array.isArray(s.exits)) throw f("presparse.exits", "expected an array");
  if (!Array.isArray(s.inputShape) || !s.inputShape.every((d) => Number.isSafeInteger(d) && d > 0))
    throw f("presparse.inputShape", "expected positive integers");
  for (const [i, l] of [
    ...s.trunk,
    ...s.exits.flatMap((e) => Array.isArray(e?.layers) ? e.layers : [null])
  ].entries()) {
    if (typeof l !== "object" || l === null || typeof l.kind !== "string")
      throw f(`presparse.layers[${i}]`, "expected an object with a kind");
  }
  return s;
}
function splitRecordOf(spec, hash2, source, role) {
  const f = (field, detail) => new FormatError("split", field, `${source}: ${detail}`);
  const x = typeof spec.extra === "object" && spec.extra !== null ? spec.extra.split : void 0;
  if (x === void 0 && role === void 0) return void 0;
  if (typeof x !== "object" || x === null) {
    throw f("extra.split", "no split record: not a split bundle (use presparse split)");
  }
  const s = x;
  if (role ? s.role !== role : s.role !== "head" && s.role !== "tail") {
    throw f("extra.split.role", `expected a ${role ?? "head or tail"} bundle, got ${JSON.stringify(s.role)}`);
  }
  for (const key of ["after", "splitId", "activationWidth", "classes", "totalExits"]) {
    const v = s[key];
    const ok2 = typeof v === "number" && Number.isSafeInteger(v) && v >= (key === "totalExits" ? 0 : 1);
    if (!ok2) throw f(`extra.split.${key}`, `expected a positive integer, got ${JSON.stringify(v)}`);
  }
  if (s.splitId !== s.after) throw f("extra.split.splitId", `expected ${s.after} (the cut), got ${s.splitId}`);
  const shape = s.activationShape ?? [s.activationWidth];
  const dims = Array.isArray(shape) && shape.length >= 1 && shape.length <= 3 ? shape : [];
  const ok = dims.length > 0 && dims.every((d) => Number.isSafeInteger(d) && d >= 1);
  if (!ok || dims.reduce((a, b) => a * b, 1) !== s.activationWidth) {
    const want = `1\u20133 positive integers whose product is the activation width ${s.activationWidth}`;
    throw f("extra.split.activationShape", `expected ${want}, got ${JSON.stringify(s.activationShape)}`);
  }
  const seed = s.dataSeed;
  if (seed !== void 0 && !(Number.isSafeInteger(seed) && seed >= 0)) {
    throw f("extra.split.dataSeed", `expected a non-negative integer, got ${JSON.stringify(seed)}`);
  }
  if (hash2 === void 0 || !HASH_FORMAT.test(hash2)) {
    throw f("model_hash", `expected 16 lowercase hex digits, got ${JSON.stringify(hash2)}`);
  }
  const cut = s.after, totalExits = s.totalExits, exits = spec.exits.length;
  if (s.role === "head" && spec.trunk.length !== cut) {
    throw f("presparse.trunk", `expected ${cut} layers (the cut), got ${spec.trunk.length}`);
  }
  if (totalExits < exits) {
    throw f("extra.split.totalExits", `${totalExits}, but the ${String(s.role)} alone has ${exits} exits`);
  }
  let policy;
  const p = spec.extra.policy;
  if (p !== void 0) {
    if (typeof p !== "string") throw f("extra.policy", `expected a policy string, got ${JSON.stringify(p)}`);
    try {
      policy = parseExitPolicy(p, exits);
    } catch (e) {
      throw f("extra.policy", e.message);
    }
  }
  return {
    role: s.role,
    cut,
    activationShape: [...shape],
    classes: s.classes,
    totalExits,
    hash: hash2,
    ...policy && { policy },
    ...seed !== void 0 && { dataSeed: seed }
  };
}
function tensorsByLayer(file) {
  const groups = /* @__PURE__ */ new Map();
  for (const [name, t] of file.tensors) {
    const dot = name.lastIndexOf(".");
    if (dot <= 0) continue;
    const prefix = name.slice(0, dot);
    let g = groups.get(prefix);
    if (!g) groups.set(prefix, g = /* @__PURE__ */ Object.create(null));
    g[name.slice(dot + 1)] = t;
  }
  return groups;
}
function layerFromFile(engine2, given, spec, prefix, used) {
  for (const [short, t] of Object.entries(given)) {
    if (!STORED_DTYPES.includes(t.dtype)) {
      const want = `${STORED_DTYPES.slice(0, -1).join(", ")} or ${STORED_DTYPES.at(-1)}`;
      throw new FormatError("model", `${prefix}.${short}`, `dtype ${t.dtype}, expected ${want}`);
    }
  }
  const layer = decodeLayer(engine2, spec, given, prefix);
  const stored = encodeLayer(layer).tensors;
  for (const short of Object.keys(given)) if (Object.hasOwn(stored, short)) used.add(`${prefix}.${short}`);
  return layer;
}
function checkDeclaredSizes(spec, layers, limits, source) {
  const over = (field, what, n, limit, name) => new FormatError("model", field, `${source}: ${what} ${n}, the limit is ${limit} (limits.${name})`);
  if (layers.length > limits.maxLayers)
    throw over("presparse.trunk", "layers (trunk and exits)", layers.length, limits.maxLayers, "maxLayers");
  const input = spec.inputShape.reduce((a, b) => a * b, 1);
  if (input > limits.maxFeatures)
    throw over("presparse.inputShape", "features per sample", input, limits.maxFeatures, "maxFeatures");
  if (typeof spec.classes === "number" && spec.classes > limits.maxFeatures) {
    throw over("presparse.classes", "classes", spec.classes, limits.maxFeatures, "maxFeatures");
  }
  let total = 0;
  for (const [l, where] of layers) {
    const codec = Object.hasOwn(CODECS, l.kind) ? CODECS[l.kind] : void 0;
    if (!codec) throw new FormatError("model", `${where}.kind`, `unknown layer kind ${JSON.stringify(l.kind)}`);
    const [inputs, outputs] = codec.features(new LayerReader(l, {}, where));
    const widest = Math.max(inputs, outputs);
    if (!Number.isFinite(widest)) continue;
    if (widest > limits.maxFeatures)
      throw over(where, "declares features per sample:", widest, limits.maxFeatures, "maxFeatures");
    if ((total += Math.max(0, inputs)) > limits.maxTotalFeatures) {
      throw over(
        where,
        "brings the layers' input features per sample to",
        total,
        limits.maxTotalFeatures,
        "maxTotalFeatures"
      );
    }
  }
  const split2 = typeof spec.extra === "object" && spec.extra !== null ? spec.extra.split : void 0;
  if (typeof split2 !== "object" || split2 === null) return;
  for (const [key, limit, name] of [
    ["activationWidth", limits.maxFeatures, "maxFeatures"],
    ["classes", limits.maxFeatures, "maxFeatures"],
    ["totalExits", limits.maxLayers, "maxLayers"]
  ]) {
    const v = split2[key];
    if (typeof v === "number" && v > limit) throw over(`extra.split.${key}`, key, v, limit, name);
  }
}
function resolveModelLimits(l = {}) {
  const r = { ...DEFAULT_MODEL_LIMITS, ...l };
  checkInt("decodeModel", "limits.maxFeatures", r.maxFeatures, 1, 2 ** 31 - 1);
  checkInt("decodeModel", "limits.maxTotalFeatures", r.maxTotalFeatures, 1, Number.MAX_SAFE_INTEGER);
  checkInt("decodeModel", "limits.maxLayers", r.maxLayers, 1, 2 ** 31 - 1);
  checkInt("decodeModel", "limits.maxJsonDepth", r.maxJsonDepth, 3, 1e4);
  return r;
}
function decodeModel(engine2, bytes, o = {}) {
  const source = o.source ?? "model";
  const limits = resolveModelLimits(o.limits);
  const file = decodeSafetensors(bytes, { source, maxJsonDepth: limits.maxJsonDepth });
  const raw = file.metadata.presparse;
  if (raw === void 0)
    throw new FormatError(
      "model",
      "__metadata__.presparse",
      `${source}: not a presparse model (no architecture record)`
    );
  checkJsonDepth(
    raw,
    limits.maxJsonDepth,
    (detail) => new FormatError("model", "__metadata__.presparse", `${source}: ${detail}`)
  );
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new FormatError("model", "__metadata__.presparse", `${source}: invalid JSON: ${e.message}`);
  }
  const spec = checkSpec(parsed);
  const layers = [
    ...spec.trunk.map((l, i) => [l, `trunk.${i}`]),
    ...spec.exits.flatMap((e, k) => e.layers.map((l, j) => [l, `exit.${k}.${j}`]))
  ];
  checkDeclaredSizes(spec, layers, limits, source);
  const split2 = splitRecordOf(spec, file.metadata.model_hash, source, o.role);
  const used = /* @__PURE__ */ new Set();
  const groups = tensorsByLayer(file);
  return buildOrRollBack(engine2, (s) => {
    const build = (l, prefix) => s.keep(layerFromFile(engine2, groups.get(prefix) ?? {}, l, prefix, used));
    const trunk = spec.trunk.map((l, i) => build(l, `trunk.${i}`));
    const exits = spec.exits.map((e, k) => ({
      after: e.after,
      weight: e.weight,
      layers: e.layers.map((l, j) => build(l, `exit.${k}.${j}`))
    }));
    for (const name of file.tensors.keys()) {
      if (!used.has(name)) throw new FormatError("model", name, "tensor not used by the architecture");
    }
    const opts = { finalWeight: spec.finalWeight, inputShape: spec.inputShape, ...split2 ? { split: split2 } : {} };
    const model2 = rejectedAt("presparse", () => new Model(engine2, trunk, exits, opts), source);
    if (model2.classes !== spec.classes) {
      throw new FormatError("model", "presparse.classes", `says ${spec.classes}, layers give ${model2.classes}`);
    }
    const hash2 = split2?.hash ?? file.metadata.model_hash ?? hashModel(spec, Object.fromEntries(file.tensors));
    if (!HASH_FORMAT.test(hash2)) {
      const detail = `${source}: expected 16 lowercase hex digits, got ${JSON.stringify(hash2)}`;
      throw new FormatError("model", "__metadata__.model_hash", detail);
    }
    checkTensorsChecksum(file, source);
    return { model: model2, spec, hash: hash2, metadata: file.metadata };
  });
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
function loadIdxDataset(dir, split2, options = {}) {
  const { classes = 10 } = options;
  const prefix = split2 === "train" ? "train" : "t10k";
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
  return makeDataset(`${basename(dir)}/${split2}`, x, y, rows * cols, classes);
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

// src/server/http.ts
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { Server as NetServer } from "node:net";
import { performance as performance8 } from "node:perf_hooks";

// src/server/demo.ts
import { existsSync as existsSync2, readFileSync as readFileSync3 } from "node:fs";
import { readFile as readFile2 } from "node:fs/promises";
import { dirname as dirname2, join as join3, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

// src/server/served_tail.ts
import { readFile } from "node:fs/promises";
function servedTail(m, hash2) {
  const s = m.split;
  if (s?.role === "head") throw new ValidationError("startServer: a split head runs on the edge, not on the server");
  if (!s && hash2 === void 0) throw new ValidationError("startServer: a whole model is served with its hash");
  return {
    hash: s?.hash ?? hash2,
    splitId: s?.cut ?? 0,
    after: s?.cut ?? 0,
    activationShape: s?.activationShape ?? m.inputShape,
    activationWidth: m.inputSize,
    classes: m.classes,
    engine: m.engine,
    forward: (X) => m.forward(X)
  };
}
async function openTail(model2, engine2) {
  if (typeof model2 !== "string" && !(model2 instanceof Uint8Array)) {
    return { tail: model2, served: servedTail(model2), dispose: () => {
    } };
  }
  const bytes = typeof model2 === "string" ? await readBundle(model2) : model2;
  const source = typeof model2 === "string" ? model2 : "model";
  const loaded = decodeModel(engine2, bytes, { source });
  if (loaded.model.split?.role === "head") {
    loaded.model.dispose();
    throw new FormatError(
      "split",
      "extra.split.role",
      `${source}: expected a tail bundle or a whole model, got "head"`
    );
  }
  const m = loaded.model;
  return { tail: m, served: servedTail(m, loaded.hash), dispose: () => m.dispose() };
}
async function readBundle(path) {
  try {
    return await readFile(path);
  } catch (e) {
    const why = e.code ?? e.message;
    throw new ValidationError(`startServer: cannot read ${path}: ${why}`);
  }
}
function headIdentity(engine2, bytes, source) {
  const head = decodeModel(engine2, bytes, { source, role: "head" }).model;
  const id = { hash: head.split.hash, splitId: head.split.cut, inputSize: head.inputSize };
  head.dispose();
  return id;
}

// src/server/demo.ts
var DEMO_PREFIX = "/demo/";
var PIXELS2 = 784;
var MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream"
};
var CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
var PAGE_FILES = ["index.html", "app.js", "style.css"];
var BROWSER_ENTRIES = ["index.js", "ops_index.js"];
function packageRoot() {
  return fileURLToPath(new URL("../../", import.meta.url));
}
var RELATIVE_IMPORT = /(?:^|[\s;}])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?["'](\.\.?\/[^"']+)["']/g;
function moduleGraph(entry, within) {
  const seen = /* @__PURE__ */ new Set();
  const stack = [resolve(entry)];
  while (stack.length > 0) {
    const file = stack.pop();
    if (seen.has(file)) continue;
    const rel = relative(within, file);
    if (rel.startsWith("..") || rel.startsWith(sep))
      throw new ValidationError(`demo: ${entry} imports ${file}, outside ${within}`);
    if (!existsSync2(file))
      throw new ValidationError(`demo: ${file} missing (imported from the graph of ${entry}); run \`npm run build\``);
    seen.add(file);
    const text = readFileSync3(file, "utf8");
    for (const m of text.matchAll(RELATIVE_IMPORT)) stack.push(resolve(dirname2(file), m[1]));
  }
  return [...seen].sort();
}
function demoDigits(count = 100) {
  const { test: test2 } = loadData("mnist", { seed: 0 });
  checkInt("demo", "digits", count, 1, test2.n);
  if (test2.features !== PIXELS2)
    throw new ValidationError(`demo: the MNIST test split has ${test2.features} features, expected ${PIXELS2}`);
  const digits = Array.from({ length: count }, (_, i) => ({
    index: i,
    label: test2.y[i],
    pixels: Array.from(test2.x.subarray(i * PIXELS2, (i + 1) * PIXELS2), (v) => Math.round(v * 255))
  }));
  return { source: "mnist test split, seed 0", width: 28, height: 28, digits };
}
async function loadDemo(engine2, tail, o) {
  const root = o.root ?? packageRoot();
  let headBytes;
  if (typeof o.head === "string") {
    try {
      headBytes = await readFile2(o.head);
    } catch (e) {
      throw new ValidationError(
        `demo: cannot read the head bundle ${o.head}: ${e.code ?? e.message}`
      );
    }
  } else headBytes = o.head;
  const source = typeof o.head === "string" ? o.head : "demo head";
  const head = headIdentity(engine2, headBytes, source);
  if (head.hash !== tail.hash || head.splitId !== tail.splitId) {
    const served = `the served tail is model ${tail.hash} cut after layer ${tail.splitId}`;
    throw new ValidationError(
      `demo: ${source} is the head of model ${head.hash} cut after layer ${head.splitId}; ${served}`
    );
  }
  if (head.inputSize < PIXELS2) {
    const page = `the page feeds 28\xD728 digits (${PIXELS2} values, zero-padded to the head's input)`;
    throw new ValidationError(`demo: ${source} takes ${head.inputSize} features; ${page}`);
  }
  const table = /* @__PURE__ */ new Map();
  const file = (path, body, type) => table.set(path, {
    status: 200,
    headers: { "Content-Type": type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff" },
    body
  });
  const read = (rel) => {
    const path = join3(root, rel);
    if (!existsSync2(path))
      throw new ValidationError(`demo: ${path} missing${rel.startsWith("demo") ? "" : "; run `npm run build`"}`);
    return readFileSync3(path);
  };
  for (const name of PAGE_FILES) {
    const type = MIME[name.slice(name.lastIndexOf("."))];
    const body = read(`demo/${name}`);
    file(DEMO_PREFIX + (name === "index.html" ? "" : name), body, type);
    if (name === "index.html")
      Object.assign(table.get(DEMO_PREFIX).headers, {
        "Content-Security-Policy": CSP,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp"
      });
  }
  const dist = join3(root, "dist");
  const modules = new Set(BROWSER_ENTRIES.flatMap((entry) => moduleGraph(join3(dist, entry), dist)));
  for (const f of [...modules].sort()) {
    file(`${DEMO_PREFIX}dist/${relative(dist, f).split(sep).join("/")}`, readFileSync3(f), MIME[".js"]);
  }
  file(`${DEMO_PREFIX}build/presparse.wasm`, read("build/presparse.wasm"), MIME[".wasm"]);
  file(`${DEMO_PREFIX}head.safetensors`, headBytes, MIME[".safetensors"]);
  file(
    `${DEMO_PREFIX}digits.json`,
    new TextEncoder().encode(JSON.stringify(demoDigits(o.digits ?? 100))),
    MIME[".json"]
  );
  const redirect = {
    status: 302,
    headers: { Location: DEMO_PREFIX, "Cache-Control": "no-cache" },
    body: new Uint8Array(0)
  };
  table.set("/", redirect);
  table.set("/demo", redirect);
  return { paths: [...table.keys()], resource: (path) => table.get(path) };
}
function demoRoutes(site) {
  const page = {
    answer: (req) => {
      const r = site.resource(req.path);
      return { status: r.status, headers: { ...r.headers }, body: r.body };
    }
  };
  return new Map(
    site.paths.map((path) => [path, { label: DEMO_PREFIX, methods: { GET: page, HEAD: page }, public: true }])
  );
}

// src/server/errors.ts
var HttpError = class extends PresparseError {
  constructor(status, code, message, field, headers = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.headers = headers;
  }
  status;
  code;
  field;
  headers;
  name = "HttpError";
};
var FRAME_REFUSALS = Object.freeze({
  malformed: { status: 400, code: "bad_frame" },
  too_large: { status: 413, code: "too_large" },
  mismatch: { status: 409, code: "frame_mismatch" }
});
function frameRefusal(e) {
  const { status, code } = FRAME_REFUSALS[e.reason];
  return new HttpError(status, code, e.message, e.field);
}
function timeoutError(timeoutMs) {
  return new HttpError(504, "timeout", `not answered within ${timeoutMs} ms`);
}
function bodyTooLarge(limit, declared) {
  const what = declared === void 0 ? "body exceeds" : `Content-Length ${declared} exceeds`;
  return new HttpError(413, "too_large", `${what} the limit of ${limit} bytes`, "length");
}
function unavailable(code, message, retryAfter) {
  return new HttpError(503, code, message, void 0, { "Retry-After": String(retryAfter) });
}
function errorAnswer(e) {
  const error = { status: e.status, code: e.code, ...e.field ? { field: e.field } : {}, message: e.message };
  const headers = { "Content-Type": "application/json; charset=utf-8", ...e.headers };
  return { status: e.status, headers, body: `${JSON.stringify({ error })}
` };
}

// src/server/service.ts
import { performance as performance7 } from "node:perf_hooks";

// src/server/access.ts
import { createHash, timingSafeEqual } from "node:crypto";

// src/split/ws_transport.ts
var STREAM_PROTOCOL = "presparse.v1";
var BEARER_PROTOCOL_PREFIX = "presparse.bearer.";
var ID_BYTES = 4;
var StreamClosedError = class extends PresparseError {
  constructor(url, closeCode, why) {
    super(`stream ${url}: ${why}`);
    this.url = url;
    this.closeCode = closeCode;
  }
  url;
  closeCode;
  name = "StreamClosedError";
};
function base64url(text) {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const b = new TextEncoder().encode(text);
  let out = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = b[i] << 16 | (b[i + 1] ?? 0) << 8 | (b[i + 2] ?? 0);
    out += abc[n >> 18 & 63] + abc[n >> 12 & 63];
    if (i + 1 < b.length) out += abc[n >> 6 & 63];
    if (i + 2 < b.length) out += abc[n & 63];
  }
  return out;
}
function streamProtocols(token) {
  return token === void 0 ? [STREAM_PROTOCOL] : [STREAM_PROTOCOL, BEARER_PROTOCOL_PREFIX + base64url(token)];
}
var StreamConnection = class {
  constructor(url, protocols, WebSocket) {
    this.url = url;
    this.protocols = protocols;
    this.WebSocket = WebSocket;
  }
  url;
  protocols;
  WebSocket;
  ws;
  opening;
  pending = /* @__PURE__ */ new Map();
  nextId = 0;
  /** Requests sent and not yet answered. */
  get inflight() {
    return this.pending.size;
  }
  /** Sends one frame; resolves with its answer, rejects with StreamClosedError, or with a timeout after `timeoutMs`. */
  async request(frame, timeoutMs) {
    const ws = await this.open();
    let id = this.nextId;
    while (this.pending.has(id)) id = id + 1 >>> 0;
    this.nextId = id + 1 >>> 0;
    const msg = new Uint8Array(ID_BYTES + frame.length);
    new DataView(msg.buffer).setUint32(0, id, true);
    msg.set(frame, ID_BYTES);
    return new Promise((resolve2, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StreamTimeoutError(this.url, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve2, reject, timer });
      try {
        ws.send(msg);
      } catch (e) {
        this.settle(id)?.reject(new StreamClosedError(this.url, void 0, `send failed: ${e.message}`));
      }
    });
  }
  /** Closes the connection (1000); requests in flight are rejected. */
  close() {
    const ws = this.ws;
    this.ws = void 0;
    this.opening = void 0;
    this.fail(new StreamClosedError(this.url, 1e3, "closed by the client"));
    ws?.close(1e3, "client done");
  }
  settle(id) {
    const p = this.pending.get(id);
    if (!p) return void 0;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }
  fail(e) {
    for (const id of [...this.pending.keys()]) this.settle(id).reject(e);
  }
  open() {
    if (this.ws && this.ws.readyState === 1) return Promise.resolve(this.ws);
    this.opening ??= new Promise((resolve2, reject) => {
      let ws;
      try {
        ws = new this.WebSocket(this.url, this.protocols);
      } catch (e) {
        this.opening = void 0;
        return reject(new StreamClosedError(this.url, void 0, `cannot open: ${e.message}`));
      }
      ws.binaryType = "arraybuffer";
      let opened = false, why = "";
      ws.addEventListener("open", () => {
        opened = true;
        this.ws = ws;
        this.opening = void 0;
        resolve2(ws);
      });
      ws.addEventListener("error", (e) => why = e.message ?? "");
      ws.addEventListener("close", (e) => {
        if (this.ws === ws) this.ws = void 0;
        if (!opened) {
          this.opening = void 0;
          return reject(new StreamClosedError(this.url, e.code, `could not connect${why ? `: ${why}` : ""}`));
        }
        const reason = e.code === 1001 ? "the server is shutting down (1001)" : `closed with ${e.code}${e.reason ? ` (${e.reason})` : ""}`;
        this.fail(new StreamClosedError(this.url, e.code, `${reason} before answering`));
      });
      ws.addEventListener("message", (e) => this.message(e.data));
    });
    return this.opening;
  }
  message(data) {
    if (typeof data !== "string") {
      if (data.byteLength < ID_BYTES) return;
      const id = new DataView(data).getUint32(0, true);
      this.settle(id)?.resolve({ status: 200, body: new Uint8Array(data, ID_BYTES) });
      return;
    }
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof m.id !== "number" || !m.error) return;
    const e = m.error;
    this.settle(m.id)?.resolve({
      status: typeof e.status === "number" ? e.status : 0,
      code: typeof e.code === "string" ? e.code : "stream_error",
      message: typeof e.message === "string" ? e.message : "",
      field: typeof e.field === "string" ? e.field : void 0,
      retryAfterMs: typeof m.retryAfter === "number" ? m.retryAfter * 1e3 : 0
    });
  }
};
var StreamTimeoutError = class extends PresparseError {
  constructor(url, timeoutMs) {
    super(`no answer from ${url} within ${timeoutMs} ms`);
    this.url = url;
    this.timeoutMs = timeoutMs;
  }
  url;
  timeoutMs;
  name = "StreamTimeoutError";
};

// src/server/access.ts
var B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
function createAccess(o = {}) {
  const tokens = o.tokens ?? [];
  for (const t of tokens)
    if (typeof t !== "string" || !B64TOKEN.test(t))
      throw new ValidationError(
        "startServer: tokens must be bearer tokens (letters, digits, - . _ ~ + / and trailing =)"
      );
  const origins = (o.corsOrigins ?? []).map(checkOrigin);
  const any = origins.includes("*");
  if (any && tokens.length > 0) {
    throw new ValidationError(
      "startServer: corsOrigins * with tokens: a wildcard origin with credentials is refused; list the origins"
    );
  }
  const allowed = new Set(origins);
  const originOk = (origin) => any || allowed.has(origin.toLowerCase());
  const gates = [];
  if (origins.length > 0) gates.push(corsGate(originOk, any));
  if (tokens.length > 0) gates.push(bearerGate(tokens));
  return {
    gates,
    originAllowed(head) {
      const origin = header(head, "origin");
      if (origin === void 0) return true;
      let host;
      try {
        host = new URL(origin).host;
      } catch {
        return false;
      }
      return host === header(head, "host") || originOk(origin);
    }
  };
}
function checkOrigin(o) {
  if (o === "*") return o;
  let u;
  try {
    u = new URL(o);
  } catch {
    throw new ValidationError(`startServer: CORS origin ${JSON.stringify(o)} is not an origin (scheme://host[:port])`);
  }
  if (u.origin === "null" || u.origin !== o.replace(/\/$/, "").toLowerCase()) {
    throw new ValidationError(
      `startServer: CORS origin ${JSON.stringify(o)} is not an origin (scheme://host[:port], no path): ${u.origin}?`
    );
  }
  return u.origin;
}
function header(head, name) {
  const v = head.headers[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v[0] : void 0;
}
var ALLOW_HEADERS = "Authorization, Content-Type, Inference-Header-Content-Length";
var EXPOSE_HEADERS = "Retry-After, WWW-Authenticate, Inference-Header-Content-Length, X-Presparse-Dtype, X-Presparse-Batch-Samples, X-Presparse-Batch-Requests";
function corsGate(allowed, any) {
  const vary = (a) => {
    const v = a.headers.Vary;
    return { Vary: v && !/\borigin\b/i.test(v) ? `${v}, Origin` : v ?? "Origin" };
  };
  return {
    admit(head, route) {
      const origin = header(head, "origin");
      if (head.method !== "OPTIONS" || origin === void 0 || header(head, "access-control-request-method") === void 0)
        return void 0;
      if (!allowed(origin))
        throw new HttpError(403, "origin_not_allowed", `pages from ${origin} may not call this server`, "origin", {
          Vary: "Origin"
        });
      if (!route) return void 0;
      const headers = {
        "Access-Control-Allow-Methods": Object.keys(route.methods).join(", "),
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "600"
      };
      return { status: 204, headers, body: "" };
    },
    finish(head, a) {
      const origin = header(head, "origin");
      if (origin === void 0 || !allowed(origin)) return { ...a, headers: { ...a.headers, ...vary(a) } };
      const cors = {
        "Access-Control-Allow-Origin": any ? "*" : origin,
        "Access-Control-Expose-Headers": EXPOSE_HEADERS
      };
      return { ...a, headers: { ...a.headers, ...cors, ...vary(a) } };
    }
  };
}
var digest = (s) => createHash("sha256").update(s, "utf8").digest();
function bearerGate(tokens) {
  const known = tokens.map(digest);
  const matches = (candidate) => {
    const d = digest(candidate);
    let ok = false;
    for (const k of known) ok = timingSafeEqual(d, k) || ok;
    return ok;
  };
  const refusal = (invalid) => {
    const message = invalid ? "the bearer token is not valid" : "this server requires a bearer token (Authorization: Bearer <token>)";
    const challenge = invalid ? `Bearer realm="presparse", error="invalid_token"` : `Bearer realm="presparse"`;
    return new HttpError(401, "unauthorized", message, void 0, { "WWW-Authenticate": challenge });
  };
  return {
    admit(head, route) {
      if (route?.public) return void 0;
      const token = bearerOf(head);
      if (token === void 0) throw refusal(false);
      if (!matches(token)) throw refusal(true);
      return void 0;
    }
  };
}
function bearerOf(head) {
  const auth = header(head, "authorization");
  const m = auth === void 0 ? null : /^Bearer +(\S+) *$/i.exec(auth);
  if (m) return m[1];
  const offered = header(head, "sec-websocket-protocol");
  for (const p of offered?.split(",") ?? []) {
    const t = p.trim();
    if (t.startsWith(BEARER_PROTOCOL_PREFIX))
      return Buffer.from(t.slice(BEARER_PROTOCOL_PREFIX.length), "base64url").toString("utf8");
  }
  return void 0;
}

// src/server/handler.ts
import { performance as performance2 } from "node:perf_hooks";
function createHandler(routes, gates = []) {
  const listed = [...routes].filter(([path, r]) => (r.label ?? path) === path);
  const index = listed.map(([path, r]) => `${Object.keys(r.methods)[0]} ${path}`).join(", ");
  const endpoint = (head, route) => {
    if (!route) throw new HttpError(404, "not_found", `no resource at ${head.path}; endpoints: ${index}`);
    if (Object.hasOwn(route.methods, head.method)) return route.methods[head.method];
    const allow = Object.keys(route.methods);
    const message = `${head.path} takes ${allow.join(" or ")}, got ${head.method}`;
    throw new HttpError(405, "method_not_allowed", message, void 0, { Allow: allow.join(", ") });
  };
  const gate = (head, route) => {
    for (const g of gates) {
      const a = g.admit(head, route);
      if (a) return a;
    }
    return void 0;
  };
  const finish = (head, a) => {
    for (const g of gates) if (g.finish) a = g.finish(head, a);
    return a;
  };
  return {
    routes,
    label: (path) => {
      const route = routes.get(path);
      return route ? route.label ?? path : "other";
    },
    admit(head) {
      const route = routes.get(head.path);
      try {
        const a = gate(head, route);
        if (a) return finish(head, a);
        endpoint(head, route).admit?.(head);
        return void 0;
      } catch (e) {
        return finish(head, answerFor(e, route));
      }
    },
    prefixBytes(head) {
      try {
        return endpoint(head, routes.get(head.path)).inspect?.bytes ?? 0;
      } catch {
        return 0;
      }
    },
    inspect(head, first) {
      const route = routes.get(head.path);
      try {
        endpoint(head, route).inspect?.check(head, first);
        return void 0;
      } catch (e) {
        return finish(head, answerFor(e, route));
      }
    },
    async handle(request) {
      const req = request.arrived === void 0 ? { ...request, arrived: performance2.now() } : request;
      const route = routes.get(req.path);
      try {
        const a = gate(req, route);
        if (a) return finish(req, a);
        const e = endpoint(req, route);
        e.admit?.(req);
        return finish(req, await e.answer(req));
      } catch (e) {
        return finish(req, answerFor(e, route));
      }
    }
  };
}
function answerFor(e, route) {
  const write = route?.refusal ?? errorAnswer;
  if (e instanceof HttpError) return write(e);
  const why = e instanceof Error ? e.message : String(e);
  return write(new HttpError(500, "internal", `the server failed on this request: ${why}`));
}

// src/server/infer.ts
import { performance as performance3 } from "node:perf_hooks";

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
var FRAME_MEDIA_TYPE = "application/x-presparse-frame";
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
function decodeFrameHeader(bytes, limits = {}, expect = {}) {
  const lim = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new ValidationError("decodeFrameHeader: bytes must be a Uint8Array");
  const h = readHeader(bytes, lim, 0);
  if (h.totalLength > lim.maxBytes)
    throw new FrameTooLargeError("length", `the header declares ${h.totalLength} bytes, the limit is ${lim.maxBytes}`);
  checkScale(h);
  checkExpected(h, expect);
  return h;
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
function hex2(b, sep2 = " ") {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(sep2);
}
function hex32(x) {
  return `0x${x.toString(16).padStart(8, "0")}`;
}

// src/server/infer.ts
var OUTPUTS = ["logits", "probabilities"];
var DTYPES2 = ["f32", "f16", "int8"];
function inferEndpoint(d) {
  const { tail, queue, limits } = d;
  return {
    admit(head) {
      if (d.draining(head.arrived ?? performance3.now())) {
        const message = "the server is shutting down; retry on another instance";
        throw unavailable("shutting_down", message, limits.retryAfterSeconds);
      }
      const given = head.headers["content-type"], type = typeof given === "string" ? given : "";
      if (type.split(";")[0].trim().toLowerCase() !== FRAME_MEDIA_TYPE) {
        const message = `Content-Type must be ${FRAME_MEDIA_TYPE}, got ${JSON.stringify(type)}`;
        throw new HttpError(415, "unsupported_media_type", message, "content-type");
      }
      answerOptions(head);
      const declared = head.headers["content-length"];
      if (typeof declared === "string" && Number(declared) > limits.maxBodyBytes) {
        throw bodyTooLarge(limits.maxBodyBytes, declared);
      }
    },
    // the frame's header against the tail (identity, per-sample shape, size) before its payload is read, let alone
    // decoded: a frame of the wrong shape costs its header, not a copy, a checksum and a decode of megabytes
    inspect: {
      bytes: frameHeaderBytes(FRAME_MAX_RANK),
      check(_head, first) {
        const h = refusingFrames(() => decodeFrameHeader(first, { maxBytes: limits.maxBodyBytes }, expected(tail)));
        samples(h.shape, limits);
      }
    },
    async answer(req) {
      const { kind, dtype } = answerOptions(req);
      const { data, n, frameDtype } = activation(req.body, tail, limits);
      const out = await batched(queue, { data, n, wantProbabilities: kind === "probabilities" }, req, limits);
      return answerFrame(tail, out, kind, dtype ?? frameDtype, n);
    }
  };
}
function answerOptions(head) {
  const output = head.query.get("output") ?? "logits";
  if (!OUTPUTS.includes(output)) {
    const message = `output must be logits or probabilities, got ${JSON.stringify(output)}`;
    throw new HttpError(400, "bad_query", message, "output");
  }
  const dtype = head.query.get("dtype");
  if (dtype !== null && !DTYPES2.includes(dtype)) {
    throw new HttpError(400, "bad_query", `dtype must be f32, f16 or int8, got ${JSON.stringify(dtype)}`, "dtype");
  }
  return { kind: output, dtype: dtype ?? void 0 };
}
function expected(tail) {
  const flat = [tail.activationWidth], cut = tail.activationShape;
  const sampleShapes = cut.length > 1 ? [flat, cut] : [flat];
  return { modelHash: tail.hash, splitId: tail.splitId, kind: "activation", sampleShapes };
}
function refusingFrames(decode) {
  try {
    return decode();
  } catch (e) {
    if (e instanceof FrameError) throw frameRefusal(e);
    throw new HttpError(400, "bad_frame", e.message);
  }
}
function samples(shape, limits) {
  const n = shape[shape.length - 1];
  if (n > limits.maxQueue) {
    const message = `${n} samples in one frame; the queue holds at most ${limits.maxQueue}`;
    throw new HttpError(413, "too_large", message, "dims");
  }
  return n;
}
function activation(body, tail, limits) {
  const frame = refusingFrames(() => decodeFrame(body, { maxBytes: limits.maxBodyBytes }, expected(tail)));
  return { data: frame.data, n: samples(frame.shape, limits), frameDtype: frame.dtype };
}
function batched(queue, work, req, limits) {
  const deadline = (req.arrived ?? performance3.now()) + limits.timeoutMs;
  return new Promise((resolve2, reject) => {
    let timer;
    const job = {
      ...work,
      // the event loop was busy past the deadline (the timer could not fire): the result is discarded
      done: (out) => end(performance3.now() > deadline ? timeoutError(limits.timeoutMs) : out),
      fail: (e) => end(new HttpError(500, "internal", `the tail failed on this batch: ${e.message}`))
    };
    const end = (r) => {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", gone);
      if (!(r instanceof HttpError)) return resolve2(r);
      queue.cancel(job);
      reject(r);
    };
    const gone = () => end(new HttpError(499, "client_gone", "the client closed the request before its answer"));
    if (req.signal?.aborted) return gone();
    if (!queue.submit(job)) {
      const message = `the queue is full (${queue.depth.samples} of ${limits.maxQueue} samples waiting); retry later`;
      return reject(unavailable("overloaded", message, limits.retryAfterSeconds));
    }
    timer = setTimeout(() => end(timeoutError(limits.timeoutMs)), deadline - performance3.now());
    req.signal?.addEventListener("abort", gone, { once: true });
  });
}
function answerFrame(tail, out, kind, dtype, n) {
  const values = kind === "probabilities" ? out.probabilities : out.logits;
  const base = { data: values, shape: [tail.classes, n], kind, splitId: tail.splitId, modelHash: tail.hash };
  let body, sent = dtype;
  try {
    body = encodeFrame({ ...base, dtype });
  } catch {
    sent = "f32";
    body = encodeFrame({ ...base, dtype: "f32", nonFinite: "allow" });
  }
  const headers = {
    "Content-Type": FRAME_MEDIA_TYPE,
    "X-Presparse-Dtype": sent,
    "X-Presparse-Batch-Samples": String(out.batchSamples),
    "X-Presparse-Batch-Requests": String(out.batchRequests)
  };
  return { status: 200, headers, body, samples: n };
}

// src/server/metrics.ts
function labelText(labels) {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${labels[k].replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",")}}`;
}
function num(x) {
  return x === Infinity ? "+Inf" : x === -Infinity ? "-Inf" : Number.isNaN(x) ? "NaN" : String(x);
}
var Counter = class {
  constructor(name, help) {
    this.name = name;
    this.help = help;
  }
  name;
  help;
  values = /* @__PURE__ */ new Map();
  inc(labels = {}, by = 1) {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by;
    else this.values.set(key, { labels, value: by });
  }
  get(labels = {}) {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  /** Sum over every label set. */
  total() {
    let s = 0;
    for (const v of this.values.values()) s += v.value;
    return s;
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, v] of [...this.values].sort()) lines.push(`${this.name}${key} ${num(v.value)}`);
    return lines.join("\n");
  }
};
var Gauge = class {
  constructor(name, help, read) {
    this.name = name;
    this.help = help;
    this.read = read;
  }
  name;
  help;
  read;
  get() {
    return this.read();
  }
  render() {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.read())}`].join(
      "\n"
    );
  }
};
var Histogram = class {
  /** `labels`: series rendered (as zeros) before any observation, e.g. one per transport. */
  constructor(name, help, bounds, labels = [{}]) {
    this.name = name;
    this.help = help;
    this.bounds = [...new Set(bounds)].sort((a, b) => a - b);
    for (const l of labels) this.at(l);
  }
  name;
  help;
  bounds;
  series = /* @__PURE__ */ new Map();
  at(labels) {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, s = { labels, counts: new Array(this.bounds.length).fill(0), sum: 0, count: 0 });
    return s;
  }
  observe(x, labels = {}) {
    const s = this.at(labels);
    s.sum += x;
    s.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (x <= this.bounds[i]) {
        s.counts[i]++;
        break;
      }
    }
  }
  /** Observations over every series. */
  get count() {
    let c = 0;
    for (const s of this.series.values()) c += s.count;
    return c;
  }
  get sum() {
    let c = 0;
    for (const s of this.series.values()) c += s.sum;
    return c;
  }
  /** Cumulative count of observations ≤ each bound, then +Inf, of one series. */
  cumulative(labels = {}) {
    const s = this.series.get(labelText(labels));
    const counts = s?.counts ?? this.bounds.map(() => 0);
    let c = 0;
    return [...this.bounds.map((le, i) => ({ le, count: c += counts[i] })), { le: Infinity, count: s?.count ?? 0 }];
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, s] of [...this.series].sort()) {
      for (const b of this.cumulative(s.labels))
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(b.le) })} ${b.count}`);
      lines.push(`${this.name}_sum${key} ${num(s.sum)}`, `${this.name}_count${key} ${s.count}`);
    }
    return lines.join("\n");
  }
};
function powerOfTwoBuckets(max) {
  const out = [1];
  while (out[out.length - 1] < max) out.push(out[out.length - 1] * 2);
  return out;
}
var LATENCY_BUCKETS = [5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
var TRANSPORTS = ["http", "ws"];
var ServerMetrics = class {
  requests = new Counter("presparse_requests_total", "Requests answered, by path, status code and transport.");
  samples = new Counter(
    "presparse_samples_total",
    "Samples answered with 200 by an inference route, by transport."
  );
  batchSize;
  batchRequests;
  latency = new Histogram(
    "presparse_request_duration_seconds",
    "Time from the request's arrival to its answer, inference answered 200, by transport.",
    LATENCY_BUCKETS,
    TRANSPORTS.map((transport) => ({ transport }))
  );
  gauges;
  constructor(maxBatch, queue, inflight, streams = () => 0) {
    this.batchSize = new Histogram(
      "presparse_batch_size",
      "Samples per batch run through the tail.",
      powerOfTwoBuckets(maxBatch)
    );
    this.batchRequests = new Histogram(
      "presparse_batch_requests",
      "Requests per batch run through the tail.",
      powerOfTwoBuckets(maxBatch)
    );
    for (const transport of TRANSPORTS) this.samples.inc({ transport }, 0);
    this.gauges = [
      new Gauge("presparse_queue_depth", "Samples waiting for a batch.", () => queue().samples),
      new Gauge("presparse_queue_requests", "Requests waiting for a batch.", () => queue().requests),
      new Gauge("presparse_inflight_requests", "Requests received and not yet answered, every transport.", inflight),
      new Gauge("presparse_stream_connections", "Open WebSocket streams.", streams)
    ];
  }
  render() {
    const all = [
      this.requests,
      this.samples,
      this.batchSize,
      this.batchRequests,
      this.latency,
      ...this.gauges
    ];
    return `${all.map((m) => m.render()).join("\n")}
`;
  }
};

// src/server/oip.ts
import { readFileSync as readFileSync4 } from "node:fs";
import { performance as performance4 } from "node:perf_hooks";
var OIP_INPUT = "activation";
var OIP_OUTPUTS = ["logits", "probabilities"];
var BINARY_EXTENSION = "binary_tensor_data";
var HEADER_LENGTH = "inference-header-content-length";
var INPUT_TYPES = { FP32: 4, FP64: 8, FP16: 2 };
var SERVER_VERSION = (() => {
  try {
    return JSON.parse(readFileSync4(new URL("../../package.json", import.meta.url), "utf8")).version;
  } catch {
    return "unknown";
  }
})();
var JSON_TYPE = "application/json";
var NO_STORE = { "Cache-Control": "no-store" };
function oipRefusal(e) {
  return {
    status: e.status,
    headers: { "Content-Type": JSON_TYPE, ...e.headers },
    body: JSON.stringify({ error: e.message })
  };
}
function oipRoutes(d) {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(d.name)) {
    throw new ValidationError(
      `startServer: modelName must be 1\u2013128 letters, digits, _ . - (a URL path segment), got ${JSON.stringify(d.name)}`
    );
  }
  const { tail, name } = d;
  const version = tail.hash;
  const json = (body) => ({
    status: 200,
    headers: { "Content-Type": JSON_TYPE },
    body: JSON.stringify(body)
  });
  const health = (ok) => ({
    answer: () => ({ status: ok() ? 200 : 400, headers: NO_STORE, body: "" })
  });
  const ready = () => !d.draining(performance4.now());
  const server = { name: "presparse", version: SERVER_VERSION, extensions: [BINARY_EXTENSION] };
  const shape = [-1, ...tail.activationShape];
  const model2 = {
    name,
    versions: [version],
    platform: "presparse_safetensors",
    inputs: [{ name: OIP_INPUT, datatype: "FP32", shape }],
    outputs: OIP_OUTPUTS.map((o) => ({ name: o, datatype: "FP32", shape: [-1, tail.classes] }))
  };
  const infer = inferEndpoint2(d, version);
  const get = (e) => ({ GET: e, HEAD: e });
  const routes = /* @__PURE__ */ new Map([
    ["/v2", { methods: get({ answer: () => json(server) }) }],
    ["/v2/health/live", { methods: get(health(() => true)), public: true }],
    ["/v2/health/ready", { methods: get(health(ready)), public: true }]
  ]);
  const refusal = oipRefusal;
  for (const base of [`/v2/models/${name}`, `/v2/models/${name}/versions/${version}`]) {
    const label = `/v2/models/${name}`;
    routes.set(base, { methods: get({ answer: () => json(model2) }), label, refusal });
    routes.set(`${base}/ready`, { methods: get(health(ready)), label: `${label}/ready`, public: true, refusal });
    routes.set(`${base}/infer`, { methods: { POST: infer }, label: `${label}/infer`, refusal });
  }
  return routes;
}
var bad = (message, field) => new HttpError(400, "bad_request", message, field);
function inferEndpoint2(d, version) {
  const { tail, queue, limits } = d;
  const C = tail.classes;
  return {
    admit(head) {
      if (d.draining(head.arrived ?? performance4.now())) {
        throw unavailable(
          "shutting_down",
          "the server is shutting down; retry on another instance",
          limits.retryAfterSeconds
        );
      }
      const type = String(head.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (head.headers[HEADER_LENGTH] === void 0 && type !== JSON_TYPE) {
        const binary = `the body must carry binary tensors with ${HEADER_LENGTH}`;
        const message = `Content-Type must be ${JSON_TYPE}, or ${binary}; got ${JSON.stringify(type)}`;
        throw new HttpError(415, "unsupported_media_type", message, "content-type");
      }
      const declared = head.headers["content-length"];
      if (typeof declared === "string" && Number(declared) > limits.maxBodyBytes)
        throw bodyTooLarge(limits.maxBodyBytes, declared);
    },
    async answer(req) {
      const { header: header2, binary } = splitBody(req);
      const r = parseRequest(header2);
      const { data, n } = readInput(r.inputs, binary, tail, limits);
      const want = requestedOutputs(r);
      const out = await batched(
        queue,
        { data, n, wantProbabilities: want.some((o) => o.name === "probabilities") },
        req,
        limits
      );
      const outputs = want.map((o) => ({
        ...o,
        values: batchFirst(o.name === "logits" ? out.logits : out.probabilities, C, n)
      }));
      return answerOf(d.name, version, r.id, outputs, n, C);
    }
  };
}
function splitBody(req) {
  const given = req.headers[HEADER_LENGTH];
  if (given === void 0) return { header: req.body, binary: req.body.subarray(req.body.length) };
  const h = typeof given === "string" && /^\d+$/.test(given.trim()) ? Number(given) : NaN;
  if (!(h <= req.body.length)) {
    throw bad(
      `${HEADER_LENGTH} must be an integer \u2264 the body's ${req.body.length} bytes, got ${JSON.stringify(given)}`,
      HEADER_LENGTH
    );
  }
  return { header: req.body.subarray(0, h), binary: req.body.subarray(h) };
}
var isObject = (x) => typeof x === "object" && x !== null && !Array.isArray(x);
function parseRequest(bytes) {
  let r;
  try {
    r = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad(`the inference request is not JSON: ${e.message}`);
  }
  if (!isObject(r)) throw bad("the inference request must be a JSON object");
  if (r.id !== void 0 && typeof r.id !== "string") throw bad("id must be a string", "id");
  if (r.parameters !== void 0 && !isObject(r.parameters)) throw bad("parameters must be an object", "parameters");
  if (!Array.isArray(r.inputs) || !r.inputs.every(isObject)) throw bad("inputs must be an array of tensors", "inputs");
  if (r.outputs !== void 0 && (!Array.isArray(r.outputs) || !r.outputs.every(isObject)))
    throw bad("outputs must be an array of objects", "outputs");
  return r;
}
function readInput(inputs, binary, tail, limits) {
  const W = tail.activationWidth, cut = tail.activationShape;
  const want = `${OIP_INPUT} (FP32, shape [n, ${cut.join(", ")}]${cut.length > 1 ? ` or [n, ${W}]` : ""})`;
  const names = inputs.map((i) => JSON.stringify(i.name)).join(", ");
  if (inputs.length !== 1 || inputs[0].name !== OIP_INPUT)
    throw bad(`the model takes one input, ${want}; got ${inputs.length} (${names})`, "inputs");
  const input = inputs[0];
  const datatype = input.datatype;
  const size = typeof datatype === "string" ? INPUT_TYPES[datatype] : void 0;
  if (size === void 0)
    throw bad(
      `input ${OIP_INPUT}: datatype must be FP32, FP64 or FP16 (binary), got ${JSON.stringify(datatype)}`,
      "datatype"
    );
  const shape = input.shape;
  if (!Array.isArray(shape) || !shape.every((x) => Number.isSafeInteger(x) && x >= 0))
    throw bad(`input ${OIP_INPUT}: shape must be an array of non-negative integers`, "shape");
  const per = shape.slice(1);
  const fits = per.length === 1 && per[0] === W || per.length === cut.length && per.every((x, i) => x === cut[i]);
  const n = shape[0];
  const alt = cut.length > 1 ? ` or [n, ${W}]` : "";
  if (!fits || n < 1)
    throw bad(
      `input ${OIP_INPUT}: expected shape [n \u2265 1, ${cut.join(", ")}]${alt}, got [${shape.join(", ")}]`,
      "shape"
    );
  if (n > limits.maxQueue)
    throw new HttpError(
      413,
      "too_large",
      `${n} samples in one request; the queue holds at most ${limits.maxQueue}`,
      "shape"
    );
  const count = n * W;
  const params = isObject(input.parameters) ? input.parameters : {};
  const rowMajor = params.binary_data_size !== void 0 ? fromBinary(params.binary_data_size, binary, datatype, size, count) : fromJson(input.data, datatype, count, binary.length);
  const data = new Float32Array(count);
  for (let b = 0; b < n; b++) for (let f = 0; f < W; f++) data[f * n + b] = rowMajor[b * W + f];
  return { data, n };
}
function fromBinary(declared, binary, datatype, size, count) {
  const bytes = count * size;
  if (declared !== bytes)
    throw bad(
      `input ${OIP_INPUT}: binary_data_size must be ${bytes} (${count} \xD7 ${size}-byte ${datatype}), got ${JSON.stringify(declared)}`,
      "binary_data_size"
    );
  if (binary.length !== bytes)
    throw bad(
      `the body has ${binary.length} bytes of binary tensor data after the JSON, binary_data_size says ${bytes}`,
      HEADER_LENGTH
    );
  const v = new DataView(binary.buffer, binary.byteOffset, binary.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = size === 4 ? v.getFloat32(4 * i, true) : size === 8 ? v.getFloat64(8 * i, true) : f16BitsToF32(v.getUint16(2 * i, true));
  }
  if (!out.every(Number.isFinite)) throw bad(`input ${OIP_INPUT}: values must be finite`, "data");
  return out;
}
function fromJson(data, datatype, count, binaryBytes) {
  if (binaryBytes > 0)
    throw bad(
      `${binaryBytes} bytes of binary tensor data after the JSON, but no input declares binary_data_size`,
      HEADER_LENGTH
    );
  if (datatype === "FP16")
    throw bad(`input ${OIP_INPUT}: FP16 travels only as binary data (binary_data_size)`, "datatype");
  if (!Array.isArray(data)) throw bad(`input ${OIP_INPUT}: data must be an array (flat or nested, row-major)`, "data");
  const out = new Float32Array(count);
  let k = 0;
  const stack = [[data, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top[1] === top[0].length) {
      stack.pop();
      continue;
    }
    const x = top[0][top[1]++];
    if (Array.isArray(x)) {
      if (stack.length > 8) throw bad(`input ${OIP_INPUT}: data is nested deeper than its shape`, "data");
      stack.push([x, 0]);
    } else if (typeof x === "number" && Number.isFinite(x)) {
      if (k === count) throw bad(`input ${OIP_INPUT}: data has more than the ${count} elements of its shape`, "data");
      out[k++] = x;
    } else throw bad(`input ${OIP_INPUT}: data must hold finite numbers, got ${JSON.stringify(x)}`, "data");
  }
  if (k !== count) throw bad(`input ${OIP_INPUT}: data has ${k} elements, its shape ${count}`, "data");
  return out;
}
function requestedOutputs(r) {
  const all = r.parameters?.binary_data_output;
  if (all !== void 0 && typeof all !== "boolean")
    throw bad("parameters.binary_data_output must be a boolean", "binary_data_output");
  if (r.outputs === void 0) return OIP_OUTPUTS.map((name) => ({ name, binary: all === true }));
  const seen = /* @__PURE__ */ new Set();
  return r.outputs.map((o) => {
    if (typeof o.name !== "string" || !OIP_OUTPUTS.includes(o.name)) {
      throw bad(
        `unknown output ${JSON.stringify(o.name)}; the model's outputs are ${OIP_OUTPUTS.join(" and ")}`,
        "outputs"
      );
    }
    if (seen.has(o.name)) throw bad(`output ${o.name} is asked for twice`, "outputs");
    seen.add(o.name);
    const p = isObject(o.parameters) ? o.parameters : {};
    if (p.binary_data !== void 0 && typeof p.binary_data !== "boolean")
      throw bad(`output ${o.name}: binary_data must be a boolean`, "binary_data");
    return { name: o.name, binary: p.binary_data ?? all === true };
  });
}
function batchFirst(z, C, n) {
  const out = new Float32Array(C * n);
  for (let c = 0; c < C; c++) for (let b = 0; b < n; b++) out[b * C + c] = z[c * n + b];
  return out;
}
function answerOf(name, version, id, outputs, n, C) {
  const tensors = [];
  const described = outputs.map((o) => {
    const base = { name: o.name, datatype: "FP32", shape: [n, C] };
    if (!o.binary) {
      if (!o.values.every(Number.isFinite))
        throw new HttpError(500, "internal", `output ${o.name} is not finite; ask for it as binary data`);
      return { ...base, data: Array.from(o.values) };
    }
    const t = new Uint8Array(o.values.length * 4), v = new DataView(t.buffer);
    o.values.forEach((x, i) => v.setFloat32(4 * i, x, true));
    tensors.push(t);
    return { ...base, parameters: { binary_data_size: o.values.byteLength } };
  });
  const json = JSON.stringify({
    model_name: name,
    model_version: version,
    ...id !== void 0 ? { id } : {},
    outputs: described
  });
  if (tensors.length === 0) return { status: 200, headers: { "Content-Type": JSON_TYPE }, body: json, samples: n };
  const head = new TextEncoder().encode(json);
  const body = new Uint8Array(head.length + tensors.reduce((s, t) => s + t.length, 0));
  body.set(head, 0);
  let off = head.length;
  for (const t of tensors) {
    body.set(t, off);
    off += t.length;
  }
  const headers = {
    "Content-Type": "application/octet-stream",
    "Inference-Header-Content-Length": String(head.length)
  };
  return { status: 200, headers, body, samples: n };
}

// src/server/ws.ts
import { setMaxListeners } from "node:events";
import { STATUS_CODES } from "node:http";
import { performance as performance5 } from "node:perf_hooks";
import { WebSocketServer } from "ws";
var STREAM_PATH = "/v1/stream";
var CLOSE_DRAINED = 1001;
var STREAM_ID_BYTES = 4;
var HIGH_WATER = 1 << 20;
function streamEndpoint(d) {
  return {
    admit(head) {
      if (d.draining(head.arrived ?? performance5.now())) {
        throw unavailable(
          "shutting_down",
          "the server is shutting down; connect to another instance",
          d.retryAfterSeconds
        );
      }
      if (!d.originAllowed(head)) {
        throw new HttpError(
          403,
          "origin_not_allowed",
          `pages from ${String(head.headers.origin)} may not open a stream here`,
          "origin"
        );
      }
      answerOptions(head);
    },
    answer() {
      const message = `${STREAM_PATH} is a WebSocket: send Upgrade: websocket (or POST frames to /v1/infer)`;
      throw new HttpError(426, "upgrade_required", message, void 0, { Upgrade: "websocket", Connection: "Upgrade" });
    }
  };
}
function attachStream(server, s, o) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: o.maxBodyBytes + STREAM_ID_BYTES,
    perMessageDeflate: false,
    // the bearer subprotocol, if offered, is never echoed: only ours is selected
    handleProtocols: (offered) => offered.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false
  });
  const streams = /* @__PURE__ */ new Set();
  let draining = false;
  server.on("upgrade", (req, socket, first) => {
    const arrived = performance5.now();
    socket.on("error", () => socket.destroy());
    const head = upgradeHead(req, arrived);
    const label = head ? s.handler.label(head.path) : "other";
    const over = o.refuse?.(socket);
    const refused = over ? errorAnswer(over) : head === void 0 ? errorAnswer(new HttpError(400, "bad_request", `cannot parse the request target ${JSON.stringify(req.url)}`)) : s.handler.admit(head);
    if (refused || head === void 0 || head.path !== STREAM_PATH) {
      s.traffic.begin();
      const a = refused ?? errorAnswer(new HttpError(404, "not_found", `no WebSocket at ${head?.path}; use ${STREAM_PATH}`));
      s.traffic.end(label, a, arrived);
      return void writeRefusal(socket, a);
    }
    wss.handleUpgrade(req, socket, first, (ws) => {
      const stream = new Stream(ws, socket, s, head, () => {
        streams.delete(stream);
        s.traffic.streamClosed();
      });
      streams.add(stream);
      s.traffic.streamOpened();
      if (draining) stream.drain();
    });
  });
  return {
    get connections() {
      return streams.size;
    },
    async close(timeoutMs) {
      draining = true;
      const all = [...streams];
      for (const st of all) st.drain();
      const cut = setTimeout(() => all.forEach((st) => st.terminate()), timeoutMs);
      await Promise.all(all.map((st) => st.closed));
      clearTimeout(cut);
      wss.close();
    }
  };
}
var Stream = class {
  constructor(ws, socket, s, head, onClose) {
    this.ws = ws;
    this.socket = socket;
    this.s = s;
    this.head = head;
    const { "content-length": _, "transfer-encoding": __, ...rest } = head.headers;
    this.headers = { ...rest, "content-type": FRAME_MEDIA_TYPE };
    this.label = s.handler.label("/v1/infer");
    setMaxListeners(0, this.gone.signal);
    ws.binaryType = "nodebuffer";
    ws.on("message", (data, isBinary) => this.message(data, isBinary));
    ws.on("error", () => {
    });
    this.closed = new Promise(
      (resolve2) => ws.once("close", () => {
        this.leave();
        onClose();
        resolve2();
      })
    );
  }
  ws;
  socket;
  s;
  head;
  pending = /* @__PURE__ */ new Map();
  // one signal for every request of the connection: they are all gone when it closes
  gone = new AbortController();
  corked = false;
  headers;
  label;
  draining = false;
  paused = false;
  closed;
  message(data, isBinary) {
    const arrived = performance5.now();
    if (this.ws.readyState !== this.ws.OPEN) return;
    const buf = data;
    if (!isBinary || buf.length < STREAM_ID_BYTES) {
      const message = isBinary ? `a message starts with a ${STREAM_ID_BYTES}-byte request id; got ${buf.length} bytes` : "requests are binary messages: a request id, then a frame";
      this.refuseUnread(null, new HttpError(400, "bad_message", message), arrived);
      return;
    }
    const id = buf.readUInt32LE(0);
    if (this.pending.has(id)) {
      const message = `request id ${id} is still in flight on this connection`;
      this.refuseUnread(id, new HttpError(400, "duplicate_id", message, "id"), arrived);
      return;
    }
    const body = new Uint8Array(buf.buffer, buf.byteOffset + STREAM_ID_BYTES, buf.length - STREAM_ID_BYTES);
    this.pending.set(id, arrived);
    this.s.traffic.begin();
    const req = {
      method: "POST",
      path: "/v1/infer",
      query: this.head.query,
      headers: this.headers,
      body,
      arrived,
      signal: this.gone.signal
    };
    void this.s.handler.handle(req).then((a) => {
      if (this.gone.signal.aborted) return;
      this.pending.delete(id);
      this.s.traffic.end(this.label, a, arrived, "ws");
      this.send(id, a);
      if (this.draining && this.pending.size === 0) this.ws.close(CLOSE_DRAINED, "server shutting down");
    });
  }
  /** A message refused before it became a request of the queue: counted and answered at once. */
  refuseUnread(id, e, arrived) {
    this.s.traffic.begin();
    const a = errorAnswer(e);
    this.s.traffic.end(this.label, a, arrived, "ws");
    this.send(id, a);
  }
  send(id, a) {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    let msg;
    if (a.status === 200 && id !== null) {
      const body = a.body;
      msg = Buffer.allocUnsafe(STREAM_ID_BYTES + body.byteLength);
      msg.writeUInt32LE(id, 0);
      msg.set(body, STREAM_ID_BYTES);
    } else {
      const { error } = JSON.parse(a.body);
      const retryAfter = a.headers["Retry-After"];
      msg = JSON.stringify({ id, error, ...retryAfter !== void 0 ? { retryAfter: Number(retryAfter) } : {} });
    }
    this.ws.send(msg, () => {
      if (this.paused && this.ws.bufferedAmount < HIGH_WATER / 2) {
        this.paused = false;
        this.ws.resume();
      }
    });
    if (!this.paused && this.ws.bufferedAmount > HIGH_WATER) {
      this.paused = true;
      this.ws.pause();
    }
  }
  /** Shutdown: close once every accepted request is answered (now, if none is in flight). */
  drain() {
    this.draining = true;
    if (this.pending.size === 0 && this.ws.readyState === this.ws.OPEN)
      this.ws.close(CLOSE_DRAINED, "server shutting down");
  }
  terminate() {
    this.ws.terminate();
  }
  /** The connection closed: every request still in flight leaves the queue and is counted as 499. */
  leave() {
    this.gone.abort();
    for (const arrived of this.pending.values()) this.s.traffic.end(this.label, void 0, arrived, "ws");
    this.pending.clear();
  }
};
function upgradeHead(req, arrived) {
  try {
    const url = new URL(req.url ?? "/", "http://localhost");
    return { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, arrived };
  } catch {
    return void 0;
  }
}
function writeRefusal(socket, a) {
  if (!socket.writable) return void socket.destroy();
  const body = typeof a.body === "string" ? Buffer.from(a.body) : Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength);
  const lines = [`HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ""}`];
  for (const [k, v] of Object.entries(a.headers)) if (k.toLowerCase() !== "connection") lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${body.length}`, "Connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), body]));
}

// src/server/queue.ts
import { performance as performance6 } from "node:perf_hooks";
var BatchQueue = class {
  constructor(tail, options, onBatch = () => {
  }) {
    this.tail = tail;
    this.options = options;
    this.onBatch = onBatch;
    checkInt("BatchQueue", "maxBatch", options.maxBatch, 1, 1 << 24);
    checkInt("BatchQueue", "maxQueue", options.maxQueue, 1, 1 << 30);
    if (!(options.maxDelayMs >= 0 && Number.isFinite(options.maxDelayMs)))
      throw new ValidationError(`BatchQueue: maxDelayMs must be a finite number \u2265 0, got ${options.maxDelayMs}`);
    this.X = new Matrix(tail.engine, tail.activationWidth, 1);
  }
  tail;
  options;
  onBatch;
  waiting = [];
  samples_ = 0;
  timer;
  immediate;
  draining = false;
  X;
  P;
  /** Waiting requests and samples. */
  get depth() {
    return { requests: this.waiting.length, samples: this.samples_ };
  }
  /** Queues a job; false (and nothing queued) when its samples would take the queue past maxQueue. */
  submit(job) {
    if (job.data.length !== job.n * this.tail.activationWidth)
      throw new ValidationError(
        `BatchQueue.submit: ${job.data.length} values for ${job.n} samples of ${this.tail.activationWidth}`
      );
    if (this.samples_ + job.n > this.options.maxQueue) return false;
    this.waiting.push({ job, at: performance6.now() });
    this.samples_ += job.n;
    this.schedule();
    return true;
  }
  /** Removes a job that has not run yet; false when it is not waiting (already ran or never queued). */
  cancel(job) {
    const i = this.waiting.findIndex((e) => e.job === job);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    this.samples_ -= job.n;
    if (this.waiting.length === 0) this.clearTimers();
    return true;
  }
  /** From now on, batches run as soon as possible without waiting for the delay (shutdown). */
  drain() {
    this.draining = true;
    this.schedule();
  }
  clearTimers() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = void 0;
  }
  /** A batch is due: enough samples wait, the oldest has waited long enough, or the server is draining. */
  due() {
    if (this.waiting.length === 0) return false;
    return this.samples_ >= this.options.maxBatch || this.draining || performance6.now() - this.waiting[0].at >= this.options.maxDelayMs;
  }
  schedule() {
    if (this.waiting.length === 0 || this.immediate) return;
    const waited = performance6.now() - this.waiting[0].at;
    if (this.due()) {
      this.clearTimers();
      this.immediate = setImmediate(() => this.dispatch());
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = void 0;
        this.dispatch();
      }, this.options.maxDelayMs - waited);
    }
  }
  // Runs every batch that is due now (the first one always: a timer or a full queue brought us here), then
  // schedules the rest; several batches in one turn spare a turn of the event loop per batch.
  dispatch() {
    this.immediate = void 0;
    this.clearTimers();
    do {
      const batch = [];
      let n = 0;
      while (this.waiting.length > 0 && (batch.length === 0 || n + this.waiting[0].job.n <= this.options.maxBatch)) {
        const e = this.waiting.shift();
        batch.push(e);
        n += e.job.n;
      }
      this.samples_ -= n;
      if (batch.length > 0)
        this.run(
          batch.map((e) => e.job),
          n
        );
    } while (this.due());
    this.schedule();
  }
  run(jobs, N) {
    let outs;
    try {
      outs = this.compute(jobs, N);
    } catch (e) {
      for (const j of jobs) j.fail(e);
      return;
    }
    this.onBatch(N, jobs.length);
    jobs.forEach((j, i) => j.done({ ...outs[i], batchSamples: N, batchRequests: jobs.length }));
  }
  // Each sample's column is computed independently of its position in the batch, so splitting the batch's
  // output back by column offsets gives every request exactly what it would get alone.
  compute(jobs, N) {
    const W = this.tail.activationWidth, C = this.tail.classes;
    const X = this.X.reshape(N);
    const x = X.view();
    let off = 0;
    for (const j of jobs) {
      const d = j.data, n = j.n;
      if (n === N) x.set(d);
      else for (let f = 0; f < W; f++) for (let k = 0, o = f * N + off, i = f * n; k < n; k++) x[o + k] = d[i + k];
      off += n;
    }
    const Z = this.tail.forward(X);
    let P;
    if (jobs.some((j) => j.wantProbabilities)) {
      this.P ??= new Matrix(this.tail.engine, C, N);
      P = softmax(Z, this.P.reshape(N));
    }
    const z = Z.view(), p = P?.view();
    off = 0;
    return jobs.map((j) => {
      const cols = (src) => {
        const n = j.n;
        if (n === N) return src.slice();
        const out = new Float32Array(C * n);
        for (let c = 0; c < C; c++) for (let k = 0, o = c * N + off, i = c * n; k < n; k++) out[i + k] = src[o + k];
        return out;
      };
      const r = { logits: cols(z), probabilities: j.wantProbabilities && p ? cols(p) : void 0 };
      off += j.n;
      return r;
    });
  }
  dispose() {
    this.clearTimers();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = void 0;
    this.X.dispose();
    this.P?.dispose();
  }
};

// src/server/service.ts
var Traffic = class {
  constructor(metrics) {
    this.metrics = metrics;
  }
  metrics;
  open = 0;
  streams_ = 0;
  since;
  idleWaiters = [];
  /** Requests arrived and not yet answered. */
  get inflight() {
    return this.open;
  }
  /** Open WebSocket streams. */
  get streams() {
    return this.streams_;
  }
  streamOpened() {
    this.streams_++;
  }
  streamClosed() {
    this.streams_--;
  }
  /** Whether shutdown has begun. */
  get draining() {
    return this.since !== void 0;
  }
  /** Whether shutdown had begun at time t (performance.now()). */
  drainingAt(t) {
    return this.since !== void 0 && this.since <= t;
  }
  drain() {
    this.since ??= performance7.now();
  }
  /** A request arrived. */
  begin() {
    this.open++;
  }
  /**
   * Its one end, counted under its route's label and its transport: the answer sent, or none when the client left
   * first (499).
   */
  end(label, answer, arrived, transport = "http") {
    this.open--;
    this.metrics.requests.inc({ path: label, code: String(answer?.status ?? 499), transport });
    if (answer?.status === 200 && answer.samples) {
      this.metrics.samples.inc({ transport }, answer.samples);
      this.metrics.latency.observe((performance7.now() - arrived) / 1e3, { transport });
    }
    if (this.open === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
  /** Resolves when no request is in flight. */
  idle() {
    return new Promise((r) => this.open === 0 ? r() : this.idleWaiters.push(r));
  }
};
var NO_STORE2 = { "Cache-Control": "no-store" };
function createService(tail, limits, extra = /* @__PURE__ */ new Map(), options = {}) {
  const access = createAccess(options);
  let q;
  const metrics = new ServerMetrics(
    limits.maxBatch,
    () => q.depth,
    () => traffic.inflight,
    () => traffic.streams
  );
  const traffic = new Traffic(metrics);
  q = new BatchQueue(tail, limits, (samples2, requests) => {
    metrics.batchSize.observe(samples2);
    metrics.batchRequests.observe(requests);
  });
  const { after, splitId, activationWidth, classes } = tail;
  const split2 = { after, splitId, activationWidth, classes };
  const health = {
    answer: () => {
      const body = {
        ok: !traffic.draining,
        ready: !traffic.draining,
        status: traffic.draining ? "draining" : "serving",
        modelHash: tail.hash,
        split: split2,
        queue: q.depth,
        // the other requests in flight: a transport counts this one as soon as it arrives
        inflight: Math.max(0, traffic.inflight - 1),
        streams: traffic.streams,
        pid: process.pid
      };
      const headers = { "Content-Type": "application/json; charset=utf-8", ...NO_STORE2 };
      return { status: traffic.draining ? 503 : 200, headers, body: `${JSON.stringify(body)}
` };
    }
  };
  const prometheus = { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", ...NO_STORE2 };
  const scrape = { answer: () => ({ status: 200, headers: prometheus, body: metrics.render() }) };
  const draining = (t) => traffic.drainingAt(t);
  const infer = inferEndpoint({ tail, queue: q, limits, draining });
  const stream = streamEndpoint({
    draining,
    originAllowed: access.originAllowed,
    retryAfterSeconds: limits.retryAfterSeconds
  });
  let routes;
  try {
    routes = new Map([
      ["/v1/infer", { methods: { POST: infer } }],
      [STREAM_PATH, { methods: { GET: stream } }],
      ["/healthz", { methods: { GET: health, HEAD: health }, public: true }],
      ["/metrics", { methods: { GET: scrape, HEAD: scrape } }],
      ...oipRoutes({ tail, queue: q, limits, draining, name: options.modelName ?? "presparse" })
    ]);
    for (const [path, route] of extra) {
      if (routes.has(path)) throw new ValidationError(`startServer: ${path} is the tail's own route`);
      routes.set(path, route);
    }
  } catch (e) {
    q.dispose();
    throw e;
  }
  return {
    tail,
    handler: createHandler(routes, access.gates),
    queue: q,
    metrics,
    traffic,
    drain: () => {
      traffic.drain();
      q.drain();
    },
    dispose: () => q.dispose()
  };
}

// src/server/http.ts
function resolveOptions(o) {
  const r = {
    port: o.port ?? 8080,
    host: o.host ?? "127.0.0.1",
    maxBatch: o.maxBatch ?? 64,
    maxDelayMs: o.maxDelayMs ?? 1,
    maxQueue: o.maxQueue ?? 4096,
    timeoutMs: o.timeoutMs ?? 1e4,
    maxBodyBytes: o.maxBodyBytes ?? 4 * 2 ** 20,
    retryAfterSeconds: o.retryAfterSeconds ?? 1,
    drainTimeoutMs: o.drainTimeoutMs ?? 1e4,
    drainDelayMs: o.drainDelayMs ?? 0,
    lingerMs: o.lingerMs ?? 100,
    maxConnections: o.maxConnections ?? 1024,
    maxInflightBytes: o.maxInflightBytes ?? Math.max(32 * 2 ** 20, o.maxBodyBytes ?? 0)
  };
  checkInt("startServer", "port", r.port, 0, 65535);
  checkInt("startServer", "maxBatch", r.maxBatch, 1, 1 << 24);
  checkInt("startServer", "maxQueue", r.maxQueue, 1, 1 << 30);
  checkInt("startServer", "timeoutMs", r.timeoutMs, 1, 2 ** 31 - 1);
  checkInt("startServer", "maxBodyBytes", r.maxBodyBytes, 64, 2 ** 31 - 1);
  checkInt("startServer", "retryAfterSeconds", r.retryAfterSeconds, 0, 86400);
  checkInt("startServer", "drainTimeoutMs", r.drainTimeoutMs, 0, 2 ** 31 - 1);
  checkInt("startServer", "drainDelayMs", r.drainDelayMs, 0, 2 ** 31 - 1);
  checkInt("startServer", "lingerMs", r.lingerMs, 0, 6e4);
  checkInt("startServer", "maxConnections", r.maxConnections, 1, 1 << 20);
  checkInt("startServer", "maxInflightBytes", r.maxInflightBytes, r.maxBodyBytes, Number.MAX_SAFE_INTEGER);
  if (!(r.maxDelayMs >= 0 && r.maxDelayMs <= 6e4)) {
    throw new ValidationError(`startServer: maxDelayMs must be in [0, 60000], got ${r.maxDelayMs}`);
  }
  return r;
}
async function startServer(options) {
  const o = resolveOptions(options);
  const engine2 = options.engine ?? await defaultEngine();
  const model2 = await openTail(options.model, engine2);
  const tail = model2.served;
  let s;
  try {
    const demo = options.demo && demoRoutes(await loadDemo(engine2, tail, options.demo));
    s = createService(tail, o, demo, options);
  } catch (e) {
    model2.dispose();
    throw e;
  }
  const sockets = new Sockets(o.maxConnections);
  const connectionsCheckingInterval = Math.min(3e4, Math.max(100, Math.ceil(o.timeoutMs / 4)));
  const onRequest = listener(s, o, sockets, new BodyBudget(o.maxInflightBytes));
  const server = options.tls ? createTlsServer({ ...options.tls, connectionsCheckingInterval }, onRequest) : createServer({ connectionsCheckingInterval }, onRequest);
  server.httpAllowHalfOpen = true;
  server.headersTimeout = Math.min(server.headersTimeout, o.timeoutMs);
  server.requestTimeout = Math.max(server.headersTimeout, 2 * o.timeoutMs);
  server.on(options.tls ? "secureConnection" : "connection", (socket) => {
    socket.allowHalfOpen = true;
    sockets.add(socket);
  });
  server.on("upgrade", (_req, socket) => sockets.stream(socket));
  const streams = attachStream(server, s, {
    maxBodyBytes: o.maxBodyBytes,
    refuse: (socket) => sockets.over(socket) ? unavailable("overloaded", "too many open connections; retry later", o.retryAfterSeconds) : void 0
  });
  server.on("clientError", (err, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const slow = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const e = slow ? new HttpError(408, "request_timeout", `the request did not arrive within ${server.headersTimeout} ms`) : new HttpError(400, "bad_request", `malformed HTTP request: ${err.code ?? err.message}`);
    writeRaw(socket, errorAnswer(e));
  });
  server.on("connect", (req, socket) => {
    const arrived = performance8.now();
    s.traffic.begin();
    const a = errorAnswer(
      new HttpError(501, "not_implemented", `CONNECT ${req.url ?? ""} is not supported: this server is not a proxy`)
    );
    s.traffic.end("other", a, arrived);
    if (socket.writable) writeRaw(socket, a);
    else socket.destroy();
  });
  try {
    await new Promise((resolve2, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host, () => {
        server.off("error", reject);
        resolve2();
      });
    });
  } catch (e) {
    s.dispose();
    model2.dispose();
    const code = e.code;
    throw new ValidationError(`startServer: cannot listen on ${o.host}:${o.port}: ${code ?? e.message}`);
  }
  const addr = server.address();
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closed;
  const close = () => {
    closed ??= (async () => {
      s.drain();
      if (o.drainDelayMs > 0) await new Promise((r) => setTimeout(r, o.drainDelayMs));
      const streamsClosed = streams.close(o.drainTimeoutMs);
      const listenerClosed = new Promise((r) => netServerClose.call(server, () => r()));
      await Promise.all([new Promise((r) => setTimeout(r, o.lingerMs)), s.traffic.idle()]);
      sockets.closeQuiet();
      const cut = setTimeout(() => server.closeAllConnections(), o.drainTimeoutMs);
      await Promise.all([listenerClosed, streamsClosed]);
      clearTimeout(cut);
      server.close();
      s.dispose();
      model2.dispose();
    })();
    return closed;
  };
  const url = `${options.tls ? "https" : "http"}://${host}:${addr.port}`;
  const depth = () => s.queue.depth;
  return { url, port: addr.port, tail: model2.tail, served: tail, metrics: s.metrics, queueDepth: depth, close };
}
var netServerClose = NetServer.prototype.close;
var KEEP_READING_BYTES = 64 * 1024;
var Sockets = class {
  constructor(max) {
    this.max = max;
  }
  max;
  open = /* @__PURE__ */ new Map();
  add(socket) {
    this.open.set(socket, { busy: 0, over: this.open.size >= this.max });
    socket.once("close", () => this.open.delete(socket));
  }
  /** Whether the connection was opened past the cap (its requests are refused). */
  over(socket) {
    return this.open.get(socket)?.over ?? false;
  }
  /** A request on the connection began (+1) or was answered or abandoned (−1). */
  busy(socket, d) {
    const c = this.open.get(socket);
    if (c) c.busy += d;
  }
  /** The connection became a stream: never closed as quiet, its stream closes it. */
  stream(socket) {
    this.busy(socket, 1);
  }
  /** Closes every connection with no request in flight. */
  closeQuiet() {
    for (const [socket, c] of this.open) if (c.busy === 0) socket.destroy();
  }
};
var BodyBudget = class {
  constructor(limit) {
    this.limit = limit;
  }
  limit;
  used = 0;
  take(n) {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n) {
    this.used -= n;
  }
};
function writeRaw(socket, a) {
  const length = Buffer.byteLength(a.body);
  const reason = STATUS_TEXT[a.status] ?? "Error";
  const type = a.headers["Content-Type"];
  const head = `HTTP/1.1 ${a.status} ${reason}\r
Content-Type: ${type}\r
Content-Length: ${length}`;
  socket.end(`${head}\r
Connection: close\r
\r
${typeof a.body === "string" ? a.body : ""}`);
}
var STATUS_TEXT = {
  400: "Bad Request",
  408: "Request Timeout",
  501: "Not Implemented"
};
function listener(s, o, sockets, budget) {
  return (req, res) => {
    const arrived = performance8.now();
    const socket = req.socket;
    s.traffic.begin();
    sockets.busy(socket, 1);
    const gone = new AbortController();
    let label = "other";
    let finished = false;
    let timer;
    let held = 0;
    const settle = () => {
      finished = true;
      clearTimeout(timer);
      budget.give(held);
      held = 0;
      sockets.busy(socket, -1);
    };
    const answer = (a, closing = false) => {
      if (finished) return;
      settle();
      s.traffic.end(label, a, arrived);
      const rest = req.complete ? 0 : declared !== void 0 && a.status !== 504 ? declared - received : Infinity;
      const close = closing || rest > KEEP_READING_BYTES || s.traffic.draining || socket.readableEnded;
      if (!req.complete) req.resume();
      if (!res.destroyed && !res.headersSent) send(res, a, close);
    };
    res.on("close", () => {
      if (finished) return;
      settle();
      gone.abort();
      s.traffic.end(label, void 0, arrived);
    });
    const length = req.headers["content-length"];
    const declared = length === void 0 ? void 0 : Number(length);
    let received = 0;
    const head = requestHead(req, arrived);
    if (head instanceof HttpError) return void answer(errorAnswer(head));
    label = s.handler.label(head.path);
    if (sockets.over(socket)) {
      const message = "too many open connections; retry later";
      return void answer(errorAnswer(unavailable("overloaded", message, o.retryAfterSeconds)), true);
    }
    const refused = s.handler.admit(head);
    if (refused) return void answer(refused);
    if (!budget.take(declared ?? 0)) return void answer(errorAnswer(overBudget(o, budget)));
    held = declared ?? 0;
    timer = setTimeout(() => answer(errorAnswer(timeoutError(o.timeoutMs))), o.timeoutMs);
    const hold = {
      grow: (n) => (received = n, n <= held || budget.take(n - held) && (held = n, true)),
      drop: () => (budget.give(held), held = 0)
    };
    const prefix = s.handler.prefixBytes(head);
    readBody(req, o.maxBodyBytes, hold, prefix, (bytes) => s.handler.inspect(head, bytes)).then(
      (body) => {
        if (finished) return;
        if (!(body instanceof Uint8Array)) return answer(body);
        clearTimeout(timer);
        void s.handler.handle({ ...head, body, signal: gone.signal }).then(answer);
      },
      (e) => answer(errorAnswer(e.status === 503 ? overBudget(o, budget) : e))
    );
  };
}
function overBudget(o, budget) {
  const message = `request bodies in flight would pass ${budget.limit} bytes; retry later`;
  return unavailable("overloaded", message, o.retryAfterSeconds);
}
function requestHead(req, arrived) {
  let url;
  try {
    url = new URL(req.url ?? "/", "http://localhost");
  } catch {
    return new HttpError(400, "bad_request", `cannot parse the request target ${JSON.stringify(req.url)}`);
  }
  return { method: req.method ?? "", path: url.pathname, query: url.searchParams, headers: req.headers, arrived };
}
function readBody(req, limit, hold, prefix, inspect) {
  return new Promise((resolve2, reject) => {
    let chunks = [];
    let size = 0, failed = false;
    let refusal;
    const fail = (e) => {
      failed = true;
      chunks = [];
      reject(e);
    };
    req.on("data", (c) => {
      if (failed) return;
      size += c.length;
      if (size > limit) return fail(bodyTooLarge(limit));
      if (refusal) return;
      if (!hold.grow(size)) return fail(new HttpError(503, "overloaded", "body budget"));
      chunks.push(c);
      if (prefix > 0 && size >= prefix && size - c.length < prefix) {
        const first = chunks.length === 1 ? c : Buffer.concat(chunks, size);
        refusal = inspect(new Uint8Array(first.buffer, first.byteOffset, prefix));
        if (refusal) {
          chunks = [];
          hold.drop();
          resolve2(refusal);
        }
      }
    });
    req.on("error", () => {
    });
    req.on("end", () => {
      if (failed || refusal) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      resolve2(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    });
  });
}
function send(res, a, close) {
  const length = typeof a.body === "string" ? Buffer.byteLength(a.body) : a.body.byteLength;
  res.writeHead(a.status, { ...a.headers, ...close ? { Connection: "close" } : {}, "Content-Length": length });
  res.end(a.body);
}

// src/split/client.ts
var SplitServerError = class extends PresparseError {
  constructor(status, code, message, field) {
    super(
      status === 0 ? `${code}: ${message}` : `server answered ${status} ${code}${field ? ` (${field})` : ""}: ${message}`
    );
    this.status = status;
    this.code = code;
    this.field = field;
  }
  status;
  code;
  field;
  name = "SplitServerError";
};
var ERROR_BODY_BYTES = 64 * 1024;
var SplitClient = class {
  /** The head run here (undefined for full offload). */
  head;
  url;
  policy;
  runner;
  /** What frames carry and answers hold: the cut (0 for full offload), hash, sample shape, classes, final exit. */
  id;
  dtype;
  output;
  fetch_;
  retries;
  backoffMs;
  maxBackoffMs;
  timeoutMs;
  headers;
  stream;
  X;
  constructor(o) {
    this.head = o.head;
    if (typeof o.serverUrl !== "string" || !/^https?:\/\//.test(o.serverUrl))
      throw new ValidationError(`SplitClient: serverUrl must be an http(s) URL, got ${JSON.stringify(o.serverUrl)}`);
    this.url = `${o.serverUrl.replace(/\/+$/, "")}/v1/infer`;
    if (o.head === void 0 === (o.offload === void 0))
      throw new ValidationError("SplitClient: give either a head or an offload target");
    this.id = o.head ? identityOf(o.head) : offloadIdentity(o.offload);
    this.dtype = o.dtype ?? "f32";
    if (!FRAME_DTYPES.includes(this.dtype)) {
      throw new ValidationError(`SplitClient: dtype must be ${FRAME_DTYPES.join(", ")}, got ${String(this.dtype)}`);
    }
    this.output = o.output ?? "logits";
    if (this.output !== "logits" && this.output !== "probabilities")
      throw new ValidationError(`SplitClient: output must be logits or probabilities, got ${String(this.output)}`);
    const f = o.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new ValidationError("SplitClient: no fetch available; pass options.fetch");
    this.fetch_ = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.retries = checkInt("SplitClient", "retries", o.retries ?? 3, 0, 100);
    this.backoffMs = checkInt("SplitClient", "backoffMs", o.backoffMs ?? 50, 0, 36e5);
    this.maxBackoffMs = checkInt("SplitClient", "maxBackoffMs", o.maxBackoffMs ?? 5e3, 0, 36e5);
    this.timeoutMs = checkInt("SplitClient", "timeoutMs", o.timeoutMs ?? 3e4, 1, 2 ** 31 - 1);
    if (o.token !== void 0 && !(typeof o.token === "string" && /^[A-Za-z0-9\-._~+/]+=*$/.test(o.token))) {
      throw new ValidationError(
        "SplitClient: token must be a bearer token (letters, digits, - . _ ~ + / and trailing =)"
      );
    }
    this.headers = {
      "Content-Type": FRAME_MEDIA_TYPE,
      ...o.token !== void 0 ? { Authorization: `Bearer ${o.token}` } : {}
    };
    this.stream = o.transport === "ws" ? this.openStream(o) : void 0;
    if (o.transport !== void 0 && o.transport !== "http" && o.transport !== "ws")
      throw new ValidationError(`SplitClient: transport must be http or ws, got ${String(o.transport)}`);
    if (o.head) {
      const policy = o.policy === void 0 ? o.head.split.policy : o.policy ?? void 0;
      this.runner = new ExitRunner(o.head, policy, { logits: false });
    } else if (o.policy) throw new ValidationError("SplitClient: full offload has no edge exits to apply a policy to");
    this.policy = this.runner?.policy;
  }
  /**
   * Classifies a batch: X [inputSize, B] feature-major, or an array of samples of inputSize values each. Samples
   * answered by an edge exit cost no traffic; the others go to the server in one frame.
   */
  async infer(input) {
    const t0 = performance.now();
    const id = this.id;
    const r = this.runner ? this.runner.run(input instanceof Matrix ? input : this.load(input)) : everySample(input, id);
    const tHead = performance.now();
    const B = r.exit.length, m = r.indices.length;
    const samples2 = new Array(B);
    for (let b = 0; b < B; b++) {
      if (r.exit[b] === id.final) continue;
      const exited = { exit: r.exit[b], label: r.label[b], confidence: r.confidence[b] };
      samples2[b] = { ...exited, bytesSent: 0, latencyMs: tHead - t0 };
    }
    const totals = {
      samples: B,
      exited: B - m,
      sent: m,
      bytesSent: 0,
      bytesReceived: 0,
      requests: 0,
      retries: 0,
      headMs: tHead - t0,
      serverMs: 0,
      latencyMs: 0
    };
    if (m > 0) {
      const shape = [...id.shape, m];
      const frame = encodeFrame({
        data: r.activation,
        shape,
        dtype: this.dtype,
        kind: "activation",
        splitId: id.cut,
        modelHash: id.hash
      });
      totals.bytesSent = frame.length;
      const answer = this.stream ? await this.streamPost(this.stream, frame, totals) : await this.post(frame, totals, frameBytes([id.classes, m], "f32"));
      totals.bytesReceived = answer.length;
      const kind = this.output;
      let f;
      try {
        f = decodeFrame(answer, {}, { modelHash: id.hash, splitId: id.cut, kind });
      } catch (e) {
        if (e instanceof FrameError) throw new SplitServerError(200, "bad_answer", e.message, e.field);
        throw e;
      }
      const C = id.classes;
      if (f.shape.length !== 2 || f.shape[0] !== C || f.shape[1] !== m)
        throw new SplitServerError(
          200,
          "bad_answer",
          `expected a [${C}, ${m}] ${kind} frame, got [${f.shape.join(", ")}]`,
          "dims"
        );
      const done = performance.now();
      totals.serverMs = done - tHead;
      const s = softmaxStats(f.data, C, m);
      for (let j = 0; j < m; j++) {
        const confidence = kind === "logits" ? s.confidence[j] : f.data[s.label[j] * m + j];
        const share = frame.length / m;
        const got = { exit: id.final, label: s.label[j], confidence };
        samples2[r.indices[j]] = { ...got, bytesSent: share, latencyMs: done - t0 };
      }
    }
    totals.latencyMs = performance.now() - t0;
    return { samples: samples2, totals };
  }
  load(samples2) {
    const head = this.head;
    const x = featureMajor(samples2, head.inputSize, "the head takes");
    this.X ??= new Matrix(head.engine, head.inputSize, samples2.length);
    this.X.reshape(samples2.length).view().set(x);
    return this.X;
  }
  async post(frame, totals, answerBytes) {
    const query = this.output === "probabilities" ? "?output=probabilities" : "";
    for (let attempt = 0; ; attempt++) {
      totals.requests++;
      const ctl = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => (timedOut = true, ctl.abort()), this.timeoutMs);
      let res;
      let body;
      try {
        res = await this.fetch_(this.url + query, {
          method: "POST",
          headers: this.headers,
          body: frame,
          signal: ctl.signal
        });
        body = await readCapped(res, res.status === 200 ? answerBytes : ERROR_BODY_BYTES, ctl);
      } catch (e) {
        if (timedOut)
          throw new SplitServerError(0, "timeout", `no answer from ${this.url} within ${this.timeoutMs} ms`);
        if (e instanceof PresparseError) throw e;
        if (attempt < this.retries) {
          await this.retryWait(attempt, 0, totals);
          continue;
        }
        throw new SplitServerError(0, "unreachable", `cannot reach ${this.url}: ${causeOf(e)}`);
      } finally {
        clearTimeout(timer);
      }
      if (res.status === 200) return body;
      if (res.status === 503 && attempt < this.retries) {
        await this.retryWait(attempt, retryAfterMs(res.headers.get("retry-after")), totals);
        continue;
      }
      throw errorFrom(res.status, body);
    }
  }
  /** Both transports' retry rule: a 503 or a failed connection, `retries` times, backoff doubling from `backoffMs`. */
  async retryWait(attempt, retryAfter, totals) {
    totals.retries++;
    const wait = Math.min(this.maxBackoffMs, Math.max(this.backoffMs * 2 ** attempt, retryAfter));
    await new Promise((r) => setTimeout(r, wait));
  }
  openStream(o) {
    const WS = o.WebSocket ?? globalThis.WebSocket;
    if (typeof WS !== "function")
      throw new ValidationError(
        'SplitClient: no WebSocket available (Node 20 has none built in); pass options.WebSocket, e.g. WebSocket from the "ws" package'
      );
    const query = this.output === "probabilities" ? "?output=probabilities" : "";
    const url = this.url.replace(/^http/, "ws").replace(/\/v1\/infer$/, "/v1/stream") + query;
    return new StreamConnection(url, streamProtocols(o.token), WS);
  }
  async streamPost(stream, frame, totals) {
    for (let attempt = 0; ; attempt++) {
      totals.requests++;
      let a;
      try {
        a = await stream.request(frame, this.timeoutMs);
      } catch (e) {
        if (e instanceof StreamTimeoutError) throw new SplitServerError(0, "timeout", e.message);
        if (e instanceof StreamClosedError && attempt < this.retries) {
          await this.retryWait(attempt, 0, totals);
          continue;
        }
        throw e;
      }
      if (a.status === 200 && "body" in a) return a.body;
      if (!("code" in a)) throw new SplitServerError(a.status, "stream_error", "an answer without a frame");
      if (a.status === 503 && attempt < this.retries) {
        await this.retryWait(attempt, a.retryAfterMs, totals);
        continue;
      }
      throw new SplitServerError(a.status, a.code, a.message, a.field);
    }
  }
  /** Frees the client's scratch and closes its stream, if any (the head is the caller's). */
  dispose() {
    this.stream?.close();
    this.runner?.dispose();
    this.X?.dispose();
    this.X = void 0;
  }
};
function identityOf(head) {
  if (head.split?.role !== "head") throw new ValidationError("SplitClient: head must be the head of a split");
  const s = head.split;
  return { cut: s.cut, hash: s.hash, shape: s.activationShape, classes: s.classes, final: s.totalExits };
}
function offloadIdentity(t) {
  if (!(typeof t.hash === "string" && HASH_FORMAT.test(t.hash.toLowerCase())))
    throw new ValidationError(`SplitClient: offload.hash must be 16 hex digits, got ${JSON.stringify(t.hash)}`);
  if (!(Array.isArray(t.inputShape) && t.inputShape.length >= 1 && t.inputShape.length <= 3))
    throw new ValidationError("SplitClient: offload.inputShape must be 1 to 3 dimensions");
  t.inputShape.forEach((d, i) => checkInt("SplitClient", `offload.inputShape[${i}]`, d, 1));
  const classes = checkInt("SplitClient", "offload.classes", t.classes, 1);
  const final = checkInt("SplitClient", "offload.exits", t.exits ?? 0, 0);
  return { cut: 0, hash: t.hash.toLowerCase(), shape: [...t.inputShape], classes, final };
}
function featureMajor(samples2, F, takes) {
  const B = samples2.length;
  if (B < 1) throw new ShapeError("SplitClient.infer: no samples");
  const x = new Float32Array(F * B);
  samples2.forEach((s, b) => {
    if (s.length !== F) throw new ShapeError(`SplitClient.infer: sample ${b} has ${s.length} values, ${takes} ${F}`);
    for (let f = 0; f < F; f++) x[f * B + b] = s[f];
  });
  return x;
}
function everySample(input, id) {
  const F = id.shape.reduce((a, b) => a * b, 1);
  if (input instanceof Matrix && input.rows !== F)
    throw new ShapeError(`SplitClient.infer: X has ${input.rows} rows, the model takes ${F} features`);
  const activation2 = input instanceof Matrix ? input.toArray() : featureMajor(input, F, "the model takes");
  const B = activation2.length / F;
  return {
    exit: new Int32Array(B).fill(id.final),
    label: new Int32Array(B),
    confidence: new Float32Array(B),
    indices: Int32Array.from({ length: B }, (_, i) => i),
    activation: activation2
  };
}
async function readCapped(res, limit, ctl) {
  const tooLarge = (what) => {
    ctl.abort();
    return new SplitServerError(
      200,
      "too_large",
      `${what}, the largest answer to this request is ${limit} bytes`,
      "length"
    );
  };
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > limit && res.status === 200) {
    void res.body?.cancel().catch(() => {
    });
    throw tooLarge(`Content-Length ${declared}`);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks = [];
  let size = 0;
  for (; ; ) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > limit) {
      void reader.cancel().catch(() => {
      });
      if (res.status === 200) throw tooLarge(`more than ${size + value.length} bytes sent`);
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      ctl.abort();
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out;
}
function causeOf(e) {
  const cause = e?.cause;
  const why = typeof cause?.message === "string" ? cause.message : typeof cause?.code === "string" ? cause.code : void 0;
  const base = e instanceof Error ? e.message : String(e);
  return why ? `${base} (${why})` : base;
}
function retryAfterMs(v) {
  if (v === null) return 0;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1e3;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : 0;
}
function errorFrom(status, body) {
  try {
    const j = JSON.parse(new TextDecoder().decode(body));
    const e = j.error;
    if (e && typeof e.code === "string" && typeof e.message === "string")
      return new SplitServerError(status, e.code, e.message, typeof e.field === "string" ? e.field : void 0);
  } catch {
  }
  return new SplitServerError(status, "http_error", `${new TextDecoder().decode(body.subarray(0, 200))}`);
}

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
var LinkSpecError = class extends ValidationError {
  constructor(spec, field, expected2, got) {
    super(`link ${JSON.stringify(spec)}: ${field}: expected ${expected2}, got ${got}`);
    this.spec = spec;
    this.field = field;
    this.expected = expected2;
    this.got = got;
  }
  spec;
  field;
  expected;
  got;
  name = "LinkSpecError";
};
var RATE_UNITS = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
var TIME_UNITS = { us: 1e-3, ms: 1, s: 1e3 };
var NUMBER = /^(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?([a-z]*)$/i;
var MAX_RATE = 1e11;
var MAX_MS = 6e4;
function parseRate(spec, text) {
  const m = NUMBER.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === void 0 || !(unit in RATE_UNITS)) {
    const hint = unit && /ps$/.test(unit) ? " (bits per second; tc reads 'mbps' as megabytes per second)" : "";
    throw new LinkSpecError(spec, "rate", `a number with a unit bit, kbit, mbit or gbit${hint}`, JSON.stringify(text));
  }
  const v = Number(text.trim().slice(0, text.trim().length - unit.length)) * RATE_UNITS[unit];
  if (!(v >= 1 && v <= MAX_RATE))
    throw new LinkSpecError(spec, "rate", "a rate from 1bit to 100gbit", JSON.stringify(text));
  return v;
}
function parseTime(spec, field, text) {
  const m = NUMBER.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === void 0 || !(unit in TIME_UNITS))
    throw new LinkSpecError(spec, field, "a number with a unit us, ms or s", JSON.stringify(text));
  const v = Number(text.trim().slice(0, text.trim().length - unit.length)) * TIME_UNITS[unit];
  if (!(v >= 0 && v <= MAX_MS)) throw new LinkSpecError(spec, field, "a time from 0ms to 60s", JSON.stringify(text));
  return v;
}
function linkPreset(name) {
  const n = name.trim().toLowerCase();
  return LINK_PRESETS.find((p) => p.name === n);
}
function parseLink(spec) {
  if (typeof spec !== "string") throw new LinkSpecError(String(spec), "spec", "a string", typeof spec);
  const preset = linkPreset(spec);
  if (preset) return { ...preset };
  const parts = spec.split(",");
  if (parts.length < 2 || parts.length > 3) {
    const names = LINK_PRESETS.map((p) => p.name).join(", ");
    throw new LinkSpecError(
      spec,
      "spec",
      `a preset (${names}) or RATE[/RATE],RTT[,JITTER] such as 5mbit,40ms`,
      `${parts.length} comma-separated part${parts.length === 1 ? "" : "s"}`
    );
  }
  const rates = parts[0].split("/");
  if (rates.length > 2) throw new LinkSpecError(spec, "rate", "RATE or UP/DOWN", JSON.stringify(parts[0]));
  const upBitsPerS = parseRate(spec, rates[0]);
  const downBitsPerS = rates.length === 2 ? parseRate(spec, rates[1]) : upBitsPerS;
  const rttMs = parseTime(spec, "rtt", parts[1]);
  const jitterMs = parts.length === 3 ? parseTime(spec, "jitter", parts[2]) : 0;
  if (jitterMs > rttMs)
    throw new LinkSpecError(
      spec,
      "jitter",
      `at most the RTT (${formatMs(rttMs)}), so no one-way delay goes below 0`,
      formatMs(jitterMs)
    );
  return { upBitsPerS, downBitsPerS, rttMs, jitterMs };
}
function checkLink(op, l) {
  for (const k of ["upBitsPerS", "downBitsPerS"]) {
    if (!(Number.isFinite(l[k]) && l[k] >= 1 && l[k] <= MAX_RATE))
      throw new ValidationError(`${op}: ${k} must be from 1 to ${MAX_RATE} bit/s, got ${String(l[k])}`);
  }
  if (!(Number.isFinite(l.rttMs) && l.rttMs >= 0 && l.rttMs <= MAX_MS))
    throw new ValidationError(`${op}: rttMs must be from 0 to ${MAX_MS}, got ${String(l.rttMs)}`);
  if (!(Number.isFinite(l.jitterMs) && l.jitterMs >= 0 && l.jitterMs <= l.rttMs))
    throw new ValidationError(`${op}: jitterMs must be from 0 to rttMs (${l.rttMs}), got ${String(l.jitterMs)}`);
  return l;
}
function formatRate(bitsPerS) {
  for (const [u, f] of [
    ["gbit", 1e9],
    ["mbit", 1e6],
    ["kbit", 1e3]
  ])
    if (bitsPerS >= f) return `${+(bitsPerS / f).toPrecision(6)}${u}`;
  return `${+bitsPerS.toPrecision(6)}bit`;
}
function formatMs(ms) {
  return `${+ms.toPrecision(6)}ms`;
}
function formatLink(l) {
  const rate2 = l.upBitsPerS === l.downBitsPerS ? formatRate(l.upBitsPerS) : `${formatRate(l.upBitsPerS)}/${formatRate(l.downBitsPerS)}`;
  return `${rate2},${formatMs(l.rttMs)}${l.jitterMs > 0 ? `,${formatMs(l.jitterMs)}` : ""}`;
}
function withUplinkRate(l, upBitsPerS) {
  const f = upBitsPerS / l.upBitsPerS;
  return { ...l, name: void 0, upBitsPerS, downBitsPerS: l.downBitsPerS * f };
}

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
function memoryPjPerByte(c, workingSetBytes) {
  if (c.pjPerByte !== "auto") return c.pjPerByte;
  return MEMORY_LEVELS.find((l) => workingSetBytes <= l.maxBytes).pjPerByte;
}
function computeEnergy(c, w) {
  for (const k of ["macs", "bytesMoved", "workingSetBytes"]) nonNegative("computeEnergy", k, w[k]);
  const macJ = w.macs * c.pjPerMac * 1e-12;
  const memoryJ = w.bytesMoved * memoryPjPerByte(c, w.workingSetBytes) * 1e-12;
  return { macJ, memoryJ, totalJ: macJ + memoryJ };
}
function csrBytesMoved(rows, nnz, dense = false) {
  nonNegative("csrBytesMoved", "rows", rows);
  nonNegative("csrBytesMoved", "nnz", nnz);
  return dense ? 8 * nnz + 8 * rows : 12 * nnz + 12 * rows + 4;
}
function transferTiming(link2, upBytes, downBytes, serverMs = 0) {
  checkLink("transferTiming", link2);
  nonNegative("transferTiming", "upBytes", upBytes);
  nonNegative("transferTiming", "downBytes", downBytes);
  nonNegative("transferTiming", "serverMs", serverMs);
  const upMs = upBytes * 8 * 1e3 / link2.upBitsPerS;
  const downMs = downBytes * 8 * 1e3 / link2.downBitsPerS;
  return { upMs, downMs, activeMs: upMs + link2.rttMs + serverMs + downMs };
}
function radioEnergy(r, upBytes, downBytes, t, gapMs = Infinity) {
  nonNegative("radioEnergy", "gapMs", gapMs);
  const bitsJ = (upBytes * 8 * r.txNjPerBit + downBytes * 8 * r.rxNjPerBit) * 1e-9;
  const airtimeJ = (t.upMs * r.txMw + t.downMs * r.rxMw) * 1e-6;
  const activeJ = t.activeMs * r.activeMw * 1e-6;
  const tailMs = r.tail.reduce((a, s) => a + s.ms, 0);
  const promotionJ = gapMs >= tailMs ? r.promotion.mw * r.promotion.ms * 1e-6 : 0;
  let tailJ = 0, before = 0;
  for (const s of r.tail) {
    tailJ += s.mw * Math.min(s.ms, Math.max(0, gapMs - before)) * 1e-6;
    before += s.ms;
  }
  return { bitsJ, airtimeJ, activeJ, promotionJ, tailJ, totalJ: bitsJ + airtimeJ + activeJ + promotionJ + tailJ };
}
function periodicRadioEnergy(r, upBytes, downBytes, t, periodMs, sendRate = 1) {
  if (!(sendRate > 0 && sendRate <= 1))
    throw new ValidationError(`periodicRadioEnergy: sendRate must be in (0, 1], got ${String(sendRate)}`);
  nonNegative("periodicRadioEnergy", "periodMs", periodMs);
  return radioEnergy(r, upBytes, downBytes, t, Math.max(0, periodMs / sendRate - t.activeMs));
}
function nonNegative(op, name, v) {
  if (!(v >= 0) || Number.isNaN(v)) throw new ValidationError(`${op}: ${name} must be a number \u2265 0, got ${String(v)}`);
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
function systemAnswers(model2, data, o) {
  const L = model2.trunk.length, E = model2.exits.length, C = model2.classes;
  const cut = checkInt("systemAnswers", "cut", o.cut, 0, L - 1);
  if (model2.split) throw new ValidationError("systemAnswers: needs the whole model, not a half of a split");
  if (data.features !== model2.inputSize)
    throw new ValidationError(`systemAnswers: data has ${data.features} features, the model takes ${model2.inputSize}`);
  const out = { exit: new Int32Array(data.n), label: new Int32Array(data.n) };
  const batcher = new Batcher(model2.engine, data, Math.min(256, Math.max(1, data.n)));
  const runner = cut > 0 ? new ExitRunner(model2, o.policy, { until: cut, logits: false }) : void 0;
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
      const A = Matrix.from(model2.engine, w, m, act);
      const z = runLayers(model2.trunk.slice(cut), A).toArray();
      A.dispose();
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
function measureCosts(model2, o = {}) {
  if (model2.split) throw new ValidationError("measureCosts: needs the whole model, not a half of a split");
  const L = model2.trunk.length, E = model2.exits.length, C = model2.classes;
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
  const x0 = o.data ? o.data.x.subarray(0, model2.inputSize) : new Float32Array(model2.inputSize);
  const X = Matrix.from(model2.engine, model2.inputSize, 1, x0);
  const layers = [];
  const acts = [];
  try {
    let h = X;
    model2.trunk.forEach((l, i) => {
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
    model2.exits.forEach((e, k) => {
      const input2 = acts[e.after];
      const ms = time(() => softmaxStats(runLayers(e.layers, input2).view(), C, 1));
      layers.push(piece(`exit.${k}`, e.layers[0], e.layers, ms));
    });
  } finally {
    X.dispose();
  }
  const trunk = layers.slice(0, L), heads = layers.slice(L);
  const sum = (ls, k) => ls.reduce((s, l) => s + l[k], 0);
  const act = (k) => 4 * Math.max(model2.inputSize, ...model2.trunk.slice(0, k).map((l) => l.outputSize));
  const workingSet = (ls, k) => sum(ls, "storedBytes") + 2 * act(k);
  const answers = (cut, dtype, policy) => systemAnswers(model2, o.data, { cut, dtype, ...policy && { policy } });
  const finalAccuracy = o.data ? answers(0, "f32").accuracy : o.known.accuracy;
  const offloadDtype = o.offloadDtype ?? "int8";
  const cutCosts = cuts.map((k) => {
    const edge = trunk.slice(0, k), edgeExits = model2.exits.flatMap((e, i) => e.after <= k - 1 ? [heads[i]] : []);
    const w = model2.trunk[k - 1].outputSize;
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
    inputBytes: frameBytes([model2.inputSize, 1], offloadDtype),
    answerBytes: Object.fromEntries(["f32", ...dtypes].map((d) => [d, frameBytes([C, 1], d)])),
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

// src/split/plan.ts
var DTYPES3 = ["f32", "f16", "int8"];
function check3(op, name, v, max = Infinity) {
  if (!(typeof v === "number" && v >= 0 && v <= max))
    throw new ValidationError(`${op}: ${name} must be a number in [0, ${max}], got ${String(v)}`);
  return v;
}
function validate(p) {
  const op = "plan";
  checkLink(op, p.link);
  for (const k of ["edgeMs", "serverMs", "macs", "bytesMoved", "workingSetBytes"])
    check3(op, `full.${k}`, p.full[k]);
  check3(op, "full.accuracy", p.full.accuracy, 1);
  check3(op, "inputBytes", p.inputBytes);
  if (p.offloadAccuracy !== void 0) check3(op, "offloadAccuracy", p.offloadAccuracy, 1);
  if (typeof p.answerBytes === "number") check3(op, "answerBytes", p.answerBytes);
  else {
    if (p.answerBytes.f32 === void 0)
      throw new ValidationError("plan: answerBytes per dtype needs an f32 figure (full offload's answer)");
    for (const [d, b] of Object.entries(p.answerBytes)) check3(op, `answerBytes.${d}`, b);
  }
  check3(op, "overheadUpBytes", p.overheadUpBytes ?? 0);
  check3(op, "overheadDownBytes", p.overheadDownBytes ?? 0);
  check3(op, "periodMs", p.periodMs ?? 1e3);
  if (!(p.edgeSlowdown === void 0 || p.edgeSlowdown > 0 && Number.isFinite(p.edgeSlowdown)))
    throw new ValidationError(`plan: edgeSlowdown must be a finite number > 0, got ${String(p.edgeSlowdown)}`);
  for (const c of p.cuts) {
    const at = `cut ${c.cut}`;
    for (const k of ["edgeMs", "serverMs", "edgeMacs", "serverMacs", "edgeBytesMoved", "edgeWorkingSetBytes"])
      check3(op, `${at}: ${k}`, c[k]);
    for (const [d, b] of Object.entries(c.frameBytes)) {
      if (!DTYPES3.includes(d))
        throw new ValidationError(
          `plan: ${at}: frameBytes has dtype ${JSON.stringify(d)}, expected one of ${DTYPES3.join(", ")}`
        );
      check3(op, `${at}: frameBytes.${d}`, b);
    }
    for (const [d, a] of Object.entries(c.accuracy ?? {})) check3(op, `${at}: accuracy.${d}`, a, 1);
    for (const e of c.exits ?? []) {
      check3(op, `${at}: ${e.policy}: exitRate`, e.exitRate, 1);
      for (const k of ["ms", "macs", "bytesMoved"]) check3(op, `${at}: ${e.policy}: ${k}`, e[k]);
      for (const a of typeof e.accuracy === "number" ? [e.accuracy] : Object.values(e.accuracy))
        check3(op, `${at}: ${e.policy}: accuracy`, a, 1);
    }
  }
}
function plan(p, objective = { minimize: "latency" }) {
  validate(p);
  if (objective.minimize !== "latency" && objective.minimize !== "energy")
    throw new ValidationError(`plan: objective.minimize must be latency or energy, got ${String(objective.minimize)}`);
  if (objective.minAccuracy !== void 0) check3("plan", "objective.minAccuracy", objective.minAccuracy, 1);
  const radioClass = p.radio ?? p.link.radio;
  if (!radioClass)
    throw new ValidationError(
      "plan: no radio for this link: pass input.radio (lte, 3g, wifi or lpwan) or use a preset"
    );
  const model2 = p.energy ?? DEFAULT_ENERGY;
  const radio = model2.radios[radioClass];
  if (!radio) throw new ValidationError(`plan: the energy model has no radio ${JSON.stringify(radioClass)}`);
  const s = p.edgeSlowdown ?? 1, periodMs = p.periodMs ?? 1e3;
  const ovUp = p.overheadUpBytes ?? 0, ovDown = p.overheadDownBytes ?? 0;
  const floor = objective.minAccuracy ?? 0;
  const rows = [];
  const answer = (d) => typeof p.answerBytes === "number" ? p.answerBytes : p.answerBytes[d] ?? p.answerBytes.f32;
  const row = (base, edge, send2, payloadUp, serverMs, serverMacs) => {
    const up = payloadUp + ovUp, down = answer(base.dtype ?? "f32") + ovDown;
    const edgeLatencyMs = s * edge.ms;
    const t = transferTiming(p.link, up, down, serverMs);
    const serverLatencyMs = edgeLatencyMs + t.activeMs;
    const computeJ = computeEnergy(model2.compute, edge).totalJ;
    const r = send2 > 0 ? periodicRadioEnergy(radio, up, down, t, periodMs, send2) : void 0;
    const radioJ = r ? send2 * r.totalJ : 0;
    rows.push({
      ...base,
      edgeRate: 1 - send2,
      latencyMs: (1 - send2) * edgeLatencyMs + send2 * serverLatencyMs,
      ...send2 < 1 ? { edgeLatencyMs } : {},
      ...send2 > 0 ? { serverLatencyMs } : {},
      upBytes: send2 * up,
      downBytes: send2 * down,
      edgeMacs: edge.macs,
      serverMacs: send2 * serverMacs,
      computeJ,
      radioJ,
      energyJ: computeJ + radioJ,
      ...r ? { radio: r } : {},
      feasible: base.accuracy >= floor
    });
  };
  const f = p.full;
  rows.push({
    strategy: "local",
    key: "local",
    accuracy: f.accuracy,
    edgeRate: 1,
    latencyMs: s * f.edgeMs,
    edgeLatencyMs: s * f.edgeMs,
    upBytes: 0,
    downBytes: 0,
    edgeMacs: f.macs,
    serverMacs: 0,
    computeJ: 0,
    radioJ: 0,
    energyJ: 0,
    feasible: f.accuracy >= floor
  });
  const local = rows[0];
  local.computeJ = local.energyJ = computeEnergy(model2.compute, f).totalJ;
  row(
    { strategy: "offload", key: "offload", accuracy: p.offloadAccuracy ?? f.accuracy },
    { ms: 0, macs: 0, bytesMoved: 0, workingSetBytes: 0 },
    1,
    p.inputBytes,
    f.serverMs,
    f.macs
  );
  for (const c of p.cuts) {
    const head = {
      ms: c.edgeMs,
      macs: c.edgeMacs,
      bytesMoved: c.edgeBytesMoved,
      workingSetBytes: c.edgeWorkingSetBytes
    };
    for (const d of DTYPES3) {
      const frame = c.frameBytes[d];
      if (frame === void 0) continue;
      const key = `split@${c.cut}:${d}`;
      row(
        { strategy: "split", key, cut: c.cut, dtype: d, accuracy: c.accuracy?.[d] ?? f.accuracy },
        head,
        1,
        frame,
        c.serverMs,
        c.serverMacs
      );
      for (const e of c.exits ?? []) {
        const accuracy = typeof e.accuracy === "number" ? e.accuracy : e.accuracy[d];
        if (accuracy === void 0) continue;
        const edge = {
          ms: c.edgeMs + e.ms,
          macs: c.edgeMacs + e.macs,
          bytesMoved: c.edgeBytesMoved + e.bytesMoved,
          workingSetBytes: c.edgeWorkingSetBytes
        };
        row(
          { strategy: "split+exit", key: `${key}+${e.policy}`, cut: c.cut, dtype: d, policy: e.policy, accuracy },
          edge,
          1 - e.exitRate,
          frame,
          c.serverMs,
          c.serverMacs
        );
      }
    }
  }
  const metric = objective.minimize === "latency" ? (r) => r.latencyMs : (r) => r.energyJ;
  let best;
  for (const r of rows) {
    if (!r.feasible) continue;
    if (!best || metric(r) < metric(best) || metric(r) === metric(best) && r.upBytes < best.upBytes) best = r;
  }
  return { best, rows, objective, link: p.link, radio: radioClass, edgeSlowdown: s, periodMs };
}
function crossovers(p, a, b, metric = "latency", lo = 1e3, hi = 1e10, steps = 240) {
  if (!(lo > 0 && hi > lo)) throw new ValidationError(`crossovers: need 0 < lo < hi, got ${lo}, ${hi}`);
  const pick = (rate2) => {
    const rows = plan({ ...p, link: withUplinkRate(p.link, rate2) }).rows;
    const ra = rows.find((r) => r.key === a), rb = rows.find((r) => r.key === b);
    if (!ra || !rb)
      throw new ValidationError(
        `crossovers: no row ${JSON.stringify(ra ? b : a)}; rows are ${rows.map((r) => r.key).join(", ")}`
      );
    return metric === "latency" ? ra.latencyMs - rb.latencyMs : ra.energyJ - rb.energyJ;
  };
  const out = [];
  const at = (i) => lo * (hi / lo) ** (i / steps);
  let x0 = at(0), d0 = pick(x0);
  for (let i = 1; i <= steps; i++) {
    const x1 = at(i), d1 = pick(x1);
    if (d0 === 0) out.push(x0);
    else if (d0 * d1 < 0) {
      let l = x0, h = x1, dl = d0;
      while (h / l - 1 > 1e-9) {
        const m = Math.sqrt(l * h), dm = pick(m);
        if (dm === 0) l = h = m;
        else if (dm * dl < 0) h = m;
        else [l, dl] = [m, dm];
      }
      out.push(Math.sqrt(l * h));
    }
    [x0, d0] = [x1, d1];
  }
  if (d0 === 0) out.push(x0);
  return out;
}

// src/split/split.ts
function split(model2, opts) {
  const L = model2.trunk.length;
  if (model2.split) throw new ValidationError(`split: the model is already the ${model2.split.role} of a split model`);
  if (L < 2) throw new ValidationError(`split: a model with ${L} trunk layer cannot be split; it needs at least 2`);
  const k = checkInt("split", "cut", opts.cut, 1, L - 1);
  const hash2 = opts.hash?.toLowerCase() ?? hashModel(modelSpec(model2), modelTensors(model2));
  if (!HASH_FORMAT.test(hash2)) {
    throw new ValidationError(`split: hash must be 16 hex digits, got ${JSON.stringify(opts.hash)}`);
  }
  const E = model2.exits.length;
  const p = opts.policy;
  const policy = typeof p === "string" ? parseExitPolicy(p, E) : p && checkPolicy(p, E);
  const edge = model2.exits.filter((e) => e.after <= k - 1).length;
  const share = (from, to) => policy && to > from ? { policy: { kind: policy.kind, thresholds: policy.thresholds.slice(from, to) } } : {};
  const cutLayer = model2.trunk[k - 1];
  const seed = opts.dataSeed;
  const dataSeed = seed === void 0 ? void 0 : checkInt("split", "dataSeed", seed, 0, 2 ** 32 - 1);
  const record = {
    cut: k,
    activationShape: [...cutLayer.outputShape ?? [cutLayer.outputSize]],
    classes: model2.classes,
    totalExits: E,
    hash: hash2,
    ...dataSeed !== void 0 && { dataSeed }
  };
  return buildOrRollBack(model2.engine, (s) => {
    const layers = (ls) => ls.map((l) => s.keep(l.clone()));
    const exits = (es, shift) => es.map((e) => ({ after: e.after - shift, weight: e.weight, layers: layers(e.layers) }));
    const headSplit = { role: "head", ...record, ...share(0, edge) };
    const tailSplit = { role: "tail", ...record, ...share(edge, E) };
    const head = new Model(model2.engine, layers(model2.trunk.slice(0, k)), exits(model2.exits.slice(0, edge), 0), {
      inputShape: model2.inputShape,
      split: headSplit
    });
    const tail = new Model(model2.engine, layers(model2.trunk.slice(k)), exits(model2.exits.slice(edge), k), {
      finalWeight: model2.finalWeight,
      inputShape: [cutLayer.outputSize],
      split: tailSplit
    });
    return { head, tail };
  });
}

// src/node/experiment_split.ts
function percentiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return {
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)
  };
}

// src/node/link.ts
import { createServer as createServer2, connect } from "node:net";
import { performance as performance9 } from "node:perf_hooks";
var LaneSchedule = class {
  constructor(t, rng, notBefore = -Infinity) {
    this.t = t;
    this.rng = rng;
    this.notBefore = notBefore;
    this.bytesPerMs = t.bitsPerS / 8e3;
    this.tokens = t.burstBytes;
  }
  t;
  rng;
  notBefore;
  tokens;
  tLast = -Infinity;
  lastLeaves = -Infinity;
  lastArrival = -Infinity;
  bytesPerMs;
  /** Departure and arrival times of a segment of `bytes` offered at `now` (ms). */
  segment(now, bytes) {
    const t = Math.max(now, this.lastLeaves, this.notBefore);
    const refill = this.tLast === -Infinity ? Infinity : (t - this.tLast) * this.bytesPerMs;
    this.tokens = Math.min(this.t.burstBytes, this.tokens + refill) - (bytes + this.t.overheadBytes);
    this.tLast = t;
    let leaves = t;
    if (this.tokens < 0) {
      leaves = t - this.tokens / this.bytesPerMs;
      this.tokens = 0;
      this.tLast = leaves;
    }
    this.lastLeaves = leaves;
    return { leaves, at: this.arrival(leaves) };
  }
  /** A FIN or RST offered at `now`: it takes no time on the wire but queues behind the data. */
  signal(now) {
    const leaves = Math.max(now, this.lastLeaves, this.notBefore);
    return { leaves, at: this.arrival(leaves) };
  }
  arrival(leaves) {
    const j = this.t.jitterMs > 0 ? (this.rng.next() - 0.5) * this.t.jitterMs : 0;
    this.lastArrival = Math.max(leaves + this.t.delayMs + j, this.lastArrival);
    return this.lastArrival;
  }
};
var Lane = class {
  constructor(cfg, bitsPerS, rng, from, to, stats, notBefore) {
    this.cfg = cfg;
    this.from = from;
    this.to = to;
    this.stats = stats;
    this.schedule_ = new LaneSchedule(
      {
        bitsPerS,
        delayMs: cfg.delayMs,
        jitterMs: cfg.jitterMs,
        burstBytes: cfg.burstBytes,
        overheadBytes: cfg.overheadBytes
      },
      rng,
      notBefore
    );
    to.on("drain", () => {
      this.waitingDrain = false;
      this.pump();
    });
  }
  cfg;
  from;
  to;
  stats;
  /** What arrives at the far end, in order of arrival. */
  arrivals = [];
  /** Segments not yet paid for by the bucket: [departure time, bytes], in order; they count against queueBytes. */
  departures = [];
  backlog = 0;
  schedule_;
  timer;
  waitingDrain = false;
  /** FIN delivered: only a reset may follow. */
  ended = false;
  closed = false;
  push(chunk) {
    if (this.closed || this.ended) return;
    const now = performance9.now();
    for (let o = 0; o < chunk.length; o += this.cfg.segmentBytes) {
      const buf = chunk.subarray(o, Math.min(chunk.length, o + this.cfg.segmentBytes));
      const { leaves, at } = this.schedule_.segment(now, buf.length);
      this.departures.push([leaves, buf.length]);
      this.backlog += buf.length;
      this.arrivals.push({ kind: "data", buf, at });
    }
    if (this.backlog > this.cfg.queueBytes) this.from.pause();
    this.schedule();
  }
  /** FIN or RST from the sender: travels behind the data already queued. */
  signal(kind) {
    if (this.closed || this.ended && kind === "end") return;
    this.arrivals.push({ kind, at: this.schedule_.signal(performance9.now()).at });
    this.schedule();
  }
  /** Drops everything queued and stops (the far end is gone, or the link is closing). */
  abort() {
    this.closed = true;
    this.arrivals.length = 0;
    this.departures.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = void 0;
  }
  schedule() {
    if (this.timer || this.closed) return;
    let wake = this.waitingDrain ? Infinity : this.arrivals[0]?.at ?? Infinity;
    if (this.from.isPaused() && this.departures.length > 0) wake = Math.min(wake, this.departures[0][0]);
    if (wake === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = void 0;
        this.pump();
      },
      Math.max(0, wake - performance9.now())
    );
  }
  pump() {
    if (this.closed) return;
    const now = performance9.now();
    while (this.departures.length > 0 && this.departures[0][0] <= now) this.backlog -= this.departures.shift()[1];
    if (this.from.isPaused() && this.backlog <= this.cfg.queueBytes && !this.from.destroyed) this.from.resume();
    while (!this.waitingDrain) {
      const it = this.arrivals[0];
      if (!it || it.at > now) break;
      this.arrivals.shift();
      if (it.kind === "data") {
        this.stats.bytes += it.buf.length;
        this.stats.segments++;
        if (!this.to.destroyed && !this.to.write(it.buf)) this.waitingDrain = true;
        continue;
      }
      if (it.kind === "end") {
        this.ended = true;
        if (!this.to.destroyed) this.to.end();
        continue;
      }
      if (!this.to.destroyed) this.to.resetAndDestroy();
      this.abort();
      return;
    }
    this.schedule();
  }
};
function resolveTarget(target) {
  const m = /^(?:https?:\/\/)?(\[[^\]]+\]|[^:/]+):(\d+)(?:\/.*)?$/.exec(target);
  if (!m)
    throw new ValidationError(`startLink: target must be http://host:port or host:port, got ${JSON.stringify(target)}`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port: checkInt("startLink", "target port", Number(m[2]), 1, 65535) };
}
function rate(name, v, fallback) {
  const r = v ?? fallback;
  if (r === void 0) throw new ValidationError(`startLink: no ${name} rate: pass options.link or options.${name}`);
  if (!(Number.isFinite(r) && r >= 1))
    throw new ValidationError(`startLink: ${name} must be a rate \u2265 1 bit/s, got ${String(r)}`);
  return r;
}
function nonNegative2(name, v) {
  if (!(Number.isFinite(v) && v >= 0))
    throw new ValidationError(`startLink: ${name} must be a finite number \u2265 0, got ${String(v)}`);
  return v;
}
function linkConfig(o) {
  const spec = o.link === void 0 ? void 0 : checkLink("startLink", typeof o.link === "string" ? parseLink(o.link) : o.link);
  const delayMs = nonNegative2("delayMs", o.delayMs ?? (spec ? spec.rttMs / 2 : 0));
  const jitterMs = nonNegative2("jitterMs", o.jitterMs ?? spec?.jitterMs ?? 0);
  if (jitterMs > 2 * delayMs)
    throw new ValidationError(`startLink: jitterMs must be at most twice delayMs (${2 * delayMs}), got ${jitterMs}`);
  return {
    upBitsPerS: rate("up", o.up, spec?.upBitsPerS),
    downBitsPerS: rate("down", o.down, spec?.downBitsPerS),
    delayMs,
    jitterMs,
    burstBytes: checkInt("startLink", "burstBytes", o.burstBytes ?? 0, 0, 2 ** 30),
    segmentBytes: checkInt("startLink", "segmentBytes", o.segmentBytes ?? 1448, 1, 2 ** 20),
    overheadBytes: checkInt("startLink", "overheadBytes", o.overheadBytes ?? 0, 0, 2 ** 16),
    queueBytes: checkInt("startLink", "queueBytes", o.queueBytes ?? 64 * 1024, 1, 2 ** 30),
    handshake: o.handshake ?? true
  };
}
async function startLink(o) {
  const target = resolveTarget(o.target);
  const config = linkConfig(o);
  const rng = new Rng(o.seed ?? 1);
  const stats = {
    connections: 0,
    open: 0,
    up: { bytes: 0, segments: 0 },
    down: { bytes: 0, segments: 0 },
    targetErrors: 0
  };
  const sockets = /* @__PURE__ */ new Set();
  const lanes = /* @__PURE__ */ new Set();
  const server = createServer2({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    stats.open++;
    const start = config.handshake ? performance9.now() + 2 * config.delayMs : 0;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    const up = new Lane(config, config.upBitsPerS, rng, client, upstream, stats.up, start);
    const down = new Lane(config, config.downBitsPerS, rng, upstream, client, stats.down, 0);
    for (const s of [client, upstream]) sockets.add(s);
    for (const l of [up, down]) lanes.add(l);
    let closed = 0;
    const onClose = (from, lane, back) => (hadError) => {
      sockets.delete(from);
      if (hadError || !from.readableEnded) lane.signal("reset");
      back.abort();
      if (++closed === 2) {
        stats.open--;
        lanes.delete(up);
        lanes.delete(down);
      }
    };
    client.on("data", (b) => up.push(b));
    upstream.on("data", (b) => down.push(b));
    client.on("end", () => up.signal("end"));
    upstream.on("end", () => down.signal("end"));
    upstream.on("connect", () => connected = true);
    client.on("close", onClose(client, up, down));
    upstream.on("close", onClose(upstream, down, up));
    client.on("error", () => {
    });
    upstream.on("error", () => {
      if (!connected) stats.targetErrors++;
    });
  });
  await new Promise((resolve2, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve2();
    });
  });
  const addr = server.address();
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing;
  return {
    url: `http://${host}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    config,
    stats: () => ({ ...stats, up: { ...stats.up }, down: { ...stats.down } }),
    close: () => closing ??= new Promise((resolve2) => {
      server.close(() => resolve2());
      for (const l of lanes) l.abort();
      lanes.clear();
      for (const s of sockets) s.destroy();
      sockets.clear();
    })
  };
}

// src/node/experiment_links.ts
var UNSHAPED = { up: 1e11, down: 1e11, delayMs: 0, handshake: false };
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));
var median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
var RATES = Array.from({ length: 49 }, (_, i) => 1e3 * 10 ** (i / 8));
async function studyLinks(engine2, model2, o) {
  const { test: test2, dtype, cut } = o;
  const policies = o.policy ? [o.policy] : [];
  const costs = measureCosts(model2, { data: test2, policies, dtypes: [dtype], offloadDtype: dtype });
  const halves = /* @__PURE__ */ new Map();
  const servers = /* @__PURE__ */ new Map();
  const serverFor = async (k) => {
    let s = servers.get(k);
    if (s) return s;
    let model_ = encodeModel(model2).bytes;
    if (k > 0) {
      const h = split(model2, { cut: k, hash: o.hash, ...o.policy && { policy: o.policy } });
      halves.set(k, h);
      model_ = h.tail;
    }
    s = await startServer({ model: model_, engine: engine2, port: 0, host: "127.0.0.1", maxBatch: 64, maxDelayMs: 0 });
    servers.set(k, s);
    return s;
  };
  const target = { hash: o.hash, inputShape: model2.inputShape, classes: model2.classes, exits: model2.exits.length };
  const edge = (k) => k === 0 ? { offload: target } : { head: halves.get(k).head };
  const x0 = test2.x.subarray(0, test2.features);
  try {
    await serverFor(0);
    await serverFor(cut);
    const { overhead, exchangeMs } = await probe(servers, edge, cut, x0, dtype, model2.classes);
    const cutCost = costs.input.cuts.find((c) => c.cut === cut);
    const protocolMs = Math.max(0, exchangeMs - cutCost.serverMs);
    for (const c of costs.input.cuts) c.serverMs += protocolMs;
    costs.input.full.serverMs += protocolMs;
    o.log(`exchange ${protocolMs.toFixed(3)} ms beyond compute; headers ${overhead.up} B up, ${overhead.down} B down`);
    const links = [];
    for (const link2 of o.links) {
      const input = {
        ...costs.input,
        link: link2,
        overheadUpBytes: overhead.up,
        overheadDownBytes: overhead.down,
        energy: o.energy,
        edgeSlowdown: o.edgeSlowdown,
        periodMs: o.periodMs
      };
      const p = plan(input, o.objective);
      const split1 = `split@${cut}:${dtype}`;
      const keys = ["local", "offload", split1, ...o.policy ? [`${split1}+${formatPolicy(o.policy)}`] : []];
      if (p.best && !keys.includes(p.best.key)) keys.push(p.best.key);
      const runs = [];
      for (const key of keys) {
        const row = p.rows.find((r2) => r2.key === key);
        if (row.cut !== void 0) await serverFor(row.cut);
        runs.push(await runRow(row, { model: model2, test: test2, link: link2, o, servers, edge, policy: o.policy, plan: p }));
        const r = runs.at(-1);
        o.log(
          `${link2.name ?? formatLink(link2)} ${key}: mean ${r.latency.mean.toFixed(2)} ms (predicted ${r.predictedMeanMs.toFixed(2)}), p99 ${r.latency.p99.toFixed(2)} ms, ${r.upBytes.toFixed(0)} B up/sample`
        );
      }
      const best = (f) => runs.reduce((a, b) => f(b) < f(a) ? b : a).key;
      const charted = keys;
      links.push({
        link: { ...link2, spec: formatLink(link2) },
        plan: p,
        runs,
        winners: { latency: best((r) => r.latency.mean), energy: best((r) => r.energyJ) },
        sweep: RATES.map((rate2) => {
          const rows = plan({ ...input, link: withUplinkRate(link2, rate2) }, o.objective).rows;
          const at = (f) => Object.fromEntries(charted.map((k) => [k, f(rows.find((r) => r.key === k))]));
          return { upBitsPerS: rate2, latencyMs: at((r) => r.latencyMs), energyJ: at((r) => r.energyJ) };
        }),
        crossovers: [
          ...winnerChanges(input, charted, "latency", o.objective),
          ...winnerChanges(input, charted, "energy", o.objective)
        ],
        localLosesAtSlowdown: slowdownToLose(input, o.objective)
      });
    }
    return { costs, protocolMs, overhead, links };
  } finally {
    await Promise.all([...servers.values()].map((s) => s.close()));
    for (const h of halves.values()) {
      h.head.dispose();
      h.tail.dispose();
    }
  }
}
async function probe(servers, edge, cut, x0, dtype, classes) {
  let up = 0, down = 0;
  const rt = [];
  for (const k of [0, cut]) {
    const link2 = await startLink({ target: servers.get(k).url, ...UNSHAPED });
    const c = new SplitClient({ ...edge(k), serverUrl: link2.url, policy: null, dtype });
    try {
      const r = await c.infer([x0]);
      const s = link2.stats();
      up += (s.up.bytes - r.totals.bytesSent) / 2;
      down += (s.down.bytes - frameBytes([classes, 1], dtype)) / 2;
      if (k === cut)
        for (let i = 0; i < 40; i++) {
          const t = (await c.infer([x0])).totals.serverMs;
          if (i >= 10) rt.push(t);
        }
    } finally {
      c.dispose();
      await link2.close();
    }
  }
  return { overhead: { up: Math.round(up), down: Math.round(down) }, exchangeMs: median(rt) };
}
async function runRow(row, c) {
  const { model: model2, test: test2, o } = c;
  const N = Math.min(o.samples, test2.n);
  const picks = Array.from({ length: N }, (_, i) => Math.floor(i * test2.n / N));
  const s = o.edgeSlowdown;
  const cut = row.cut ?? 0;
  const policy = row.policy ? c.policy : void 0;
  const sim = systemAnswers(model2, test2, { cut, dtype: row.strategy === "local" ? "f32" : o.dtype, policy });
  const outcomes = new Array(N);
  let wire2 = { up: 0, down: 0 }, retries = 0;
  if (row.strategy === "local") {
    const batcher = new Batcher(model2.engine, test2, 1);
    const runner = new ExitRunner(model2, void 0, { logits: false });
    try {
      for (let w = 0; w < 20; w++) runner.run(batcher.load(picks, w % N, 1));
      picks.forEach((_, i) => {
        const X = batcher.load(picks, i, 1);
        const t0 = performance.now();
        const r = runner.run(X);
        const ms = performance.now() - t0;
        outcomes[i] = { latencyMs: s * ms, headMs: ms, sent: false, label: r.label[0], exit: r.exit[0] };
      });
    } finally {
      runner.dispose();
      batcher.dispose();
    }
  } else ({ wire: wire2, retries } = await throughLinks(row, c, picks, outcomes));
  const sent = outcomes.filter((x) => x.sent);
  const edgeAnswered = outcomes.filter((x) => !x.sent);
  const agree = outcomes.filter((x, i) => x.label === sim.label[picks[i]] && x.exit === sim.exit[picks[i]]).length;
  const measuredEdgeRate = row.strategy === "local" ? 1 : edgeAnswered.length / N;
  const radio = o.energy.radios[c.plan.radio];
  let radioJ = 0;
  if (sent.length > 0) {
    const up = wire2.up * N / sent.length, down = wire2.down * N / sent.length;
    const activeMs = sent.reduce((a, x) => a + x.latencyMs - s * x.headMs, 0) / sent.length;
    const t = { upMs: 8e3 * up / c.link.upBitsPerS, downMs: 8e3 * down / c.link.downBitsPerS, activeMs };
    const share = sent.length / N;
    radioJ = share * periodicRadioEnergy(radio, up, down, t, o.periodMs, share).totalJ;
  }
  const edgeMs = row.edgeLatencyMs ?? row.latencyMs, serverMs = row.serverLatencyMs ?? row.latencyMs;
  return {
    key: row.key,
    strategy: row.strategy,
    accuracy: sim.accuracy,
    edgeRate: row.strategy === "local" ? 1 : sim.exitRate,
    n: N,
    agree,
    retries,
    latency: percentiles(outcomes.map((x) => x.latencyMs)),
    ...sent.length > 0 && { serverPath: percentiles(sent.map((x) => x.latencyMs)) },
    ...edgeAnswered.length > 0 && { edgePath: percentiles(edgeAnswered.map((x) => x.latencyMs)) },
    measuredEdgeRate,
    upBytes: wire2.up,
    downBytes: wire2.down,
    edgeMacs: row.edgeMacs,
    // the tail's MACs for each sample sent (the plan's row spreads them over every sample)
    serverMacs: row.edgeRate < 1 ? row.serverMacs / (1 - row.edgeRate) * (sent.length / N) : 0,
    computeJ: row.computeJ,
    radioJ,
    energyJ: row.computeJ + radioJ,
    predicted: row,
    predictedMeanMs: measuredEdgeRate * edgeMs + (1 - measuredEdgeRate) * serverMs
  };
}
async function throughLinks(row, c, picks, out) {
  const { test: test2, o } = c;
  const N = picks.length, F = test2.features;
  const D = Math.max(1, Math.min(o.devices, N));
  const cut = row.cut ?? 0;
  const server = c.servers.get(cut);
  const sample = (i) => [test2.x.subarray(picks[i] * F, (picks[i] + 1) * F)];
  const devices = [];
  let retries = 0;
  try {
    for (let d = 0; d < D; d++) {
      const link2 = await startLink({ target: server.url, link: c.link, seed: d + 1, handshake: false });
      const policy = row.policy ? c.policy : null;
      devices.push({ link: link2, client: new SplitClient({ ...c.edge(cut), serverUrl: link2.url, policy, dtype: o.dtype }) });
    }
    const before = devices.map((d) => d.link.stats());
    const stagger = (row.serverLatencyMs ?? row.latencyMs) / D;
    await Promise.all(
      devices.map(async (dev, d) => {
        await sleep(d * stagger);
        for (let i = d; i < N; i += D) {
          const r = await dev.client.infer(sample(i));
          const x = r.samples[0];
          const headMs = r.totals.headMs;
          retries += r.totals.retries;
          const sent = r.totals.sent > 0;
          out[i] = {
            latencyMs: x.latencyMs + (o.edgeSlowdown - 1) * headMs,
            headMs,
            sent,
            label: x.label,
            exit: x.exit
          };
        }
      })
    );
    const after = devices.map((d) => d.link.stats());
    const up = after.reduce((a, s, d) => a + s.up.bytes - before[d].up.bytes, 0);
    const down = after.reduce((a, s, d) => a + s.down.bytes - before[d].down.bytes, 0);
    return { wire: { up: up / N, down: down / N }, retries };
  } finally {
    for (const d of devices) d.client.dispose();
    await Promise.all(devices.map((d) => d.link.close()));
  }
}
function winnerChanges(input, keys, metric, objective) {
  const cost = (r) => metric === "latency" ? r.latencyMs : r.energyJ;
  const winner = (rate2) => {
    const rows = plan({ ...input, link: withUplinkRate(input.link, rate2) }, objective).rows;
    return keys.reduce((a, b) => cost(rows.find((r) => r.key === b)) < cost(rows.find((r) => r.key === a)) ? b : a);
  };
  const out = [];
  let prev = winner(RATES[0]);
  for (let i = 1; i < RATES.length; i++) {
    const w = winner(RATES[i]);
    if (w !== prev) {
      const at = crossovers(input, prev, w, metric, RATES[i - 1], RATES[i], 4)[0] ?? RATES[i];
      out.push({ metric, below: prev, above: w, upBitsPerS: at });
    }
    prev = w;
  }
  return out;
}
function slowdownToLose(input, objective) {
  const localWins = (s) => plan({ ...input, edgeSlowdown: s }, { ...objective, minimize: "latency" }).best?.key === "local";
  let lo = input.edgeSlowdown ?? 1, hi = 1e9;
  if (!localWins(lo)) return lo;
  if (localWins(hi)) return void 0;
  while (hi / lo > 1.001) {
    const m = Math.sqrt(lo * hi);
    if (localWins(m)) lo = m;
    else hi = m;
  }
  return hi;
}

// ../../../tmp/lp/probe.ts
var engine = await Engine.load({ wasm: "/work/wt/links/dist/lib/presparse.wasm" });
var { test } = loadData("mnist", { seed: 0, padTo: 800 });
var model = Model.mlp(engine, { sizes: [800, 40, 40, 10], outDegrees: [2, 9, 10], seed: 0, exits: [{ after: 0, weight: 1 }], finalWeight: 0.3 });
var hash = encodeModel(model).hash;
var link = process.argv[3] ?? "wifi";
for (const devices of process.argv[2].split(",").map(Number)) {
  const t0 = performance.now();
  const r = await studyLinks(engine, model, { links: [parseLink(link)].map((l) => ({ ...l, radio: l.radio ?? "lte" })), samples: Number(process.env.N ?? 60), devices, dtype: "int8", edgeSlowdown: 1, energy: DEFAULT_ENERGY, periodMs: 1e3, objective: { minimize: "latency" }, hash, cut: 1, test, log: () => {
  } });
  for (const run of r.links[0].runs) if (run.serverPath) console.log(devices, run.key, "p50", run.serverPath.p50.toFixed(1), "mean", run.serverPath.mean.toFixed(1), "pred", run.predicted.serverLatencyMs.toFixed(1), "retries", run.retries);
  console.log("devices", devices, "s", ((performance.now() - t0) / 1e3).toFixed(1));
}
