// The tail server against clients that misbehave at the socket: a half-close after a whole request, CONNECT, frames
// of the wrong shape whose header is refused before the payload is kept, uploads held open against a memory budget,
// more connections than the cap, and a shutdown that neither waits on idle sockets nor resets requests on their way.
import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame } from "../src/split/frame.js";
import { STREAM_PROTOCOL } from "../src/split/ws_transport.js";
import { getEngine } from "./helpers/engine.js";
import { tailServers } from "./helpers/tail_servers.js";
import {
  FRAME_TYPE,
  activationFrame,
  localLogits,
  postFrame,
  raw,
  spawnCli,
  tempFiles,
  until,
} from "./helpers/server_harness.js";

const engine = await getEngine();
const { tail, tailBytes, ref, serve } = tailServers(engine, 5);
const MiB = 2 ** 20;

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A raw connection that parses the HTTP answers it gets, in order, and says how it ended. */
function rawConnection(port: number): {
  sock: Socket;
  answers: Parsed[];
  next(): Promise<Parsed>;
  ended: Promise<string>;
} {
  const sock = connect(port, "127.0.0.1");
  const answers: Parsed[] = [];
  let buf = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  sock.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1))
        headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      const length = Number(headers["content-length"] ?? 0);
      if (buf.length < end + 4 + length) return;
      answers.push({ status: Number(lines[0]!.split(" ")[1]), headers, body: buf.subarray(end + 4, end + 4 + length) });
      buf = buf.subarray(end + 4 + length);
      for (const w of waiters.splice(0)) w();
    }
  });
  const ended = new Promise<string>((resolve) => {
    sock.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    sock.on("close", () => resolve("closed"));
  });
  let taken = 0;
  const next = async (): Promise<Parsed> => {
    const want = ++taken;
    while (answers.length < want) {
      const more = new Promise<void>((r) => waiters.push(r));
      if ((await Promise.race([more.then(() => "data"), ended])) !== "data" && answers.length < want)
        throw new Error(`connection ended (${await ended}) before answer ${want}`);
    }
    return answers[want - 1]!;
  };
  return { sock, answers, next, ended };
}

const postHead = (length: number, extra = "") =>
  `POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: ${FRAME_TYPE}\r\nContent-Length: ${length}\r\n${extra}\r\n`;
const errorCode = (p: Parsed) =>
  (JSON.parse(p.body.toString("utf8")) as { error: { code: string; field?: string } }).error;

/** A frame of [width, n] of the given bytes' size, from the right model and cut but not of the tail's shape. */
function wrongShape(targetBytes: number): Uint8Array {
  const width = tail.inputSize + 1,
    n = Math.max(1, Math.floor((targetBytes - 44) / (4 * width)));
  return encodeFrame({
    data: new Float32Array(width * n),
    shape: [width, n],
    dtype: "f32",
    kind: "activation",
    splitId: tail.split.cut,
    modelHash: tail.split.hash,
  });
}

describe("half-closed and tunnelling clients", () => {
  it("a client that half-closes after a whole request still gets its answer", async () => {
    const s = await serve({ maxDelayMs: 100 });
    const f = activationFrame(tail, 3, 41);
    const c = rawConnection(s.port);
    await new Promise((r) => c.sock.once("connect", r));
    c.sock.end(Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]));
    const a = await c.next();
    expect(a.status).toBe(200);
    expect(a.headers.connection).toBe("close");
    expect(Array.from(decodeFrame(new Uint8Array(a.body)).data)).toEqual(Array.from(localLogits(ref, f.data, 3)));
    expect(await c.ended).toBe("closed");
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "200", transport: "http" })).toBe(1);
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "499", transport: "http" })).toBe(0);
  });

  it("CONNECT gets 501 with a JSON error and the connection closed, and is counted", async () => {
    const s = await serve();
    const c = rawConnection(s.port);
    c.sock.write("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    const a = await c.next();
    expect(a.status).toBe(501);
    expect(a.headers.connection).toBe("close");
    expect(errorCode(a)).toMatchObject({ code: "not_implemented" });
    expect(await c.ended).toBe("closed");
    expect(s.metrics.requests.get({ path: "other", code: "501", transport: "http" })).toBe(1);
    expect((await postFrame(s.url, activationFrame(tail, 1, 1).bytes)).status).toBe(200);
  });
});

describe("bodies in flight", () => {
  it("a wrong-shape frame is refused on its header before its body is in: memory freed, rest not kept", async () => {
    const s = await serve({ maxBodyBytes: 4 * MiB, maxInflightBytes: 5 * MiB, maxQueue: 1 << 20 });
    const bad = wrongShape(4 * MiB - 100);
    const c = rawConnection(s.port);
    c.sock.on("error", () => {});
    c.sock.write(postHead(bad.length));
    c.sock.write(bad.subarray(0, 64 * 1024));
    // answered on its header while the rest of its body is still to come; that rest is long: the connection closes
    const a = await c.next();
    expect(a.status).toBe(400);
    expect(errorCode(a)).toMatchObject({ code: "bad_frame", field: "dims" });
    expect(a.headers.connection).toBe("close");
    expect(await c.ended).toMatch(/closed|ECONNRESET|EPIPE/);
    // its 4 MiB was reserved on its Content-Length and given back when the header was refused: another body fits
    const big = activationFrame(tail, Math.floor((4 * MiB - 100) / (4 * tail.inputSize)), 7);
    expect((await postFrame(s.url, big.bytes)).status).toBe(200);
  });

  it("a refused body with a short rest is read to its end and the connection kept for the next request", async () => {
    const s = await serve();
    const bad = wrongShape(100 * 1024);
    const c = rawConnection(s.port);
    c.sock.write(postHead(bad.length));
    c.sock.write(bad.subarray(0, 48 * 1024));
    const a = await c.next();
    expect([a.status, a.headers.connection]).toEqual([400, "keep-alive"]);
    c.sock.write(bad.subarray(48 * 1024));
    const f = activationFrame(tail, 1, 3);
    c.sock.write(Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]));
    expect((await c.next()).status).toBe(200);
    c.sock.destroy();
  });

  it("held uploads take no more memory than the budget: the rest get 503 at once, small requests served", async () => {
    const s = await serve({ maxBodyBytes: MiB, maxInflightBytes: 8 * MiB, maxQueue: 1 << 20, timeoutMs: 30_000 });
    // a valid frame of almost 1 MiB, every byte but the last sent: its header passes, and the server must hold it
    const frame = activationFrame(tail, Math.floor((MiB - 44) / (4 * tail.inputSize)), 11).bytes;
    const body = frame.subarray(0, frame.length - 1);
    const before = process.memoryUsage();
    const held = Array.from({ length: 40 }, () => rawConnection(s.port));
    for (const h of held) {
      h.sock.on("error", () => {});
      h.sock.write(postHead(frame.length));
      h.sock.write(body);
    }
    // eight fill the budget and wait for their last bytes; the other 32 are refused without being read
    await until(() => held.filter((h) => h.answers.length === 1).length === 32, "32 refusals", 10_000);
    for (const h of held.filter((h) => h.answers.length === 1)) {
      expect(h.answers[0]!.status).toBe(503);
      expect(errorCode(h.answers[0]!)).toMatchObject({ code: "overloaded" });
      expect(h.answers[0]!.headers["retry-after"]).toBe("1");
    }
    await until(() => /^presparse_inflight_requests 8$/m.test(s.metrics.render()), "eight uploads held");
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(8 * MiB + 8 * MiB);
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
    expect((await postFrame(s.url, activationFrame(tail, 2, 9).bytes)).status).toBe(200);
    for (const h of held) h.sock.destroy();
    await until(() => /^presparse_inflight_requests 0$/m.test(s.metrics.render()), "nothing in flight");
    expect(s.metrics.requests.get({ path: "/v1/infer", code: "503", transport: "http" })).toBe(32);
  });

  it("past the connection cap a connection's request gets 503 with Connection: close; under it, as usual", async () => {
    const s = await serve({ maxConnections: 4 });
    const kept = Array.from({ length: 4 }, () => rawConnection(s.port));
    await Promise.all(kept.map((k) => new Promise((r) => k.sock.once("connect", r))));
    const over = rawConnection(s.port);
    const f = activationFrame(tail, 1, 5);
    over.sock.write(Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]));
    const a = await over.next();
    expect([a.status, a.headers.connection, errorCode(a).code]).toEqual([503, "close", "overloaded"]);
    expect(await over.ended).toBe("closed");
    kept[0]!.sock.write(Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]));
    expect((await kept[0]!.next()).status).toBe(200);
    kept[1]!.sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(
      (await raw(s.url, { path: "/v1/infer", headers: { "Content-Type": FRAME_TYPE }, body: f.bytes, agent: false }))
        .status,
    ).toBe(200);
    for (const k of kept) k.sock.destroy();
  });

  it("past the connection cap a stream upgrade gets 503 overloaded, not a stream; under it, 101", async () => {
    const s = await serve({ maxConnections: 2 });
    const kept = rawConnection(s.port);
    await new Promise((r) => kept.sock.once("connect", r));
    const upgrade =
      "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      `Sec-WebSocket-Protocol: ${STREAM_PROTOCOL}\r\n\r\n`;
    const stream = rawConnection(s.port);
    stream.sock.write(upgrade);
    expect((await stream.next()).status).toBe(101);
    const over = rawConnection(s.port);
    over.sock.write(upgrade);
    const a = await over.next();
    expect([a.status, a.headers.connection, errorCode(a).code]).toEqual([503, "close", "overloaded"]);
    expect(await over.ended).toBe("closed");
    for (const c of [kept, stream]) c.sock.destroy();
  });
});

describe("slow heads", () => {
  it("a request head that never completes is answered 408 within the request timeout", async () => {
    const s = await serve({ timeoutMs: 400 });
    const c = rawConnection(s.port);
    const t = performance.now();
    c.sock.write("POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Ty");
    const a = await c.next();
    expect([a.status, errorCode(a).code, a.headers.connection]).toEqual([408, "request_timeout", "close"]);
    expect(performance.now() - t).toBeLessThan(2000);
    expect(await c.ended).toBe("closed");
  });
});

describe("shutdown", () => {
  it("idle and half-sent sockets do not hold close() to the drain timeout", async () => {
    const s = await serve({ drainTimeoutMs: 5000 });
    const idle = rawConnection(s.port);
    const f = activationFrame(tail, 1, 6);
    idle.sock.write(Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]));
    expect((await idle.next()).status).toBe(200);
    const halfHead = rawConnection(s.port);
    halfHead.sock.write("POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Ty");
    const fresh = rawConnection(s.port);
    await new Promise((r) => fresh.sock.once("connect", r));
    await new Promise((r) => setTimeout(r, 30));
    const t = performance.now();
    await s.close();
    expect(performance.now() - t).toBeLessThan(1000);
    for (const c of [idle, halfHead, fresh]) expect(await c.ended).toMatch(/closed|ECONNRESET/);
  });

  it("requests on kept-alive connections just after close() get 503 shutting_down with Connection: close", async () => {
    const s = await serve();
    const conns = Array.from({ length: 8 }, () => rawConnection(s.port));
    const f = activationFrame(tail, 1, 8);
    const post = Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]);
    for (const c of conns) c.sock.write(post);
    for (const c of conns) expect((await c.next()).status).toBe(200);
    const closed = s.close();
    await new Promise((r) => setTimeout(r, 10));
    for (const c of conns) c.sock.write(post);
    for (const c of conns) {
      const a = await c.next();
      expect([a.status, a.headers.connection, errorCode(a).code]).toEqual([503, "close", "shutting_down"]);
      expect(a.headers["retry-after"]).toBe("1");
      expect(await c.ended).toBe("closed");
    }
    await closed;
  });

  it("SIGTERM: requests just after it on kept-alive connections get 503, Connection: close; exit 0", async () => {
    const files = tempFiles({ "tail.safetensors": tailBytes });
    try {
      const { child, url, exited } = await spawnCli([
        "serve",
        "--model",
        files.path("tail.safetensors"),
        "--port",
        "0",
      ]);
      const port = Number(new URL(url).port);
      const conns = Array.from({ length: 6 }, () => rawConnection(port));
      const f = activationFrame(tail, 1, 9);
      const post = Buffer.concat([Buffer.from(postHead(f.bytes.length)), f.bytes]);
      for (const c of conns) c.sock.write(post);
      for (const c of conns) expect((await c.next()).status).toBe(200);
      child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 20));
      for (const c of conns) c.sock.write(post);
      const statuses = await Promise.all(
        conns.map(async (c) => {
          const a = await c.next();
          return [a.status, a.headers.connection, await c.ended];
        }),
      );
      expect(statuses).toEqual(conns.map(() => [503, "close", "closed"]));
      expect(await exited).toBe(0);
    } finally {
      files.cleanup();
    }
  });
});
