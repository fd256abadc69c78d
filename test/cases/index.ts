// Every kernel case, one list for the three suites that run it: test/kernels.test.ts (Node, release and debug
// builds), test/browser/kernels.page.ts (Chromium) and bench/kernels.mjs. A new kernel is one more entry here.
import { ACTIVATIONS_CASES } from "./activations.js";
import type { AnyCase } from "./case.js";
import { CSR_SPMM_CASES } from "./csr_spmm.js";
import { DENSE_MATMUL_CASES } from "./dense_matmul.js";
import { ELEMENTWISE_CASES } from "./elementwise.js";
import { OPTIM_CASES } from "./optim.js";
import { POOL2D_CASES } from "./pool2d.js";
import { SOFTMAX_XENT_CASES } from "./softmax_xent.js";
import { SPARSE_CONV2D_CASES } from "./sparse_conv2d.js";

// what the benchmarks need besides the list (they load this module bundled, as build/test/cases.js)
export { Scope, scoped } from "./case.js";
export { CONV_BENCH_GEOMETRY } from "./sparse_conv2d.js";

export const KERNEL_CASES: readonly AnyCase[] = [
  ...CSR_SPMM_CASES,
  ...DENSE_MATMUL_CASES,
  ...SPARSE_CONV2D_CASES,
  ...POOL2D_CASES,
  ...ACTIVATIONS_CASES,
  ...SOFTMAX_XENT_CASES,
  ...OPTIM_CASES,
  ...ELEMENTWISE_CASES,
];
