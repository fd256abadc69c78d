// The modules `npm run test:mutation` mutates, one at a time, each against its own tests only.
// Adding a module is one line: the file to mutate and the test files that state its promises.
export const MODULES = [
  { mutate: "src/sparsity/pattern.ts", tests: ["test/pattern.test.ts", "test/golden_pattern.test.ts", "test/oracle_pattern.test.ts", "test/limits.test.ts"] },
  { mutate: "src/split/frame.ts", tests: ["test/frame.test.ts", "test/golden_frame.test.ts", "test/oracle_frame.test.ts", "test/frame_errors.test.ts", "test/limits.test.ts"] },
  { mutate: "src/io/safetensors.ts", tests: ["test/safetensors.test.ts", "test/golden_safetensors.test.ts", "test/safetensors_errors.test.ts", "test/limits.test.ts"] },
  { mutate: "src/exits/runner.ts", tests: ["test/exits.test.ts", "test/oracle_exits.test.ts", "test/exits_runner.test.ts"] },
  { mutate: "src/exits/calibrate.ts", tests: ["test/exits.test.ts", "test/calibrate.test.ts"] },
  { mutate: "src/io/model_io.ts", tests: ["test/model_io.test.ts", "test/model_io_compat.test.ts", "test/golden_model.test.ts", "test/model_io_records.test.ts", "test/split.test.ts", "test/split_conv.test.ts"] },
  { mutate: "src/nn/optimizers.ts", tests: ["test/optim.test.ts", "test/optim_kernels.test.ts", "test/optimizers.test.ts"] },
  { mutate: "src/ops/csr_spmm.ts", tests: ["test/csr_spmm.test.ts", "test/kernels.test.ts", "test/engine.test.ts", "test/ops_boundary.test.ts"] },
  { mutate: "src/ops/dense_matmul.ts", tests: ["test/dense_matmul.test.ts", "test/kernels.test.ts", "test/engine.test.ts", "test/ops_boundary.test.ts"] },
  { mutate: "src/ops/sparse_conv2d.ts", tests: ["test/sparse_conv2d.test.ts", "test/kernels.test.ts", "test/engine.test.ts", "test/ops_boundary.test.ts"] },
  { mutate: "src/ops/pool2d.ts", tests: ["test/pool2d.test.ts", "test/kernels.test.ts", "test/engine.test.ts", "test/ops_boundary.test.ts"] },
  { mutate: "src/ops/activations.ts", tests: ["test/activations.test.ts", "test/kernels.test.ts", "test/engine.test.ts"] },
  { mutate: "src/ops/softmax_xent.ts", tests: ["test/softmax_xent.test.ts", "test/kernels.test.ts", "test/engine.test.ts", "test/ops_boundary.test.ts"] },
  { mutate: "src/ops/elementwise.ts", tests: ["test/kernels.test.ts", "test/engine.test.ts", "test/ops_boundary.test.ts"] },
];

/** The module named by a path (`src/split/frame.ts`) or its stem (`frame`). */
export function findModule(name) {
  const m = MODULES.find((x) => x.mutate === name || x.mutate.endsWith(`/${name}.ts`));
  if (!m) throw new Error(`no mutation module "${name}"; known: ${MODULES.map((x) => x.mutate).join(", ")}`);
  return m;
}

/** The file stem a module's reports are named by. */
export function stem(m) {
  return m.mutate.replace(/^src\//, "").replace(/\.ts$/, "").replaceAll("/", "_");
}
