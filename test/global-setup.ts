// Runs once before every test file: the one line saying the browser tests are skipped when Chromium is missing.
import { chromiumPath, chromiumSkipMessage } from "./helpers/chromium.js";

export default function setup(): void {
  if (!chromiumPath()) console.warn(chromiumSkipMessage());
}
