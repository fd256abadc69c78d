// The setup shared by the server test files: a split model of one seed, a local reference tail, and tail servers
// on loopback that afterAll closes (with every CLI child still running) before the models are disposed.
import { afterAll } from "vitest";
import type { Engine } from "../../src/engine/engine.js";
import { startServer, type RunningServer } from "../../src/server/index.js";
import { referenceTail, splitModel, stopChildren } from "./server_harness.js";

type ServerOptions = Parameters<typeof startServer>[0];

export function tailServers(engine: Engine, seed: number) {
  const { model, head, tail, tailBytes } = splitModel(engine, seed);
  const ref = referenceTail(engine, tailBytes);
  const servers: RunningServer[] = [];
  /** A tail server of this model on 127.0.0.1 and a free port, closed by afterAll. */
  async function serve(o: Partial<ServerOptions> = {}): Promise<RunningServer> {
    const s = await startServer({ model: tailBytes, engine, port: 0, host: "127.0.0.1", ...o });
    servers.push(s);
    return s;
  }
  afterAll(async () => {
    await stopChildren();
    await Promise.all(servers.map((s) => s.close()));
    for (const x of [model, head, tail, ref]) x.dispose();
  });
  return { model, head, tail, tailBytes, ref, servers, serve };
}
