// The server as a function: a request (method, path, query, headers, body bytes) in, an answer (status, headers,
// body) out, looked up in a route table (path → method → endpoint). No sockets here: a transport (node:http today)
// turns its own requests into these and writes the answers back, so every transport gives the same answers.
import { performance } from "node:perf_hooks";
import { HttpError, errorAnswer } from "./errors.js";

/** What a transport knows of a request before its body: enough to refuse it without reading the body. */
export interface RequestHead {
  /** Upper case, as on the wire: GET, POST, … */
  method: string;
  /** The URL path, not decoded (`/v1/infer`). */
  path: string;
  query: URLSearchParams;
  /** Lower-case names, as node:http gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** When the request arrived (performance.now()); deadlines count from here. Default: when it is handled. */
  arrived?: number;
}

/** A whole request. */
export interface Request extends RequestHead {
  body: Uint8Array;
  /** Aborted when the client is gone: work queued for the request is dropped and nothing is answered. */
  signal?: AbortSignal;
}

/** The answer to one request. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
  /** Samples this answer carries results for (a 200 of an inference), for the metrics. */
  samples?: number;
}

/** One method of one path. Its functions refuse by throwing {@link HttpError}. */
export interface Endpoint {
  /** Checks on the head alone, before the body is read (media type, query, declared length, draining). */
  admit?(head: RequestHead): void;
  /**
   * Checks on the body's first `bytes` bytes, as soon as a transport has them (a frame's header before its
   * payload), so a body refused on them need not be kept. A body shorter than that is checked by `answer` alone.
   */
  inspect?: { bytes: number; check(head: RequestHead, first: Uint8Array): void };
  /** The answer to the request; `admit` has passed. */
  answer(req: Request): Answer | Promise<Answer>;
}

/** The methods of one path, and the label its requests are counted under (default: the path). */
export interface Route {
  methods: Readonly<Record<string, Endpoint>>;
  label?: string;
  /** Answered without credentials when the server requires them (health checks, the demo's static files). */
  public?: boolean;
  /** How this route's refusals are written (the Open Inference Protocol's `{ "error": "…" }`); default errorAnswer. */
  refusal?(e: HttpError): Answer;
}

/** Path → route. Exact paths: a server serves one model, so even `/v2/models/{name}/…` is known at startup. */
export type RouteTable = ReadonlyMap<string, Route>;

/** A route table as a function, in two steps so a transport can refuse before reading a body. */
export interface Handler {
  readonly routes: RouteTable;
  /** The metrics label of a path: its route's, or `other`. */
  label(path: string): string;
  /** A refusal decided on the head alone (no route, wrong method, the endpoint's checks), or undefined. */
  admit(head: RequestHead): Answer | undefined;
  /** How many of the body's first bytes `inspect` wants to see (0: none). */
  prefixBytes(head: RequestHead): number;
  /** A refusal decided on the head and the body's first `prefixBytes(head)` bytes, or undefined. */
  inspect(head: RequestHead, first: Uint8Array): Answer | undefined;
  /** The answer to a whole request, `admit`'s checks included. Never rejects: a failure is a 500 answer. */
  handle(req: Request): Promise<Answer>;
}

/**
 * A check in front of every route (bearer tokens, CORS; see access.ts): it sees each request's head before any route
 * or body does. It refuses by throwing {@link HttpError}, may answer a request itself (a preflight), and may add
 * headers to every answer.
 */
export interface Gate {
  /** An answer that ends the request here, or undefined to pass it on. `route` is the path's, if any. */
  admit(head: RequestHead, route: Route | undefined): Answer | undefined;
  /** The answer as sent (e.g. with CORS headers); default: unchanged. */
  finish?(head: RequestHead, answer: Answer): Answer;
}

/** Dispatches requests over a route table, behind `gates` (checked in order, before the route's own checks). */
export function createHandler(routes: RouteTable, gates: readonly Gate[] = []): Handler {
  // routes grouped under another's label (the demo's files under /demo/) are listed by that one
  const listed = [...routes].filter(([path, r]) => (r.label ?? path) === path);
  const index = listed.map(([path, r]) => `${Object.keys(r.methods)[0]} ${path}`).join(", ");
  const endpoint = (head: RequestHead, route: Route | undefined): Endpoint => {
    if (!route) throw new HttpError(404, "not_found", `no resource at ${head.path}; endpoints: ${index}`);
    // own keys only: a method named "constructor" must not find Object's
    if (Object.hasOwn(route.methods, head.method)) return route.methods[head.method]!;
    const allow = Object.keys(route.methods);
    const message = `${head.path} takes ${allow.join(" or ")}, got ${head.method}`;
    throw new HttpError(405, "method_not_allowed", message, undefined, { Allow: allow.join(", ") });
  };
  const gate = (head: RequestHead, route: Route | undefined): Answer | undefined => {
    for (const g of gates) {
      const a = g.admit(head, route);
      if (a) return a;
    }
    return undefined;
  };
  const finish = (head: RequestHead, a: Answer): Answer => {
    for (const g of gates) if (g.finish) a = g.finish(head, a);
    return a;
  };
  return {
    routes,
    label: (path) => {
      const route = routes.get(path);
      return route ? (route.label ?? path) : "other";
    },
    admit(head) {
      const route = routes.get(head.path);
      try {
        const a = gate(head, route);
        if (a) return finish(head, a);
        endpoint(head, route).admit?.(head);
        return undefined;
      } catch (e) {
        return finish(head, answerFor(e, route));
      }
    },
    prefixBytes(head) {
      try {
        return endpoint(head, routes.get(head.path)).inspect?.bytes ?? 0;
      } catch {
        return 0;
      }
    },
    inspect(head, first) {
      const route = routes.get(head.path);
      try {
        endpoint(head, route).inspect?.check(head, first);
        return undefined;
      } catch (e) {
        // written like every refusal of the route, with the gates' headers (CORS)
        return finish(head, answerFor(e, route));
      }
    },
    async handle(request) {
      const req = request.arrived === undefined ? { ...request, arrived: performance.now() } : request;
      const route = routes.get(req.path);
      try {
        const a = gate(req, route);
        if (a) return finish(req, a);
        const e = endpoint(req, route);
        e.admit?.(req);
        return finish(req, await e.answer(req));
      } catch (e) {
        return finish(req, answerFor(e, route));
      }
    },
  };
}

function answerFor(e: unknown, route: Route | undefined): Answer {
  const write = route?.refusal ?? errorAnswer;
  if (e instanceof HttpError) return write(e);
  const why = e instanceof Error ? e.message : String(e);
  return write(new HttpError(500, "internal", `the server failed on this request: ${why}`));
}
