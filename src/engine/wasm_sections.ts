// The two facts the threaded engine reads from a module's bytes: the limits of the memory it imports (the shared
// memory is made to fit them) and its code without its data (what the pool's workers instantiate).
import { WasmLoadError } from "./errors.js";

const DATA = 11;
const DATA_COUNT = 12;
const IMPORT = 2;

interface Section {
  id: number;
  /** Offset of the section's id byte, and of its first content byte, and its end. */
  start: number;
  body: number;
  end: number;
}

function leb(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0,
    shift = 0,
    i = at;
  for (;;) {
    if (i >= bytes.length) throw new WasmLoadError("presparse.wasm: truncated LEB128 in a section header");
    const b = bytes[i++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, i];
  }
}

function sections(bytes: Uint8Array): Section[] {
  const out: Section[] = [];
  let i = 8;
  while (i < bytes.length) {
    const start = i;
    const id = bytes[i++]!;
    const [size, body] = leb(bytes, i);
    const end = body + size;
    if (end > bytes.length) throw new WasmLoadError(`presparse.wasm: section ${id} runs past the end of the module`);
    out.push({ id, start, body, end });
    i = end;
  }
  return out;
}

/**
 * The module without its data and data-count sections. AssemblyScript's modules write their static data (the math
 * tables, the debug build's messages) into memory with active data segments when instantiated; a worker instantiates
 * this copy over the shared memory instead, so instantiating it writes nothing. Its code is byte-for-byte the
 * original's (it neither drops nor copies segments: the module validates without them, which compiling it checks).
 */
export function withoutData(bytes: Uint8Array): Uint8Array {
  const keep = sections(bytes).filter((s) => s.id !== DATA && s.id !== DATA_COUNT);
  const out = new Uint8Array(8 + keep.reduce((n, s) => n + s.end - s.start, 0));
  out.set(bytes.subarray(0, 8));
  let o = 8;
  for (const s of keep) {
    out.set(bytes.subarray(s.start, s.end), o);
    o += s.end - s.start;
  }
  return out;
}

/** The limits (pages) and sharing of the memory the module imports, or undefined if it imports none. */
export function importedMemory(bytes: Uint8Array): { initial: number; maximum?: number; shared: boolean } | undefined {
  const imports = sections(bytes).find((s) => s.id === IMPORT);
  if (!imports) return undefined;
  let [count, i] = leb(bytes, imports.body);
  const name = (at: number): number => {
    const [len, next] = leb(bytes, at);
    return next + len;
  };
  for (; count > 0; count--) {
    i = name(name(i));
    const kind = bytes[i++]!;
    if (kind === 0)
      [, i] = leb(bytes, i); // function: type index
    else if (kind === 1) {
      i++;
      const flags = bytes[i++]!;
      [, i] = leb(bytes, i);
      if (flags & 1) [, i] = leb(bytes, i);
    } // table
    else if (kind === 3)
      i += 2; // global: value type, mutability
    else if (kind === 2) {
      const flags = bytes[i++]!;
      const [initial, next] = leb(bytes, i);
      const maximum = flags & 1 ? leb(bytes, next)[0] : undefined;
      return { initial, maximum, shared: (flags & 2) !== 0 };
    } else throw new WasmLoadError(`presparse.wasm: import of unknown kind ${kind}`);
  }
  return undefined;
}

/** The code section's bytes (function bodies): equal for two builds that run the same instructions. */
export function codeSection(bytes: Uint8Array): Uint8Array {
  const code = sections(bytes).find((s) => s.id === 10);
  return code ? bytes.subarray(code.body, code.end) : new Uint8Array(0);
}
