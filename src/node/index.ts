// Node-only entry ("presparse/node"): loaders and writers that touch the file system.
export { loadMnist, mnistDigitsDir } from "../data/mnist.js";
export { readIdx, loadIdxDataset, type IdxArray, type IdxOptions, type IdxDatasetOptions } from "../data/idx.js";
export { loadData, loadTestData, type LoadDataOptions } from "../data/load.js";
export { readSafetensorsFile, writeSafetensorsFile } from "./files.js";
export { saveModel, loadModel } from "./model_files.js";
export {
  startServer,
  runPrimary,
  reportListening,
  BatchQueue,
  ServerMetrics,
  type ServerOptions,
  type RunningServer,
  type ErrorBody,
  type BatchJob,
  type BatchQueueOptions,
  type PrimaryOptions,
} from "../server/index.js";
export type { DemoOptions } from "../server/index.js";
export {
  startLink,
  linkConfig,
  LaneSchedule,
  type LinkOptions,
  type LinkConfig,
  type LinkStats,
  type LaneStats,
  type LaneTiming,
  type RunningLink,
} from "./link.js";
