// Who may call: bearer tokens and a CORS allowlist, as gates in front of every route (handler.ts), so a refusal is
// decided on a request's head, before a byte of its body is read. Tokens are compared as SHA-256 digests with
// timingSafeEqual against every configured token (no early exit, no length leak) and never appear in an answer,
// an error or a log line.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ValidationError } from "../engine/errors.js";
import { HttpError } from "./errors.js";
import type { Answer, Gate, RequestHead } from "./handler.js";
// a browser's WebSocket cannot set an Authorization header, so a stream client offers its token as a second
// subprotocol: this prefix, then the token in base64url; the server never selects (echoes) it
import { BEARER_PROTOCOL_PREFIX } from "../split/ws_transport.js";

/** Who may call the server (ServerOptions). */
export interface AccessOptions {
  /** Bearer tokens any one of which admits a request; empty or absent: no authentication. */
  tokens?: readonly string[];
  /**
   * Origins (`https://app.example.com`) whose pages may call the server from a browser: CORS answers and
   * preflights for them, and WebSocket upgrades from them. `*` admits every origin, and is refused with tokens.
   */
  corsOrigins?: readonly string[];
}

/** The gates of a server and the origin check of its WebSocket upgrades. */
export interface Access {
  readonly gates: readonly Gate[];
  /** Whether a request's Origin (if it has one) may open a stream: its own host, or an allowed origin. */
  originAllowed(head: RequestHead): boolean;
}

// RFC 6750's b64token: what may follow "Bearer " in an Authorization header
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The tokens of a token file: one per line; blank lines and lines starting with # are skipped. */
export function readTokenFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ValidationError(
      `token file ${path}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    // the message names the line, never the text on it
    if (!B64TOKEN.test(t))
      throw new ValidationError(
        `token file ${path}: line ${i + 1} is not a bearer token (letters, digits, - . _ ~ + / and trailing =)`,
      );
    tokens.push(t);
  });
  if (tokens.length === 0) throw new ValidationError(`token file ${path}: no token in it`);
  return tokens;
}

/** Builds the gates: CORS first (a preflight carries no credentials), then the bearer-token check. */
export function createAccess(o: AccessOptions = {}): Access {
  const tokens = o.tokens ?? [];
  for (const t of tokens)
    if (typeof t !== "string" || !B64TOKEN.test(t))
      throw new ValidationError(
        "startServer: tokens must be bearer tokens (letters, digits, - . _ ~ + / and trailing =)",
      );
  const origins = (o.corsOrigins ?? []).map(checkOrigin);
  const any = origins.includes("*");
  if (any && tokens.length > 0) {
    throw new ValidationError(
      "startServer: corsOrigins * with tokens: a wildcard origin with credentials is refused; list the origins",
    );
  }
  const allowed = new Set(origins);
  const originOk = (origin: string) => any || allowed.has(origin.toLowerCase());
  const gates: Gate[] = [];
  if (origins.length > 0) gates.push(corsGate(originOk, any));
  if (tokens.length > 0) gates.push(bearerGate(tokens));
  return {
    gates,
    originAllowed(head) {
      const origin = header(head, "origin");
      if (origin === undefined) return true;
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        return false;
      }
      return host === header(head, "host") || originOk(origin);
    },
  };
}

function checkOrigin(o: string): string {
  if (o === "*") return o;
  let u: URL;
  try {
    u = new URL(o);
  } catch {
    throw new ValidationError(`startServer: CORS origin ${JSON.stringify(o)} is not an origin (scheme://host[:port])`);
  }
  if (u.origin === "null" || u.origin !== o.replace(/\/$/, "").toLowerCase()) {
    throw new ValidationError(
      `startServer: CORS origin ${JSON.stringify(o)} is not an origin (scheme://host[:port], no path): ${u.origin}?`,
    );
  }
  return u.origin;
}

function header(head: RequestHead, name: string): string | undefined {
  const v = head.headers[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v[0] : undefined;
}

const ALLOW_HEADERS = "Authorization, Content-Type, Inference-Header-Content-Length";
const EXPOSE_HEADERS =
  "Retry-After, WWW-Authenticate, Inference-Header-Content-Length, " +
  "X-Presparse-Dtype, X-Presparse-Batch-Samples, X-Presparse-Batch-Requests";

/**
 * CORS for the allowed origins: preflights answered with the route's methods, answers marked with the origin
 * (never a wildcard and never Allow-Credentials: the token is a header the page sets, not a cookie). A foreign
 * origin gets no CORS header at all, so its page cannot read an answer.
 */
function corsGate(allowed: (origin: string) => boolean, any: boolean): Gate {
  const vary = (a: Answer): Record<string, string> => {
    const v = a.headers.Vary;
    return { Vary: v && !/\borigin\b/i.test(v) ? `${v}, Origin` : (v ?? "Origin") };
  };
  return {
    admit(head, route) {
      const origin = header(head, "origin");
      if (
        head.method !== "OPTIONS" ||
        origin === undefined ||
        header(head, "access-control-request-method") === undefined
      )
        return undefined;
      if (!allowed(origin))
        throw new HttpError(403, "origin_not_allowed", `pages from ${origin} may not call this server`, "origin", {
          Vary: "Origin",
        });
      // an unknown path is answered 404 the usual way (with CORS headers, so the page can read why)
      if (!route) return undefined;
      const headers = {
        "Access-Control-Allow-Methods": Object.keys(route.methods).join(", "),
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "600",
      };
      return { status: 204, headers, body: "" };
    },
    finish(head, a) {
      const origin = header(head, "origin");
      if (origin === undefined || !allowed(origin)) return { ...a, headers: { ...a.headers, ...vary(a) } };
      const cors = {
        "Access-Control-Allow-Origin": any ? "*" : origin,
        "Access-Control-Expose-Headers": EXPOSE_HEADERS,
      };
      return { ...a, headers: { ...a.headers, ...cors, ...vary(a) } };
    },
  };
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** 401 with WWW-Authenticate unless the request carries one of the tokens; public routes pass. */
function bearerGate(tokens: readonly string[]): Gate {
  const known = tokens.map(digest);
  const matches = (candidate: string): boolean => {
    const d = digest(candidate);
    let ok = false;
    // every token is compared, whatever matched: the time does not say which one, or how many there are
    for (const k of known) ok = timingSafeEqual(d, k) || ok;
    return ok;
  };
  const refusal = (invalid: boolean): HttpError => {
    const message = invalid
      ? "the bearer token is not valid"
      : "this server requires a bearer token (Authorization: Bearer <token>)";
    const challenge = invalid ? `Bearer realm="presparse", error="invalid_token"` : `Bearer realm="presparse"`;
    return new HttpError(401, "unauthorized", message, undefined, { "WWW-Authenticate": challenge });
  };
  return {
    admit(head, route) {
      if (route?.public) return undefined;
      const token = bearerOf(head);
      if (token === undefined) throw refusal(false);
      if (!matches(token)) throw refusal(true);
      return undefined;
    },
  };
}

/** The token of an `Authorization: Bearer` header, else of a `presparse.bearer.` subprotocol offer. */
function bearerOf(head: RequestHead): string | undefined {
  const auth = header(head, "authorization");
  const m = auth === undefined ? null : /^Bearer +(\S+) *$/i.exec(auth);
  if (m) return m[1]!;
  const offered = header(head, "sec-websocket-protocol");
  for (const p of offered?.split(",") ?? []) {
    const t = p.trim();
    if (t.startsWith(BEARER_PROTOCOL_PREFIX))
      return Buffer.from(t.slice(BEARER_PROTOCOL_PREFIX.length), "base64url").toString("utf8");
  }
  return undefined;
}
