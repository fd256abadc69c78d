import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { frameBytesPerSample, frameHeaderBytes } from "../split/frame.js";
import { writeFileAtomic } from "../node/files.js";
import { loadModel } from "../node/model_files.js";
import { encodeHead, encodeTail, split } from "../split/split.js";
import { type Command, UsageError, int, required } from "./args.js";
import { engine, fmtBytes, trainedSeed } from "./common.js";

export const splitCommand: Command = {
  name: "split",
  summary: "cut a saved model into an edge bundle (head) and a server bundle (tail)",
  usage: `
Usage: presparse split --model FILE --after K --out-dir DIR [--exit-policy P] [--json]

Writes DIR/head.safetensors (trunk layers 1..K and the exits on them, for the edge) and DIR/tail.safetensors
(the remaining layers and later exits, for presparse serve). Both carry the full model's hash and the cut, so
the server refuses frames from any other head.

  --model FILE          a model saved by presparse train
  --after K             cut after hidden layer K (1-based; the paper's split is 1)
  --out-dir DIR         where to write head.safetensors and tail.safetensors (created if missing)
  --exit-policy P       maxprob:Q or entropy:T (per exit: comma-separated), stored with each half
                        (default: the policy stored in the model, if any)
  --json                print the result as JSON
`,
  options: {
    model: { type: "string" },
    after: { type: "string" },
    "out-dir": { type: "string" },
    "exit-policy": { type: "string" },
    json: { type: "boolean" },
  },
  async run(v) {
    const path = required("split", "model", v.model);
    const outDir = required("split", "out-dir", v["out-dir"]);
    const loaded = await loadModel(await engine(), path);
    const model = loaded.model;
    const L = model.trunk.length;
    if (L < 2) throw new UsageError(`split: ${path} has ${L} trunk layer; a split needs at least 2`);
    const after = int("split", "after", required("split", "after", v.after), 1, 1, L - 1);
    const policy = (v["exit-policy"] as string | undefined) ?? (loaded.spec.extra?.policy as string | undefined);
    const { head, tail } = split(model, { after, hash: loaded.hash, policy, dataSeed: trainedSeed(loaded.spec.extra) });
    try {
      const headBytes = encodeHead(head), tailBytes = encodeTail(tail);
      await mkdir(outDir, { recursive: true });
      const headPath = join(outDir, "head.safetensors"), tailPath = join(outDir, "tail.safetensors");
      await writeFileAtomic(headPath, headBytes);
      await writeFileAtomic(tailPath, tailBytes);
      const w = head.activationWidth;
      const perSample = Object.fromEntries((["f32", "f16", "int8"] as const).map((d) => [d, frameBytesPerSample(w, d)]));
      const out = {
        hash: loaded.hash,
        after,
        activationWidth: w,
        policy: policy ?? null,
        head: { path: headPath, bytes: headBytes.length, layers: head.layers.length, exits: head.exits.length, macsPerSample: head.macs() },
        tail: { path: tailPath, bytes: tailBytes.length, layers: tail.model.trunk.length, exits: tail.model.exits.length, macsPerSample: tail.model.trunkMacs().at(-1)! },
        frame: { payloadBytesPerSample: perSample, overheadBytes: frameHeaderBytes(2) + 4 },
      };
      if (v.json) process.stdout.write(JSON.stringify(out) + "\n");
      else {
        process.stdout.write(`${path} (hash ${loaded.hash}) split after hidden layer ${after}: ${w} activations cross the network\n`);
        process.stdout.write(`  ${headPath}  ${fmtBytes(headBytes.length)}  ${head.layers.length} layer(s), ${head.exits.length} exit(s), ${head.macs().sent} MACs for a sample it sends${policy ? `, policy ${policy}` : ""}\n`);
        process.stdout.write(`  ${tailPath}  ${fmtBytes(tailBytes.length)}  ${tail.model.trunk.length} layer(s), ${tail.model.exits.length} exit(s), ${out.tail.macsPerSample} MACs/sample\n`);
        process.stdout.write(`  frame payload per sample: ${perSample.f32} B f32, ${perSample.f16} B f16, ${perSample.int8} B int8 (+${out.frame.overheadBytes} B per frame)\n`);
      }
    } finally {
      head.dispose();
      tail.dispose();
      model.dispose();
    }
  },
};
