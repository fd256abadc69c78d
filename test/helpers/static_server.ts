// A tiny static file server for browser tests: serves the repository's built package and test pages on
// 127.0.0.1 (ephemeral port) with real MIME types, and writes an import map into pages that ask for one, so a
// page can `import fc from "fast-check"` or `import { Engine } from "presparse"` with no bundler.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, posix } from "node:path";

/** The repository root (where package.json, dist/ and build/ live). */
export const REPO_ROOT = join(import.meta.dirname, "..", "..");

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".bin": "application/octet-stream",
  ".safetensors": "application/octet-stream",
};

/** `<script type="importmap">` contents. */
export interface ImportMap {
  imports: Record<string, string>;
}

export interface StaticServerOptions {
  /** Directory served as "/" (default: the repository root). */
  root?: string;
  /** URL path prefixes that may be served; anything else is 404 (default: dist, build, test pages, node_modules). */
  allow?: string[];
  /** Written into every HTML page at its `<!-- importmap -->` placeholder. */
  importMap?: ImportMap;
  /** Extra response headers per request (e.g. a Content-Security-Policy chosen by a query parameter). */
  headers?: (path: string, query: URLSearchParams) => Record<string, string> | undefined;
  /**
   * URL prefixes served from another prefix, e.g. `{ "/node_modules/presparse/": "/" }` to serve this package as
   * installed.
   */
  aliases?: Record<string, string>;
  /** In-memory pages by URL path (e.g. an example cut out of the docs). */
  pages?: Record<string, string>;
}

/** One answered request. */
export interface ServedRequest {
  method: string;
  path: string;
  status: number;
  contentType: string | undefined;
}

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Every request answered so far, in order. */
  requests: ServedRequest[];
  close(): Promise<void>;
}

/** Starts the server on an ephemeral port of 127.0.0.1. */
export async function startStaticServer(options: StaticServerOptions = {}): Promise<StaticServer> {
  const root = options.root ?? REPO_ROOT;
  const allow = options.allow ?? ["/dist/", "/build/", "/test/browser/", "/node_modules/"];
  const requests: ServedRequest[] = [];
  const withImportMap = (html: string) =>
    options.importMap
      ? html.replace("<!-- importmap -->", `<script type="importmap">${JSON.stringify(options.importMap)}</script>`)
      : html;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const answer = (status: number, body: string | Buffer, type?: string, headers: Record<string, string> = {}) => {
      requests.push({ method: req.method ?? "", path: url.pathname, status, contentType: type });
      res.writeHead(status, { "Cache-Control": "no-store", ...(type ? { "Content-Type": type } : {}), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD")
      return answer(405, "method not allowed\n", MIME[".txt"], { Allow: "GET, HEAD" });
    let path: string;
    try {
      path = posix.normalize(decodeURIComponent(url.pathname));
    } catch {
      return answer(400, "bad path\n", MIME[".txt"]);
    }
    const extraHeaders = options.headers?.(path, url.searchParams) ?? {};
    const page = options.pages?.[path];
    if (page !== undefined) return answer(200, withImportMap(page), MIME[".html"], extraHeaders);
    for (const [from, to] of Object.entries(options.aliases ?? {})) {
      if (path.startsWith(from)) {
        path = to + path.slice(from.length);
        break;
      }
    }
    if (path.includes("\0") || !allow.some((p) => path.startsWith(p)))
      return answer(404, `not served: ${path}\n`, MIME[".txt"]);
    const file = join(root, path);
    if (!existsSync(file) || !statSync(file).isFile()) return answer(404, `not found: ${path}\n`, MIME[".txt"]);
    const type = MIME[extname(file)] ?? "application/octet-stream";
    let body: string | Buffer = readFileSync(file);
    if (type.startsWith("text/html")) body = withImportMap(body.toString("utf8"));
    answer(200, body, type, extraHeaders);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

interface PackageJson {
  name: string;
  main?: string;
  module?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
}

// The first target an ES-module import in a browser would pick: conditions in the order the package lists them.
function exportTarget(t: unknown): string | undefined {
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    for (const x of t) {
      const r = exportTarget(x);
      if (r) return r;
    }
    return undefined;
  }
  if (t && typeof t === "object") {
    for (const [condition, value] of Object.entries(t)) {
      if (condition === "browser" || condition === "import" || condition === "default" || condition === "module") {
        const r = exportTarget(value);
        if (r) return r;
      }
    }
  }
  return undefined;
}

/**
 * An import map for `packages` (looked up in the repository's node_modules, or the repository itself for its own
 * name) and, recursively, their dependencies: one entry per subpath of each package's `exports` (wildcard subpaths
 * aside), pointing to what a browser's ES-module import would load. URLs are paths under the server's root.
 */
export function packageImportMap(packages: string[], root = REPO_ROOT): ImportMap {
  const imports: Record<string, string> = {};
  const self = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;
  const seen = new Set<string>();
  const add = (name: string, follow: boolean) => {
    if (seen.has(name)) return;
    seen.add(name);
    const dir = name === self.name ? "" : `node_modules/${name}/`;
    const file = join(root, dir, "package.json");
    if (!existsSync(file)) throw new Error(`packageImportMap: ${name} is not installed (${file} missing)`);
    const pkg = JSON.parse(readFileSync(file, "utf8")) as PackageJson;
    const exportsField = pkg.exports;
    const entries: [string, unknown][] =
      exportsField === undefined
        ? [[".", pkg.module ?? pkg.main ?? "index.js"]]
        : typeof exportsField === "string" ||
            Array.isArray(exportsField) ||
            !Object.keys(exportsField as object).some((k) => k.startsWith("."))
          ? [[".", exportsField]]
          : Object.entries(exportsField as object);
    for (const [subpath, value] of entries) {
      const target = exportTarget(value);
      if (subpath.includes("*") || !target) continue;
      imports[name + subpath.slice(1)] = `/${posix.normalize(dir + target)}`;
    }
    if (follow) for (const dep of Object.keys(pkg.dependencies ?? {})) add(dep, true);
  };
  // our own runtime dependencies are Node-side (the browser entry imports none: test/browser_imports.test.ts)
  for (const p of packages) add(p, p !== self.name);
  return { imports };
}
