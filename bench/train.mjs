// Training benchmark: seconds per epoch of 60,000 samples for the paper's network [800,40,40,10] at out-degrees
// (2,9,10) and for 784-1024-1024-10 at ≈10% density, each trained (a) over its stored connections, (b) dense in
// our engine (Pattern.dense layers run the dense kernels) and (c) in TensorFlow.js (tfjs-backend-wasm, one
// thread) the paper's way: dense weights multiplied by their 0/1 masks after every batch. Adam, batch 256. Ours is
// timed on 1 thread and on N (default 2), same process.
// Run: npm run build && node bench/train.mjs [--threads N]
import { existsSync } from "node:fs";
import os from "node:os";
import { Adam, Engine, Matrix, Model, Pattern, SparseLinear, makeDataset, train } from "../dist/index.js";
import { Batcher, Rng, feasibleOutDegrees, padFeatures, subset } from "../dist/ops_index.js";
import { loadIdxDataset } from "../dist/node/index.js";
import {
  fmt,
  isMain,
  machine,
  machineLine,
  median,
  markdownTable,
  printTable,
  threadsArg,
  timeCall,
  writeResults,
  loadTfjsWasm,
} from "./common.mjs";

const FASHION = "/usr/share/datasets/fashion-mnist";
const SAMPLES = 60_000;
const BATCH = 256;
const BATCHES_PER_EPOCH = Math.ceil(SAMPLES / BATCH);
/** Timed chunks per measurement; the median counts (the machine may be shared). */
const CHUNKS = 3;

/** Fashion-MNIST's 60,000 training images when installed, else 60,000 random 784-pixel samples of 10 classes. */
function loadData() {
  if (existsSync(FASHION)) {
    try {
      return { data: loadIdxDataset(FASHION, "train"), source: `Fashion-MNIST train (${FASHION})` };
    } catch (e) {
      console.log(`(${FASHION} unreadable: ${e.message}; using random data)`);
    }
  }
  const rng = new Rng(2024);
  const x = new Float32Array(SAMPLES * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = Int32Array.from({ length: SAMPLES }, () => rng.int(10));
  return {
    data: makeDataset("random", x, y, 784, 10),
    source: "random data (uniform pixels, uniform labels; Fashion-MNIST not installed)",
  };
}

/** The out-degree from inputs→outputs whose density is nearest `density` among the feasible fixed degrees. */
function nearestDegree(inputs, outputs, density) {
  const want = density * outputs;
  return feasibleOutDegrees(inputs, outputs).reduce((best, d) =>
    Math.abs(d - want) < Math.abs(best - want) ? d : best,
  );
}

/** A fixed-degree pattern, or every connection when the degree reaches the output width. */
function fixedOrDense(inputs, outputs, degree, seed) {
  return degree >= outputs ? Pattern.dense(inputs, outputs) : Pattern.fixedDegree(inputs, outputs, degree, seed);
}

/**
 * The two networks and their sparse variants (a pattern per layer). The first variant is the one TF.js trains
 * masked; dense and masked-dense costs do not depend on which connections are kept.
 */
function networks() {
  const d1 = nearestDegree(784, 1024, 0.1),
    d2 = nearestDegree(1024, 1024, 0.1);
  const wide = [784, 1024, 1024, 10];
  return [
    {
      name: "paper [800,40,40,10]",
      sizes: [800, 40, 40, 10],
      sparse: [{ label: "fixed degree (2,9,10)", layer: (i, o, k) => fixedOrDense(i, o, [2, 9, 10][k], 10 + k) }],
      note: "out-degrees 2, 9, 10: densities 5%, 22.5%, 100%",
    },
    {
      name: "784-1024-1024-10",
      sizes: wide,
      sparse: [
        { label: `fixed degree (${d1},${d2},10)`, layer: (i, o, k) => fixedOrDense(i, o, [d1, d2, 10][k], 10 + k) },
        {
          label: "random 10% (+ dense last)",
          layer: (i, o, k) => (k < 2 ? Pattern.random(i, o, 0.1, 10 + k) : Pattern.dense(i, o)),
        },
      ],
      note:
        `fixed out-degrees ${d1} (${((100 * d1) / 1024).toFixed(2)}%: for 784→1024 the feasible degrees are ` +
        `multiples of 64; ${d1} is nearest 10%) ` +
        `and ${d2} (${((100 * d2) / 1024).toFixed(2)}%), last layer 1024→10 dense; or Pattern.random at density 0.1 ` +
        `for the first two layers`,
    },
  ];
}

/** Our model for a network: layer k gets pattern(inputs, outputs, k); ReLU on hidden layers. */
function buildOurs(engine, net, pattern) {
  const L = net.sizes.length - 1;
  const trunk = net.sizes.slice(1).map((outputs, k) => {
    const p = pattern(net.sizes[k], outputs, k);
    return new SparseLinear(engine, p, { activation: k < L - 1 ? "relu" : "linear", seed: 20 + k });
  });
  return new Model(engine, trunk);
}

/** How many batches one timed chunk holds: a whole epoch when a third of the budget allows, at least 8. */
function chunkBatches(perBatch, budget) {
  return Math.max(8, Math.min(BATCHES_PER_EPOCH, Math.floor(budget / CHUNKS / perBatch)));
}

/** Seconds per 60,000 samples from chunk timings of `batches` batches each (median of the chunks). */
function perEpoch(chunkSeconds, batches) {
  const scale = BATCHES_PER_EPOCH / batches;
  return {
    seconds: median(chunkSeconds) * scale,
    chunks: chunkSeconds.map((c) => c * scale),
    timed:
      batches >= BATCHES_PER_EPOCH
        ? `${CHUNKS} epochs, median`
        : `${CHUNKS}×${batches} batches, median ×${scale.toFixed(1)}`,
  };
}

/**
 * Seconds per 60,000-sample epoch of our training loop (train(): shuffled batches gathered in WASM memory,
 * Adam with decay). Three timed chunks after a 3-batch warm-up: whole epochs when they fit the budget, else
 * equal slices of the data, each timed as one epoch over that slice.
 */
function timeOurs(engine, net, data, pattern, budget) {
  const model = buildOurs(engine, net, pattern);
  const optimizer = new Adam({ lr: 1e-3, decay: 1e-5 });
  const slice = (from, n) =>
    subset(
      data,
      Array.from({ length: n }, (_, i) => from + i),
    );
  try {
    const probe = train(model, slice(0, 3 * BATCH), { epochs: 1, batchSize: BATCH, optimizer, trainAccuracy: false });
    const batches = chunkBatches(probe[0].seconds / 3, budget);
    let chunks;
    if (batches >= BATCHES_PER_EPOCH) {
      chunks = train(model, data, { epochs: CHUNKS, batchSize: BATCH, optimizer, seed: 1, trainAccuracy: false }).map(
        (r) => r.seconds,
      );
    } else {
      const n = batches * BATCH;
      chunks = Array.from(
        { length: CHUNKS },
        (_, c) =>
          train(model, slice((c * n) % (data.n - n), n), {
            epochs: 1,
            batchSize: BATCH,
            optimizer,
            seed: c,
            trainAccuracy: false,
          })[0].seconds,
      );
    }
    const weights = model
      .params()
      .filter((p) => p.decay)
      .reduce((n, p) => n + p.values.length, 0);
    return { ...perEpoch(chunks, Math.min(batches, BATCHES_PER_EPOCH)), weights };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Where one batch's time goes in our engine: each layer's forward and backward (the sparse products, bias,
 * ReLU), the optimizer step and the batch gather, as medians, scaled to seconds per 60,000-sample epoch.
 */
function breakdown(engine, net, data, pattern) {
  const model = buildOurs(engine, net, pattern);
  const optimizer = new Adam({ lr: 1e-3, decay: 1e-5 });
  const batcher = new Batcher(engine, data, BATCH);
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  const budget = { budget: 0.4, minSamples: 5 };
  try {
    const X = batcher.load(order, 0, BATCH);
    model.trainStep(X, batcher.labels, optimizer);
    const rows = [];
    const inputs = [X];
    model.trunk.forEach((l) => inputs.push(l.forward(inputs[inputs.length - 1])));
    model.trunk.forEach((l, k) => {
      const Xk = Matrix.from(engine, l.inputSize, BATCH, inputs[k].toArray());
      const dY = Matrix.from(
        engine,
        l.outputSize,
        BATCH,
        Float32Array.from({ length: l.outputSize * BATCH }, (_, i) => Math.sin(i) * 1e-3),
      );
      const fwd = timeCall(() => l.forward(Xk), budget).median;
      const bwd = timeCall(() => l.backward(dY, k > 0), budget).median;
      const p = l.pattern;
      rows.push({
        part: `layer ${k + 1} ${p.inputs}→${p.outputs}, nnz ${p.nnz}`,
        forward: fwd * BATCHES_PER_EPOCH,
        backward: bwd * BATCHES_PER_EPOCH,
        gflops: (2 * p.nnz * BATCH * (k > 0 ? 3 : 2)) / (fwd + bwd) / 1e9,
      });
      Xk.dispose();
      dY.dispose();
    });
    const params = model.params();
    rows.push({
      part: "Adam step (all parameters)",
      forward: 0,
      backward: timeCall(() => optimizer.step(params), budget).median * BATCHES_PER_EPOCH,
    });
    let at = 0;
    rows.push({
      part: "batch gather (Batcher.load)",
      forward:
        timeCall(() => {
          batcher.load(order, at, BATCH);
          at = (at + 7919 * BATCH) % (data.n - BATCH);
        }, budget).median * BATCHES_PER_EPOCH,
      backward: 0,
    });
    for (const r of rows) r.total = r.forward + r.backward;
    rows.push({
      part: "sum",
      forward: rows.reduce((s, r) => s + r.forward, 0),
      backward: rows.reduce((s, r) => s + r.backward, 0),
      total: rows.reduce((s, r) => s + r.total, 0),
    });
    return rows;
  } finally {
    model.dispose();
    optimizer.dispose();
    batcher.dispose();
  }
}

/**
 * tfjs-core's Node bundle registers no gradient functions (the `@tensorflow/tfjs` union package does that), so
 * the three a dense MLP needs are registered here, written as tfjs-core's own: y = a·b, y = a + bias, y = relu(x).
 * The wasm backend has every forward kernel they call.
 */
function registerMlpGradients(tf) {
  const has = (k) => tf.getGradient(k) !== undefined;
  if (!has("BatchMatMul")) {
    tf.registerGradient({
      kernelName: "BatchMatMul",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, [a, b], attrs) => {
        if (attrs.transposeA || attrs.transposeB)
          throw new Error("bench gradient: BatchMatMul with transposes is not needed here");
        // an explicit transpose then a plain matMul: tfjs-wasm's transpose flags run 8–70× slower on these shapes
        return { a: () => tf.matMul(dy, tf.transpose(b)), b: () => tf.matMul(tf.transpose(a), dy) };
      },
    });
  }
  if (!has("Add")) {
    tf.registerGradient({
      kernelName: "Add",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, [a, b]) => {
        // only [B, n] + [n] occurs: the bias gradient sums over the batch
        const reduce = (x) => (x.rank === dy.rank ? dy : tf.sum(dy, 0));
        return { a: () => reduce(a), b: () => reduce(b) };
      },
    });
  }
  if (!has("Relu")) {
    tf.registerGradient({
      kernelName: "Relu",
      inputsToSave: ["x"],
      gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy, tf.cast(tf.step(x), "float32")) }),
    });
  }
}

/**
 * Seconds per 60,000-sample epoch of the paper's training in TensorFlow.js: dense variables, Adam via
 * optimizer.minimize, softmax cross-entropy, then W ← W ⊙ mask for every sparse layer after every batch.
 * Batches of consecutive samples are uploaded as tensors per step (as Keras feeds numpy batches).
 */
function timeTfjs(tf, net, data, budget) {
  const L = net.sizes.length - 1;
  const rng = new Rng(5);
  const vars = [],
    masks = [];
  for (let k = 0; k < L; k++) {
    const [inputs, outputs] = [net.sizes[k], net.sizes[k + 1]];
    const p = net.sparse[0].layer(inputs, outputs, k);
    const full = p.nnz === inputs * outputs;
    // W [inputs, outputs] for y = x·W (tfjs is batch-major); He-normal over each output's fan-in, masked
    const mask = new Float32Array(inputs * outputs);
    for (let r = 0; r < outputs; r++)
      for (let q = p.rowPtr[r]; q < p.rowPtr[r + 1]; q++) mask[p.colIdx[q] * outputs + r] = 1;
    const w0 = mask.map((m, j) => (m ? rng.normal() * Math.sqrt(2 / Math.max(1, p.inDegree(j % outputs))) : 0));
    vars.push({ W: tf.variable(tf.tensor2d(w0, [inputs, outputs])), b: tf.variable(tf.fill([outputs], 0.1)) });
    // the paper masks its sparse layers; a full layer's mask would be all ones
    masks.push(full ? undefined : tf.tensor2d(mask, [inputs, outputs]));
  }
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-7);
  const varList = vars.flatMap((v) => [v.W, v.b]);
  const xent = tf.customGrad((z, y, save) => {
    save([z, y]);
    const value = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(z)), 1)));
    return {
      value,
      gradFunc: (dy, [zz, yy]) => [tf.mul(tf.sub(tf.softmax(zz), yy), tf.div(dy, zz.shape[0])), tf.zerosLike(yy)],
    };
  });
  const F = net.sizes[0];
  let cursor = 0;
  const step = () => {
    const start = cursor;
    cursor = (cursor + BATCH) % (data.n - BATCH);
    tf.tidy(() => {
      const x = tf.tensor2d(data.x.subarray(start * F, (start + BATCH) * F), [BATCH, F]);
      const y = tf.oneHot(tf.tensor1d(data.y.subarray(start, start + BATCH), "int32"), 10);
      optimizer.minimize(
        () => {
          let h = x;
          vars.forEach((v, i) => {
            h = tf.add(tf.matMul(h, v.W), v.b);
            if (i < L - 1) h = tf.relu(h);
          });
          return xent(h, y);
        },
        false,
        varList,
      );
      vars.forEach((v, i) => masks[i] && v.W.assign(tf.mul(v.W, masks[i])));
    });
  };
  try {
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) step();
    const batches = chunkBatches((performance.now() - t0) / 1000 / 3, budget);
    const chunks = Array.from({ length: CHUNKS }, () => {
      const t = performance.now();
      for (let i = 0; i < batches; i++) step();
      return (performance.now() - t) / 1000;
    });
    return perEpoch(chunks, batches);
  } finally {
    optimizer.dispose();
    for (const v of vars) {
      v.W.dispose();
      v.b.dispose();
    }
    for (const m of masks) m?.dispose();
  }
}

/** Runs the suite, prints the table and writes bench/results/train.json. */
export async function run({ budget = 9, threads = threadsArg(2) } = {}) {
  const started = performance.now();
  const m = machine();
  const loadBefore = os.loadavg()[0];
  const engine = await Engine.load({ threads: 1 });
  const threaded = threads > 1 ? await Engine.load({ threads }) : undefined;
  const { tf, info: tfjs } = await loadTfjsWasm();
  registerMlpGradients(tf);
  const { data: raw, source } = loadData();
  const rows = [];
  for (const net of networks()) {
    const data = net.sizes[0] === raw.features ? raw : padFeatures(raw, net.sizes[0]);
    const sparse = net.sparse.map((v) => ({
      trained: `ours, ${v.label}`,
      ...timeOurs(engine, net, data, v.layer, budget),
    }));
    const dense = { trained: "ours, dense", ...timeOurs(engine, net, data, (i, o) => Pattern.dense(i, o), budget) };
    // the same on N threads, timed right after (the dense twin too: what threads give a dense layer)
    const onThreads = (pattern) => (threaded ? timeOurs(threaded, net, data, pattern, budget).seconds : undefined);
    sparse.forEach((r, i) => (r.threaded = onThreads(net.sparse[i].layer)));
    dense.threaded = onThreads((i, o) => Pattern.dense(i, o));
    const peer = {
      trained: `tfjs-wasm, masked dense (${net.sparse[0].label})`,
      weights: dense.weights,
      ...timeTfjs(tf, net, data, budget),
    };
    for (const r of [...sparse, dense, peer]) {
      rows.push({
        network: net.name,
        ...r,
        speedup: r.threaded ? r.seconds / r.threaded : undefined,
        vsDense: dense.seconds / r.seconds,
        vsTfjs: peer.seconds / r.seconds,
      });
    }
  }
  const wideNet = networks()[1];
  const parts = breakdown(engine, wideNet, raw, wideNet.sparse[0].layer);
  const seconds = (performance.now() - started) / 1000;
  const columns = [
    ["network", "network"],
    ["trained", "trained as"],
    ["weights", "weights"],
    ["seconds", "s / 60k epoch, 1T", (v) => (v < 1 ? v.toFixed(3) : v.toFixed(2))],
    ["threaded", `s / epoch, ${threads}T`, (v) => (v === undefined ? "–" : v < 1 ? v.toFixed(3) : v.toFixed(2))],
    ["speedup", `${threads}T vs 1T`, fmt.x],
    ["vsDense", "1T vs ours dense 1T", fmt.x],
    ["vsTfjs", "1T vs tfjs", fmt.x],
    ["timed", "timed"],
  ];
  const tfjsLine = `tfjs-backend-wasm ${tfjs.version}, SIMD ${tfjs.simd ? "on" : "off"}, ${tfjs.threads} thread`;
  console.log(
    `\ntrain — ${machineLine(m)}\n${source}; batch ${BATCH}, Adam; ours on 1 thread and on ${threads}; ${tfjsLine}\n`,
  );
  printTable(rows, columns);
  for (const net of networks()) console.log(`  ${net.name}: ${net.note}`);
  const partColumns = [
    ["part", "part (batch 256)"],
    ["forward", "forward s/epoch", (v) => v.toFixed(3)],
    ["backward", "backward s/epoch", (v) => v.toFixed(3)],
    ["total", "s / 60k epoch", (v) => v.toFixed(3)],
    ["gflops", "GFLOP/s (2·nnz·B per product)", (v) => (v === undefined ? "" : v.toFixed(1))],
  ];
  console.log(
    `\nwhere the time goes: ${wideNet.name} ${wideNet.sparse[0].label}, each part timed alone (medians), ` +
      `×${BATCHES_PER_EPOCH} batches\n`,
  );
  printTable(parts, partColumns);
  const paper = rows[0],
    wide = rows.find((r) => r.network.startsWith("784") && r.trained.includes("fixed"));
  const targets = [
    `paper network ≤ 0.1 s per 60k epoch: ${paper.seconds.toFixed(3)} s`,
    `784-1024-1024-10 sparse ≥ 5× faster than dense in our engine: ${wide.vsDense.toFixed(1)}×`,
    `784-1024-1024-10 sparse ≤ 3 s per 60k epoch: ${wide.seconds.toFixed(2)} s`,
    ...(threaded
      ? [
          `784-1024-1024-10 sparse on ${threads} threads ≥ 1.8× 1 thread: ${wide.speedup.toFixed(2)}×`,
          `paper network on ${threads} threads no slower than 1: ${paper.speedup.toFixed(2)}×`,
        ]
      : []),
  ];
  console.log(`targets: ${targets.join("; ")}`);
  // other processes on the machine slow every row; the 1-minute load average says how busy it was
  const load = { before: loadBefore, after: os.loadavg()[0] };
  console.log(
    `suite time ${seconds.toFixed(1)} s; 1-min load average ${load.before.toFixed(2)} before, ` +
      `${load.after.toFixed(2)} after, on ${m.cores} cores`,
  );
  const result = {
    suite: "train",
    command: "npm run build && node bench/train.mjs",
    machine: m,
    threads,
    load,
    tfjs,
    data: source,
    batch: BATCH,
    samplesPerEpoch: SAMPLES,
    seconds,
    networks: networks().map((n) => ({ name: n.name, sizes: n.sizes, patterns: n.note })),
    rows,
    targets,
    breakdown: parts,
    markdown: { table: markdownTable(rows, columns), breakdown: markdownTable(parts, partColumns) },
  };
  threaded?.dispose();
  const path = writeResults("train", result);
  console.log(`wrote ${path}`);
  return result;
}

if (isMain(import.meta.url)) await run();
