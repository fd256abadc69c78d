// The split phase of the experiment: cut after hidden layer k, serve the tail on loopback, run every test
// sample through the edge client one at a time (batch 1, as an edge device sees them), and measure.
import type { Dataset } from "../nn/dataset.js";
import type { Engine } from "../engine/engine.js";
import { SplitClient } from "../split/client.js";
import { exitMacs, type ExitPolicy } from "../exits/runner.js";
import { FRAME_DTYPES, frameBytes, type FrameDtype } from "../split/frame.js";
import type { Model } from "../nn/model.js";
import { startServer } from "../server/http.js";
import { split } from "../split/split.js";
import { encodeModel } from "../io/model_io.js";

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SplitRun {
  after: number;
  dtype: FrameDtype;
  headBytes: number;
  tailBytes: number;
  activationWidth: number;
  /** Bytes of a one-sample frame per dtype (header and CRC included). */
  frameBytes: Record<FrameDtype, number>;
  n: number;
  accuracy: number;
  /** Fraction answered by the edge exit. */
  exitRate: number;
  /** Mean bytes sent per sample (exited samples send nothing). */
  bytesPerSample: number;
  /** Mean MACs per sample actually spent (edge + server). */
  meanMacs: number;
  /** Head compute per sample, ms. */
  edgeLatency: Percentiles;
  /** Call to answer per sample (exit or server round trip), ms. */
  e2eLatency: Percentiles;
  /** Call to answer for the samples sent to the server, ms. */
  offloadLatency: Percentiles | undefined;
  requests: number;
  retries: number;
}

/** Nearest-rank percentiles, the largest value and the mean (NaN for no values, mean 0). */
export function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return {
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
  };
}

/** Splits, serves the tail on 127.0.0.1 (ephemeral port) and runs the test set through the edge client. */
export async function runSplit(
  engine: Engine,
  model: Model,
  o: { after: number; policy?: ExitPolicy; hash: string; test: Dataset; dtype?: FrameDtype; log: (s: string) => void },
): Promise<SplitRun> {
  const dtype = o.dtype ?? "int8";
  const { head, tail } = split(model, { cut: o.after, hash: o.hash, policy: o.policy });
  const headBytes = encodeModel(head).bytes,
    tailBytes = encodeModel(tail).bytes;
  const width = tail.inputSize;
  tail.dispose();
  // one client sending one sample at a time: the server has nothing to wait for, so no batching delay
  const server = await startServer({
    model: tailBytes,
    port: 0,
    host: "127.0.0.1",
    engine,
    maxBatch: 64,
    maxDelayMs: 0,
  });
  const client = new SplitClient({ head, serverUrl: server.url, policy: o.policy ?? null, dtype });
  const { test } = o;
  const F = test.features;
  const macs = exitMacs(model);
  let right = 0,
    exited = 0,
    bytes = 0,
    spent = 0,
    requests = 0,
    retries = 0;
  const edge: number[] = [],
    e2e: number[] = [],
    offload: number[] = [];
  try {
    for (let i = 0; i < test.n; i++) {
      const r = await client.infer([test.x.subarray(i * F, (i + 1) * F)]);
      const s = r.samples[0]!;
      if (s.label === test.y[i]) right++;
      bytes += s.bytesSent;
      edge.push(r.totals.headMs);
      e2e.push(s.latencyMs);
      requests += r.totals.requests;
      retries += r.totals.retries;
      spent += [...macs.perExit, macs.final][s.exit]!;
      if (s.exit < macs.perExit.length) exited++;
      else offload.push(s.latencyMs);
    }
  } finally {
    client.dispose();
    await server.close();
    head.dispose();
  }
  const n = Math.max(1, test.n);
  const run: SplitRun = {
    after: o.after,
    dtype,
    headBytes: headBytes.length,
    tailBytes: tailBytes.length,
    activationWidth: width,
    frameBytes: Object.fromEntries(FRAME_DTYPES.map((d) => [d, frameBytes([width, 1], d)])) as SplitRun["frameBytes"],
    n: test.n,
    accuracy: right / n,
    exitRate: exited / n,
    bytesPerSample: bytes / n,
    meanMacs: spent / n,
    edgeLatency: percentiles(edge),
    e2eLatency: percentiles(e2e),
    offloadLatency: offload.length ? percentiles(offload) : undefined,
    requests,
    retries,
  };
  o.log(
    `split after ${o.after}: ${test.n} samples through the edge client (${dtype} frames): ` +
      `accuracy ${(100 * run.accuracy).toFixed(2)}%, exit rate ${(100 * run.exitRate).toFixed(1)}%, ` +
      `${run.bytesPerSample.toFixed(1)} B/sample sent, ` +
      `end-to-end p50 ${run.e2eLatency.p50.toFixed(3)} ms p99 ${run.e2eLatency.p99.toFixed(3)} ms`,
  );
  return run;
}
