// The one WASM module: pure numeric kernels over pointers into linear memory.
export { heapBase } from "./memory";
export { csrSpmm, csrSpmmBlock, csrSpmmT, csrSddmm, rowSums } from "./csr_spmm";
export { denseMatmul, denseGradW } from "./dense_matmul";
export { reluForward, reluBackward } from "./activations";
export { softmax, softmaxCrossEntropy } from "./softmax_xent";
export { adamStep, sgdStep } from "./optim";
export { addInPlace, scaleInPlace, gatherColumns, gatherSamples } from "./elementwise";
export { sparseConv2d, sparseConv2dBackwardInput, sparseConv2dBackwardWeights } from "./sparse_conv2d";
export { maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward } from "./pool2d";
