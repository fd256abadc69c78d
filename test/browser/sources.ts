// What the kernels page checks besides the kernel cases, by name: the page runs these and the test in Node expects a
// result for each, so a check the page drops or renames fails instead of silently passing.

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
export const REJECT_SOURCES = [
  "a 404",
  "an HTML page served as WASM",
  "truncated bytes",
  "a module without the kernels",
];

/** The loaded engines (entries of LOAD_SOURCES) every kernel case of test/cases runs on. */
export const PROPERTY_ENGINES = ["default URL", "bytes fetched by the page", "default URL, debug build"];

/** The memory-growth property, run on fresh instances of one compiled module. */
export const MEMORY_GROWTH = "memory growth: operands before, outputs after, views re-made";

/** A broken precondition on the debug build, through the loader bundled into the package. */
export const DEBUG_ASSERTION = "the debug build's assertion reaches a KernelAssertionError with the kernel's message";
