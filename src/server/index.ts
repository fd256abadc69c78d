// Node-only: the tail server (HTTP, dynamic batching, metrics, cluster).
export { FRAME_CONTENT_TYPE, startServer, type ErrorBody, type RunningServer, type ServerOptions } from "./http.js";
export { BatchQueue, type BatchJob, type BatchQueueOptions } from "./queue.js";
export { Counter, Gauge, Histogram, LATENCY_BUCKETS, ServerMetrics, powerOfTwoBuckets } from "./metrics.js";
export { reportListening, runPrimary, type PrimaryOptions, type WorkerReady } from "./cluster.js";
export { DEMO_PREFIX, demoDigits, loadDemo, type DemoDigits, type DemoOptions, type DemoResource, type DemoSite } from "./demo.js";
