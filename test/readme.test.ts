// The README's library example is run as written, importing the package by its own name.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

function example(): string {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const m = /<!-- readme-example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error("README.md has no block marked <!-- readme-example -->");
  return m[1]!;
}

describe("README", () => {
  it("the library example runs and prints what its comments say", () => {
    const dir = `${root}test/artifacts`;
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/readme-example.mjs`;
    writeFileSync(file, example());
    try {
      const out = execFileSync(process.execPath, [file], { encoding: "utf8", cwd: root, timeout: 60_000 });
      expect(out).toMatch(/^2860 parameters stored$/m);
      const acc = /finalAccuracy: ([\d.]+)/.exec(out);
      expect(Number(acc?.[1])).toBeGreaterThan(0.3);
      expect(out).toMatch(/^[0-8] samples go on to the tail$/m);
      expect(out).toMatch(/bytes, hash [0-9a-f]{16} 10$/m);
    } finally {
      rmSync(file, { force: true });
    }
  }, 90_000);

  it("documents the two commands", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    expect(readme).toContain("npm install && npm start");
    expect(readme).toContain("npm test");
  });
});
