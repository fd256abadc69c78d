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

/** Dispatches requests over a route table. */
export function createHandler(routes: RouteTable): Handler {
  // routes grouped under another's label (the demo's files under /demo/) are listed by that one
  const listed = [...routes].filter(([path, r]) => (r.label ?? path) === path);
  const index = listed.map(([path, r]) => `${Object.keys(r.methods)[0]} ${path}`).join(", ");
  const endpoint = (head: RequestHead): Endpoint => {
    const route = routes.get(head.path);
    if (!route) throw new HttpError(404, "not_found", `no resource at ${head.path}; endpoints: ${index}`);
    // own keys only: a method named "constructor" must not find Object's
    if (Object.hasOwn(route.methods, head.method)) return route.methods[head.method]!;
    const allow = Object.keys(route.methods);
    const message = `${head.path} takes ${allow.join(" or ")}, got ${head.method}`;
    throw new HttpError(405, "method_not_allowed", message, undefined, { Allow: allow.join(", ") });
  };
  return {
    routes,
    label: (path) => {
      const route = routes.get(path);
      return route ? (route.label ?? path) : "other";
    },
    admit(head) {
      try {
        endpoint(head).admit?.(head);
        return undefined;
      } catch (e) {
        return answerFor(e);
      }
    },
    prefixBytes(head) {
      try {
        return endpoint(head).inspect?.bytes ?? 0;
      } catch {
        return 0;
      }
    },
    inspect(head, first) {
      try {
        endpoint(head).inspect?.check(head, first);
        return undefined;
      } catch (e) {
        return answerFor(e);
      }
    },
    async handle(request) {
      const req = request.arrived === undefined ? { ...request, arrived: performance.now() } : request;
      try {
        const e = endpoint(req);
        e.admit?.(req);
        return await e.answer(req);
      } catch (e) {
        return answerFor(e);
      }
    },
  };
}

function answerFor(e: unknown): Answer {
  if (e instanceof HttpError) return errorAnswer(e);
  const why = e instanceof Error ? e.message : String(e);
  return errorAnswer(new HttpError(500, "internal", `the server failed on this request: ${why}`));
}
