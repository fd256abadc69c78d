// Loads the engine under whatever Content-Security-Policy the server sent with the page (no import map: an
// inline script would need its own CSP allowance) and posts { done, ok, name, message } to window.__results.
import { Engine } from "/dist/index.js";

try {
  const engine = await Engine.load();
  window.__results = { done: true, ok: true, memoryBytes: engine.stats().memoryBytes };
} catch (e) {
  window.__results = { done: true, ok: false, name: e?.name, message: String(e?.message ?? e) };
}
