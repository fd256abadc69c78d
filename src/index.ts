// presparse: the nouns a user needs, in Node and in browsers. Kernels and helpers: "presparse/ops"; file system,
// datasets on disk, the tail server and the link emulator: "presparse/node".
export {
  PresparseError,
  ShapeError,
  PatternError,
  ValidationError,
  WasmLoadError,
  KernelAssertionError,
  FormatError,
  ThreadPoolError,
  WorkerDiedError,
} from "./engine/errors.js";
export { Engine, type LoadOptions, type MemoryStats, type WasmSource } from "./engine/engine.js";
export { Matrix } from "./engine/buffers.js";
export { Pattern } from "./sparsity/pattern.js";
export { SparseLinear, type Activation, type SparseLinearOptions } from "./nn/layers/sparse_linear.js";
export { SparseConv2d, type SparseConv2dOptions } from "./nn/layers/sparse_conv2d.js";
export { MaxPool2d, AvgPool2d } from "./nn/layers/pool2d.js";
export { Flatten } from "./nn/layers/flatten.js";
export type { Layer, Param } from "./nn/layers/layer.js";
export {
  Model,
  type Exit,
  type ExitPolicy,
  type Head,
  type MlpOptions,
  type ModelOptions,
  type SplitRecord,
  type StepLoss,
  type Tail,
} from "./nn/model.js";
export { ArchError, buildModel, type BuildOptions } from "./nn/arch.js";
export { Adam, Sgd, type AdamOptions, type Optimizer, type SgdOptions } from "./nn/optimizers.js";
export { makeDataset, splitDataset, type Dataset, type SplitOptions } from "./nn/dataset.js";
export { train, evaluate, type EpochReport, type EvalReport, type TrainOptions } from "./nn/train.js";
export { ExitRunner, parseExitPolicy, type ExitResult, type ExitRunnerOptions } from "./exits/runner.js";
export {
  calibrate,
  measurePolicy,
  pickForAccuracy,
  pickKnee,
  type Calibration,
  type SweepPoint,
} from "./exits/calibrate.js";
export {
  encodeModel,
  decodeModel,
  type DecodeModelOptions,
  type EncodeModelOptions,
  type IndexDtype,
  type LoadedModel,
  type ModelLimits,
  type ModelSpec,
} from "./io/model_io.js";
export { split, type SplitModelOptions } from "./split/split.js";
export {
  FrameError,
  FrameMismatchError,
  FrameTooLargeError,
  decodeFrame,
  encodeFrame,
  frameBytes,
  type Frame,
  type FrameDtype,
  type FrameErrorReason,
  type FrameExpect,
  type FrameInput,
  type FrameKind,
  type FrameLimits,
} from "./split/frame.js";
export {
  SplitClient,
  SplitServerError,
  type InferResult,
  type InferTotals,
  type OffloadTarget,
  type SampleResult,
  type SplitClientOptions,
} from "./split/client.js";
export type { WebSocketConstructor } from "./split/ws_transport.js";
export { LinkSpecError, parseLink, type LinkSpec } from "./split/links.js";
export { plan, type Objective, type Plan, type PlanInput, type PlanRow } from "./split/plan.js";
export { measureCosts, type CostOptions, type MeasuredCosts } from "./split/costs.js";
