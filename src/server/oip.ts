// The Open Inference Protocol (KServe's V2 predict protocol, as Triton speaks it) over the same batch queue as
// POST /v1/infer: health, server and model metadata, and inference with JSON tensors or Triton's binary tensor data
// extension. Tensors here are batch first ([n, features], row-major), as the protocol's clients send them; the tail
// takes [features, n], so inputs and outputs are transposed at this boundary. docs/serving.md lists what is served.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { ValidationError } from "../engine/errors.js";
import { f16BitsToF32 } from "../io/f16.js";
import { HttpError, bodyTooLarge, unavailable } from "./errors.js";
import type { Answer, Endpoint, Request, Route } from "./handler.js";
import { batched, type InferLimits } from "./infer.js";
import type { BatchQueue } from "./queue.js";
import type { ServedTail } from "./served_tail.js";

/** The model's one input tensor and its outputs, as the metadata names them. */
export const OIP_INPUT = "activation";
export const OIP_OUTPUTS = ["logits", "probabilities"] as const;
/** The extension this server reports in its metadata (Triton's name for it). */
export const BINARY_EXTENSION = "binary_tensor_data";
/** The header that gives the length of the JSON part of a body with binary tensors. */
export const HEADER_LENGTH = "inference-header-content-length";

type OutputName = (typeof OIP_OUTPUTS)[number];

/** Bytes per element of the input datatypes accepted; FP16 only as binary data (JSON has no half floats). */
const INPUT_TYPES: Readonly<Record<string, number>> = { FP32: 4, FP64: 8, FP16: 2 };

/** What the protocol's routes run over. */
export interface OipDeps {
  tail: ServedTail;
  queue: BatchQueue;
  limits: InferLimits;
  draining(t: number): boolean;
  /** The model's name in the URLs (`/v2/models/<name>/…`); its one version is the model hash. */
  name: string;
}

const SERVER_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
      .version;
  } catch {
    return "unknown";
  }
})();

const JSON_TYPE = "application/json";
const NO_STORE = { "Cache-Control": "no-store" };

/** The protocol's refusal: `{ "error": "<message>" }` with the status (and Retry-After, WWW-Authenticate, …). */
export function oipRefusal(e: HttpError): Answer {
  return {
    status: e.status,
    headers: { "Content-Type": JSON_TYPE, ...e.headers },
    body: JSON.stringify({ error: e.message }),
  };
}

/** The routes of the protocol for one served model. */
export function oipRoutes(d: OipDeps): Map<string, Route> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(d.name)) {
    throw new ValidationError(
      `startServer: modelName must be 1–128 letters, digits, _ . - (a URL path segment), got ${JSON.stringify(d.name)}`,
    );
  }
  const { tail, name } = d;
  const version = tail.hash;
  const json = (body: unknown): Answer => ({
    status: 200,
    headers: { "Content-Type": JSON_TYPE },
    body: JSON.stringify(body),
  });
  // health answers are bodiless: 200 is true, a 4xx false (the protocol's words)
  const health = (ok: () => boolean): Endpoint => ({
    answer: () => ({ status: ok() ? 200 : 400, headers: NO_STORE, body: "" }),
  });
  const ready = () => !d.draining(performance.now());
  const server = { name: "presparse", version: SERVER_VERSION, extensions: [BINARY_EXTENSION] };
  const shape = [-1, ...tail.activationShape];
  const model = {
    name,
    versions: [version],
    platform: "presparse_safetensors",
    inputs: [{ name: OIP_INPUT, datatype: "FP32", shape }],
    outputs: OIP_OUTPUTS.map((o) => ({ name: o, datatype: "FP32", shape: [-1, tail.classes] })),
  };
  const infer = inferEndpoint(d, version);
  const get = (e: Endpoint) => ({ GET: e, HEAD: e });
  const routes = new Map<string, Route>([
    ["/v2", { methods: get({ answer: () => json(server) }) }],
    ["/v2/health/live", { methods: get(health(() => true)), public: true }],
    ["/v2/health/ready", { methods: get(health(ready)), public: true }],
  ]);
  const refusal = oipRefusal;
  for (const base of [`/v2/models/${name}`, `/v2/models/${name}/versions/${version}`]) {
    const label = `/v2/models/${name}`;
    routes.set(base, { methods: get({ answer: () => json(model) }), label, refusal });
    routes.set(`${base}/ready`, { methods: get(health(ready)), label: `${label}/ready`, public: true, refusal });
    routes.set(`${base}/infer`, { methods: { POST: infer }, label: `${label}/infer`, refusal });
  }
  return routes;
}

const bad = (message: string, field?: string) => new HttpError(400, "bad_request", message, field);

/** POST /v2/models/<name>/infer: one request of n samples through the batch queue. */
function inferEndpoint(d: OipDeps, version: string): Endpoint {
  const { tail, queue, limits } = d;
  const C = tail.classes;
  return {
    admit(head) {
      if (d.draining(head.arrived ?? performance.now())) {
        throw unavailable(
          "shutting_down",
          "the server is shutting down; retry on another instance",
          limits.retryAfterSeconds,
        );
      }
      const type = String(head.headers["content-type"] ?? "")
        .split(";")[0]!
        .trim()
        .toLowerCase();
      if (head.headers[HEADER_LENGTH] === undefined && type !== JSON_TYPE) {
        const binary = `the body must carry binary tensors with ${HEADER_LENGTH}`;
        const message = `Content-Type must be ${JSON_TYPE}, or ${binary}; got ${JSON.stringify(type)}`;
        throw new HttpError(415, "unsupported_media_type", message, "content-type");
      }
      const declared = head.headers["content-length"];
      if (typeof declared === "string" && Number(declared) > limits.maxBodyBytes)
        throw bodyTooLarge(limits.maxBodyBytes, declared);
    },
    async answer(req) {
      const { header, binary } = splitBody(req);
      const r = parseRequest(header);
      const { data, n } = readInput(r.inputs, binary, tail, limits);
      const want = requestedOutputs(r);
      const out = await batched(
        queue,
        { data, n, wantProbabilities: want.some((o) => o.name === "probabilities") },
        req,
        limits,
      );
      const outputs = want.map((o) => ({
        ...o,
        values: batchFirst(o.name === "logits" ? out.logits : out.probabilities!, C, n),
      }));
      return answerOf(d.name, version, r.id, outputs, n, C);
    },
  };
}

/** The JSON object and the binary tensor data after it (when Inference-Header-Content-Length is given). */
function splitBody(req: Request): { header: Uint8Array; binary: Uint8Array } {
  const given = req.headers[HEADER_LENGTH];
  if (given === undefined) return { header: req.body, binary: req.body.subarray(req.body.length) };
  const h = typeof given === "string" && /^\d+$/.test(given.trim()) ? Number(given) : NaN;
  if (!(h <= req.body.length)) {
    throw bad(
      `${HEADER_LENGTH} must be an integer ≤ the body's ${req.body.length} bytes, got ${JSON.stringify(given)}`,
      HEADER_LENGTH,
    );
  }
  return { header: req.body.subarray(0, h), binary: req.body.subarray(h) };
}

interface OipRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: Record<string, unknown>[];
  outputs?: Record<string, unknown>[];
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

function parseRequest(bytes: Uint8Array): OipRequest {
  let r: unknown;
  try {
    r = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad(`the inference request is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(r)) throw bad("the inference request must be a JSON object");
  if (r.id !== undefined && typeof r.id !== "string") throw bad("id must be a string", "id");
  if (r.parameters !== undefined && !isObject(r.parameters)) throw bad("parameters must be an object", "parameters");
  if (!Array.isArray(r.inputs) || !r.inputs.every(isObject)) throw bad("inputs must be an array of tensors", "inputs");
  if (r.outputs !== undefined && (!Array.isArray(r.outputs) || !r.outputs.every(isObject)))
    throw bad("outputs must be an array of objects", "outputs");
  return r as unknown as OipRequest;
}

/** The one input as the tail's [W, n] activation, from JSON data or binary data. */
function readInput(
  inputs: Record<string, unknown>[],
  binary: Uint8Array,
  tail: ServedTail,
  limits: InferLimits,
): { data: Float32Array; n: number } {
  const W = tail.activationWidth,
    cut = tail.activationShape;
  const alt = cut.length > 1 ? ` or [n, ${W}]` : "";
  if (inputs.length !== 1 || inputs[0]!.name !== OIP_INPUT) {
    const names = inputs.map((i) => JSON.stringify(i.name)).join(", ");
    const want = `${OIP_INPUT} (FP32, shape [n, ${cut.join(", ")}]${alt})`;
    throw bad(`the model takes one input, ${want}; got ${inputs.length} (${names})`, "inputs");
  }
  const input = inputs[0]!;
  const datatype = input.datatype;
  const size = typeof datatype === "string" ? INPUT_TYPES[datatype] : undefined;
  if (size === undefined)
    throw bad(
      `input ${OIP_INPUT}: datatype must be FP32, FP64 or FP16 (binary), got ${JSON.stringify(datatype)}`,
      "datatype",
    );
  const shape = input.shape;
  if (!Array.isArray(shape) || !shape.every((x) => Number.isSafeInteger(x) && x >= 0))
    throw bad(`input ${OIP_INPUT}: shape must be an array of non-negative integers`, "shape");
  const per = shape.slice(1) as number[];
  const fits = (per.length === 1 && per[0] === W) || (per.length === cut.length && per.every((x, i) => x === cut[i]));
  const n = shape[0] as number;
  if (!fits || n < 1)
    throw bad(
      `input ${OIP_INPUT}: expected shape [n ≥ 1, ${cut.join(", ")}]${alt}, got [${shape.join(", ")}]`,
      "shape",
    );
  if (n > limits.maxQueue)
    throw new HttpError(
      413,
      "too_large",
      `${n} samples in one request; the queue holds at most ${limits.maxQueue}`,
      "shape",
    );
  const count = n * W;
  const params = isObject(input.parameters) ? input.parameters : {};
  const rowMajor =
    params.binary_data_size !== undefined
      ? fromBinary(params.binary_data_size, binary, datatype as string, size, count)
      : fromJson(input.data, datatype as string, count, binary.length);
  // [n, W] row-major → [W, n] feature-major
  const data = new Float32Array(count);
  for (let b = 0; b < n; b++) for (let f = 0; f < W; f++) data[f * n + b] = rowMajor[b * W + f]!;
  return { data, n };
}

function fromBinary(
  declared: unknown,
  binary: Uint8Array,
  datatype: string,
  size: number,
  count: number,
): ArrayLike<number> {
  const bytes = count * size;
  if (declared !== bytes)
    throw bad(
      `input ${OIP_INPUT}: binary_data_size must be ${bytes} (${count} × ${size}-byte ${datatype}), ` +
        `got ${JSON.stringify(declared)}`,
      "binary_data_size",
    );
  if (binary.length !== bytes)
    throw bad(
      `the body has ${binary.length} bytes of binary tensor data after the JSON, binary_data_size says ${bytes}`,
      HEADER_LENGTH,
    );
  const v = new DataView(binary.buffer, binary.byteOffset, binary.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] =
      size === 4
        ? v.getFloat32(4 * i, true)
        : size === 8
          ? v.getFloat64(8 * i, true)
          : f16BitsToF32(v.getUint16(2 * i, true));
  }
  if (!out.every(Number.isFinite)) throw bad(`input ${OIP_INPUT}: values must be finite`, "data");
  return out;
}

function fromJson(data: unknown, datatype: string, count: number, binaryBytes: number): ArrayLike<number> {
  if (binaryBytes > 0)
    throw bad(
      `${binaryBytes} bytes of binary tensor data after the JSON, but no input declares binary_data_size`,
      HEADER_LENGTH,
    );
  if (datatype === "FP16")
    throw bad(`input ${OIP_INPUT}: FP16 travels only as binary data (binary_data_size)`, "datatype");
  if (!Array.isArray(data)) throw bad(`input ${OIP_INPUT}: data must be an array (flat or nested, row-major)`, "data");
  const out = new Float32Array(count);
  let k = 0;
  // nested or flat, row-major: leaves in order; depth-first without recursion
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top[1] === top[0].length) {
      stack.pop();
      continue;
    }
    const x = top[0][top[1]++];
    if (Array.isArray(x)) {
      if (stack.length > 8) throw bad(`input ${OIP_INPUT}: data is nested deeper than its shape`, "data");
      stack.push([x, 0]);
    } else if (typeof x === "number" && Number.isFinite(x)) {
      if (k === count) throw bad(`input ${OIP_INPUT}: data has more than the ${count} elements of its shape`, "data");
      out[k++] = x;
    } else throw bad(`input ${OIP_INPUT}: data must hold finite numbers, got ${JSON.stringify(x)}`, "data");
  }
  if (k !== count) throw bad(`input ${OIP_INPUT}: data has ${k} elements, its shape ${count}`, "data");
  return out;
}

interface WantedOutput {
  name: OutputName;
  binary: boolean;
}

/** The outputs asked for (all of them when none is named), each as JSON or binary data. */
function requestedOutputs(r: OipRequest): WantedOutput[] {
  const all = r.parameters?.binary_data_output;
  if (all !== undefined && typeof all !== "boolean")
    throw bad("parameters.binary_data_output must be a boolean", "binary_data_output");
  if (r.outputs === undefined) return OIP_OUTPUTS.map((name) => ({ name, binary: all === true }));
  const seen = new Set<string>();
  return r.outputs.map((o) => {
    if (typeof o.name !== "string" || !(OIP_OUTPUTS as readonly string[]).includes(o.name)) {
      throw bad(
        `unknown output ${JSON.stringify(o.name)}; the model's outputs are ${OIP_OUTPUTS.join(" and ")}`,
        "outputs",
      );
    }
    if (seen.has(o.name)) throw bad(`output ${o.name} is asked for twice`, "outputs");
    seen.add(o.name);
    const p = isObject(o.parameters) ? o.parameters : {};
    if (p.binary_data !== undefined && typeof p.binary_data !== "boolean")
      throw bad(`output ${o.name}: binary_data must be a boolean`, "binary_data");
    return { name: o.name as OutputName, binary: (p.binary_data as boolean | undefined) ?? all === true };
  });
}

/** [C, n] feature-major → [n, C] row-major. */
function batchFirst(z: Float32Array, C: number, n: number): Float32Array {
  const out = new Float32Array(C * n);
  for (let c = 0; c < C; c++) for (let b = 0; b < n; b++) out[b * C + c] = z[c * n + b]!;
  return out;
}

function answerOf(
  name: string,
  version: string,
  id: string | undefined,
  outputs: (WantedOutput & { values: Float32Array })[],
  n: number,
  C: number,
): Answer {
  const tensors: Uint8Array[] = [];
  const described = outputs.map((o) => {
    const base = { name: o.name, datatype: "FP32", shape: [n, C] };
    if (!o.binary) {
      if (!o.values.every(Number.isFinite))
        throw new HttpError(500, "internal", `output ${o.name} is not finite; ask for it as binary data`);
      return { ...base, data: Array.from(o.values) };
    }
    const t = new Uint8Array(o.values.length * 4),
      v = new DataView(t.buffer);
    o.values.forEach((x, i) => v.setFloat32(4 * i, x, true));
    tensors.push(t);
    return { ...base, parameters: { binary_data_size: o.values.byteLength } };
  });
  const json = JSON.stringify({
    model_name: name,
    model_version: version,
    ...(id !== undefined ? { id } : {}),
    outputs: described,
  });
  if (tensors.length === 0) return { status: 200, headers: { "Content-Type": JSON_TYPE }, body: json, samples: n };
  const head = new TextEncoder().encode(json);
  const body = new Uint8Array(head.length + tensors.reduce((s, t) => s + t.length, 0));
  body.set(head, 0);
  let off = head.length;
  for (const t of tensors) {
    body.set(t, off);
    off += t.length;
  }
  const headers = {
    "Content-Type": "application/octet-stream",
    "Inference-Header-Content-Length": String(head.length),
  };
  return { status: 200, headers, body, samples: n };
}
