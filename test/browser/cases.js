// What the kernels page checks, by name: the page runs these and the test in Node expects a result for each,
// so a case the page drops or renames fails instead of silently passing.

/** Ways of handing the module to Engine.load that must work in a page. */
export const LOAD_SOURCES = [
  "default URL",
  "default URL, debug build",
  "URL from the import map",
  "URL string relative to the page",
  "bytes fetched by the page",
  "ArrayBuffer",
  "fetch Response",
  "module from compileStreaming",
];

/** Sources Engine.load must reject with a WasmLoadError that says what is wrong. */
export const REJECT_SOURCES = ["a 404", "an HTML page served as WASM", "truncated bytes", "a module without the kernels"];

/** Kernel properties, each run on every engine of PROPERTY_ENGINES. */
export const PROPERTIES = [
  "csrSpmm = W·X (+ bias) (ReLU)",
  "csrSpmmBackward = Wᵀ·dY",
  "csrSpmmBackwardWeights = dY·Xᵀ on the pattern, dBias = row sums of dY",
  "denseMatmul = W·X (+ bias) (ReLU)",
  "denseMatmulBackward = Wᵀ·dY",
  "denseMatmulBackwardWeights = dY·Xᵀ, dBias = row sums of dY",
  "softmaxCrossEntropy: loss and dZ = (softmax − onehot)/B",
];

/** The loaded engines the properties run on (entries of LOAD_SOURCES). */
export const PROPERTY_ENGINES = ["default URL", "bytes fetched by the page"];

/** The memory-growth property, run on fresh instances of one compiled module. */
export const MEMORY_GROWTH = "memory growth: operands before, outputs after, views re-made";
