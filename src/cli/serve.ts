import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { MAX_DEFAULT_THREADS } from "../engine/engine.js";
import { ValidationError } from "../engine/errors.js";
import { readTokenFile } from "../server/access.js";
import { reportListening, runPrimary } from "../server/cluster.js";
import { startServer, type RunningServer } from "../server/http.js";
import { type Command, UsageError, int, num, required } from "./args.js";
import { engine, THREADS_HELP, threadsFlag, threadsOption } from "./common.js";

/** Threads per server process when --threads is not given: the default split among the processes, at least 1. */
function serveThreads(workers: number): number | undefined {
  if (workers === 1) return undefined;
  return Math.max(1, Math.floor(Math.min(availableParallelism(), MAX_DEFAULT_THREADS) / workers));
}

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the tail of a split model (or a whole model, for full offload) over HTTP with dynamic batching",
  usage: `
Usage: presparse serve --model tail.safetensors [--port 8080] [--demo [--head head.safetensors]] [flags]

Answers POST /v1/infer (an activation frame in, a logits or probabilities frame out), the same over a
WebSocket at GET /v1/stream (many requests in flight, tagged with ids), the Open Inference Protocol
(KServe V2: /v2/health/live|ready, /v2/models/NAME, POST /v2/models/NAME/infer), GET /healthz and
GET /metrics (Prometheus). Prints the URL on stdout once listening; SIGTERM or SIGINT stops accepting,
answers every accepted request, then exits 0.

  --model FILE          the server bundle written by presparse split (tail.safetensors), or a whole model
                        file for full offload (frames of the raw input, split id 0)
  --port P              TCP port, 0 for any free one (default 8080)
  --host H              interface (default 127.0.0.1; 0.0.0.0 for every IPv4 interface)
  --max-batch N         samples per batch (default 64; 1 turns batching off)
  --max-delay-ms T      longest a request waits for others to join its batch (default 1)
  --max-queue N         samples allowed to wait; past it requests get 503 + Retry-After (default 4096)
  --timeout-ms T        a request not answered this long after it arrived gets 504 (default 10000)
  --max-body-bytes N    largest request body, else 413 (default 4194304)
  --max-inflight-bytes N  bytes all bodies being received may hold together, else 503 (default 33554432)
  --max-connections N   open connections; past it a connection's request gets 503 (default 1024)
  --retry-after S       seconds in the Retry-After of a 503 (default 1)
  --drain-delay-ms T    on SIGTERM keep listening T ms first, /healthz answering 503, so a load balancer
                        takes this instance out before its port closes (default 0)
  --workers N           processes sharing the port (node:cluster; default 1); without --threads each process
                        gets its share of the cores (the cores, at most 4, divided by N)
  --token-file FILE     require a bearer token: one per line (# comments); every route but the health
                        checks answers 401 without one of them. Tokens are never printed or logged
  --cors-origin O       let pages from origin O (https://app.example.com) call the server from a browser;
                        repeat for more, or comma-separate; * for any origin (not with --token-file)
  --tls-cert FILE       serve HTTPS and wss:// with this PEM certificate (chain), with --tls-key
  --tls-key FILE        the certificate's PEM private key
  --model-name NAME     the model's name in the Open Inference Protocol's URLs (default presparse)
  --demo                also serve the live demo page at /demo/ (and / redirects there): the head runs in the
                        visitor's browser, draws or picks a digit, and sends what does not exit to this server
  --head FILE           the edge bundle the demo page runs (default: head.safetensors next to --model)
${THREADS_HELP}
`,
  options: {
    model: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    "max-batch": { type: "string" },
    "max-delay-ms": { type: "string" },
    "max-queue": { type: "string" },
    "timeout-ms": { type: "string" },
    "max-body-bytes": { type: "string" },
    "max-inflight-bytes": { type: "string" },
    "max-connections": { type: "string" },
    "retry-after": { type: "string" },
    workers: { type: "string" },
    "drain-delay-ms": { type: "string" },
    "token-file": { type: "string" },
    "cors-origin": { type: "string", multiple: true },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "model-name": { type: "string" },
    demo: { type: "boolean" },
    head: { type: "string" },
    ...threadsOption,
  },
  async run(v) {
    const model = required("serve", "model", v.model);
    const workers = int("serve", "workers", v.workers, 1, 1, 256);
    if (v.head !== undefined && !v.demo) throw new UsageError("serve: --head goes with --demo");
    const demo = v.demo
      ? { head: (v.head as string | undefined) ?? join(dirname(model), "head.safetensors") }
      : undefined;
    const maxBodyBytes = int("serve", "max-body-bytes", v["max-body-bytes"], 4 * 2 ** 20, 64, 2 ** 31 - 1);
    const options = {
      model,
      port: int("serve", "port", v.port, 8080, 0, 65535),
      host: (v.host as string | undefined) ?? "127.0.0.1",
      maxBatch: int("serve", "max-batch", v["max-batch"], 64, 1, 1 << 20),
      maxDelayMs: num("serve", "max-delay-ms", v["max-delay-ms"], 1, 0, 60_000),
      maxQueue: int("serve", "max-queue", v["max-queue"], 4096, 1, 1 << 30),
      timeoutMs: int("serve", "timeout-ms", v["timeout-ms"], 10_000, 1, 2 ** 31 - 1),
      maxBodyBytes,
      // bodies in flight hold at least one whole body
      maxInflightBytes:
        v["max-inflight-bytes"] === undefined
          ? undefined
          : int("serve", "max-inflight-bytes", v["max-inflight-bytes"], 0, maxBodyBytes, Number.MAX_SAFE_INTEGER),
      maxConnections: int("serve", "max-connections", v["max-connections"], 1024, 1, 1 << 20),
      retryAfterSeconds: int("serve", "retry-after", v["retry-after"], 1, 0, 86_400),
      drainDelayMs: int("serve", "drain-delay-ms", v["drain-delay-ms"], 0, 0, 3_600_000),
      demo,
      tokens: v["token-file"] === undefined ? undefined : readTokenFile(v["token-file"] as string),
      corsOrigins: ((v["cors-origin"] as unknown as string[] | undefined) ?? []).flatMap((o) =>
        o
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean),
      ),
      tls: tlsFiles(v["tls-cert"] as string | undefined, v["tls-key"] as string | undefined),
      modelName: v["model-name"] as string | undefined,
    };
    const log = (line: string) => process.stderr.write(`presparse serve: ${line}\n`);
    if (workers > 1 && cluster.isPrimary) {
      return runPrimary({ workers, log, onReady: (url) => process.stdout.write(`${url}\n`) });
    }
    let server: RunningServer;
    try {
      server = await startServer({
        ...options,
        engine: await engine(threadsFlag("serve", v) ?? serveThreads(workers)),
      });
    } catch (e) {
      // a worker's IPC channel would keep it alive after the error is printed; letting go of it lets it exit
      cluster.worker?.disconnect();
      throw e;
    }
    const stop = (why: string) => {
      log(`${why}: draining ${server.queueDepth().requests} queued requests`);
      server.close().then(
        () => process.exit(0),
        (e) => {
          log(`shutdown failed: ${(e as Error).message}`);
          process.exit(1);
        },
      );
    };
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => stop(sig));
    if (cluster.isWorker) {
      // the primary is gone (crashed or killed): no one forwards signals any more, so drain and leave
      process.once("disconnect", () => stop("primary disconnected"));
      reportListening(server.url);
    } else {
      process.stdout.write(`${server.url}\n`);
      const cut = server.served.splitId > 0 ? `split after layer ${server.served.splitId}` : "whole (full offload)";
      log(
        `model ${server.served.hash} ${cut}; max-batch ${options.maxBatch}, ` +
          `max-delay ${options.maxDelayMs} ms, max-queue ${options.maxQueue} samples`,
      );
      const access = [
        options.tokens
          ? `bearer tokens required (${options.tokens.length} from ${v["token-file"] as string})`
          : "no authentication",
        options.corsOrigins.length > 0 ? `CORS for ${options.corsOrigins.join(", ")}` : "no CORS",
        options.tls ? "TLS" : "no TLS",
      ];
      log(access.join("; "));
      if (demo) log(`demo page at ${server.url}/demo/ (head ${demo.head})`);
    }
    // the command returns while the server keeps the process alive; signals end it
    return new Promise<number>(() => {});
  },
};

function tlsFiles(cert: string | undefined, key: string | undefined): { cert: Buffer; key: Buffer } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError("serve: --tls-cert and --tls-key go together");
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ValidationError(
        `serve: --${flag} ${path}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  return { cert: read("tls-cert", cert), key: read("tls-key", key) };
}
