// Threads never change a result: every kernel case of test/cases, split over 2 and 3 threads (every call split, however
// small), leaves exactly the bits the single-thread build leaves — outputs, gradients, optimizer state — and so do k
// training steps of generated networks and their evaluation and early-exit runs. The threaded build runs the very code
// of the single-thread one, its workers write nothing into memory when they instantiate, and faults are typed: threads
// asked for and impossible, an assertion in a worker's chunk, a worker terminated while it holds part of a call. With
// defaulted threads the load does not wait for the pool: calls made while it starts give the same bits, a pool that
// cannot start leaves one thread, and none holds a process open.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Matrix } from "../src/engine/buffers.js";
import { Engine } from "../src/engine/engine.js";
import { KernelAssertionError } from "../src/engine/errors.js";
import { ExitRunner } from "../src/exits/runner.js";
import { buildModel } from "../src/nn/arch.js";
import { makeDataset } from "../src/nn/dataset.js";
import { Model } from "../src/nn/model.js";
import { Adam, Sgd } from "../src/nn/optimizers.js";
import { evaluate, train } from "../src/nn/train.js";
import { CsrWeights, csrSpmm } from "../src/ops/csr_spmm.js";
import { Pattern } from "../src/sparsity/pattern.js";
import { ThreadPoolError, WorkerDiedError } from "../src/engine/errors.js";
import { codeSection, withoutData } from "../src/engine/wasm_sections.js";
import { Scope, expectSameBits, fixedDegrees, runAndKeep, values } from "./cases/case.js";
import { KERNEL_CASES } from "./cases/index.js";

const ROOT = join(import.meta.dirname, "..");
const wasm = (name: string) => new Uint8Array(readFileSync(join(ROOT, "build", name)));

const runOn = runAndKeep;

const engines: Record<string, Engine> = {};
beforeAll(async () => {
  engines.single = await Engine.load({ threads: 1 });
  engines.singleDebug = await Engine.load({ threads: 1, debug: true });
  // thresholds 0: every call splits, even a 1×2 product, so the generated shapes exercise the split
  engines.two = await Engine.load({ threads: 2, thresholds: 0 });
  engines.three = await Engine.load({ threads: 3, thresholds: 0 });
  engines.twoDebug = await Engine.load({ threads: 2, thresholds: 0, debug: true });
});
afterAll(() => {
  for (const e of Object.values(engines)) e.dispose();
});

describe("the threaded build", () => {
  it("runs the same code as the single-thread build, release and debug (only the memory's declaration differs)", () => {
    expect(Buffer.from(codeSection(wasm("presparse.threads.wasm")))).toEqual(
      Buffer.from(codeSection(wasm("presparse.wasm"))),
    );
    expect(Buffer.from(codeSection(wasm("presparse.threads.debug.wasm")))).toEqual(
      Buffer.from(codeSection(wasm("presparse.debug.wasm"))),
    );
  });

  const SHARED = "imports a shared memory with a maximum; its worker copy writes nothing into memory when instantiated";
  it(SHARED, async () => {
    const bytes = wasm("presparse.threads.wasm");
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
    expect(imports).toContainEqual({ module: "env", name: "memory", kind: "memory" });
    const fresh = () => {
      const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
      new Uint8Array(memory.buffer).fill(0xab);
      return memory;
    };
    const untouched = (m: WebAssembly.Memory) => new Uint8Array(m.buffer).every((b) => b === 0xab);
    const full = fresh();
    new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: full } });
    expect(untouched(full), "the module itself writes its static data").toBe(false);
    const worker = fresh();
    new WebAssembly.Instance(new WebAssembly.Module(withoutData(bytes)), { env: { memory: worker } });
    expect(untouched(worker), "the workers' copy writes nothing").toBe(true);
    // and the debug build's (whose static data holds its assertion messages)
    const debug = fresh();
    new WebAssembly.Instance(new WebAssembly.Module(withoutData(wasm("presparse.threads.debug.wasm"))), {
      env: { memory: debug, abort: () => undefined },
    });
    expect(untouched(debug)).toBe(true);
  });

  it("loads on the threads asked for; threads: 1 is the single-thread module and memory", () => {
    expect([engines.single!.threads, engines.two!.threads, engines.three!.threads]).toEqual([1, 2, 3]);
    expect(engines.single!.pool).toBeUndefined();
    expect(engines.single!.kernels.memory.buffer).toBeInstanceOf(ArrayBuffer);
    expect(engines.two!.kernels.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(engines.three!.pool!.alive()).toBe(2);
  });

  it("ready() resolves at once with the threads of an engine whose load waited", async () => {
    const threads = await Promise.all([engines.single!.ready(), engines.two!.ready(), engines.three!.ready()]);
    expect(threads).toEqual([1, 2, 3]);
  });

  it("workers write into memory the engine's thread grew after they started", () => {
    const e = engines.three!;
    const p = Pattern.random(200, 300, 0.2, 9),
      v = values(1, p.nnz),
      x = values(2, 200 * 33);
    const want = Scope.run(engines.single!, (s) => {
      const Y = s.matrix(300, 33);
      csrSpmm(s.csr(p, v), s.matrix(200, 33, x), Y, { relu: true });
      return Y.toArray();
    });
    Scope.run(e, (s) => {
      const A = s.csr(p, v),
        X = s.matrix(200, 33, x);
      const before = e.stats().memoryBytes;
      s.f32(before / 4); // longer than all memory so far: it grows, and what follows lies above the old end
      const Y = s.matrix(300, 33);
      expect(e.stats().memoryBytes).toBeGreaterThan(before);
      expect(Y.ptr).toBeGreaterThanOrEqual(before);
      Y.view().fill(NaN);
      csrSpmm(A, X, Y, { relu: true });
      expectSameBits("Y above the old end of memory", [Y.toArray()], [want]);
    });
  });

  it("defaults in Node to the cores, at most 4", async () => {
    const e = await Engine.load();
    try {
      const { availableParallelism } = await import("node:os");
      expect(e.threads).toBe(Math.min(4, availableParallelism()));
    } finally {
      e.dispose();
    }
  });
});

// Engine.load() with the default threads on a machine of `cores` cores (the default reads os.availableParallelism()).
async function loadOnCores(cores: number, options?: Parameters<typeof Engine.load>[0]): Promise<Engine> {
  const was = os.availableParallelism;
  os.availableParallelism = () => cores;
  try {
    return await Engine.load(options);
  } finally {
    os.availableParallelism = was;
  }
}

describe("defaulted threads: the load does not wait for the pool", () => {
  it("resolves with no worker started; a call below every threshold starts none; ready() starts them", async () => {
    const e = await loadOnCores(3);
    try {
      expect(e.threads).toBe(3);
      expect(e.kernels.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(e.pool).toBeUndefined();
      Scope.run(e, (s) => {
        // the batch-1 edge head's product: far below the threshold
        const p = Pattern.fixedDegree(800, 40, 2, 0);
        csrSpmm(s.csr(p, values(1, p.nnz)), s.matrix(800, 1, values(2, 800)), s.matrix(40, 1));
      });
      expect(e.pool).toBeUndefined();
      expect(await e.ready()).toBe(3);
      expect(e.pool!.alive()).toBe(2);
    } finally {
      e.dispose();
    }
  });

  const STARTING =
    "calls made while the pool starts give the single-thread bits, and the workers join them as each comes up, " +
    "the event loop never turning";
  it(STARTING, async () => {
    // every call splits, so the first launches the pool; then kernel cases back to back, synchronously, until both
    // workers have been up for two rounds of the cases
    const e = await loadOnCores(3, { thresholds: 0 });
    try {
      const seen = new Set<number>();
      let withAll = 0;
      const t0 = Date.now();
      for (let i = 0; withAll < 2 * KERNEL_CASES.length && Date.now() - t0 < 30_000; i++) {
        const c = KERNEL_CASES[i % KERNEL_CASES.length]!;
        const [p] = fc.sample(c.arb, { seed: i, numRuns: 1 });
        const alive = e.pool?.alive() ?? 0;
        seen.add(alive);
        if (alive === 2) withAll++;
        expectSameBits(`${c.name}, ${alive} of 2 workers up`, runOn(c, e, p), runOn(c, engines.single!, p));
      }
      expect(seen.has(0), "calls before any worker was up").toBe(true);
      expect(seen.has(2), "calls once both were up").toBe(true);
      expect(await e.ready()).toBe(3);
    } finally {
      e.dispose();
    }
  });

  // A process on a copy of the built package whose pool_worker.js is `script`, running `code` after a load with the
  // default threads (on 3) and a product big enough to launch the pool; its status, stdout, stderr lines and time.
  function withWorkerScript(script: string, code: string) {
    const dir = mkdtempSync(join(os.tmpdir(), "presparse-pool-"));
    try {
      cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
      writeFileSync(join(dir, "dist/lib/pool_worker.js"), script);
      const main = `
        import os from "node:os";
        os.availableParallelism = () => 3;
        const { Engine, Matrix, Pattern } = await import(${JSON.stringify(join(dir, "dist/index.js"))});
        const { CsrWeights, csrSpmm } = await import(${JSON.stringify(join(dir, "dist/ops_index.js"))});
        const p = Pattern.random(64, 64, 0.3, 1);
        const product = (e) => {
          const W = new CsrWeights(e, p, new Float32Array(p.nnz).map((_, i) => Math.sin(i)));
          const X = Matrix.from(e, 64, 16, new Float32Array(64 * 16).map((_, i) => Math.cos(i)));
          const Y = csrSpmm(W, X, new Matrix(e, 64, 16));
          return Array.from(Y.view());
        };
        const e = await Engine.load({ thresholds: 0 });
        const first = product(e);
        ${code}`;
      const t0 = Date.now();
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", main], { encoding: "utf8" });
      const ms = Date.now() - t0;
      const stderr = run.stderr.trim() === "" ? [] : run.stderr.trim().split("\n");
      return { status: run.status, stdout: run.stdout.trim(), stderr, ms };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const FAILS =
    "a pool that cannot start in the background leaves the engine on one thread with one notice, and it keeps " +
    "working; threads asked for still throw";
  it(FAILS, () => {
    const r = withWorkerScript(
      `throw new Error("this worker script is broken");\n`,
      `const threads = await e.ready();
        const again = product(e);
        const want = product(await Engine.load({ threads: 1 }));
        let asked;
        try {
          await Engine.load({ threads: 2 });
          asked = "loaded";
        } catch (err) {
          asked = err.name + ": " + err.message;
        }
        const same = (a) => a.every((v, i) => Object.is(v, want[i]));
        console.log(JSON.stringify({ threads, now: e.threads, same: same(first) && same(again), asked }));`,
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      threads: 1,
      now: 1,
      same: true,
      asked: expect.stringMatching(/^ThreadPoolError: thread pool did not start: .*this worker script is broken/),
    });
    expect(r.stderr).toEqual([
      expect.stringMatching(/^presparse: thread pool did not start: .*worker script is broken; running on 1 thread$/),
    ]);
  });

  it("a pool still starting holds no process open: one whose workers never answer ends when its work does", () => {
    // the workers' script never says it is up: the pool would wait 30 s for it
    const r = withWorkerScript("setInterval(() => {}, 1 << 30);\n", `console.log(JSON.stringify(first.length));`);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("1024");
    expect(r.stderr).toEqual([]);
    expect(r.ms).toBeLessThan(15_000);
  });
});

describe("every kernel case gives the single-thread build's bits on 2 and 3 threads", () => {
  for (const c of KERNEL_CASES) {
    test.prop([c.arb], { numRuns: Math.max(10, c.runs >> 1) })(c.name, (p) => {
      const want = runOn(c, engines.single!, p);
      expectSameBits("2 threads", runOn(c, engines.two!, p), want);
      expectSameBits("3 threads", runOn(c, engines.three!, p), want);
    });
  }
});

describe("on the debug build too: a chunk passes every kernel assertion", () => {
  for (const c of KERNEL_CASES) {
    test.prop([c.arb], { numRuns: 8 })(c.name, (p) => {
      expectSameBits("2 threads, debug build", runOn(c, engines.twoDebug!, p), runOn(c, engines.singleDebug!, p));
    });
  }
});

// A generated network: sizes, feasible out-degrees, an exit, the optimizer, the batch, the steps.
const netArb = fc.record({
  sizes: fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 2, maxLength: 4 }),
  pick: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
  exit: fc.boolean(),
  adam: fc.boolean(),
  batch: fc.integer({ min: 1, max: 70 }),
  n: fc.integer({ min: 1, max: 150 }),
  epochs: fc.integer({ min: 1, max: 2 }),
  seed: fc.nat(1000),
});

type Net = fc.Infer<typeof netArb>;

function trainOn(engine: Engine, net: Net): Float32Array[] {
  const { sizes, pick, seed } = net;
  const degrees = sizes.slice(1).map((out, i) => {
    const feasible = fixedDegrees(sizes[i]!, out);
    return feasible[pick[i % 3]! % feasible.length]!;
  });
  const exits = net.exit && sizes.length > 2 ? [{ after: 0, weight: 0.5 }] : [];
  const model = Model.mlp(engine, { sizes, outDegrees: degrees, seed, exits, finalWeight: 1 });
  const classes = sizes.at(-1)!;
  const x = values(seed + 7, net.n * sizes[0]!, 1);
  const y = Int32Array.from({ length: net.n }, (_, i) => (i * 7 + seed) % classes);
  const data = makeDataset("generated", x, y, sizes[0]!, classes);
  const optimizer = net.adam ? new Adam({ lr: 1e-2, decay: 1e-4 }) : new Sgd({ lr: 0.05, momentum: 0.9 });
  try {
    const reports = train(model, data, {
      epochs: net.epochs,
      batchSize: net.batch,
      optimizer,
      seed,
      trainAccuracy: false,
    });
    const out: Float32Array[] = [Float32Array.from(reports.flatMap((r) => r.losses))];
    const layers = [...model.trunk, ...model.exits.flatMap((e) => e.layers)];
    for (const l of layers) {
      for (const p of l.params())
        out.push(p.values.toArray(), p.grad.toArray(), ...optimizer.state(p).map((s) => s.toArray()));
    }
    const ev = evaluate(model, data, { batchSize: net.batch });
    out.push(Float32Array.from([...ev.accuracy, ...ev.loss]));
    if (model.exits.length > 0) {
      const X = Matrix.fromSamples(engine, sizes[0]!, x.subarray(0, Math.min(net.n, 40) * sizes[0]!));
      const r = new ExitRunner(model, { kind: "maxprob", thresholds: [0.5] }).run(X);
      out.push(new Float32Array(r.exit.buffer.slice(0)), r.confidence, r.logits);
      X.dispose();
    }
    return out;
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

describe("training gives the single-thread build's bits on 2 and 3 threads", () => {
  test.prop([netArb], { numRuns: 15 })(
    "weights, gradients, optimizer state, losses, evaluation and exits after k steps",
    (net) => {
      const want = trainOn(engines.single!, net);
      expectSameBits("2 threads", trainOn(engines.two!, net), want);
      expectSameBits("3 threads", trainOn(engines.three!, net), want);
    },
  );

  it("a sparse CNN (conv, pool, fc) trains to the same bits", () => {
    const run = (engine: Engine) => {
      const model = buildModel(engine, "conv:1>4:3x3:p1,pool:2,conv:4>6:3x3:deg3,avgpool:2,fc:5", {
        inputShape: [1, 8, 8],
        seed: 3,
      });
      const x = values(5, 24 * 64, 1),
        y = Int32Array.from({ length: 24 }, (_, i) => i % 5);
      const optimizer = new Adam({ lr: 1e-2 });
      try {
        train(model, makeDataset("images", x, y, 64, 5), {
          epochs: 2,
          batchSize: 10,
          optimizer,
          seed: 1,
          trainAccuracy: false,
        });
        return model.trunk.flatMap((l) => l.params().flatMap((p) => [p.values.toArray(), p.grad.toArray()]));
      } finally {
        model.dispose();
        optimizer.dispose();
      }
    };
    expectSameBits("3 threads", run(engines.three!), run(engines.single!));
  });
});

describe("faults", () => {
  it("threads asked of a single-thread module, or of a compiled module, throw a ThreadPoolError", async () => {
    await expect(Engine.load({ wasm: wasm("presparse.wasm"), threads: 2 })).rejects.toThrow(ThreadPoolError);
    await expect(
      Engine.load({ wasm: new WebAssembly.Module(wasm("presparse.threads.wasm")), threads: 2 }),
    ).rejects.toThrow(/threads need the module's bytes/);
  });

  const NO_SAB =
    "without SharedArrayBuffer (as in a page that is not isolated): defaulted threads fall back to 1 with a notice, " +
    "asked-for threads throw";
  it(NO_SAB, () => {
    const script = `
      delete globalThis.SharedArrayBuffer;
      const { Engine } = await import(${JSON.stringify(join(ROOT, "dist/index.js"))});
      const e = await Engine.load();
      let asked;
      try {
        await Engine.load({ threads: 2 });
        asked = "loaded";
      } catch (err) {
        asked = err.name + ": " + err.message;
      }
      console.log(JSON.stringify({ threads: e.threads, asked }));`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    const r = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    expect(r.threads).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^presparse: .*SharedArrayBuffer.*; running on 1 thread$/),
    ]);
    expect(r.asked).toMatch(/^ThreadPoolError: .*SharedArrayBuffer/);
  });

  it("a debug-build assertion inside a worker's chunk is the same KernelAssertionError, and the engine goes on", () => {
    const e = engines.twoDebug!;
    Scope.run(e, (s) => {
      const p = Pattern.dense(64, 64);
      const A = s.csr(p, values(1, p.nnz));
      const X = s.matrix(64, 8, values(2, 64 * 8));
      // Y overlapping X past the op's checks: the raw kernel, called over the threads. Y is X itself, so every
      // chunk's rows of Y overlap X and none writes outside it (with Y half past X's end, a chunk whose rows lay past
      // it passed its checks and wrote into whatever followed X, and the other could then fail on that instead).
      // Chunks go to whichever thread claims them first; over 20 calls the worker runs some of them
      for (let call = 0; call < 20; call++) {
        const err = (() => {
          try {
            e.kernels.csrSpmm(64, 8, A.rowPtr.ptr, A.colIdx.ptr, A.values.ptr, X.ptr, 0, X.ptr, 0);
          } catch (x) {
            return x;
          }
        })();
        expect(err).toBeInstanceOf(KernelAssertionError);
        expect((err as KernelAssertionError).assertion).toBe("csrSpmm: Y overlaps X");
      }
      const Y = s.matrix(64, 8);
      csrSpmm(A, X, Y);
      const Y1 = Scope.run(engines.singleDebug!, (t) => {
        const Z = t.matrix(64, 8);
        csrSpmm(t.csr(p, values(1, p.nnz)), t.matrix(64, 8, values(2, 64 * 8)), Z);
        return Z.toArray();
      });
      expectSameBits("after the assertion", [Y.toArray()], [Y1]);
    });
  });

  const DIED =
    "a worker terminated while it holds part of a call fails that call with WorkerDiedError; the engine goes on";
  it(DIED, async () => {
    const e = await Engine.load({ threads: 2, thresholds: 0 });
    try {
      const p = Pattern.random(256, 256, 0.3, 2);
      const v = values(3, p.nnz),
        x = values(4, 256 * 64);
      const A = new CsrWeights(e, p, v),
        X = Matrix.from(e, 256, 64, x),
        Y = new Matrix(e, 256, 64);
      const want = Scope.run(engines.single!, (s) => {
        const Z = s.matrix(256, 64);
        csrSpmm(s.csr(p, v), s.matrix(256, 64, x), Z);
        return Z.toArray();
      });
      e.pool!.terminateDuringNextCall(1);
      // the supervisor arms the hook when its message arrives; calls before that run normally
      let failure: unknown;
      for (let i = 0; i < 200 && failure === undefined; i++) {
        try {
          csrSpmm(A, X, Y);
        } catch (err) {
          failure = err;
        }
        if (failure === undefined) await new Promise((r) => setTimeout(r, 5));
      }
      expect(failure).toBeInstanceOf(WorkerDiedError);
      expect((failure as WorkerDiedError).slot).toBe(1);
      // the engine answers at once (the caller runs what no live worker takes), and again on both threads once
      // restarted
      Y.view().fill(NaN);
      csrSpmm(A, X, Y);
      expectSameBits("right after the death", [Y.toArray()], [want]);
      await e.pool!.whenAllAlive();
      expect(e.pool!.deaths.length).toBe(1);
      Y.view().fill(NaN);
      csrSpmm(A, X, Y);
      expectSameBits("after the restart", [Y.toArray()], [want]);
    } finally {
      e.dispose();
    }
  });
});
