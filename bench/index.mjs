// Runs every benchmark suite in order. A suite is a module exporting `run()`; add new ones to this list.
// Run: npm run bench
const SUITES = [
  "./cold_start.mjs",
  "./kernels.mjs",
  "./tiling.mjs",
  "./conv.mjs",
  "./train.mjs",
  "./exits.mjs",
  "./server.mjs",
  "./serve_threads.mjs",
];

for (const suite of SUITES) {
  const { run } = await import(suite);
  await run();
  globalThis.gc?.();
}
