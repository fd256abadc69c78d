import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { FRAME_DTYPES, frameBytesPerSample, frameHeaderBytes } from "../split/frame.js";
import { exitMacs } from "../exits/runner.js";
import { encodeModel } from "../io/model_io.js";
import { writeFileAtomic } from "../node/files.js";
import { loadModel } from "../node/model_files.js";
import { split } from "../split/split.js";
import { type Command, UsageError, int, required } from "./args.js";
import { engine, fmtBytes, indexDtypeFlag, trainedSeed } from "./common.js";
import { checkWritableDir } from "./outputs.js";

export const splitCommand: Command = {
  name: "split",
  summary: "cut a saved model into an edge bundle (head) and a server bundle (tail)",
  usage: `
Usage: presparse split --model FILE --after K --out-dir DIR [--exit-policy P] [--index-dtype i32|u16] [--json]

Writes DIR/head.safetensors (trunk layers 1..K and the exits on them, for the edge) and DIR/tail.safetensors
(the remaining layers and later exits, for presparse serve). Both carry the full model's hash and the cut, so
the server refuses frames from any other head.

  --model FILE          a model saved by presparse train
  --after K             cut after hidden layer K (1-based; the paper's split is 1)
  --out-dir DIR         where to write head.safetensors and tail.safetensors (created if missing)
  --exit-policy P       maxprob:Q or entropy:T (per exit: comma-separated), stored with each half
                        (default: the policy stored in the model, if any)
  --index-dtype i32|u16 column indices in both files: i32 (default) or u16 (smaller; torch before 2.3 cannot load it)
  --json                print the result as JSON
`,
  options: {
    model: { type: "string" },
    after: { type: "string" },
    "out-dir": { type: "string" },
    "exit-policy": { type: "string" },
    "index-dtype": { type: "string" },
    json: { type: "boolean" },
  },
  async run(v) {
    const path = required("split", "model", v.model);
    const outDir = required("split", "out-dir", v["out-dir"]);
    await checkWritableDir("split", "--out-dir", outDir, ["head.safetensors", "tail.safetensors"]);
    // splitting is file work: no pool to start
    const loaded = await loadModel(await engine(1), path);
    const model = loaded.model;
    const L = model.trunk.length;
    if (L < 2) throw new UsageError(`split: ${path} has ${L} trunk layer; a split needs at least 2`);
    const after = int("split", "after", required("split", "after", v.after), 1, 1, L - 1);
    const indexDtype = indexDtypeFlag("split", v["index-dtype"]);
    const policy = (v["exit-policy"] as string | undefined) ?? (loaded.spec.extra?.policy as string | undefined);
    const dataSeed = trainedSeed(loaded.spec.extra);
    const { head, tail } = split(model, { cut: after, hash: loaded.hash, policy, dataSeed });
    try {
      const headBytes = encodeModel(head, { indexDtype }).bytes,
        tailBytes = encodeModel(tail, { indexDtype }).bytes;
      await mkdir(outDir, { recursive: true });
      const headPath = join(outDir, "head.safetensors"),
        tailPath = join(outDir, "tail.safetensors");
      await writeFileAtomic(headPath, headBytes);
      await writeFileAtomic(tailPath, tailBytes);
      const w = tail.inputSize;
      const perSample = Object.fromEntries(FRAME_DTYPES.map((d) => [d, frameBytesPerSample(w, d)]));
      const headMacs = exitMacs(head),
        tailMacs = tail.trunkMacs().at(-1)!;
      const out = {
        hash: loaded.hash,
        after,
        activationWidth: w,
        policy: policy ?? null,
        head: {
          path: headPath,
          bytes: headBytes.length,
          layers: head.trunk.length,
          exits: head.exits.length,
          macsPerSample: { perExit: headMacs.perExit, sent: headMacs.final },
        },
        tail: {
          path: tailPath,
          bytes: tailBytes.length,
          layers: tail.trunk.length,
          exits: tail.exits.length,
          macsPerSample: tailMacs,
        },
        frame: { payloadBytesPerSample: perSample, overheadBytes: frameHeaderBytes(2) + 4 },
      };
      if (v.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        process.stdout.write(
          `${path} (hash ${loaded.hash}) split after hidden layer ${after}: ${w} activations cross the network\n`,
        );
        process.stdout.write(
          `  ${headPath}  ${fmtBytes(headBytes.length)}  ${head.trunk.length} layer(s), ${head.exits.length} ` +
            `exit(s), ${headMacs.final} MACs for a sample it sends${policy ? `, policy ${policy}` : ""}\n`,
        );
        process.stdout.write(
          `  ${tailPath}  ${fmtBytes(tailBytes.length)}  ${tail.trunk.length} layer(s), ${tail.exits.length} ` +
            `exit(s), ${tailMacs} MACs/sample\n`,
        );
        process.stdout.write(
          `  frame payload per sample: ${perSample.f32} B f32, ${perSample.f16} B f16, ${perSample.int8} B int8 ` +
            `(+${out.frame.overheadBytes} B per frame)\n`,
        );
      }
    } finally {
      head.dispose();
      tail.dispose();
      model.dispose();
    }
  },
};
