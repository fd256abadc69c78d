// The live split-computing page: the head runs here in WebAssembly, a confident early exit answers on the spot,
// every other sample's activation crosses to the tail on this page's own origin as one frame. Plain ES modules, no
// bundler, nothing from another origin. `window.presparseDemo` lets a test drive the page as a visitor would.
import { Engine, ExitRunner, Matrix, SplitClient, decodeModel, frameBytes } from "./dist/index.js";

const SIDE = 28;
const PIXELS = SIDE * SIDE;
/** The alternative to splitting: one byte per pixel. */
const RAW_BYTES = PIXELS;
const INK = [17, 24, 39];
/** The chart keeps the most recent samples in view. */
const CHART_WINDOW = 240;

const $ = (id) => document.getElementById(id);

let engine, head, client, probe, probeX;
let digits = [];
let kind = "maxprob";
let storedThreshold = 0.9;
let threshold = 0.9;
let thresholdTouched = false;
let dtype = "int8";
let transport = "http";
// a bearer token for a server started with --token-file: in the page's fragment (#token=…), which is never sent
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? undefined;
let results = [];
let last = null;
let shownOnPad = false;

// one classification at a time, in the order asked: strokes, clicks and the test hook share the head's scratch
let chain = Promise.resolve();
function serial(fn) {
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

async function fetchOk(path) {
  const r = await fetch(new URL(path, import.meta.url));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r;
}

const fmtMs = (v) =>
  v === null || v === undefined
    ? "–"
    : v < 0.1
      ? `${Math.round(1000 * v)} µs`
      : v < 1
        ? `${v.toFixed(2)} ms`
        : v < 10
          ? `${v.toFixed(1)} ms`
          : `${Math.round(v)} ms`;
const fmtB = (v) => (v === null || v === undefined ? "–" : `${v < 10 && v > 0 ? v.toFixed(1) : Math.round(v)} B`);
const fmtPct = (v) => (v === null || v === undefined ? "–" : `${Math.round(100 * v)}%`);

// ---------------------------------------------------------------------------------------------- policy and client

function policy() {
  if (head.exits.length === 0) return null;
  // the stored policy as it is (per-exit thresholds included) until the slider moves
  if (!thresholdTouched && head.split.policy) return head.split.policy;
  return { kind, thresholds: head.exits.map(() => threshold) };
}

/** Values per sample at the cut: what crosses the network. */
const cutWidth = () => head.trunk[head.trunk.length - 1].outputSize;

function rebuildClient() {
  client?.dispose();
  client = new SplitClient({ head, serverUrl: location.origin, policy: policy(), dtype, transport, token });
}

/** The first exit's answer for a sample whatever the threshold, for the gauge (the client only reports the winner). */
function probeExit(input) {
  if (head.exits.length === 0) return null;
  probeX.view().set(input);
  const r = probe.run(probeX);
  return { label: r.label[0], confidence: r.confidence[0], entropy: r.entropy[0] };
}

/** 784 values in [0, 1] → one answer, recorded in the session. */
async function classify(pixels, meta) {
  const input = new Float32Array(head.inputSize);
  input.set(pixels); // zero-padded to the head's input (800 for the paper's network)
  const { samples, totals } = await client.infer([input]);
  const s = samples[0];
  const p = probeExit(input);
  const r = {
    index: meta.index ?? null,
    truth: meta.label ?? null,
    source: meta.source,
    where: s.exit < head.exits.length ? "exit" : "server",
    exit: s.exit,
    label: s.label,
    confidence: s.confidence,
    exitLabel: p ? p.label : null,
    exitConfidence: p ? p.confidence : null,
    exitEntropy: p ? p.entropy : null,
    bytesSent: s.bytesSent,
    edgeMs: totals.headMs,
    roundTripMs: s.exit < head.exits.length ? null : totals.serverMs,
    latencyMs: s.latencyMs,
    dtype: client.dtype,
    transport,
    kind: client.policy?.kind ?? kind,
    threshold: client.policy?.thresholds[0] ?? null,
  };
  results.push(r);
  last = { ...r, input: Array.from(pixels) };
  showResult(r);
  markThumb(r);
  renderStats();
  drawChart();
  return r;
}

// ---------------------------------------------------------------------------------------------- drawing

function paintDigit(canvas, values01) {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < PIXELS; i++) {
    img.data.set(INK, 4 * i);
    img.data[4 * i + 3] = Math.round(255 * values01[i]);
  }
  if (canvas.width === SIDE) return ctx.putImageData(img, 0, 0);
  const small = document.createElement("canvas");
  small.width = small.height = SIDE;
  small.getContext("2d").putImageData(img, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/**
 * The drawing as MNIST prepares its digits, roughly: the ink's bounding box scaled to fit 20×20 (aspect kept), then
 * placed in 28×28 so that its centre of mass sits at the centre. Values are ink coverage in [0, 1].
 */
function toMnist(canvas) {
  const { width: W, height: H } = canvas;
  const a = canvas.getContext("2d").getImageData(0, 0, W, H).data;
  let x0 = W,
    y0 = H,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (a[4 * (y * W + x) + 3] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1,
    bh = y1 - y0 + 1;
  const s = 20 / Math.max(bw, bh);
  const dw = bw * s,
    dh = bh * s;
  const out = document.createElement("canvas");
  out.width = out.height = SIDE;
  const o = out.getContext("2d", { willReadFrequently: true });
  o.imageSmoothingEnabled = true;
  o.imageSmoothingQuality = "high";
  const place = (dx, dy) => {
    o.clearRect(0, 0, SIDE, SIDE);
    o.drawImage(canvas, x0, y0, bw, bh, (SIDE - dw) / 2 + dx, (SIDE - dh) / 2 + dy, dw, dh);
    const d = o.getImageData(0, 0, SIDE, SIDE).data;
    return Array.from({ length: PIXELS }, (_, i) => d[4 * i + 3] / 255);
  };
  const v = place(0, 0);
  let m = 0,
    mx = 0,
    my = 0;
  v.forEach((w, i) => {
    m += w;
    mx += w * ((i % SIDE) + 0.5);
    my += w * (Math.floor(i / SIDE) + 0.5);
  });
  const clamp = (d) => Math.max(-4, Math.min(4, d));
  const dx = clamp(Math.round(SIDE / 2 - mx / m)),
    dy = clamp(Math.round(SIDE / 2 - my / m));
  return dx === 0 && dy === 0 ? v : place(dx, dy);
}

function setupPad() {
  const pad = $("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  let drawing = false;
  let prev = null;
  const pos = (e) => {
    const r = pad.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
  };
  const ink = () => {
    ctx.strokeStyle = ctx.fillStyle = `rgb(${INK.join(",")})`;
    ctx.lineWidth = 22;
    ctx.lineCap = ctx.lineJoin = "round";
  };
  pad.addEventListener("pointerdown", (e) => {
    if (shownOnPad) clearPad();
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    prev = pos(e);
    ink();
    ctx.beginPath();
    ctx.arc(prev.x, prev.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    e.preventDefault();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = pos(e);
    ink();
    ctx.beginPath();
    ctx.moveTo(prev.x, prev.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    prev = p;
  });
  const lift = () => {
    if (!drawing) return;
    drawing = false;
    const v = toMnist(pad);
    if (!v) return;
    paintDigit($("seen"), v);
    serial(() => classify(v, { source: "drawn" })).catch(fail);
  };
  pad.addEventListener("pointerup", lift);
  pad.addEventListener("pointercancel", lift);
  $("clear").addEventListener("click", clearPad);
}

function clearPad() {
  for (const id of ["pad", "seen"]) {
    const c = $(id);
    c.getContext("2d").clearRect(0, 0, c.width, c.height);
  }
  shownOnPad = false;
}

// ---------------------------------------------------------------------------------------------- test digits

function renderThumbs() {
  const box = $("thumbs");
  box.replaceChildren();
  for (const d of digits) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "thumb";
    b.dataset.index = String(d.index);
    b.title = `test digit #${d.index}, label ${d.label}`;
    const c = document.createElement("canvas");
    c.width = c.height = SIDE;
    paintDigit(
      c,
      d.pixels.map((p) => p / 255),
    );
    b.append(c);
    b.addEventListener("click", () => pickDigit(d.index).catch(fail));
    box.append(b);
  }
}

async function pickDigitNow(i) {
  const d = digits[i];
  if (!d) throw new RangeError(`no test digit #${i}; there are ${digits.length}`);
  const v = d.pixels.map((p) => p / 255);
  paintDigit($("pad"), v);
  paintDigit($("seen"), v);
  shownOnPad = true;
  return classify(v, { index: d.index, label: d.label, source: "test" });
}

const pickDigit = (i) => serial(() => pickDigitNow(i));

/**
 * Resolves after the next paint (or 50 ms in a hidden tab, where frames stop): a run of digits lets the page draw
 * each answer before timing the next, so no round trip includes the previous sample's rendering.
 */
function painted() {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 50);
    requestAnimationFrame(() => setTimeout(() => (clearTimeout(t), resolve()), 0));
  });
}

/** Classifies test digits in order, each after the previous one is on screen. */
async function runDigits(indices) {
  const out = [];
  for (const i of indices) {
    out.push(await pickDigitNow(i));
    await painted();
  }
  return out;
}

function markThumb(r) {
  if (r.index === null) return;
  const b = document.querySelector(`.thumb[data-index="${r.index}"]`);
  if (!b) return;
  b.classList.remove("edge", "server", "wrong");
  b.classList.add(r.where === "exit" ? "edge" : "server");
  if (r.label !== r.truth) b.classList.add("wrong");
}

// ---------------------------------------------------------------------------------------------- panels

function showResult(r) {
  $("pred").textContent = String(r.label);
  $("result").className = `result ${r.where === "exit" ? "edge" : "server"}`;
  const where = $("where");
  where.className = `badge ${r.where === "exit" ? "edge" : "server"}`;
  where.textContent =
    r.where === "exit" ? `answered on the edge · exit ${r.exit + 1}` : "sent to the server · the tail answered";
  const truth = $("truth");
  truth.className = "truth";
  if (r.truth === null) truth.textContent = `your drawing · confidence ${r.confidence.toFixed(3)}`;
  else {
    const ok = r.label === r.truth;
    truth.textContent =
      `test digit #${r.index} · label ${r.truth} · ${ok ? "✓ correct" : "✗ wrong"} · ` +
      `confidence ${r.confidence.toFixed(3)}`;
    if (!ok) truth.classList.add("wrong");
  }
  showGauge(r);
  $("f-edge").textContent = fmtMs(r.edgeMs);
  $("f-rtt").textContent = r.roundTripMs === null ? "none: it never left the page" : fmtMs(r.roundTripMs);
  $("f-bytes").textContent =
    r.where === "exit"
      ? `0 B (the image: ${RAW_BYTES} B)`
      : `${Math.round(r.bytesSent)} B ${r.dtype} frame (the image: ${RAW_BYTES} B)`;
}

function showGauge(r) {
  const bar = $("conf-bar"),
    mark = $("thr-mark");
  if (r.exitConfidence === null) {
    $("conf-text").textContent = "this head has no exit";
    bar.style.width = "0";
    mark.hidden = true;
    return;
  }
  const C = head.classes;
  const entropy = r.kind === "entropy";
  const value = entropy ? r.exitEntropy : r.exitConfidence;
  const scale = entropy ? Math.log(C) : 1;
  const t = r.threshold;
  const passes = entropy ? value <= t : value >= t;
  $("conf-name").textContent = entropy
    ? `exit entropy (class ${r.exitLabel})`
    : `exit confidence (class ${r.exitLabel})`;
  $("conf-text").textContent =
    `${value.toFixed(3)} ${entropy ? (passes ? "≤" : ">") : passes ? "≥" : "<"} ${t.toFixed(3)} ` +
    `→ ${r.where === "exit" ? "exit" : "send"}`;
  bar.style.width = `${Math.min(100, (100 * value) / scale)}%`;
  bar.className = `fill ${r.where === "exit" ? "edge" : "server"}`;
  mark.hidden = false;
  mark.style.left = `${Math.min(100, (100 * t) / scale)}%`;
}

/** Session totals: exit rate, bytes per sample against the raw image, mean latencies, accuracy on test digits. */
function stats() {
  const n = results.length;
  const exited = results.filter((r) => r.where === "exit").length;
  const sent = n - exited;
  const bytes = results.reduce((a, r) => a + r.bytesSent, 0);
  const labelled = results.filter((r) => r.truth !== null);
  const mean = (xs) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return {
    samples: n,
    exited,
    sent,
    exitRate: n > 0 ? exited / n : null,
    bytesSent: bytes,
    bytesPerSample: n > 0 ? bytes / n : null,
    bytesPerSentSample: sent > 0 ? bytes / sent : null,
    rawBytes: RAW_BYTES,
    edgeMs: mean(results.map((r) => r.edgeMs)),
    roundTripMs: mean(results.filter((r) => r.roundTripMs !== null).map((r) => r.roundTripMs)),
    labelled: labelled.length,
    correct: labelled.filter((r) => r.label === r.truth).length,
    dtype,
    policy: policy(),
  };
}

function renderStats() {
  const s = stats();
  $("s-samples").textContent = String(s.samples);
  $("s-acc").textContent = s.labelled > 0 ? `${s.correct}/${s.labelled} test digits right` : "\u00a0";
  $("s-exit").textContent = fmtPct(s.exitRate);
  $("s-exit-sub").textContent = s.samples > 0 ? `${s.exited} on the edge, ${s.sent} sent` : "\u00a0";
  $("s-bytes").textContent = fmtB(s.bytesPerSample);
  $("s-bytes-sub").textContent =
    s.bytesPerSample === null
      ? `image: ${RAW_BYTES} B`
      : `image: ${RAW_BYTES} B · ` +
        `${s.bytesPerSample > 0 ? `${(RAW_BYTES / s.bytesPerSample).toFixed(1)}× less` : "nothing sent"}`;
  $("s-edge").textContent = fmtMs(s.edgeMs);
  $("s-rtt").textContent = fmtMs(s.roundTripMs);
}

// ---------------------------------------------------------------------------------------------- chart

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Three panels over the session's samples: running exit rate, bytes sent per sample, latency. */
function drawChart() {
  const W = 900,
    H = 300,
    L = 46,
    R = 12,
    T = 18,
    gap = 30;
  const ph = (H - T - 22 - 2 * gap) / 3;
  const all = results;
  const start = Math.max(0, all.length - CHART_WINDOW);
  const rs = all.slice(start);
  const n = Math.max(rs.length, 20);
  const pw = W - L - R;
  const x = (i) => L + ((i + 0.5) * pw) / n;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart-svg" });
  root.append(svg("title", {}, "exit rate, bytes per sample and latency over the session"));

  const panel = (k, title, max, ticks, unit) => {
    const top = T + k * (ph + gap);
    const y = (v) => top + ph - (Math.min(v, max) / max) * ph;
    root.append(svg("text", { x: L, y: top - 7, class: "ptitle" }, title));
    for (const t of ticks) {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), class: t === 0 ? "axis" : "grid" }));
      root.append(svg("text", { x: L - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, `${t}${unit}`));
    }
    return y;
  };

  // running exit rate
  const y1 = panel(0, "exit rate (running)", 100, [0, 50, 100], "%");
  let exited = 0;
  for (let i = 0; i < start; i++) if (all[i].where === "exit") exited++;
  const pts = rs.map((r, i) => {
    if (r.where === "exit") exited++;
    return `${x(i).toFixed(1)},${y1((100 * exited) / (start + i + 1)).toFixed(1)}`;
  });
  if (pts.length > 0) root.append(svg("polyline", { points: pts.join(" "), class: "line edge" }));

  // bytes per sample, against the raw image
  const y2 = panel(1, "bytes sent per sample", RAW_BYTES, [0, 392, 784], "");
  root.append(svg("line", { x1: L, x2: W - R, y1: y2(RAW_BYTES), y2: y2(RAW_BYTES), class: "raw" }));
  const bw = Math.max(1, (pw / n) * 0.7);
  rs.forEach((r, i) => {
    if (r.where === "exit")
      root.append(svg("circle", { cx: x(i), cy: y2(0), r: Math.min(3, bw / 2 + 0.5), class: "dot edge" }));
    else
      root.append(
        svg("rect", {
          x: x(i) - bw / 2,
          y: y2(r.bytesSent),
          width: bw,
          height: y2(0) - y2(r.bytesSent),
          class: "bar server",
        }),
      );
  });
  let sum = 0;
  for (let i = 0; i < start; i++) sum += all[i].bytesSent;
  const mean = rs.map((r, i) => {
    sum += r.bytesSent;
    return `${x(i).toFixed(1)},${y2(sum / (start + i + 1)).toFixed(1)}`;
  });
  if (mean.length > 0) root.append(svg("polyline", { points: mean.join(" "), class: "line mean" }));

  // latency per sample: the head on the edge, the round trip for a sent one
  const lat = rs.flatMap((r) => [r.edgeMs, r.roundTripMs ?? 0]);
  const top = niceMax(Math.max(1, ...lat));
  const y3 = panel(2, "latency per sample (ms)", top, [0, top / 2, top], "");
  rs.forEach((r, i) => {
    if (r.roundTripMs !== null)
      root.append(svg("circle", { cx: x(i), cy: y3(r.roundTripMs), r: 2.6, class: "dot server" }));
    root.append(svg("circle", { cx: x(i), cy: y3(r.edgeMs), r: 2.6, class: "dot edge" }));
  });

  const first = start + 1,
    lastN = start + rs.length;
  root.append(svg("text", { x: L, y: H - 4, class: "tick" }, rs.length > 0 ? `sample ${first}` : "no samples yet"));
  if (rs.length > 1)
    root.append(svg("text", { x: x(rs.length - 1), y: H - 4, class: "tick", "text-anchor": "end" }, `${lastN}`));
  $("chart").replaceChildren(root);
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// ---------------------------------------------------------------------------------------------- controls

function setupControls() {
  const slider = $("threshold");
  const stored = head.split.policy;
  kind = stored?.kind ?? "maxprob";
  storedThreshold = stored?.thresholds[0] ?? 0.9;
  threshold = storedThreshold;
  slider.max = kind === "entropy" ? Math.log(head.classes).toFixed(3) : "1";
  $("thr-label").textContent = kind === "entropy" ? "exit when entropy (nats) ≤" : "exit when max probability ≥";
  const show = () => {
    $("thr-value").textContent = threshold.toFixed(3);
    $("thr-note").textContent = stored
      ? `stored with the head: ${stored.kind}:${stored.thresholds.join(",")}${thresholdTouched ? " (overridden)" : ""}`
      : `no policy stored with the head; ${thresholdTouched ? "" : "default "}${kind}:${threshold}`;
  };
  if (head.exits.length === 0) {
    slider.disabled = true;
    $("thr-reset").hidden = true;
    $("thr-note").textContent = "this head has no exit: every sample goes to the server";
  } else {
    slider.value = String(threshold);
    show();
    slider.addEventListener("input", () => {
      threshold = Number(slider.value);
      thresholdTouched = true;
      show();
      serial(rebuildClient);
    });
    $("thr-reset").addEventListener("click", () => {
      threshold = storedThreshold;
      thresholdTouched = false;
      slider.value = String(threshold);
      show();
      serial(rebuildClient);
    });
  }
  const select = $("dtype");
  const w = cutWidth();
  for (const o of select.options)
    o.textContent = `${o.value === "int8" ? "int8 + scale" : o.value} · ${frameBytes([w, 1], o.value)} B per sample`;
  select.value = dtype;
  select.addEventListener("change", () => {
    dtype = select.value;
    edgeNote();
    serial(rebuildClient);
  });
  const wire = $("transport");
  wire.value = transport;
  wire.addEventListener("change", () => {
    transport = wire.value;
    serial(rebuildClient);
  });
  edgeNote();
  $("run-all").addEventListener("click", async () => {
    const b = $("run-all");
    b.disabled = true;
    try {
      await serial(() => runDigits(digits.map((d) => d.index)));
    } catch (e) {
      fail(e);
    } finally {
      b.disabled = false;
    }
  });
  $("reset").addEventListener("click", () =>
    serial(() => {
      results = [];
      last = null;
      for (const t of document.querySelectorAll(".thumb")) t.classList.remove("edge", "server", "wrong");
      renderStats();
      drawChart();
    }),
  );
}

function edgeNote() {
  const w = cutWidth();
  const trunk = head.trunkMacs().at(-1);
  const exits = head.exitHeadMacs().reduce((a, b) => a + b, 0);
  const layers = `${head.trunk.length} sparse layer${head.trunk.length > 1 ? "s" : ""}`;
  const exitPart =
    head.exits.length > 0
      ? ` and ${head.exits.length > 1 ? `${head.exits.length} exits` : "the exit"} (${exits.toLocaleString("en")})`
      : "";
  $("edge-note").textContent =
    `On this page: ${layers} (${trunk.toLocaleString("en")} multiply-adds to the cut)${exitPart}. ` +
    `${w} values cross the cut: ${frameBytes([w, 1], dtype)} B per ${dtype} frame ` +
    `against ${RAW_BYTES} B for the image.`;
}

// ---------------------------------------------------------------------------------------------- boot

function fail(e) {
  console.error(e);
  const s = $("status");
  s.className = "status error";
  s.textContent = `error: ${e?.message ?? e}`;
}

async function boot() {
  const [eng, headBytes, set] = await Promise.all([
    Engine.load({ wasm: new URL("./build/presparse.wasm", import.meta.url) }),
    fetchOk("./head.safetensors").then((r) => r.arrayBuffer()),
    fetchOk("./digits.json").then((r) => r.json()),
  ]);
  engine = eng;
  head = decodeModel(engine, new Uint8Array(headBytes), { source: "head.safetensors", role: "head" }).model;
  if (head.inputSize < PIXELS)
    throw new Error(`the head takes ${head.inputSize} features, fewer than a ${SIDE}×${SIDE} digit`);
  digits = set.digits;
  probeX = new Matrix(engine, head.inputSize, 1);
  // every exit at threshold 0: the first exit answers whatever its confidence, so the gauge can show it
  probe = new ExitRunner(head, { kind: "maxprob", thresholds: head.exits.map(() => 0) }, { logits: false });
  setupControls();
  renderThumbs();
  setupPad();
  rebuildClient();
  renderStats();
  drawChart();
  const s = $("status");
  s.className = "status ready";
  const { hash, cut } = head.split;
  s.textContent = `ready · model ${hash.slice(0, 8)} · cut after layer ${cut} · tail at ${location.host}`;
  return info();
}

function info() {
  return {
    hash: head.split.hash,
    splitId: head.split.cut,
    inputSize: head.inputSize,
    activationWidth: cutWidth(),
    classes: head.classes,
    exits: head.exits.length,
    policy: policy(),
    dtype,
    transport,
    digits: digits.length,
  };
}

const ready = boot();
ready.catch(fail);

/** The page's test hook: the same paths a click takes, awaited, with plain results. */
window.presparseDemo = {
  ready,
  info,
  stats,
  /** Classifies test digits by index, one at a time, exactly as clicking their thumbnails does. */
  classifyDigits: (indices) => ready.then(() => serial(() => runDigits(indices))),
  /** The latest answer with its 784 input values (a drawing's, after centring). */
  lastResult: () => last,
  /** Waits until every queued classification is done. */
  idle: () => serial(() => {}),
};
