// Loaded before a test page's module: a module that fails to load or throws at top level never posts its results,
// so post the failure instead, for the test to report.
window.addEventListener(
  "error",
  (e) => {
    const fatal =
      e.target instanceof HTMLScriptElement
        ? `${e.target.src} or a module it imports failed to load (the console and request lines say which)`
        : `${e.message} (${e.filename}:${e.lineno})`;
    window.__results ??= { done: true, fatal };
  },
  true,
);
window.addEventListener("unhandledrejection", (e) => {
  window.__results ??= { done: true, fatal: `unhandled rejection: ${e.reason?.stack ?? e.reason}` };
});
