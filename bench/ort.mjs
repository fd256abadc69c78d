// onnxruntime-web (its WebAssembly backend: SIMD, threads by worker_threads in Node) as a dense peer: MatMul models
// written here as ONNX protobuf (no model file, nothing downloaded), timed in a child process per thread count because
// ORT fixes its thread count when its WASM starts. `ortMatMul(threads, shapes)` returns median seconds per shape.
// Child: node bench/ort.mjs --child <threads> <json shapes>
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// the few protobuf encodings an ONNX model needs: varints, length-delimited fields
const varint = (n) => {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const field = (f, wire) => varint((f << 3) | wire);
const bytes = (f, b) => [...field(f, 2), ...varint(b.length), ...b];
const str = (f, s) => bytes(f, [...new TextEncoder().encode(s)]);
const int = (f, n) => [...field(f, 0), ...varint(n)];
const tensorType = (dims) =>
  bytes(1, [
    ...int(1, 1),
    ...bytes(
      2,
      dims.flatMap((d) => bytes(1, int(1, d))),
    ),
  ]);
const valueInfo = (name, dims) => [...str(1, name), ...bytes(2, tensorType(dims))];

/**
 * ONNX (IR 8, opset 13) with one node, Y[M,N] = MatMul(A[M,K], X[K,N]): A a float32 initializer (a layer's weights:
 * ORT may prepack them), X the input.
 */
export function matMulModel(M, K, N, a) {
  const node = [...str(1, "A"), ...str(1, "X"), ...str(2, "Y"), ...str(4, "MatMul")];
  const init = [
    ...int(1, M),
    ...int(1, K),
    ...int(2, 1),
    ...str(8, "A"),
    ...bytes(9, [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)]),
  ];
  const graph = [
    ...bytes(1, node),
    ...str(2, "matmul"),
    ...bytes(5, init),
    ...bytes(11, valueInfo("X", [K, N])),
    ...bytes(12, valueInfo("Y", [M, N])),
  ];
  return new Uint8Array([...int(1, 8), ...bytes(8, [...str(1, ""), ...int(2, 13)]), ...bytes(7, graph)]);
}

async function child(threads, shapes, budget) {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.logLevel = "error";
  const out = { version: ort.env.versions?.web ?? "unknown", threads, simd: ort.env.wasm.simd, times: [] };
  for (const { M, K, N } of shapes) {
    const a = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i) * 0.01);
    const x = new ort.Tensor(
      "float32",
      Float32Array.from({ length: K * N }, (_, i) => Math.cos(i)),
      [K, N],
    );
    const session = await ort.InferenceSession.create(matMulModel(M, K, N, a), {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    for (let i = 0; i < 3; i++) await session.run({ X: x });
    // samples of ≥ 20 ms, median of at least 5 (as the benny suites)
    let reps = 1;
    for (;;) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) await session.run({ X: x });
      if (performance.now() - t >= 20 || reps >= 1 << 16) break;
      reps *= 2;
    }
    const samples = [];
    const start = performance.now();
    while (samples.length < 5 || (performance.now() - start < budget * 1000 && samples.length < 50)) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) await session.run({ X: x });
      samples.push((performance.now() - t) / reps / 1000);
    }
    samples.sort((p, q) => p - q);
    out.times.push(samples[samples.length >> 1]);
    await session.release();
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

/** Median seconds of Y = A·X for each shape {M, K, N} on `threads` ORT threads, measured in a child process. */
export function ortMatMul(threads, shapes, budget = 0.3) {
  const text = execFileSync(
    process.execPath,
    [fileURLToPath(import.meta.url), "--child", String(threads), JSON.stringify(shapes), String(budget)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
  );
  return JSON.parse(text.trim().split("\n").at(-1));
}

if (process.argv[2] === "--child")
  await child(Number(process.argv[3]), JSON.parse(process.argv[4]), Number(process.argv[5] ?? 0.3));
