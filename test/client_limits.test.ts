// The edge client against servers that answer too much or not at all: a declared Content-Length past the largest
// answer the request can have is refused before the body is read, a body that streams past it is cut there (Node's
// fetch and any WHATWG Response alike, as in a browser), a refusal's endless page is read only to 64 KiB, and a
// connection that fails is a typed error naming the URL and the cause.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { SplitClient, SplitServerError } from "../src/split/client.js";
import { frameBytes } from "../src/split/frame.js";
import { getEngine } from "./helpers/engine.js";
import { splitModel } from "./helpers/server_harness.js";

const engine = await getEngine();
const { model, head, tail } = splitModel(engine, 8);
const fakes: Server[] = [];
const MiB = 2 ** 20;

afterAll(async () => {
  await Promise.all(fakes.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
  for (const x of [model, head, tail]) x.dispose();
});

/** A fake tail server on loopback; resolves with its URL. */
async function fake(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  fakes.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const sample = () => [Array.from({ length: head.inputSize }, (_, i) => Math.sin(i))];

async function refusal(client: SplitClient): Promise<SplitServerError> {
  try {
    await client.infer(sample());
  } catch (e) {
    if (e instanceof SplitServerError) return e;
    throw e;
  }
  throw new Error("the client accepted the answer");
}

describe("SplitClient reads answers within a limit", () => {
  const answerLimit = frameBytes([head.classes, 1], "f32");

  it("refuses a 200 declaring 1.5 GiB on its Content-Length, before reading it", async () => {
    let sent = 0;
    const url = await fake((req, res) => {
      req.resume();
      res.writeHead(200, { "Content-Type": "application/x-presparse-frame", "Content-Length": String(1.5 * 2 ** 30) });
      const chunk = Buffer.alloc(MiB);
      const pump = () => {
        while (sent < 256 * MiB && res.write(chunk)) sent += chunk.length;
        if (sent < 256 * MiB && !res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    const before = process.memoryUsage().rss;
    const e = await refusal(new SplitClient({ head, serverUrl: url, policy: null }));
    expect([e.status, e.code, e.field]).toEqual([200, "too_large", "length"]);
    expect(e.message).toMatch(`Content-Length 1610612736, the largest answer to this request is ${answerLimit} bytes`);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB);
  });

  it("cuts a 200 streamed without a length at the limit, and lets go of the connection", async () => {
    let closed = false;
    const url = await fake((req, res) => {
      req.resume();
      res.writeHead(200, { "Content-Type": "application/x-presparse-frame" });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const timer = setInterval(() => res.write(chunk), 1);
      res.on("close", () => ((closed = true), clearInterval(timer)));
    });
    const e = await refusal(new SplitClient({ head, serverUrl: url, policy: null }));
    expect([e.status, e.code]).toEqual([200, "too_large"]);
    expect(e.message).toMatch(/more than \d+ bytes sent/);
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
  });

  it("stops reading a fetch's WHATWG body stream at the limit (the browser path), cancels an endless one", async () => {
    let pulls = 0,
      cancelled = false;
    const endless = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: (c) => void (pulls++, c.enqueue(new Uint8Array(4096))),
          cancel: () => void (cancelled = true),
        }),
        { status: 200, headers: { "Content-Type": "application/x-presparse-frame" } },
      );
    const e = await refusal(
      new SplitClient({ head, serverUrl: "http://edge.invalid", policy: null, fetch: async () => endless() }),
    );
    expect(e.code).toBe("too_large");
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThanOrEqual(Math.ceil(answerLimit / 4096) + 2);
  });

  it("reads only the first 64 KiB of a refusal's endless page, and still names its status", async () => {
    const url = await fake((req, res) => {
      req.resume();
      res.writeHead(502, { "Content-Type": "text/html" });
      const chunk = Buffer.from("<p>bad gateway</p>".repeat(1000));
      const timer = setInterval(() => res.write(chunk), 1);
      res.on("close", () => clearInterval(timer));
    });
    const e = await refusal(new SplitClient({ head, serverUrl: url, policy: null }));
    expect([e.status, e.code]).toEqual([502, "http_error"]);
    expect(e.message).toMatch(/^server answered 502 http_error: <p>bad gateway<\/p>/);
  });
});

describe("SplitClient when there is no server", () => {
  it("a closed port is a typed error naming the URL and the cause, not a TypeError", async () => {
    const url = await fake(() => {});
    const port = Number(new URL(url).port);
    await new Promise((r) => fakes.pop()!.close(r));
    const e = await refusal(new SplitClient({ head, serverUrl: url, policy: null }));
    expect([e.status, e.code]).toEqual([0, "unreachable"]);
    expect(e.message).toBe(
      `unreachable: cannot reach ${url}/v1/infer: fetch failed (connect ECONNREFUSED 127.0.0.1:${port})`,
    );
  });

  it("a fetch that throws without a cause (as a browser's does) is named too", async () => {
    const e = await refusal(
      new SplitClient({
        head,
        serverUrl: "https://tail.example",
        policy: null,
        fetch: async () => {
          throw new TypeError("Failed to fetch");
        },
      }),
    );
    expect(e.message).toBe("unreachable: cannot reach https://tail.example/v1/infer: Failed to fetch");
  });
});
