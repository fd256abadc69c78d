// A test's end of the tail server's WebSocket stream (the `ws` package as the client): send a frame under an id,
// send any raw message, and collect the answers by id, the errors and the close code.
import WebSocket from "ws";
import type { ErrorBody } from "../../src/server/errors.js";

/** One message from the server: a binary answer (its id and frame) or a JSON error. */
export type StreamMessage =
  | { id: number; frame: Uint8Array }
  | { id: number | null; error: ErrorBody["error"]; retryAfter?: number };

export interface TestStream {
  ws: WebSocket;
  /** Every message received so far, in order. */
  messages: StreamMessage[];
  /** Sends a frame as request `id`. */
  send(id: number, frame: Uint8Array): void;
  /** Resolves once `n` messages have arrived (rejects after `timeoutMs`). */
  received(n: number, timeoutMs?: number): Promise<StreamMessage[]>;
  /** The close code and reason, once the connection closed. */
  closed: Promise<{ code: number; reason: string }>;
}

/** The stream URL of a server URL (`http://…` → `ws://…/v1/stream`). */
export function streamUrl(url: string, query = ""): string {
  return `${url.replace(/^http/, "ws")}/v1/stream${query}`;
}

/** Opens a stream and resolves once it is open (rejects with the server's status when the upgrade is refused). */
export async function openStream(
  url: string,
  o: { query?: string; protocols?: string[]; headers?: Record<string, string>; ca?: string | Buffer } = {},
): Promise<TestStream> {
  const ws = new WebSocket(streamUrl(url, o.query), o.protocols ?? [], { headers: o.headers, ca: o.ca });
  const messages: StreamMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.on("message", (data: Buffer, isBinary) => {
    if (isBinary) messages.push({ id: data.readUInt32LE(0), frame: new Uint8Array(data.subarray(4)) });
    else messages.push(JSON.parse(data.toString("utf8")) as StreamMessage);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), {
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        ),
      );
    });
    ws.once("error", reject);
  });
  return {
    ws,
    messages,
    send(id, frame) {
      const m = Buffer.allocUnsafe(4 + frame.length);
      m.writeUInt32LE(id, 0);
      m.set(frame, 4);
      ws.send(m);
    },
    async received(n, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > end) throw new Error(`${messages.length} of ${n} messages after ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return messages.slice(0, n);
    },
    closed,
  };
}

/** The refusal of an upgrade, as openStream rejects with it. */
export interface UpgradeRefusal extends Error {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
