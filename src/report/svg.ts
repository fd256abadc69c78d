// Small self-contained SVG charts (no external assets): lines with markers, axes with ticks, a legend.

export interface Series {
  name: string;
  points: { x: number; y: number; label?: string }[];
  /** Draw markers only (no connecting line). */
  scatter?: boolean;
  /** Draw a marker at each point of a line (default true). */
  dots?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** Logarithmic x axis (all x > 0). */
  logX?: boolean;
  /** Logarithmic y axis (all y > 0). */
  logY?: boolean;
  /** Vertical lines at these x, each labelled (e.g. where two lines cross). */
  markers?: { x: number; label: string }[];
  /** Format of tick labels. */
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  /** A marked point, e.g. the chosen threshold. */
  highlight?: { x: number; y: number; label: string };
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"];

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** Nice tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** 1-2-5 ticks per decade covering [lo, hi] (lo > 0); only the decades when there are many. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const decades = Math.log10(hi / lo);
  const mantissas = decades > 4 ? [1] : [1, 2, 5];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of mantissas) {
      const v = m * 10 ** k;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

/** Renders a line chart as an SVG document. */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 640,
    H = o.height ?? 400;
  // the legend sits right of the plot, never over its data: the plot gives up the legend's width
  const legendW = 24 + 7 * Math.max(0, ...o.series.map((s) => s.name.length)),
    legendH = 8 + 18 * o.series.length;
  const m = { l: 64, r: 40 + legendW, t: 40, b: 52 };
  // a log axis cannot place x ≤ 0: such points are left out rather than turning every coordinate into NaN
  const plottable = (p: { x: number; y: number }) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logX || p.x > 0) && (!o.logY || p.y > 0);
  const all = o.series.flatMap((s) => s.points).filter(plottable);
  const fx = (v: number) => (o.logX ? Math.log10(v) : v);
  const fy = (v: number) => (o.logY ? Math.log10(v) : v);
  let x0 = Math.min(...all.map((p) => fx(p.x))),
    x1 = Math.max(...all.map((p) => fx(p.x)));
  let y0 = Math.min(...all.map((p) => fy(p.y))),
    y1 = Math.max(...all.map((p) => fy(p.y)));
  if (!all.length) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (x1 === x0) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const padY = (y1 - y0) * 0.06;
  y0 -= padY;
  y1 += padY;
  const sx = (v: number) => m.l + ((fx(v) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((fy(v) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const xf = o.xFormat ?? ((v: number) => String(Number(v.toPrecision(6))));
  const yf = o.yFormat ?? ((v: number) => String(Number(v.toPrecision(6))));
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
      `font-family="system-ui, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(o.title)}</text>`);
  const xt = o.logX ? logTicks(10 ** x0, 10 ** x1) : ticks(x0, x1, 6);
  for (const t of xt) {
    const X = sx(t);
    parts.push(`<line x1="${X}" y1="${m.t}" x2="${X}" y2="${H - m.b}" stroke="#eee"/>`);
    parts.push(`<text x="${X}" y="${H - m.b + 16}" text-anchor="middle" fill="#444">${esc(xf(t))}</text>`);
  }
  for (const t of o.logY ? logTicks(10 ** y0, 10 ** y1) : ticks(y0, y1, 5)) {
    const Y = sy(t);
    parts.push(`<line x1="${m.l}" y1="${Y}" x2="${W - m.r}" y2="${Y}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${Y + 4}" text-anchor="end" fill="#444">${esc(yf(t))}</text>`);
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#888"/>`,
  );
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  const lx = W - legendW - 8,
    ly = m.t;
  const legend = [
    `<rect x="${lx}" y="${ly}" width="${legendW}" height="${legendH}" fill="#fff" fill-opacity="0.9" stroke="#ddd"/>`,
  ];
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(plottable);
    if (!s.scatter && pts.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${c}" stroke-width="2" ` +
          `points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    pts.forEach((p, k) => {
      if (s.dots === false && !s.scatter) return;
      parts.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${c}">` +
          `<title>${esc(`${s.name}: ${p.label ?? ""} (${xf(p.x)}, ${yf(p.y)})`)}</title></circle>`,
      );
      // labels of a scatter alternate right and left of their points, so points at one x stay readable
      const side =
        k % 2 === 0 ? `x="${(sx(p.x) + 6).toFixed(1)}"` : `x="${(sx(p.x) - 6).toFixed(1)}" text-anchor="end"`;
      if (s.scatter && p.label)
        parts.push(`<text ${side} y="${(sy(p.y) - 6).toFixed(1)}" fill="${c}">${esc(p.label)}</text>`);
    });
    const swatch = `<rect x="${lx + 6}" y="${ly + 4 + i * 18}" width="12" height="12" fill="${c}"/>`;
    legend.push(`${swatch}<text x="${lx + 24}" y="${ly + 14 + i * 18}">${esc(s.name)}</text>`);
  });
  for (const mk of o.markers ?? []) {
    if (!(Number.isFinite(mk.x) && (!o.logX || mk.x > 0)) || fx(mk.x) < x0 || fx(mk.x) > x1) continue;
    const X = sx(mk.x).toFixed(1);
    parts.push(`<line x1="${X}" y1="${m.t}" x2="${X}" y2="${H - m.b}" stroke="#555" stroke-dasharray="4 3"/>`);
    const at = `translate(${(sx(mk.x) - 4).toFixed(1)} ${H - m.b - 6}) rotate(-90)`;
    parts.push(`<text transform="${at}" fill="#333">${esc(mk.label)}</text>`);
  }
  parts.push(...legend);
  if (o.highlight && Number.isFinite(o.highlight.x) && Number.isFinite(o.highlight.y)) {
    const X = sx(o.highlight.x),
      Y = sy(o.highlight.y);
    parts.push(`<circle cx="${X.toFixed(1)}" cy="${Y.toFixed(1)}" r="7" fill="none" stroke="#000" stroke-width="2"/>`);
    parts.push(
      `<text x="${(X + 10).toFixed(1)}" y="${(Y + 16).toFixed(1)}" font-weight="600">${esc(o.highlight.label)}</text>`,
    );
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
