// presparse/ops: the validated kernels and the helpers under the nouns of "presparse" — buffers in WASM memory,
// the seeded generator, pattern tools, the file and frame codecs' parts, calibration steps, links and energy. Every
// name here is stable API, documented, and browser-safe like the main entry.
export { checkInt, HASH_FORMAT } from "./engine/errors.js";
export {
  defaultEngine,
  defaultWasmUrl,
  defaultThreadedWasmUrl,
  defaultRelaxedWasmUrl,
  relaxedSimdSupported,
  defaultThreads,
  MAX_DEFAULT_THREADS,
  type Kernels,
} from "./engine/engine.js";
export type { ThreadPool } from "./engine/pool.js";
export { SPLIT_RULES, THRESHOLDS, type ThresholdOption } from "./engine/work_split.js";
export { F32Buffer, I32Buffer, WasmBuffer, checkOperands, type Operand } from "./engine/buffers.js";
export { Scope, buildOrRollBack, type Disposable } from "./engine/scope.js";
export { Rng } from "./engine/random.js";
export { feasibleBlocks, feasibleOutDegrees, validateCsr } from "./sparsity/pattern.js";
export {
  CsrWeights,
  csrSpmm,
  csrSpmmBackward,
  csrSpmmBackwardWeights,
} from "./ops/csr_spmm.js";
export {
  denseMatmul,
  denseMatmulBackward,
  denseMatmulBackwardWeights,
  type DenseWeights,
} from "./ops/dense_matmul.js";
export {
  ConvWeights,
  convOutputSize,
  sparseConv2d,
  sparseConv2dBackward,
  sparseConv2dBackwardWeights,
  type Conv2dGeometry,
  type ConvWeightsOptions,
} from "./ops/sparse_conv2d.js";
export {
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  pool2dShape,
  type Pool2dGeometry,
  type Pool2dShape,
} from "./ops/pool2d.js";
export { reluForward, reluBackward } from "./ops/activations.js";
export { softmax, softmaxCrossEntropy, softmaxStats, type SoftmaxStats } from "./ops/softmax_xent.js";
export { addInPlace, scaleInPlace, gatherColumns } from "./ops/elementwise.js";
export { heNormal } from "./nn/layers/sparse_linear.js";
export { heNormalConv } from "./nn/layers/sparse_conv2d.js";
export { runLayers, backLayers, layerSeeds, checkPolicy, type Seeds } from "./nn/model.js";
export { parseArch, parseShape, planArch, type ArchStep, type ArchToken } from "./nn/arch.js";
export { Batcher } from "./nn/batcher.js";
export { subset, padFeatures, shuffledIndices } from "./nn/dataset.js";
export { exitMacs, formatPolicy, passes } from "./exits/runner.js";
export {
  classifierStats,
  simulatePolicy,
  sweep,
  defaultGrid,
  type ClassifierStats,
} from "./exits/calibrate.js";
export {
  encodeSafetensors,
  decodeSafetensors,
  SAFETENSORS_DTYPES,
  type DecodeOptions,
  type Dtype,
  type SafeTensor,
  type SafetensorsFile,
  type TensorData,
} from "./io/safetensors.js";
export { crc32 } from "./io/crc32.js";
export { F16_MAX, F16_MIN_NORMAL, f16BitsToF32, f16IsFinite, f32ToF16Bits } from "./io/f16.js";
export {
  encodeLayer,
  decodeLayer,
  modelSpec,
  modelTensors,
  hashModel,
  MODEL_FORMAT_VERSION,
  INDEX_DTYPES,
  DEFAULT_MODEL_LIMITS,
  type EncodeLayerOptions,
  type LayerSpec,
  type StoredTensor,
} from "./io/model_io.js";
export {
  DEFAULT_FRAME_LIMITS,
  FRAME_DTYPES,
  FRAME_MAGIC,
  FRAME_MEDIA_TYPE,
  FRAME_MAX_RANK,
  FRAME_VERSION,
  decodeFrameHeader,
  frameBytesPerSample,
  frameErrorBound,
  frameHeaderBytes,
  type FrameHeader,
} from "./split/frame.js";
export { retryAfterMs } from "./split/client.js";
export {
  LINK_PRESETS,
  checkLink,
  formatLink,
  linkPreset,
  withUplinkRate,
  type LinkPreset,
  type RadioClass,
} from "./split/links.js";
export {
  DEFAULT_ENERGY,
  MEMORY_LEVELS,
  computeEnergy,
  csrBytesMoved,
  energyKeys,
  energyTable,
  formatEnergyTable,
  memoryPjPerByte,
  overrideEnergy,
  periodicRadioEnergy,
  radioEnergy,
  transferTiming,
  type ComputeEnergy,
  type ComputeWork,
  type EnergyModel,
  type PowerStage,
  type RadioEnergy,
  type RadioPower,
  type TransferTiming,
} from "./split/energy.js";
export {
  crossovers,
  formatPlan,
  planSweep,
  type CutCost,
  type ExitOption,
  type FullCost,
} from "./split/plan.js";
export {
  HTTP_OVERHEAD_BYTES,
  layerBytesMoved,
  layerStoredBytes,
  systemAnswers,
  timeMs,
  type LayerCost,
  type SystemAnswers,
} from "./split/costs.js";
export { lineChart, type ChartOptions, type Series } from "./report/svg.js";
