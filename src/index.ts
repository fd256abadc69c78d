export * from "./errors.js";
export { Engine, defaultEngine, defaultWasmUrl, type Kernels, type LoadOptions, type MemoryStats, type WasmSource } from "./engine.js";
export { F32Buffer, I32Buffer, Matrix } from "./tensor.js";
export { Rng } from "./random.js";
export { Pattern, feasibleOutDegrees, validateCsr } from "./pattern.js";
export { CsrWeights, csrSpmm, csrSpmmT, csrSddmm } from "./csr_spmm.js";
export { denseMatmul, denseMatmulT, denseGradW, type DenseWeights } from "./dense_matmul.js";
export { reluForward, reluBackward } from "./activations.js";
export { softmax, softmaxCrossEntropy } from "./softmax_xent.js";
