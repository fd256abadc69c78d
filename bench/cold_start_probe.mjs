// The process bench/cold_start.mjs times: import presparse and presparse/ops (or the entry given as the argument,
// another checkout's dist/index.js, and its ops_index.js), load the engine, build the paper's 800→40 layer
// (out-degree 2) and run it once on one sample. Prints when each step ended, in ms since the process started, with
// a plain write to fd 1: process.stdout would load Node's stream machinery, which `node -e 0` never pays for.
import { existsSync, writeSync } from "node:fs";

// The kernels sit in presparse/ops (dist/ops_index.js); a checkout from before that entry existed exports them from
// its main entry, so a baseline without the file imports that alone.
const entry = process.argv[2];
const ops = entry ? new URL("./ops_index.js", entry).href : "presparse/ops";
const hasOps = !entry || existsSync(new URL(ops));

const t0 = performance.now();
const [main, kernels] = await Promise.all([import(entry ?? "presparse"), hasOps ? import(ops) : {}]);
const { CsrWeights, Engine, Matrix, Pattern, csrSpmm } = { ...kernels, ...main };
const t1 = performance.now();
const engine = await Engine.load();
const t2 = performance.now();
const pattern = Pattern.fixedDegree(800, 40, 2, 0);
const W = new CsrWeights(engine, pattern, new Float32Array(pattern.nnz).fill(0.01));
const X = Matrix.from(engine, 800, 1, new Float32Array(800).fill(1));
const Y = csrSpmm(W, X, new Matrix(engine, 40, 1));
const t3 = performance.now();
// the view of the result (`data()` in checkouts from before Matrix.view)
if (!((Y.view ?? Y.data).call(Y)[0] > 0)) throw new Error("cold start probe: wrong product");
writeSync(1, `${JSON.stringify({ start: t0, imported: t1, loaded: t2, ran: t3 })}\n`);
