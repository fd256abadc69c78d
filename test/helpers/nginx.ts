// A real nginx in front of tail servers on loopback, for the scale-out test: the configuration docs/serving.md
// shows (one upstream, health-checked passively, retries on another instance, WebSocket upgrades passed through),
// written into a temporary prefix and run in the foreground so the test owns its process.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";

/** The nginx binary, or undefined (with the reason) when it cannot run here. */
export function nginxBinary(): { path?: string; why?: string } {
  for (const path of [process.env.PRESPARSE_TEST_NGINX, "/usr/sbin/nginx", "/usr/bin/nginx"]) {
    if (!path) continue;
    try {
      execFileSync(path, ["-v"], { stdio: "ignore" });
      return { path };
    } catch {
      // not there, or not runnable
    }
  }
  return { why: "nginx not found (Debian: apt-get install nginx)" };
}

/** A free TCP port on 127.0.0.1 (free when asked; nginx binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The configuration of the scale-out test: the fleet's nginx.conf of docs/serving.md, on loopback. */
export function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `  ${t}_temp_path ${join(dir, t)};`)
    .join("\n");
  return `
# written by test/helpers/nginx.ts
daemon off;
worker_processes 1;
user ${userInfo().username};
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }

http {
  access_log off;
${temp}

  upstream presparse_tail {
    least_conn;
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=10s;`).join("\n")}
    keepalive 32;
  }

  server {
    listen 127.0.0.1:${port};
    client_max_body_size 4m;

    location = /v1/stream {
      proxy_pass http://presparse_tail;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 1h;
    }

    location / {
      proxy_pass http://presparse_tail;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 15s;
      proxy_next_upstream error timeout non_idempotent;
      proxy_next_upstream_tries 2;
    }
  }
}
`;
}

/** nginx running in the foreground with that configuration; `stop()` ends it by its PID. */
export async function startNginx(
  bin: string,
  dir: string,
  port: number,
  upstreams: number[],
): Promise<{ child: ChildProcess; url: string; errorLog(): string; stop(): Promise<void> }> {
  for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, t), { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, port, upstreams));
  let stderr = "";
  const child = spawn(bin, ["-p", dir, "-c", conf, "-e", join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (Date.now() > end) throw new Error(`nginx did not listen on ${port} within 10 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const errorLog = () => {
    try {
      return readFileSync(join(dir, "error.log"), "utf8");
    } catch {
      return "";
    }
  };
  return {
    child,
    url,
    errorLog,
    async stop() {
      if (child.exitCode === null) child.kill("SIGQUIT");
      await exited;
    },
  };
}
