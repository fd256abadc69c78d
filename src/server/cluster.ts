// Several server processes on one port (node:cluster): the primary forks the workers, restarts one that crashes,
// and on SIGTERM/SIGINT forwards SIGTERM to every worker and waits for them to drain and exit.
import cluster, { type Worker } from "node:cluster";

/** What a worker tells the primary once it listens. */
export interface WorkerReady {
  type: "presparse:listening";
  url: string;
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  workers: number;
  /** Called once, when every worker listens, with the URL they share. */
  onReady(url: string): void;
  log(line: string): void;
  /** More crashes than this within `crashWindowMs` and the primary gives up (default 5 in 60 s). */
  maxCrashes?: number;
  crashWindowMs?: number;
}

/**
 * Runs the primary: forks `workers` copies of this process (cluster re-runs the same script and arguments, where
 * `cluster.isPrimary` is false), restarts crashed ones with a growing delay, and resolves with the exit status
 * once a signal has stopped every worker (0 when all drained cleanly). A worker that dies before it ever listened
 * is not restarted: the same error would recur, so the primary stops the rest and resolves 1.
 */
export function runPrimary(o: PrimaryOptions): Promise<number> {
  const maxCrashes = o.maxCrashes ?? 5,
    windowMs = o.crashWindowMs ?? 60_000;
  const ready = new Set<number>();
  const everReady = new Set<number>();
  const crashes: number[] = [];
  let stopping = false,
    status = 0,
    announced = false;
  return new Promise((resolve) => {
    const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    const stop = (code: number) => {
      if (code !== 0) status = code;
      if (stopping) return;
      stopping = true;
      for (const w of live()) w.process.kill("SIGTERM");
      if (live().length === 0) resolve(status);
    };
    const fork = () => {
      const w = cluster.fork();
      w.on("message", (m: Partial<WorkerReady>) => {
        if (m?.type !== "presparse:listening" || typeof m.url !== "string") return;
        ready.add(w.id);
        everReady.add(w.id);
        if (!announced && ready.size >= o.workers) {
          announced = true;
          o.onReady(m.url);
        }
      });
    };
    cluster.on("exit", (w, code, signal) => {
      ready.delete(w.id);
      if (stopping) {
        if (code !== 0) status = 1;
        if (live().length === 0) resolve(status);
        return;
      }
      const why = signal ? `signal ${signal}` : `status ${code}`;
      if (!everReady.has(w.id)) {
        o.log(`worker ${w.process.pid} exited with ${why} before listening; stopping`);
        return stop(1);
      }
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0]! < now - windowMs) crashes.shift();
      if (crashes.length > maxCrashes) {
        o.log(
          `worker ${w.process.pid} exited with ${why}: ${crashes.length} crashes within ${windowMs / 1000} s, stopping`,
        );
        return stop(1);
      }
      const delay = Math.min(5000, 100 * 2 ** (crashes.length - 1));
      o.log(`worker ${w.process.pid} exited with ${why}; restarting in ${delay} ms`);
      setTimeout(() => (stopping ? undefined : fork()), delay).unref();
    });
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => stop(0));
    for (let i = 0; i < o.workers; i++) fork();
  });
}

/** In a worker: tells the primary the server listens. */
export function reportListening(url: string): void {
  if (cluster.isWorker && process.send) process.send({ type: "presparse:listening", url } satisfies WorkerReady);
}
