// The pool's threads: one supervisor, which starts the workers, hears when one dies and never computes (so its event
// loop is free while the engine's thread is blocked in a call), and the workers, which instantiate the module's code
// over the shared memory and run the chunks they claim. Runs as a Node worker_threads worker or a module Web Worker.
import {
  ALIVE,
  BUSY,
  CLAIM,
  DEAD,
  DONE,
  GEN,
  MAX_ARGS,
  STATE,
  TEXT_BYTES,
  TEXT_OFFSET,
  W,
  ARGS_OFFSET,
  posted,
  type SupervisorMessage,
  type WorkerInit,
} from "./pool_protocol.js";

/** What a worker and its parent say to each other: a Node MessagePort or a Web Worker, behind one face. */
interface Port {
  post(msg: unknown): void;
  onMessage(fn: (msg: Message) => void): void;
}

interface Child {
  post(msg: unknown): void;
  terminate(): void;
}

type Spawn = (onMessage: (msg: Message) => void, onDeath: (why: string) => void) => Child;

/**
 * Whatever arrives on a port, unchecked: a worker's init (`role`), or a control message (`type`: "kill" with a slot,
 * "stop", a worker's "alive" or "fatal"). Each handler reads the fields its kind has.
 */
type Message = (Partial<WorkerInit> & { type?: string; message?: string }) | undefined;

/** Atomics.waitAsync (ES2024; in Node ≥ 16 and every current browser), which the ES2022 lib does not declare. */
interface AtomicsWaitAsync {
  waitAsync(
    a: Int32Array,
    i: number,
    v: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** A debug-build assertion, thrown out of the module's `abort` import. */
class Abort {
  constructor(
    readonly msg: number,
    readonly file: number,
    readonly line: number,
    readonly column: number,
  ) {}
}

function record(ctl: Int32Array, slot: number, e: unknown): void {
  if (Atomics.compareExchange(ctl, W.ERROR, 0, slot + 1) !== 0) return;
  if (e instanceof Abort) {
    Atomics.store(ctl, W.ERR_KIND, 1);
    Atomics.store(ctl, W.ERR_A, e.msg);
    Atomics.store(ctl, W.ERR_B, e.file);
    Atomics.store(ctl, W.ERR_C, e.line);
    Atomics.store(ctl, W.ERR_D, e.column);
    return;
  }
  const err = e as Error;
  const text = new TextEncoder()
    .encode(`${err?.name ?? "Error"}\n${err?.message ?? String(e)}`)
    .subarray(0, TEXT_BYTES);
  new Uint8Array(ctl.buffer, TEXT_OFFSET, TEXT_BYTES).set(text);
  Atomics.store(ctl, W.ERR_LEN, text.length);
  Atomics.store(ctl, W.ERR_KIND, 2);
}

/** Runs the worker loop: sleep on SEQ, claim chunks of each new job, run them, report; until STOP. */
function work(init: WorkerInit, port: Port): void {
  const slot = init.slot!;
  const ctl = new Int32Array(init.control);
  const args = new Float64Array(init.control, ARGS_OFFSET);
  const instance = new WebAssembly.Instance(init.module!, {
    env: {
      memory: init.memory,
      abort(msg: number, file: number, line: number, column: number) {
        throw new Abort(msg, file, line, column);
      },
    },
  });
  const ex = instance.exports as Record<string, (...a: number[]) => unknown>;
  const fns = init.kernels.map((k) => ex[k]!);
  const arity = fns.map((f) => f.length);
  let last = Atomics.load(ctl, W.SEQ);
  Atomics.store(ctl, STATE + slot, ALIVE);
  port.post({ type: "alive" });
  for (;;) {
    let seq = Atomics.load(ctl, W.SEQ);
    if (seq === last) {
      const until = performance.now() + Atomics.load(ctl, W.SPIN) / 1000;
      for (let i = 1; seq === last; i++) {
        seq = Atomics.load(ctl, W.SEQ);
        if ((i & 63) === 0 && performance.now() > until) break;
      }
      if (seq === last) {
        Atomics.wait(ctl, W.SEQ, last);
        continue;
      }
    }
    if (Atomics.load(ctl, W.STOP) !== 0) return;
    last = seq;
    const n = Atomics.load(ctl, W.CHUNKS),
      k = Atomics.load(ctl, W.KERNEL);
    const tag = posted(seq);
    const first = Math.floor((slot * n) / init.threads);
    for (let i = 0; i < n; i++) {
      const c = (first + i) % n;
      if (Atomics.compareExchange(ctl, CLAIM + c, tag, tag | (slot + 1)) !== tag) continue;
      if (Atomics.load(ctl, W.KILL) === slot) {
        // the test hook: hold the claimed chunk until the supervisor terminates this thread
        Atomics.store(ctl, BUSY + slot, 1);
        Atomics.notify(ctl, BUSY + slot);
        Atomics.wait(ctl, BUSY + slot, 1, 10_000);
      }
      const fn = fns[k]!,
        o = c * MAX_ARGS;
      try {
        fn.apply(null, Array.prototype.slice.call(args, o, o + arity[k]!) as number[]);
      } catch (e) {
        record(ctl, slot, e);
      }
      Atomics.store(ctl, CLAIM + c, tag | DONE);
      Atomics.add(ctl, W.PROGRESS, 1);
      Atomics.notify(ctl, W.PROGRESS);
    }
  }
}

/**
 * The supervisor: starts a worker per slot, restarts one that dies, reports to the engine's thread. It compiles the
 * workers' module itself while they boot, so the engine's thread spends nothing on it.
 */
function supervise(init: WorkerInit, port: Port, spawn: Spawn): void {
  const ctl = new Int32Array(init.control);
  const compiled = WebAssembly.compile(init.code as Uint8Array<ArrayBuffer>);
  compiled.catch((e: unknown) => port.post({ type: "failed", message: `cannot compile the module: ${String(e)}` }));
  const children = new Map<number, Child>();
  let ready = false;
  let stopping = false;
  const restarts = new Map<number, number>();
  const tell = (m: SupervisorMessage) => port.post(m);
  const start = (slot: number) => {
    let alive = false;
    const child = spawn(
      (m) => {
        if (m?.type !== "alive") return;
        alive = true;
        if (!ready && [...children.keys()].every((s) => Atomics.load(ctl, STATE + s) === ALIVE)) {
          ready = true;
          tell({ type: "ready" });
        }
      },
      (why) => {
        if (stopping || children.get(slot) !== child) return;
        children.delete(slot);
        Atomics.add(ctl, GEN + slot, 1);
        Atomics.store(ctl, STATE + slot, DEAD);
        Atomics.add(ctl, W.DEATHS, 1);
        Atomics.add(ctl, W.PROGRESS, 1);
        Atomics.notify(ctl, W.PROGRESS);
        if (!ready) {
          tell({ type: "failed", message: `worker ${slot} did not start: ${why}` });
          return;
        }
        tell({ type: "died", slot, message: why });
        // a worker that dies soon after every start is not restarted for ever
        const n = (restarts.get(slot) ?? 0) + 1;
        restarts.set(slot, n);
        // a pending call learns of the death from GEN, so the slot can be filled again at once (the new worker joins
        // only jobs posted after it started)
        if (alive && n <= 8) start(slot);
      },
    );
    children.set(slot, child);
    compiled.then(
      (module) => child.post({ ...init, code: undefined, module, role: "worker", slot }),
      () => undefined,
    );
  };
  port.onMessage((m) => {
    if (m?.type === "kill") {
      // terminate the worker while it holds its next chunk (tests: a worker that dies mid-call)
      const slot = m.slot as number;
      Atomics.store(ctl, BUSY + slot, 0);
      Atomics.store(ctl, W.KILL, slot);
      const wait = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, BUSY + slot, 0);
      const kill = () => {
        Atomics.store(ctl, W.KILL, -1);
        children.get(slot)?.terminate();
      };
      if (wait.async) void wait.value.then(kill);
      else kill();
    } else if (m?.type === "stop") {
      stopping = true;
      for (const c of children.values()) c.terminate();
      children.clear();
    }
  });
  for (let slot = 1; slot < init.threads; slot++) start(slot);
}

async function main(): Promise<void> {
  const isNode =
    typeof process !== "undefined" &&
    typeof process.versions?.node === "string" &&
    typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined";
  let port: Port;
  let spawn: Spawn;
  if (isNode) {
    const name = "node:worker_threads";
    const wt = (await import(/* @vite-ignore */ name)) as typeof import("node:worker_threads");
    const parent = wt.parentPort!;
    port = { post: (m) => parent.postMessage(m), onMessage: (fn) => parent.on("message", fn) };
    // a worker is this very script (wherever a bundler put it)
    spawn = (onMessage, onDeath) => {
      const w = new wt.Worker(new URL(import.meta.url));
      w.on("message", onMessage);
      w.on("error", (e) => onDeath(`${e.name}: ${e.message}`));
      w.on("exit", (code) => onDeath(`exited with code ${code}`));
      return { post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
    };
  } else {
    const self_ = globalThis as unknown as {
      postMessage(m: unknown): void;
      addEventListener(t: "message", fn: (e: MessageEvent) => void): void;
    };
    port = {
      post: (m) => self_.postMessage(m),
      onMessage: (fn) => self_.addEventListener("message", (e) => fn(e.data)),
    };
    spawn = (onMessage, onDeath) => {
      const w = new Worker(new URL(import.meta.url), { type: "module" });
      w.addEventListener("message", (e) => onMessage(e.data));
      w.addEventListener("error", (e) => onDeath(e.message || "error"));
      return {
        post: (m) => w.postMessage(m),
        terminate: () => {
          w.terminate();
          onDeath("terminated");
        },
      };
    };
  }
  port.onMessage(function first(msg: Message) {
    const m = msg as WorkerInit;
    if (m?.role === "supervisor") supervise(m, port, spawn);
    else if (m?.role === "worker") {
      try {
        work(m, port);
      } catch (e) {
        // a worker whose loop ends any other way is dead to the pool; the supervisor hears its exit in Node
        const ctl = new Int32Array(m.control);
        if (Atomics.load(ctl, W.STOP) === 0) {
          Atomics.store(ctl, STATE + m.slot!, DEAD);
          port.post({ type: "fatal", message: String((e as Error)?.stack ?? e) });
        }
        throw e;
      }
    }
  });
}

void main();
