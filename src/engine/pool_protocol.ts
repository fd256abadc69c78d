// The control block a thread pool shares (a SharedArrayBuffer beside the WASM memory): Int32 words that sequence
// jobs, claim chunks and report faults, a text area for a worker's error, then each chunk's kernel arguments as
// Float64 (every i32, usize and f32 argument is exact in a double). Thread 0 is the caller; workers are 1…n−1.

/** Threads a pool may have, the calling thread included. */
export const MAX_THREADS = 64;
/** Chunks one job may be split into. */
export const MAX_CHUNKS = 64;
/** Arguments of the widest kernel (sparseConv2d takes 19). */
export const MAX_ARGS = 20;

/** Word indices of the control block. */
export const W = {
  /** Job sequence number (1…2²³−1); workers wait on it. */
  SEQ: 0,
  /** Index of the job's kernel in the pool's kernel list. */
  KERNEL: 1,
  /** Chunks of the job. */
  CHUNKS: 2,
  /** Bumped (and notified) after every finished chunk and every worker death; the caller waits on it. */
  PROGRESS: 3,
  /** Set to 1 to stop the workers. */
  STOP: 4,
  /** Workers that died so far. */
  DEATHS: 5,
  /** 1 + the slot of the first thread whose chunk threw, 0 if none. */
  ERROR: 6,
  /**
   * What it threw: 1 an assertion of the debug build (ERR_A…ERR_D: message and file pointers, line, column), 2 any
   * other error (text).
   */
  ERR_KIND: 7,
  ERR_A: 8,
  ERR_B: 9,
  ERR_C: 10,
  ERR_D: 11,
  /** Bytes of UTF-8 text in the text area. */
  ERR_LEN: 12,
  /** Test hook: the slot of a worker to be terminated while it holds its next chunk, −1 for none. */
  KILL: 13,
  /** Microseconds a worker polls SEQ before it sleeps on it (a job that follows soon finds it awake). */
  SPIN: 14,
} as const;

/** Per-slot state words: STATE + slot. */
export const STATE = 16;
export const STARTING = 0;
export const ALIVE = 1;
export const DEAD = 2;
/** Per-slot word a worker sets while it holds a chunk under the KILL hook. */
export const BUSY = STATE + MAX_THREADS;
/** Per-chunk claim words: CLAIM + chunk. */
export const CLAIM = BUSY + MAX_THREADS;
/** Per-slot deaths so far: a call that saw GEN + slot change while a chunk of it was held there lost that chunk. */
export const GEN = CLAIM + MAX_CHUNKS;
const INTS = GEN + MAX_THREADS;

export const TEXT_OFFSET = INTS * 4;
export const TEXT_BYTES = 1024;
export const ARGS_OFFSET = TEXT_OFFSET + TEXT_BYTES;
export const CONTROL_BYTES = ARGS_OFFSET + MAX_CHUNKS * MAX_ARGS * 8;

// A claim word is (seq << 8) | tag: tag 0 posted, 1 + slot claimed by that thread, DONE finished. Comparing whole
// words with the current job's seq makes a late worker's claim on a job that has moved on fail.
export const DONE = 255;
export const SEQ_LIMIT = 1 << 23;
export const posted = (seq: number): number => seq << 8;

/** What the pool's workers are sent: the kernels by name, in the order jobs index them. */
export interface WorkerInit {
  role: "supervisor" | "worker";
  /** For the supervisor: the module's bytes without their data section (see wasm_sections.ts), compiled there once. */
  code?: Uint8Array;
  /** For a worker: that module, compiled. */
  module?: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  kernels: string[];
  /** Threads of the pool (caller included); a worker starts its claims at slot·chunks/threads. */
  threads: number;
  /** For a worker: its slot (1…threads−1). */
  slot?: number;
}

/** Messages a supervisor posts to the engine's thread. */
export type SupervisorMessage =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "died"; slot: number; message: string };
