// Scale-out behind a real load balancer: Debian's nginx in front of two tail servers (separate processes) on
// loopback, with the configuration docs/serving.md shows. Edge clients send load through nginx over HTTP and over
// the stream; one tail server is killed by its PID mid-run. Every request is answered with a 200 — directly, or
// after a retry (nginx's on another instance, or the client's after a 503 or a dropped connection) — and both
// servers served. Skipped, with one line, where nginx cannot run.
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SplitClient } from "../src/split/client.js";
import type { WebSocketConstructor } from "../src/split/ws_transport.js";
import { getEngine } from "./helpers/engine.js";
import { freePort, nginxBinary, startNginx } from "./helpers/nginx.js";
import { randomValues, spawnCli, splitModel, stopChildren, tempFiles, until } from "./helpers/server_harness.js";

const nginx = nginxBinary();
if (!nginx.path) console.warn(`fleet.test: ${nginx.why}; the scale-out test is skipped`);

const engine = await getEngine();
const { model, head, tail, tailBytes } = splitModel(engine, 8);
const files = tempFiles({ "tail.safetensors": tailBytes });

afterAll(async () => {
  await stopChildren();
  files.cleanup();
  for (const x of [model, head, tail]) x.dispose();
});

/** 200 answers of POST /v1/infer and of the stream a server reports in its metrics. */
async function served(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [
    ...text.matchAll(/^presparse_requests_total\{code="200",path="\/v1\/infer",transport="(?:http|ws)"\} (\d+)$/gm),
  ].reduce((s, m) => s + Number(m[1]), 0);
}

describe.skipIf(!nginx.path)("two tail servers behind nginx", () => {
  it("answers every request while one server is killed by its PID mid-run; both served", async () => {
    const [a, b] = await Promise.all(
      [0, 1].map(() =>
        spawnCli(["serve", "--model", files.path("tail.safetensors"), "--port", "0", "--max-delay-ms", "1"]),
      ),
    );
    const port = await freePort();
    const lb = await startNginx(
      nginx.path!,
      files.path("nginx"),
      port,
      [a!, b!].map((s) => Number(new URL(s.url).port)),
    );
    try {
      const F = head.inputSize;
      const WS = WebSocket as unknown as WebSocketConstructor;
      // four edge clients over HTTP and two over the stream, each keeping 4 calls in flight; retries as shipped
      const clients = [
        ...Array.from({ length: 4 }, () => new SplitClient({ head, serverUrl: lb.url, policy: null, backoffMs: 20 })),
        ...Array.from(
          { length: 2 },
          () =>
            new SplitClient({ head, serverUrl: lb.url, policy: null, transport: "ws", WebSocket: WS, backoffMs: 20 }),
        ),
      ];
      const tally = { calls: 0, ok: 0, retries: 0, failed: [] as string[] };
      let stop = false;
      const loop = async (c: SplitClient, k: number) => {
        for (let i = 0; !stop; i++) {
          tally.calls++;
          try {
            const r = await c.infer([randomValues(F, 1000 * k + i)]);
            if (r.samples[0]!.exit === head.split.totalExits) tally.ok++;
            tally.retries += r.totals.retries;
          } catch (e) {
            tally.failed.push(String(e));
          }
        }
      };
      const loops = clients.flatMap((c, j) => Array.from({ length: 4 }, (_, q) => loop(c, 4 * j + q)));
      // both servers take load through nginx before one dies
      await until(
        async () => (await served(a!.url)) >= 50 && (await served(b!.url)) >= 50,
        "both servers to serve through nginx",
        20_000,
        50,
      );
      const servedByA = await served(a!.url);
      a!.child.kill("SIGKILL");
      expect(await a!.exited).toBeNull();
      const atKill = tally.calls;
      await until(() => tally.calls >= atKill + 300, "300 more calls after the kill", 20_000, 20);
      stop = true;
      await Promise.all(loops);
      for (const c of clients) c.dispose();
      const servedByB = await served(b!.url);
      expect(tally.failed, tally.failed.slice(0, 3).join("\n")).toEqual([]);
      expect(tally.ok).toBe(tally.calls);
      expect(servedByA).toBeGreaterThanOrEqual(50);
      expect(servedByB).toBeGreaterThanOrEqual(50);
      console.info(
        `fleet: ${tally.calls} calls, all answered 200 (${tally.retries} client retries); ` +
          `server A ${servedByA} before its kill, server B ${servedByB}`,
      );
      b!.child.kill("SIGTERM");
      expect(await b!.exited).toBe(0);
    } finally {
      await lb.stop();
    }
  });
});
