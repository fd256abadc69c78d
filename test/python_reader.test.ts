// docs/python/presparse_reader.py reads our model files and agrees with our logits to 1e-5: with numpy alone, with
// scipy, and with torch, each where the machine's Python has it (each absence is one line on the console).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine/engine.js";
import { decodeModel, encodeModel } from "../src/io/model_io.js";
import type { Model } from "../src/nn/model.js";
import { getEngine } from "./helpers/engine.js";
import { bySample, cnnModel, logitsBySample, paperModel, sampleInputs } from "./helpers/reader_models.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const CHECK = join(root, "test/python/check_reader.py");
const READER_DIR = join(root, "docs/python");
const DOC = readFileSync(join(root, "docs/python.md"), "utf8");

/** The code blocks of docs/python.md that follow `<!-- <marker> -->`. */
function docBlocks(marker: RegExp): string[] {
  return [...DOC.matchAll(/<!-- ([^>]*?) -->\n```python\n([\s\S]*?)```/g)]
    .filter((m) => marker.test(m[1]!))
    .map((m) => m[2]!);
}

const PYTHONS = process.env.PYTHON ? [process.env.PYTHON] : ["python3", "/usr/bin/python3"];

/**
 * A Python that imports numpy: $PYTHON when set, else whichever of python3 on the PATH and Debian's /usr/bin/python3
 * has more of scipy and torch (a version manager's python3 may shadow the system one that has Debian's packages).
 */
function findPython(): { bin: string; scipy: boolean; torch: boolean } | undefined {
  const probe = "import importlib.util as u, numpy; print(*[u.find_spec(m) is not None for m in ('scipy', 'torch')])";
  const found = [];
  for (const bin of PYTHONS) {
    try {
      const [scipy, torch] = execFileSync(bin, ["-c", probe], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
        timeout: 30_000,
      })
        .trim()
        .split(" ");
      found.push({ bin, scipy: scipy === "True", torch: torch === "True" });
    } catch {
      // not there, or no numpy
    }
  }
  return found.sort((a, b) => Number(b.torch) - Number(a.torch) || Number(b.scipy) - Number(a.scipy))[0];
}

const python = findPython();
if (!python) console.log(`python reader test skipped: no Python with numpy (tried ${PYTHONS.join(", ")})`);
else {
  if (!python.scipy) console.log(`python reader: scipy part skipped (${python.bin} has no scipy)`);
  if (!python.torch) console.log(`python reader: torch part skipped (${python.bin} has no torch)`);
}

interface Result {
  model: string;
  numpy: number | string;
  scipy: number | string;
  torch: number | string;
  torchVersion?: string;
}

let engine: Engine;
let dir: string;
let results: Map<string, Result>;

/** Writes each model (and its logits on a few samples) where the checker reads them, runs it once, keeps its lines. */
function runChecker(models: { name: string; bytes: Uint8Array; model: Model }[]): Map<string, Result> {
  const B = 5;
  const cases = models.map(({ name, bytes, model }, k) => {
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, bytes);
    const x = sampleInputs(model.inputSize, B, 100 + k);
    return { model: path, x: bySample(x, model.inputSize, B), logits: logitsBySample(model, x, B) };
  });
  writeFileSync(join(dir, "cases.json"), JSON.stringify(cases));
  const out = execFileSync(python!.bin, [CHECK, join(dir, "cases.json")], {
    encoding: "utf8",
    timeout: 120_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Result);
  return new Map(lines.map((r) => [r.model.replace(/\.safetensors$/, ""), r]));
}

beforeAll(async () => {
  if (!python) return;
  engine = await getEngine();
  dir = mkdtempSync(join(tmpdir(), "presparse-python-"));
  const paper = paperModel(engine),
    cnn = cnnModel(engine);
  try {
    const fixture = readFileSync(join(root, "test/fixtures/v1-mlp.safetensors"));
    const v1 = decodeModel(engine, fixture).model;
    try {
      results = runChecker([
        { name: "paper", bytes: encodeModel(paper).bytes, model: paper },
        { name: "cnn", bytes: encodeModel(cnn).bytes, model: cnn },
        { name: "paper-u16", bytes: encodeModel(paper, { indexDtype: "u16" }).bytes, model: paper },
        { name: "v1-mlp", bytes: fixture, model: v1 },
      ]);
    } finally {
      v1.dispose();
    }
  } finally {
    paper.dispose();
    cnn.dispose();
  }
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("docs/python.md", () => {
  it("shows the reader's code as it is in docs/python/presparse_reader.py", () => {
    const script = readFileSync(join(READER_DIR, "presparse_reader.py"), "utf8");
    const excerpts = docBlocks(/^excerpt: presparse_reader\.py$/);
    expect(excerpts.length).toBeGreaterThanOrEqual(4);
    for (const block of excerpts) expect(script, block.split("\n")[0]).toContain(block);
  });
});

describe.skipIf(!python)("the Python reader (docs/python/presparse_reader.py)", () => {
  const names = ["paper", "cnn", "paper-u16", "v1-mlp"];

  it("with numpy alone: every classifier of an MLP, a CNN, a U16 file and a version-1 file agrees to 1e-5", () => {
    for (const name of names) expect(results.get(name)?.numpy, name).toBeLessThanOrEqual(1e-5);
  });

  it.runIf(python?.scipy)("with scipy.sparse.csr_matrix for the linear layers: agrees to 1e-5", () => {
    for (const name of names) expect(results.get(name)?.scipy, name).toBeLessThanOrEqual(1e-5);
  });

  it.runIf(python?.torch)(
    "with torch.sparse_csr_tensor: I32 files agree to 1e-5; a U16 file loads only where torch has uint16",
    () => {
      for (const name of ["paper", "cnn"]) expect(results.get(name)?.torch, name).toBeLessThanOrEqual(1e-5);
      for (const name of ["paper-u16", "v1-mlp"]) {
        const r = results.get(name)!;
        const [major, minor] = r.torchVersion!.split(".").map(Number) as [number, number];
        if (major > 2 || (major === 2 && minor >= 3)) expect(r.torch, name).toBeLessThanOrEqual(1e-5);
        else expect(r.torch, name).toMatch(/^refused: .*has no uint16/);
      }
    },
  );

  it("the examples of docs/python.md run as written, and so does the script's command line", () => {
    const model = join(dir, "paper.safetensors");
    const py = (args: string[]) =>
      execFileSync(python!.bin, args, {
        cwd: READER_DIR,
        encoding: "utf8",
        timeout: 120_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
    const examples = [...DOC.matchAll(/<!-- python-example( torch)? -->\n```python\n([\s\S]*?)```/g)];
    expect(examples).toHaveLength(2);
    for (const [, torch, code] of examples) {
      if (torch ? !python!.torch : !python!.scipy) continue;
      expect(py(["-c", code!.replace("model.safetensors", model)]).trim()).toMatch(/^\[\d, \d, \d, \d\]$/);
    }
    const out = py(["presparse_reader.py", model]);
    expect(out).toMatch(/^trunk\.0 +linear +relu +\[40, 800\] csr, 1600 stored$/m);
    expect(out).toMatch(/^exit\.0\.0 +linear +linear +\[10, 40\] csr, 200 stored$/m);
    expect(out).toMatch(/^classifier 1: classes \[\d, \d, \d, \d\] of 4 random inputs$/m);
  });
});
