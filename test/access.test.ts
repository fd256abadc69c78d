// Who may call the tail server: bearer tokens (401 with WWW-Authenticate before a byte of the body is read, the
// queue untouched, the token never echoed or logged, health checks open), a CORS allowlist (preflights, the origin
// echoed, never a wildcard with tokens, a foreign origin gets no CORS header and no stream), and TLS with a
// certificate made at test time; SplitClient and presparse infer send the token on both transports.
import { execFileSync, execFile } from "node:child_process";
import { connect } from "node:net";
import { request as httpsRequest } from "node:https";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ValidationError } from "../src/engine/errors.js";
import { decodeFrame } from "../src/split/frame.js";
import { readTokenFile } from "../src/server/access.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { SplitClient, SplitServerError } from "../src/split/client.js";
import type { WebSocketConstructor } from "../src/split/ws_transport.js";
import { getEngine } from "./helpers/engine.js";
import {
  CLI,
  FRAME_TYPE,
  activationFrame,
  errorOf,
  localLogits,
  postFrame,
  randomValues,
  raw,
  referenceTail,
  spawnCli,
  splitModel,
  stopChildren,
  tempFiles,
  until,
} from "./helpers/server_harness.js";
import { openStream, type UpgradeRefusal } from "./helpers/stream_harness.js";

const engine = await getEngine();
const { model, head, tail, tailBytes } = splitModel(engine, 6);
const ref = referenceTail(engine, tailBytes);
const TOKENS = ["alpha-token-1", "beta.token_2~+/=="];
const APP = "https://app.example.com";
const server: RunningServer = await startServer({
  model: tailBytes,
  engine,
  port: 0,
  tokens: TOKENS,
  corsOrigins: [APP],
});
const WS = WebSocket as unknown as WebSocketConstructor;
const others: RunningServer[] = [];

afterAll(async () => {
  await stopChildren();
  await Promise.all([server, ...others].map((s) => s.close()));
  for (const x of [model, head, tail, ref]) x.dispose();
});

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const cors = (h: Record<string, unknown>) =>
  Object.keys(h)
    .filter((k) => k.startsWith("access-control-"))
    .sort();

describe("bearer tokens", () => {
  it("no token or a wrong one: 401 with WWW-Authenticate, the token never echoed, the queue untouched", async () => {
    const f = activationFrame(tail, 2, 1);
    const cases: [Record<string, string>, string][] = [
      [{}, `Bearer realm="presparse"`],
      [{ Authorization: "Basic YWxwaGE6dG9rZW4=" }, `Bearer realm="presparse"`],
      [bearer("alpha-token-2"), `Bearer realm="presparse", error="invalid_token"`],
      [bearer("alpha-token-1x"), `Bearer realm="presparse", error="invalid_token"`],
      [bearer("alpha-token-"), `Bearer realm="presparse", error="invalid_token"`],
      [bearer("beta.token_2"), `Bearer realm="presparse", error="invalid_token"`],
    ];
    for (const [headers, challenge] of cases) {
      const r = await postFrame(server.url, f.bytes, "", headers);
      expect([r.status, r.headers["www-authenticate"], errorOf(r).code], JSON.stringify(headers)).toEqual([
        401,
        challenge,
        "unauthorized",
      ]);
      for (const t of [...TOKENS, "alpha-token-2"]) expect(r.body.toString()).not.toContain(t);
    }
    expect(server.metrics.batchSize.count).toBe(0);
    expect(server.queueDepth()).toEqual({ requests: 0, samples: 0 });
    // either token, either case of the scheme
    for (const [t, scheme] of [
      [TOKENS[0]!, "Bearer"],
      [TOKENS[1]!, "bearer"],
    ]) {
      const r = await postFrame(server.url, f.bytes, "", { Authorization: `${scheme} ${t}` });
      expect(r.status).toBe(200);
      expect(bits(decodeFrame(new Uint8Array(r.body)).data)).toEqual(bits(localLogits(ref, f.data, 2)));
    }
  });

  it("refuses on the head: the 401 comes before the body is sent, and the connection is closed", async () => {
    const batches = server.metrics.batchSize.count;
    const sock = connect(server.port, "127.0.0.1");
    const got: Buffer[] = [];
    sock.on("data", (c: Buffer) => got.push(c));
    const ended = new Promise<void>((r) => sock.on("close", () => r()));
    sock.write(`POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: ${FRAME_TYPE}\r\nContent-Length: 100000\r\n\r\n`);
    await until(() => Buffer.concat(got).includes("\r\n\r\n"), "an answer to the head alone");
    const text = Buffer.concat(got).toString();
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    sock.end();
    await ended;
    expect(server.metrics.batchSize.count).toBe(batches);
  });

  it("health checks and preflights are open; metrics, metadata and the stream are not", async () => {
    const status = async (path: string, headers = {}) =>
      (await raw(server.url, { method: "GET", path, headers })).status;
    for (const p of ["/healthz", "/v2/health/live", "/v2/health/ready", "/v2/models/presparse/ready"])
      expect(await status(p), p).toBe(200);
    for (const p of ["/metrics", "/v2", "/v2/models/presparse", "/nope"]) expect(await status(p), p).toBe(401);
    expect(await status("/metrics", bearer(TOKENS[0]!))).toBe(200);
    const oip = await raw(server.url, {
      path: "/v2/models/presparse/infer",
      headers: { "Content-Type": "application/json" },
      body: Buffer.from("{}"),
    });
    expect([oip.status, JSON.parse(oip.body.toString())]).toEqual([
      401,
      { error: "this server requires a bearer token (Authorization: Bearer <token>)" },
    ]);
    const refused = await openStream(server.url).catch((e: UpgradeRefusal) => e);
    expect([(refused as UpgradeRefusal).status, (refused as UpgradeRefusal).headers["www-authenticate"]]).toEqual([
      401,
      `Bearer realm="presparse"`,
    ]);
    const wrong = await openStream(server.url, { headers: bearer("nope") }).catch((e: UpgradeRefusal) => e.status);
    expect(wrong).toBe(401);
    const byHeader = await openStream(server.url, { headers: bearer(TOKENS[1]!) });
    byHeader.ws.close();
  });

  it("SplitClient sends its token over HTTP and over the stream (as a subprotocol, never echoed)", async () => {
    const F = head.inputSize;
    const x = randomValues(F, 9);
    const results = [];
    for (const transport of ["http", "ws"] as const) {
      const c = new SplitClient({
        head,
        serverUrl: server.url,
        policy: null,
        transport,
        WebSocket: WS,
        token: TOKENS[1],
      });
      results.push((await c.infer([x])).samples[0]);
      c.dispose();
      const anonymous = new SplitClient({
        head,
        serverUrl: server.url,
        policy: null,
        transport,
        WebSocket: WS,
        retries: 0,
      });
      const err = await anonymous.infer([x]).catch((e: Error) => e);
      if (transport === "http") expect(err).toMatchObject({ status: 401, code: "unauthorized" });
      else expect(String(err)).toMatch(/could not connect: Unexpected server response: 401/);
      expect(err).toBeInstanceOf(transport === "http" ? SplitServerError : Error);
      anonymous.dispose();
    }
    expect(results[1]).toMatchObject({ label: results[0]!.label, confidence: results[0]!.confidence });
    const s = await openStream(server.url, {
      protocols: ["presparse.v1", `presparse.bearer.${Buffer.from(TOKENS[0]!).toString("base64url")}`],
    });
    expect(s.ws.protocol).toBe("presparse.v1");
    s.ws.close();
    expect(() => new SplitClient({ head, serverUrl: server.url, token: "two words" })).toThrow(ValidationError);
  });

  it("reads a token file: one per line, comments and blank lines skipped; a bad line is named, not shown", () => {
    const files = tempFiles({
      good: new TextEncoder().encode("# tokens for the tail\n\nalpha-token-1\n  beta.token_2~+/==  \r\n"),
      bad: new TextEncoder().encode("alpha-token-1\nsecret with spaces\n"),
      empty: new TextEncoder().encode("# nothing\n"),
    });
    try {
      expect(readTokenFile(files.path("good"))).toEqual(TOKENS);
      expect(() => readTokenFile(files.path("bad"))).toThrow(/line 2 is not a bearer token/);
      expect(() => readTokenFile(files.path("bad"))).not.toThrow(/secret/);
      expect(() => readTokenFile(files.path("empty"))).toThrow(/no token/);
      expect(() => readTokenFile(files.path("missing"))).toThrow(/ENOENT/);
    } finally {
      files.cleanup();
    }
  });
});

describe("CORS", () => {
  const preflight = (origin: string, path = "/v1/infer") =>
    raw(server.url, {
      method: "OPTIONS",
      path,
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });

  it("answers an allowed origin's preflight without a token; every answer to it names the origin", async () => {
    const p = await preflight(APP);
    expect(p.status).toBe(204);
    expect(p.headers).toMatchObject({
      "access-control-allow-origin": APP,
      "access-control-allow-methods": "POST",
      "access-control-max-age": "600",
      vary: "Origin",
    });
    expect(p.headers["access-control-allow-headers"]).toMatch(/Authorization, Content-Type/);
    expect(p.headers["access-control-allow-credentials"]).toBeUndefined();
    expect((await preflight(APP, "/v2/models/presparse/infer")).headers["access-control-allow-methods"]).toBe("POST");
    const f = activationFrame(tail, 1, 2);
    const ok = await postFrame(server.url, f.bytes, "", { Origin: APP, ...bearer(TOKENS[0]!) });
    expect([ok.status, ok.headers["access-control-allow-origin"], ok.headers.vary]).toEqual([200, APP, "Origin"]);
    expect(ok.headers["access-control-expose-headers"]).toMatch(/Retry-After.*X-Presparse-Dtype/);
    // a refusal is readable by the page too
    const denied = await postFrame(server.url, f.bytes, "", { Origin: APP });
    expect([denied.status, denied.headers["access-control-allow-origin"]]).toEqual([401, APP]);
  });

  it("gives a foreign origin, or no origin, no CORS header; refuses its preflight and its stream", async () => {
    const p = await preflight("https://evil.example.net");
    expect([p.status, errorOf(p).code, cors(p.headers)]).toEqual([403, "origin_not_allowed", []]);
    const f = activationFrame(tail, 1, 3);
    for (const headers of [{ Origin: "https://evil.example.net" }, { Origin: "https://app.example.com:8443" }, {}]) {
      const r = await postFrame(server.url, f.bytes, "", { ...headers, ...bearer(TOKENS[0]!) });
      expect([r.status, cors(r.headers)], JSON.stringify(headers)).toEqual([200, []]);
    }
    const token = bearer(TOKENS[0]!);
    const foreign = await openStream(server.url, { headers: { ...token, Origin: "https://evil.example.net" } }).catch(
      (e: UpgradeRefusal) => e,
    );
    expect((foreign as UpgradeRefusal).status).toBe(403);
    for (const origin of [APP, server.url])
      (await openStream(server.url, { headers: { ...token, Origin: origin } })).ws.close();
  });

  it("refuses a wildcard with tokens and an origin that is not one; a wildcard alone answers *", async () => {
    await expect(
      startServer({ model: tailBytes, engine, port: 0, tokens: TOKENS, corsOrigins: ["*"] }),
    ).rejects.toThrow(/a wildcard origin with credentials is refused/);
    await expect(
      startServer({ model: tailBytes, engine, port: 0, corsOrigins: ["https://app.example.com/path"] }),
    ).rejects.toThrow(/is not an origin/);
    await expect(startServer({ model: tailBytes, engine, port: 0, tokens: ["a b"] })).rejects.toThrow(ValidationError);
    const open = await startServer({ model: tailBytes, engine, port: 0, corsOrigins: ["*"] });
    others.push(open);
    const r = await postFrame(open.url, activationFrame(tail, 1, 4).bytes, "", { Origin: "https://anyone.example" });
    expect([r.status, r.headers["access-control-allow-origin"], r.headers["access-control-allow-credentials"]]).toEqual(
      [200, "*", undefined],
    );
  });
});

const openssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!openssl) console.warn("access.test: openssl not found; the TLS tests are skipped");

describe.skipIf(!openssl)("TLS", () => {
  /** A self-signed certificate for 127.0.0.1 and localhost, made now, valid one day. */
  function certificate() {
    const files = tempFiles({});
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-keyout",
        files.path("key.pem"),
        "-out",
        files.path("cert.pem"),
        "-subj",
        "/CN=presparse test",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "ignore" },
    );
    return files;
  }

  it("serves HTTPS and wss:// with --tls-cert/--tls-key: a frame round trip, and the stream, bit-exact", async () => {
    const files = certificate();
    try {
      const { readFileSync } = await import("node:fs");
      const ca = readFileSync(files.path("cert.pem"));
      const s = await startServer({
        model: tailBytes,
        engine,
        port: 0,
        tls: { cert: ca, key: readFileSync(files.path("key.pem")) },
      });
      others.push(s);
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const f = activationFrame(tail, 3, 5);
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = httpsRequest(
          `${s.url}/v1/infer`,
          { method: "POST", ca, headers: { "Content-Type": FRAME_TYPE } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`status ${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
        req.end(f.bytes);
      });
      expect(bits(decodeFrame(new Uint8Array(body)).data)).toEqual(bits(localLogits(ref, f.data, 3)));
      const st = await openStream(s.url, { ca });
      expect(st.ws.url).toMatch(/^wss:/);
      st.send(7, f.bytes);
      const [m] = await st.received(1);
      expect(m!.id).toBe(7);
      st.ws.close();
      // an untrusted certificate is refused by the client
      await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    } finally {
      files.cleanup();
    }
  });

  it("over TLS too: a client that half-closes after a whole request is answered; the cap holds", async () => {
    const files = certificate();
    try {
      const { readFileSync } = await import("node:fs");
      const { connect: tlsConnect } = await import("node:tls");
      const ca = readFileSync(files.path("cert.pem"));
      const tls = { cert: ca, key: readFileSync(files.path("key.pem")) };
      const s = await startServer({ model: tailBytes, engine, port: 0, maxConnections: 2, tls });
      others.push(s);
      const f = activationFrame(tail, 1, 5);
      const request = Buffer.concat([
        Buffer.from(`POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: ${FRAME_TYPE}\r\n`),
        Buffer.from(`Content-Length: ${f.bytes.length}\r\n\r\n`),
        f.bytes,
      ]);
      /** The status line and Connection header of the answer to one request, `end()` called right after it. */
      const ask = (halfClose: boolean) =>
        new Promise<string>((resolve, reject) => {
          const c = tlsConnect({ port: s.port, host: "127.0.0.1", ca }, () => {
            c.write(request);
            if (halfClose) c.end();
          });
          let got = "";
          c.on("data", (d: Buffer) => (got += d.toString("latin1")));
          c.on("error", reject);
          c.on("close", () => resolve(`${got.split("\r\n")[0]} ${/connection: (\w+)/i.exec(got)?.[1] ?? "-"}`));
          if (!halfClose) setTimeout(() => c.destroy(), 300);
        });
      expect(await ask(true)).toBe("HTTP/1.1 200 OK close");
      const open = tlsConnect({ port: s.port, host: "127.0.0.1", ca });
      const other = tlsConnect({ port: s.port, host: "127.0.0.1", ca });
      await Promise.all([open, other].map((c) => new Promise((r) => c.once("secureConnect", r))));
      expect(await ask(false)).toBe("HTTP/1.1 503 Service Unavailable close");
      for (const c of [open, other]) c.destroy();
    } finally {
      files.cleanup();
    }
  });

  it("presparse serve with TLS and tokens; presparse infer over https and wss with one; no output has it", async () => {
    const files = certificate();
    const { writeFileSync } = await import("node:fs");
    // the paper's shapes, so the embedded digits fit the head
    const paper = splitModel(engine, 7, [800, 40, 40, 10], [2, 9, 10]);
    writeFileSync(files.path("tokens"), `# one token\n${TOKENS[0]}\n`);
    writeFileSync(files.path("tail.safetensors"), paper.tailBytes);
    writeFileSync(files.path("head.safetensors"), paper.headBytes);
    for (const x of [paper.model, paper.head, paper.tail]) x.dispose();
    try {
      const srv = await spawnCli([
        "serve",
        "--model",
        files.path("tail.safetensors"),
        "--port",
        "0",
        "--tls-cert",
        files.path("cert.pem"),
        "--tls-key",
        files.path("key.pem"),
        "--token-file",
        files.path("tokens"),
        "--cors-origin",
        `${APP},https://b.example.com`,
      ]);
      expect(srv.url).toMatch(/^https:/);
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: files.path("cert.pem") };
      const infer = (transport: string, token: boolean) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          const args = [
            CLI,
            "infer",
            "--head",
            files.path("head.safetensors"),
            "--server",
            srv.url,
            "--limit",
            "5",
            "--exit-policy",
            "none",
            "--transport",
            transport,
            "--json",
          ];
          if (token) args.push("--token-file", files.path("tokens"));
          execFile(process.execPath, args, { env, timeout: 30_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
          );
        });
      const [http, ws] = [await infer("http", true), await infer("ws", true)];
      expect([http.code, ws.code], http.stderr + ws.stderr).toEqual([0, 0]);
      expect(JSON.parse(ws.stdout).accuracy).toBe(JSON.parse(http.stdout).accuracy);
      expect(JSON.parse(ws.stdout)).toMatchObject({ n: 5, transport: "ws", retries: 0 });
      const denied = await infer("http", false);
      expect([denied.code, denied.stderr]).toEqual([
        1,
        expect.stringMatching(/SplitServerError: server answered 401 unauthorized/),
      ]);
      srv.child.kill("SIGTERM");
      expect(await srv.exited).toBe(0);
      const log = srv.stderr();
      expect(log).toContain(
        `bearer tokens required (1 from ${files.path("tokens")}); CORS for ${APP}, https://b.example.com; TLS`,
      );
      for (const out of [log, http.stdout, ws.stdout, denied.stderr]) expect(out).not.toContain(TOKENS[0]);
    } finally {
      files.cleanup();
    }
  });
});
