// Vega-Lite specs compiled and rendered to SVG headless in Node (vega's "none" renderer, no canvas). The loader
// refuses every URL: a chart is drawn from the data inlined in its spec, and nothing is fetched or read. vega is
// imported on first use, so the commands that draw no chart do not pay for loading it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";

type Vega = typeof import("vega");

function offlineLoader(vega: Vega, errors: string[]) {
  const refuse = async (uri: string): Promise<never> => {
    // vega only warns when a load fails and draws the chart without the data: the caller throws after rendering
    errors.push(`charts: the chart asked to load ${JSON.stringify(uri)}; charts load nothing`);
    throw new Error(errors.at(-1));
  };
  const loader = vega.loader();
  loader.load = refuse;
  loader.sanitize = refuse;
  loader.http = refuse;
  loader.file = refuse;
  return loader;
}

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderVegaLite(spec: Record<string, unknown>): Promise<string> {
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  // compile normalizes its argument in place: give it a copy, so the spec saved beside the chart stays as written
  const errors: string[] = [];
  const logger = vega.logger(vega.Error);
  logger.error = (...args: unknown[]) => {
    errors.push(args.map(String).join(" "));
    return logger;
  };
  const view = new vega.View(vega.parse(compile(structuredClone(spec) as unknown as TopLevelSpec).spec), {
    renderer: "none",
    loader: offlineLoader(vega, errors),
    logger,
  });
  try {
    const svg = await view.toSVG();
    if (errors.length) throw new Error(errors.join("; "));
    return svg;
  } finally {
    view.finalize();
  }
}

/** Writes `<stem>.svg` and its spec `<stem>.vl.json` into `dir`; returns the SVG's file name. */
export async function writeChart(dir: string, stem: string, spec: Record<string, unknown>): Promise<string> {
  writeFileSync(join(dir, `${stem}.vl.json`), `${JSON.stringify(spec, null, 2)}\n`);
  writeFileSync(join(dir, `${stem}.svg`), await renderVegaLite(spec));
  return `${stem}.svg`;
}
