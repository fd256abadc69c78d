// Loading the module from every kind of source, rejecting what is not a presparse module (or a stale build), the
// debug build's assertions reaching a typed error, and the allocator: reuse, coalescing, zeroing, growth (with fresh
// views and correct kernels afterwards), steady state, dispose.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { F32Buffer, I32Buffer, Matrix } from "../src/engine/buffers.js";
import { Engine, defaultRelaxedWasmUrl, defaultWasmUrl, relaxedSimdSupported } from "../src/engine/engine.js";
import { KernelAssertionError, ShapeError, ValidationError, WasmLoadError } from "../src/engine/errors.js";
import { Batcher } from "../src/nn/batcher.js";
import { makeDataset } from "../src/nn/dataset.js";
import { reluBackward, reluForward } from "../src/ops/activations.js";
import { CsrWeights, csrSpmmBackwardWeights, csrSpmm, csrSpmmBackward } from "../src/ops/csr_spmm.js";
import { denseMatmulBackwardWeights, denseMatmul } from "../src/ops/dense_matmul.js";
import { addInPlace, gatherColumns, scaleInPlace } from "../src/ops/elementwise.js";
import { avgPool2d, maxPool2dBackward, pool2dShape } from "../src/ops/pool2d.js";
import { softmax, softmaxCrossEntropy } from "../src/ops/softmax_xent.js";
import { ConvWeights, sparseConv2d } from "../src/ops/sparse_conv2d.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { KERNEL_ARITY } from "../src/engine/kernels.generated.js";
import { type Scope, expectClose, getEngine, scoped, values } from "./helpers/engine.js";
import * as ref from "./helpers/reference.js";

const wasmUrl = defaultWasmUrl();

/** A small forward product on a fresh engine, checked against the reference: the engine works. */
function works(engine: Engine): void {
  scoped(engine, (s) => {
    const p = Pattern.random(9, 5, 0.5, 3),
      v = values(1, p.nnz),
      x = values(2, 9 * 6);
    const Y = s.matrix(5, 6);
    csrSpmm(s.csr(p, v), s.matrix(9, 6, x), Y);
    expectClose("Y", Y.view(), ref.matmul(ref.maskedDense(p, v), 5, 9, x, 6));
  });
}

// A module exporting a memory and an empty () → () function under each name: the shape of a build with other kernels.
function exportsOnly(names: string[]): Uint8Array {
  const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(n >>> 7)]);
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const utf8 = (t: string) => Array.from(new TextEncoder().encode(t));
  const exports = names.flatMap((n, i) => [...leb(utf8(n).length), ...utf8(n), 0, ...leb(i)]);
  return new Uint8Array([
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, [1, 0x60, 0, 0]),
    ...section(3, [...leb(names.length), ...names.map(() => 0)]),
    ...section(5, [1, 0, 1]),
    ...section(7, [...leb(names.length + 1), ...exports, 6, ...utf8("memory"), 2, 0]),
    ...section(10, [...leb(names.length), ...names.flatMap(() => [2, 0, 0x0b])]),
  ]);
}

async function loadError(source: Parameters<typeof Engine.load>[0]): Promise<Error> {
  try {
    await Engine.load(source);
  } catch (e) {
    expect(e).toBeInstanceOf(WasmLoadError);
    return e as Error;
  }
  throw new Error("Engine.load succeeded on a bad source");
}

describe("loading", () => {
  it("loads from bytes, an ArrayBuffer, a URL, a path, a Response and a compiled module", async () => {
    const bytes = new Uint8Array(await readFile(wasmUrl));
    const module = await WebAssembly.compile(bytes);
    const sources = [
      {},
      { wasm: bytes },
      { wasm: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      { wasm: wasmUrl },
      { wasm: fileURLToPath(wasmUrl) },
      { wasm: new Response(bytes) },
      { wasm: Promise.resolve(new Response(bytes)) },
      { wasm: module },
      { debug: true },
    ];
    for (const source of sources) works(await Engine.load(source));
    works(Engine.fromModule(module));
  });

  it("rejects an HTML 404 page served as WASM with WasmLoadError naming the magic", async () => {
    const html = new TextEncoder().encode("<!DOCTYPE html><html><body>404 Not Found</body></html>");
    const e = await loadError({ wasm: html });
    expect(e.message).toContain("expected magic word 00 61 73 6d, found 3c 21 44 4f");
    expect((await loadError({ wasm: new Response(html) })).message).toContain("found 3c 21 44 4f");
    expect((await loadError({ wasm: new Uint8Array(0) })).message).toContain("found nothing");
  });

  it("rejects truncated modules and non-presparse modules", async () => {
    const bytes = new Uint8Array(await readFile(wasmUrl));
    expect((await loadError({ wasm: bytes.subarray(0, 4) })).message).toMatch(
      /expected magic word 00 61 73 6d, found 00 61 73 6d/,
    );
    for (const n of [9, 100, bytes.length >> 1, bytes.length - 1]) {
      expect((await loadError({ wasm: bytes.slice(0, n) })).message, `first ${n} bytes`).toMatch(
        /does not validate \(truncated or corrupted file\)/,
      );
    }
    // the smallest valid module: magic and version only
    const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect((await loadError({ wasm: empty })).message).toMatch(/export memory missing/);
  });

  it("rejects a module that lacks any one kernel at load time (a stale build), naming it", async () => {
    const bytes = new Uint8Array(await readFile(wasmUrl));
    const names = WebAssembly.Module.exports(await WebAssembly.compile(bytes))
      .map((e) => e.name)
      .filter((n) => n !== "memory");
    expect(names).toContain("sparseConv2dBackwardWeights");
    for (const missing of ["gatherSamples", "sparseConv2dBackwardWeights", "avgPool2dBackward"]) {
      const e = await loadError({ wasm: exportsOnly(names.filter((n) => n !== missing)) });
      expect(e.message).toMatch(new RegExp(`export ${missing} missing`));
    }
  });

  it("rejects a module whose kernel takes other arguments than the generated list says (a stale build)", async () => {
    const names = Object.keys(KERNEL_ARITY);
    // every name present, each a () → () function: the first kernel that takes arguments is named
    const e = await loadError({ wasm: exportsOnly(names) });
    expect(e.message).toMatch(/presparse\.wasm: \w+ takes 0 arguments, expected [1-9]\d* \(a stale build\)/);
  });

  it("the generated kernel list is exactly what each build exports, with each function's parameter count", async () => {
    for (const debug of [false, true]) {
      const module = await WebAssembly.compile(new Uint8Array(await readFile(defaultWasmUrl(debug))));
      const exported = WebAssembly.Module.exports(module);
      expect(exported.filter((x) => x.kind !== "function").map((x) => x.name)).toEqual(["memory"]);
      const functions = exported.filter((x) => x.kind === "function").map((x) => x.name);
      expect(functions.sort()).toEqual(Object.keys(KERNEL_ARITY).sort());
      const kernels = (await Engine.load({ wasm: module })).kernels as unknown as Record<string, () => unknown>;
      for (const [name, n] of Object.entries(KERNEL_ARITY)) expect(kernels[name]!.length, name).toBe(n);
    }
  });

  it("reads the shipped file on a Node without process.getBuiltinModule (before 20.16) too", async () => {
    const saved = Object.getOwnPropertyDescriptor(process, "getBuiltinModule");
    Object.defineProperty(process, "getBuiltinModule", { value: undefined, configurable: true, writable: true });
    try {
      works(await Engine.load());
      expect((await loadError({ wasm: "/nonexistent/presparse.wasm" })).message).toMatch(
        /cannot read \/nonexistent\/presparse\.wasm/,
      );
    } finally {
      if (saved) Object.defineProperty(process, "getBuiltinModule", saved);
      else delete (process as { getBuiltinModule?: unknown }).getBuiltinModule;
    }
  });

  it("rejects an HTTP error response and a missing file", async () => {
    expect((await loadError({ wasm: new Response("nope", { status: 404 }) })).message).toMatch(/HTTP 404/);
    expect((await loadError({ wasm: "/nonexistent/presparse.wasm" })).message).toMatch(
      /cannot read \/nonexistent\/presparse\.wasm/,
    );
  });
});

describe("the relaxed-SIMD build", () => {
  const major = Number(process.versions.node.split(".")[0]);
  const blockedProduct = (e: Engine) =>
    scoped(e, (s) => {
      const p = Pattern.fixedDegree(64, 32, 8, 5, { block: 4 });
      const Y = s.matrix(32, 13);
      csrSpmm(s.csr(p, values(1, p.nnz)), s.matrix(64, 13, values(2, 64 * 13)), Y, { bias: s.f32(values(3, 32)) });
      return Y.view().slice();
    });

  it("is chosen by WebAssembly.validate: Node ≥ 21 has relaxed SIMD, Node 20 rejects the module whole", async () => {
    expect(relaxedSimdSupported()).toBe(major >= 21);
    const bytes = await readFile(fileURLToPath(defaultRelaxedWasmUrl()));
    expect(WebAssembly.validate(bytes)).toBe(relaxedSimdSupported());
    if (!relaxedSimdSupported()) return;
    // where it compiles, it is the same module to the loader: the same exports
    const names = (b: Uint8Array) => WebAssembly.Module.exports(new WebAssembly.Module(b)).map((e) => e.name);
    expect(names(bytes)).toEqual(names(await readFile(fileURLToPath(defaultWasmUrl()))));
  });

  it("relaxedSimd: true loads it where it validates, else the fixed build; its blocked sums stay close", async () => {
    const fixed = await Engine.load({ threads: 1 });
    const relaxed = await Engine.load({ threads: 1, relaxedSimd: true });
    const [a, b] = [blockedProduct(fixed), blockedProduct(relaxed)];
    if (!relaxedSimdSupported()) expect(Array.from(b)).toEqual(Array.from(a));
    else
      expectClose(
        "relaxed vs fixed",
        b,
        Float64Array.from(a),
        Float64Array.from(a, (v) => Math.abs(v) + 1),
      );
    fixed.dispose();
    relaxed.dispose();
  });
});

describe("debug build", () => {
  // Each call breaks one precondition the kernel asserts; the ops would refuse most of them before any kernel ran.
  const violations: [string, string, (e: Engine, s: Scope) => unknown][] = [
    [
      "csrSpmm: Y overlaps X",
      "csr_spmm",
      (_e, s) => {
        // the one the op itself lets through: a square layer's output written over its input
        const X = s.matrix(4, 5, values(1, 20));
        return csrSpmm(s.csr(Pattern.dense(4, 4), values(2, 16)), X, X);
      },
    ],
    [
      "csrSpmm: rowPtr must lie in memory, hold offsets ≥ 0 and never decrease",
      "csr_spmm",
      (e, s) =>
        e.kernels.csrSpmm(
          2,
          3,
          s.i32([0, 2, 1]).ptr,
          s.i32([0, 1]).ptr,
          s.f32(2).ptr,
          s.f32(6).ptr,
          0,
          s.f32(6).ptr,
          0,
        ),
    ],
    [
      "denseMatmul: Y outside memory",
      "dense_matmul",
      (e, s) => e.kernels.denseMatmul(2, 2, 2, s.f32(4).ptr, 2, 1, s.f32(4).ptr, 0, e.stats().memoryBytes - 8, 0),
    ],
    [
      "softmaxCrossEntropy: labels must lie in memory and hold classes in [0, C)",
      "softmax_xent",
      (e, s) => e.kernels.softmaxCrossEntropy(3, 2, s.f32(6).ptr, s.i32([0, 3]).ptr, 0, 2, 2, 0),
    ],
    [
      "maxPool2d: OH×OW must be the k×k windows at stride s in H×W",
      "pool2d",
      (e, s) => e.kernels.maxPool2d(1, 4, 4, 3, 3, 2, 2, 1, s.f32(16).ptr, s.f32(9).ptr),
    ],
    [
      "adamStep: m overlaps w",
      "optim",
      (e, s) => {
        const w = s.f32(8);
        return e.kernels.adamStep(8, w.ptr, s.f32(8).ptr, w.ptr + 16, s.f32(8).ptr, 1e-3, 0.9, 0.999, 1e-7, 0);
      },
    ],
  ];

  it.each(violations)(
    "a broken precondition throws KernelAssertionError with the kernel's message: %s",
    async (msg, file, call) => {
      const e = await getEngine(true);
      scoped(e, (s) => {
        let thrown: unknown;
        try {
          call(e, s);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(KernelAssertionError);
        const k = thrown as KernelAssertionError;
        expect(k.assertion).toBe(msg);
        expect(k.file).toBe(`assembly/${file}.ts`);
        expect(k.line).toBeGreaterThan(0);
        expect(k.message).toBe(`${msg} (assembly/${file}.ts:${k.line}:${k.column})`);
      });
      // the instance is still usable after the abort
      works(e);
    },
  );

  it("the release build runs the same call unchecked", async () => {
    const e = await getEngine();
    scoped(e, (s) => {
      const X = s.matrix(4, 5, values(1, 20));
      expect(() => csrSpmm(s.csr(Pattern.dense(4, 4), values(2, 16)), X, X)).not.toThrow();
      expect(() => e.kernels.softmaxCrossEntropy(3, 2, s.f32(6).ptr, s.i32([0, 1]).ptr, 0, 2, 2, 0)).not.toThrow();
    });
  });
});

describe("allocator", () => {
  it("returns 16-byte aligned, non-overlapping, zeroed blocks and reuses freed ones", async () => {
    const e = await Engine.load();
    const a = e.alloc(100),
      b = e.alloc(0),
      c = e.alloc(33);
    for (const p of [a, b, c]) expect(p % 16).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 112);
    expect(c).toBeGreaterThanOrEqual(b + 16);
    expect(e.stats()).toMatchObject({ liveBlocks: 3, liveBytes: 112 + 16 + 48, allocations: 3 });
    e.u8(a, 112).fill(0xff);
    e.u8(c, 48).fill(0xff);
    e.free(a);
    expect(e.alloc(112)).toBe(a); // first fit: a's old block
    expect(Array.from(e.u8(a, 112)).every((x) => x === 0)).toBe(true);
    e.free(c); // c sits at the top: freeing it lowers the top
    const c2 = e.alloc(48);
    expect(c2).toBe(c);
    expect(Array.from(e.u8(c2, 48)).every((x) => x === 0)).toBe(true);
  });

  it("coalesces neighbouring free blocks in either order", async () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
      [0, 2, 1],
    ]) {
      const e = await Engine.load();
      const blocks = [e.alloc(64), e.alloc(64), e.alloc(64)];
      const guard = e.alloc(16); // keeps the three blocks below the top
      for (const i of order) e.free(blocks[i]!);
      expect(e.stats().liveBlocks).toBe(1);
      // one 192-byte block fits exactly where the three were
      expect(e.alloc(192), String(order)).toBe(blocks[0]);
      e.free(guard);
    }
  });

  it("frees back to the top so a steady alloc/free cycle does not creep upward", async () => {
    const e = await Engine.load();
    const first = e.alloc(1000);
    e.free(first);
    for (let i = 0; i < 50; i++) {
      const a = e.alloc(1000),
        b = e.alloc(4000);
      expect(a).toBe(first);
      e.free(a);
      e.free(b);
    }
    expect(e.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0 });
  });

  it("rejects bad sizes and bad frees with ValidationError", async () => {
    const e = await Engine.load();
    for (const n of [-1, NaN, 1.5, Infinity, 2 ** 31 + 1]) expect(() => e.alloc(n), String(n)).toThrow(ValidationError);
    for (const n of [-1, NaN, 1.5, Infinity]) {
      expect(() => new F32Buffer(e, n), String(n)).toThrow(/F32Buffer: length must be an integer/);
      expect(() => new I32Buffer(e, n), String(n)).toThrow(ValidationError);
      expect(() => new Matrix(e, n, 3), String(n)).toThrow(/Matrix: rows must be an integer/);
      expect(() => new Matrix(e, 3, n), String(n)).toThrow(/Matrix: cols must be an integer/);
    }
    const p = e.alloc(16);
    e.free(p);
    expect(() => e.free(p)).toThrow(/free: \d+ is not a live allocation/);
    expect(() => e.free(12345)).toThrow(ValidationError);
  });

  it.each([1, 2])(
    "grows memory on demand; fresh views see the old data and the kernels stay correct (%i threads)",
    async (threads) => {
      const e = await Engine.load({ threads });
      const p = Pattern.fixedDegree(64, 32, 8, 7),
        v = values(3, p.nnz),
        x = values(4, 64 * 19);
      const A = new CsrWeights(e, p, v);
      const X = Matrix.from(e, 64, 19, x);
      const oldView = X.view();
      const before = e.stats();
      // more than the whole initial memory in one block
      const big = new F32Buffer(e, before.memoryBytes / 2);
      const after = e.stats();
      expect(after.grows).toBeGreaterThan(before.grows);
      expect(after.memoryBytes).toBeGreaterThan(before.memoryBytes * 1.5);
      // growth detached the old buffer: views must be made fresh (a shared memory grows in place instead: an old view
      // stays valid over the memory it had, so only a view made after growth reaches the new blocks)
      expect(oldView.length).toBe(threads === 1 ? 0 : 64 * 19);
      expect(Array.from(X.view())).toEqual(Array.from(x));
      expect(Array.from(A.values.view())).toEqual(Array.from(v));
      expect(big.view().every((f) => f === 0)).toBe(true);
      big.view().fill(-7);
      const Y = new Matrix(e, 32, 19),
        dX = new Matrix(e, 64, 19),
        dV = new F32Buffer(e, p.nnz);
      csrSpmm(A, X, Y);
      const W = ref.maskedDense(p, v);
      expectClose("Y after growth", Y.view(), ref.matmul(W, 32, 64, x, 19), ref.matmulScale(W, 32, 64, x, 19));
      csrSpmmBackward(A, Y, dX);
      expectClose(
        "dX after growth",
        dX.view(),
        ref.matmulT(W, 32, 64, Y.view(), 19),
        ref.matmulScale(ref.transpose(W, 32, 64), 64, 32, Float64Array.from(Y.view(), Math.abs), 19),
      );
      csrSpmmBackwardWeights(A, Y, X, dV);
      expectClose("dValues after growth", dV.view(), ref.gatherPattern(p, ref.gradW(Y.view(), 32, x, 64, 19)), 1e3);
      expect(big.view().every((f) => f === -7)).toBe(true);
    },
  );

  it("repeated kernel calls on pre-allocated buffers allocate nothing", async () => {
    const e = await Engine.load();
    const p = Pattern.fixedDegree(40, 20, 5, 1),
      B = 33;
    const A = new CsrWeights(e, p, values(1, p.nnz));
    const W = { engine: e, outputs: 20, inputs: 40, values: F32Buffer.from(e, values(2, 800)) };
    const X = Matrix.from(e, 40, B, values(3, 40 * B)),
      H = new Matrix(e, 20, B),
      dH = new Matrix(e, 20, B),
      dX = new Matrix(e, 40, B);
    const bias = F32Buffer.from(e, values(4, 20)),
      dV = new F32Buffer(e, p.nnz),
      dB = new F32Buffer(e, 20);
    const labels = I32Buffer.from(
      e,
      Array.from({ length: B }, (_, i) => i % 20),
    );
    const step = () => {
      csrSpmm(A, X, H, { bias, relu: true });
      denseMatmul(W, X, H, { bias });
      softmaxCrossEntropy(H, labels, dH);
      reluBackward(H, dH, dH);
      csrSpmmBackwardWeights(A, dH, X, dV, dB);
      csrSpmmBackward(A, dH, dX);
      H.reshape(B);
    };
    step();
    const before = e.stats();
    for (let i = 0; i < 100; i++) step();
    expect(e.stats()).toEqual(before);
  });

  it("throws on use after dispose", async () => {
    const e = await Engine.load();
    const X = new Matrix(e, 3, 3);
    const W = new CsrWeights(e, Pattern.dense(3, 2), [1, 2, 3, 4, 5, 6]);
    const Y = new Matrix(e, 2, 3);
    e.dispose();
    expect(() => csrSpmm(W, X, Y)).toThrow(/csrSpmm: the engine was disposed/);
    expect(() => denseMatmul({ engine: e, outputs: 2, inputs: 3, values: W.values }, X, Y)).toThrow(
      /denseMatmul: the engine was disposed/,
    );
    expect(e.isDisposed).toBe(true);
    expect(() => e.alloc(16)).toThrow(/engine: used after dispose\(\)/);
    expect(() => new Matrix(e, 2, 2)).toThrow(ValidationError);
    expect(() => F32Buffer.from(e, [1, 2])).toThrow(ValidationError);
    expect(() => X.reshape(100)).toThrow(ValidationError);
    expect(() => X.dispose()).not.toThrow();
  });

  it("every op refuses a disposed operand, and operands from two engines, before any kernel runs", async () => {
    const e = await getEngine();
    const other = await Engine.load();
    scoped(e, (s) => {
      const M = () => s.matrix(4, 3, values(5, 12));
      const A = s.csr(Pattern.dense(4, 4), values(1, 16));
      const W = s.dense(4, 4, values(2, 16));
      const g = pool2dShape("t", { C: 1, H: 2, W: 2, k: 2 });
      const conv = new ConvWeights(e, { inC: 1, outC: 1, H: 2, W: 2, kh: 1, kw: 1 }, Pattern.dense(1, 1), {
        values: [1],
      });
      const labels = s.i32([0, 1, 2]);
      const calls: [string, (x: Matrix) => unknown][] = [
        ["csrSpmm", (x) => csrSpmm(A, x, M())],
        ["csrSpmmBackward", (x) => csrSpmmBackward(A, M(), x)],
        ["csrSpmmBackwardWeights", (x) => csrSpmmBackwardWeights(A, M(), x, s.f32(16))],
        ["denseMatmul", (x) => denseMatmul(W, x, M())],
        ["denseMatmulBackwardWeights", (x) => denseMatmulBackwardWeights(W, x, M(), s.f32(16))],
        ["reluForward", (x) => reluForward(x)],
        ["reluBackward", (x) => reluBackward(M(), x, M())],
        ["softmax", (x) => softmax(M(), x)],
        ["softmaxCrossEntropy", (x) => softmaxCrossEntropy(x, labels)],
        ["addInPlace", (x) => addInPlace(M(), x)],
        ["scaleInPlace", (x) => scaleInPlace(x, 2)],
        ["gatherColumns", (x) => gatherColumns(x, s.i32([0]), 1, M())],
        ["sparseConv2d", (x) => sparseConv2d(conv, x, M())],
        ["avgPool2d", (x) => avgPool2d(g, x, s.matrix(1, 3))],
        ["maxPool2dBackward", (x) => maxPool2dBackward(g, M(), s.matrix(1, 3), s.matrix(1, 3), x)],
      ];
      try {
        for (const [op, call] of calls) {
          const gone = M();
          gone.dispose();
          expect(() => call(gone), op).toThrow(new RegExp(`${op}: an operand was disposed`));
          // an op on a single operand has no second engine to disagree with
          if (op !== "reluForward" && op !== "scaleInPlace") {
            expect(() => call(Matrix.from(other, 4, 3, values(5, 12))), op).toThrow(
              new RegExp(`${op}: operands live in different engines`),
            );
          }
          expect(() => call(M()), op).not.toThrow();
        }
        const freed = s.csr(Pattern.dense(4, 4), values(1, 16));
        freed.dispose();
        expect(() => csrSpmm(freed, M(), M())).toThrow(/csrSpmm: an operand was disposed/);
        const bias = s.f32(4);
        bias.dispose();
        expect(() => csrSpmm(A, M(), M(), { bias })).toThrow(/csrSpmm: an operand was disposed/);
      } finally {
        conv.dispose();
      }
    });
  });
});

describe("Batcher", () => {
  it(
    "rejects a fractional sample index, a dataset whose arrays disagree with its sizes, " + "and use after dispose",
    async () => {
      const e = await getEngine();
      const ds = makeDataset(
        "four",
        Float32Array.from({ length: 8 }, (_, i) => i),
        Int32Array.from([0, 1, 0, 1]),
        2,
        2,
      );
      const batcher = new Batcher(e, ds, 4);
      // 1.5 would gather sample 1 (Int32 truncation) but label it y[1.5] = undefined → 0
      expect(() => batcher.load([0, 1.5], 0, 2)).toThrow(/Batcher.load: sample index 1.5 outside \[0, 4\)/);
      expect(Array.from(batcher.load([3, 1], 0, 2).view())).toEqual([6, 2, 7, 3]);
      batcher.dispose();
      expect(() => batcher.load([0], 0, 1)).toThrow(/Batcher.load: an operand was disposed/);
      expect(() => new Batcher(e, { ...ds, n: 5 }, 4)).toThrow(ShapeError);
      expect(() => new Batcher(e, { ...ds, x: ds.x.subarray(0, 7) }, 4)).toThrow(
        /Batcher: four has 7 values and 4 labels, expected 4×2 and 4/,
      );
      expect(e.stats().liveBlocks).toBe(0);
    },
  );
});
