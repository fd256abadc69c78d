// The one WASM module: pure numeric kernels over pointers into linear memory.
export { heapBase } from "./memory";
export { csrSpmm, csrSpmmT, csrSddmm, rowSums } from "./csr_spmm";
export { denseMatmul, denseGradW } from "./dense_matmul";
export { reluForward, reluBackward } from "./activations";
export { softmax, softmaxCrossEntropy } from "./softmax_xent";
export { adamStep, sgdStep } from "./optim";
export { addInPlace, scaleInPlace, gatherColumns, gatherSamples } from "./elementwise";
