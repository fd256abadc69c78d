// Shared pieces of the server and client tests: a small split model, raw HTTP requests on loopback (so a test can
// send what a well-behaved client never would), and the CLI server as a child process.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { Matrix } from "../../src/engine/buffers.js";
import type { Engine } from "../../src/engine/engine.js";
import { decodeModel, encodeModel } from "../../src/io/model_io.js";
import { Model } from "../../src/nn/model.js";
import { decodeFrame, encodeFrame, type FrameDtype } from "../../src/split/frame.js";
import { split, type Head, type Tail } from "../../src/split/split.js";

export const ROOT = join(import.meta.dirname, "..", "..");
// PRESPARSE_TEST_CLI (a path) runs another build of the CLI, as PRESPARSE_TEST_WASM does for the kernels
export const CLI = process.env.PRESPARSE_TEST_CLI ?? join(ROOT, "dist", "cli", "main.js");
export const FRAME_TYPE = "application/x-presparse-frame";

/** A small paper-shaped model cut after its first hidden layer, with an exit there; bundles as bytes. */
export function splitModel(engine: Engine, seed = 1, sizes = [24, 12, 10, 4], outDegrees = [2, 5, 4]) {
  const model = Model.mlp(engine, { sizes, outDegrees, seed, exits: [{ after: 0, weight: 1 }], finalWeight: 0.3 });
  const { head, tail } = split(model, { cut: 1 });
  const headBytes = encodeModel(head).bytes,
    tailBytes = encodeModel(tail).bytes;
  return { model, head, tail, headBytes, tailBytes };
}

/** Deterministic values in [−scale, scale]. */
export function randomValues(n: number, seed: number, scale = 2): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** An activation frame for a tail: n samples of deterministic values. */
export function activationFrame(
  half: Tail | Head,
  n: number,
  seed: number,
  dtype: FrameDtype = "f32",
  over: Partial<{ modelHash: string; splitId: number; kind: "activation" | "logits" }> = {},
) {
  const width = half.split.activationShape.reduce((a, b) => a * b, 1);
  const data = randomValues(width * n, seed);
  const bytes = encodeFrame({
    data,
    shape: [width, n],
    dtype,
    kind: over.kind ?? "activation",
    splitId: over.splitId ?? half.split.cut,
    modelHash: over.modelHash ?? half.split.hash,
  });
  return { data, bytes };
}

/** The tail's logits for an activation, computed locally. */
export function localLogits(tail: Tail, act: Float32Array, n: number): Float32Array {
  const X = Matrix.from(tail.engine, tail.inputSize, n, act);
  const z = tail.forward(X).toArray();
  X.dispose();
  return z;
}

/** The logits frame a tail server answers to an activation frame, computed with `ref` and labelled as `tail`. */
export function answerFrame(ref: Tail, tail: Tail, activation: Uint8Array): Uint8Array {
  const f = decodeFrame(activation);
  const n = f.shape[1]!;
  return encodeFrame({
    data: localLogits(ref, f.data, n),
    shape: [tail.classes, n],
    dtype: "f32",
    kind: "logits",
    splitId: tail.split.cut,
    modelHash: tail.split.hash,
  });
}

/** A second, independent tail from the same bundle (the reference a test compares the server with). */
export function referenceTail(engine: Engine, tailBytes: Uint8Array): Tail {
  return decodeModel(engine, tailBytes, { source: "reference", role: "tail" }).model;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request on loopback with full control over method, headers and body (chunks are streamed in order). */
export function raw(
  url: string,
  o: {
    method?: string;
    path?: string;
    headers?: Record<string, string | number>;
    body?: Uint8Array | Uint8Array[];
    agent?: Agent | false;
    timeoutMs?: number;
  } = {},
): Promise<RawResponse> {
  const u = new URL(o.path ?? "/v1/infer", url);
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      { method: o.method ?? "POST", headers: o.headers, agent: o.agent === undefined ? keepAlive : o.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (o.timeoutMs) req.setTimeout(o.timeoutMs, () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    const parts = o.body === undefined ? [] : Array.isArray(o.body) ? o.body : [o.body];
    for (const p of parts) req.write(p);
    req.end();
  });
}

/** POSTs a frame to /v1/infer (query appended to the path). */
export function postFrame(
  url: string,
  frame: Uint8Array,
  query = "",
  headers: Record<string, string | number> = {},
): Promise<RawResponse> {
  return raw(url, {
    path: `/v1/infer${query}`,
    headers: { "Content-Type": FRAME_TYPE, "Content-Length": frame.length, ...headers },
    body: frame,
  });
}

/** The JSON error body of a refusal. */
export function errorOf(r: RawResponse): { status: number; code: string; field?: string; message: string } {
  expect(r.headers["content-type"]).toMatch(/^application\/json/);
  const j = JSON.parse(r.body.toString("utf8")) as {
    error: { status: number; code: string; field?: string; message: string };
  };
  expect(j.error.status).toBe(r.status);
  expect(typeof j.error.code).toBe("string");
  expect(typeof j.error.message).toBe("string");
  return j.error;
}

/** A temporary directory with the given files, removed by `cleanup`. */
export function tempFiles(files: Record<string, Uint8Array>): {
  dir: string;
  path(name: string): string;
  cleanup(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), "presparse-server-"));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const children = new Set<ChildProcessWithoutNullStreams>();

/**
 * Stops every CLI child still running (SIGTERM, so a cluster primary takes its workers down too). For afterAll:
 * a test that times out never reaches its own `finally`, and the test process's end does not stop its children.
 */
export async function stopChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
          setTimeout(() => (c.kill("SIGKILL"), resolve()), 5000).unref();
        }),
    ),
  );
}

/** The CLI (built to dist/) as a child process; resolves with its first stdout line (the URL) once it prints one. */
export async function spawnCli(
  args: string[],
  timeoutMs = 15_000,
): Promise<{
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}> {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run \`npm run build\``);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let err = "",
    out = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no URL within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n")[0]!;
      if (out.includes("\n")) {
        clearTimeout(t);
        resolve(line.trim());
      }
    });
    child.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`exited with ${code} before printing a URL; stderr: ${err}`));
    });
  });
  return { child, url, stderr: () => err, exited };
}

/** Polls fn until it returns true (bounded). */
export async function until(
  fn: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 5000,
  stepMs = 10,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
