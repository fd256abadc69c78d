// Timed TCP transfers for the link tests: a sink that answers one byte once it has read a given count, and a client
// that times "write N bytes → get the byte back" on a connection already warmed by a one-byte ping. Plain .mjs so
// the same code runs in the test process and, as a script, inside a network namespace:
//
//   node test/helpers/transfer.mjs <bytes>   → prints {"ms": …} for one upload over 127.0.0.1
import { createServer, connect } from "node:net";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

/**
 * A server on 127.0.0.1 that, on each connection, echoes a ping byte "p", and reads a line "up N\n" (then N bytes,
 * and answers one byte) or "down N\n" (and sends N bytes).
 */
export function startSink() {
  const server = createServer({ noDelay: true }, (s) => {
    let stage = "idle";
    let want = 0;
    let header = "";
    s.on("data", (b) => {
      let i = 0;
      while (i < b.length) {
        if (stage === "idle" && b[i] === 0x70 /* p */) {
          s.write(b.subarray(i, i + 1));
          i++;
        } else if (stage === "idle") {
          const nl = b.indexOf(10, i);
          header += b.subarray(i, nl < 0 ? b.length : nl).toString("latin1");
          if (nl < 0) return;
          i = nl + 1;
          const [cmd, n] = header.split(" ");
          header = "";
          want = Number(n);
          if (cmd === "down") s.write(Buffer.alloc(want, 7));
          else if (want === 0) s.write("k");
          else stage = "up";
        } else {
          const take = Math.min(want, b.length - i);
          want -= take;
          i += take;
          if (want === 0) {
            s.write("k");
            stage = "idle";
          }
        }
      }
    });
    s.on("error", () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: server.address().port, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

/** Opens a connection and answers a one-byte ping on it (so the handshake is behind us). */
export function warmConnection(host, port) {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true }, () => s.write("p"));
    s.once("error", reject);
    s.once("data", () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}

/** ms from writing "up N" and N bytes to reading the sink's one-byte answer. */
export function timeUpload(s, n) {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    const t0 = performance.now();
    s.once("data", () => {
      s.off("error", reject);
      resolve(performance.now() - t0);
    });
    s.write(`up ${n}\n`);
    s.write(Buffer.alloc(n, 5));
  });
}

/** ms from writing "down N" to reading N bytes. */
export function timeDownload(s, n) {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    const t0 = performance.now();
    let got = 0;
    const onData = (b) => {
      got += b.length;
      if (got >= n) {
        s.off("data", onData);
        s.off("error", reject);
        resolve(performance.now() - t0);
      }
    };
    s.on("data", onData);
    s.write(`down ${n}\n`);
  });
}

/** Next ping on a warm connection (between timed transfers). */
export function ping(s) {
  return new Promise((resolve) => {
    s.once("data", () => resolve());
    s.write("p");
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const n = Number(process.argv[2]);
  const sink = await startSink();
  const s = await warmConnection("127.0.0.1", sink.port);
  const ms = await timeUpload(s, n);
  s.destroy();
  await sink.close();
  process.stdout.write(`${JSON.stringify({ ms })}\n`);
}
