// Node-only: the tail server (the handler and its routes, the node:http adapter, dynamic batching, metrics, cluster).
export { startServer, type RunningServer, type ServerOptions } from "./http.js";
export { createHandler, type Answer, type Endpoint, type Handler, type Request, type RequestHead } from "./handler.js";
export type { Route, RouteTable } from "./handler.js";
export { createService, Traffic, type ServiceLimits, type TailService } from "./service.js";
export { FRAME_REFUSALS, HttpError, errorAnswer, frameRefusal, type ErrorBody } from "./errors.js";
export { servedTail, type ServedTail } from "./served_tail.js";
export { BatchQueue, type BatchJob, type BatchQueueOptions } from "./queue.js";
export { Counter, Gauge, Histogram, LATENCY_BUCKETS, ServerMetrics, powerOfTwoBuckets } from "./metrics.js";
export { reportListening, runPrimary, type PrimaryOptions, type WorkerReady } from "./cluster.js";
export { DEMO_PREFIX, demoDigits, demoRoutes, loadDemo, type DemoDigits, type DemoOptions } from "./demo.js";
export type { DemoResource, DemoSite } from "./demo.js";
