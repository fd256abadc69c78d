// Dynamic batching: requests that arrive together run through the tail as one batch. A batch is dispatched when
// the waiting samples reach maxBatch or the oldest request has waited maxDelayMs; the queue is bounded in samples.
import { performance } from "node:perf_hooks";
import { ValidationError, checkInt } from "../engine/errors.js";
import { softmax } from "../ops/softmax_xent.js";
import { Matrix } from "../engine/buffers.js";
import type { ServedTail } from "./served_tail.js";

/** One request's share of a batch: its activation in, its logits (and probabilities if asked) out. */
export interface BatchJob {
  /** Activation [width, n], feature-major. */
  readonly data: Float32Array;
  readonly n: number;
  readonly wantProbabilities: boolean;
  /** Called once, synchronously after the job's batch ran: logits [classes, n] (and softmax of them if asked). */
  done(out: { logits: Float32Array; probabilities?: Float32Array; batchSamples: number; batchRequests: number }): void;
  /** Called once instead of `done` when the batch could not run. */
  fail(err: unknown): void;
}

/** Limits of the batcher. */
export interface BatchQueueOptions {
  /**
   * Samples per batch: a batch closes before the request that would take it past this (a single larger request
   * runs alone).
   */
  maxBatch: number;
  /**
   * How long the oldest waiting request may wait for others before its batch runs (0: run at the next turn of the
   * event loop).
   */
  maxDelayMs: number;
  /** Samples allowed to wait; a request that would exceed it is refused (the server answers 503). */
  maxQueue: number;
}

interface Entry {
  job: BatchJob;
  at: number;
}

/** Batches jobs through one tail. All work is synchronous on the event loop; batches run one at a time. */
export class BatchQueue {
  private readonly waiting: Entry[] = [];
  private samples_ = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private draining = false;
  private readonly X: Matrix;
  private P: Matrix | undefined;

  constructor(
    readonly tail: ServedTail,
    readonly options: BatchQueueOptions,
    private readonly onBatch: (samples: number, requests: number) => void = () => {},
  ) {
    checkInt("BatchQueue", "maxBatch", options.maxBatch, 1, 1 << 24);
    checkInt("BatchQueue", "maxQueue", options.maxQueue, 1, 1 << 30);
    if (!(options.maxDelayMs >= 0 && Number.isFinite(options.maxDelayMs)))
      throw new ValidationError(`BatchQueue: maxDelayMs must be a finite number ≥ 0, got ${options.maxDelayMs}`);
    this.X = new Matrix(tail.engine, tail.activationWidth, 1);
  }

  /** Waiting requests and samples. */
  get depth(): { requests: number; samples: number } {
    return { requests: this.waiting.length, samples: this.samples_ };
  }

  /** Queues a job; false (and nothing queued) when its samples would take the queue past maxQueue. */
  submit(job: BatchJob): boolean {
    if (job.data.length !== job.n * this.tail.activationWidth)
      throw new ValidationError(
        `BatchQueue.submit: ${job.data.length} values for ${job.n} samples of ${this.tail.activationWidth}`,
      );
    if (this.samples_ + job.n > this.options.maxQueue) return false;
    this.waiting.push({ job, at: performance.now() });
    this.samples_ += job.n;
    this.schedule();
    return true;
  }

  /** Removes a job that has not run yet; false when it is not waiting (already ran or never queued). */
  cancel(job: BatchJob): boolean {
    const i = this.waiting.findIndex((e) => e.job === job);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    this.samples_ -= job.n;
    if (this.waiting.length === 0) this.clearTimers();
    return true;
  }

  /** From now on, batches run as soon as possible without waiting for the delay (shutdown). */
  drain(): void {
    this.draining = true;
    this.schedule();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A batch is due: enough samples wait, the oldest has waited long enough, or the server is draining. */
  private due(): boolean {
    if (this.waiting.length === 0) return false;
    return (
      this.samples_ >= this.options.maxBatch ||
      this.draining ||
      performance.now() - this.waiting[0]!.at >= this.options.maxDelayMs
    );
  }

  private schedule(): void {
    if (this.waiting.length === 0 || this.immediate) return;
    const waited = performance.now() - this.waiting[0]!.at;
    if (this.due()) {
      this.clearTimers();
      // after this turn's I/O callbacks, so requests that arrived with this one still join its batch
      this.immediate = setImmediate(() => this.dispatch());
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, this.options.maxDelayMs - waited);
    }
  }

  // Runs every batch that is due now (the first one always: a timer or a full queue brought us here), then
  // schedules the rest; several batches in one turn spare a turn of the event loop per batch.
  private dispatch(): void {
    this.immediate = undefined;
    this.clearTimers();
    do {
      const batch: Entry[] = [];
      let n = 0;
      while (this.waiting.length > 0 && (batch.length === 0 || n + this.waiting[0]!.job.n <= this.options.maxBatch)) {
        const e = this.waiting.shift()!;
        batch.push(e);
        n += e.job.n;
      }
      this.samples_ -= n;
      if (batch.length > 0)
        this.run(
          batch.map((e) => e.job),
          n,
        );
    } while (this.due());
    this.schedule();
  }

  private run(jobs: BatchJob[], N: number): void {
    let outs: { logits: Float32Array; probabilities?: Float32Array }[];
    try {
      outs = this.compute(jobs, N);
    } catch (e) {
      for (const j of jobs) j.fail(e);
      return;
    }
    this.onBatch(N, jobs.length);
    jobs.forEach((j, i) => j.done({ ...outs[i]!, batchSamples: N, batchRequests: jobs.length }));
  }

  // Each sample's column is computed independently of its position in the batch, so splitting the batch's
  // output back by column offsets gives every request exactly what it would get alone.
  private compute(jobs: BatchJob[], N: number): { logits: Float32Array; probabilities?: Float32Array }[] {
    const W = this.tail.activationWidth,
      C = this.tail.classes;
    const X = this.X.reshape(N);
    const x = X.view();
    let off = 0;
    for (const j of jobs) {
      const d = j.data,
        n = j.n;
      if (n === N) x.set(d);
      // element loops: a subarray per feature row costs more than the copy for the few samples of a request
      else for (let f = 0; f < W; f++) for (let k = 0, o = f * N + off, i = f * n; k < n; k++) x[o + k] = d[i + k]!;
      off += n;
    }
    const Z = this.tail.forward(X);
    let P: Matrix | undefined;
    if (jobs.some((j) => j.wantProbabilities)) {
      this.P ??= new Matrix(this.tail.engine, C, N);
      P = softmax(Z, this.P.reshape(N));
    }
    const z = Z.view(),
      p = P?.view();
    off = 0;
    return jobs.map((j) => {
      const cols = (src: Float32Array) => {
        const n = j.n;
        if (n === N) return src.slice();
        const out = new Float32Array(C * n);
        for (let c = 0; c < C; c++) for (let k = 0, o = c * N + off, i = c * n; k < n; k++) out[i + k] = src[o + k]!;
        return out;
      };
      const r = { logits: cols(z), probabilities: j.wantProbabilities && p ? cols(p) : undefined };
      off += j.n;
      return r;
    });
  }

  dispose(): void {
    this.clearTimers();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.X.dispose();
    this.P?.dispose();
  }
}
