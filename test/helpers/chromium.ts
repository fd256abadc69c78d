// The system's headless Chromium for browser tests (never downloaded), and what a test needs around a page:
// its errors and failed requests, its posted results, a screenshot.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where Debian's `chromium` package puts the browser. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** Flags for a quiet, offline, sandbox-less headless run (containers lack the user namespaces the sandbox needs). */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Screenshots and other files tests leave behind for a person to look at (git-ignored). */
export const ARTIFACTS = join(import.meta.dirname, "..", "artifacts");

/** The Chromium executable: $PRESPARSE_CHROMIUM if set, else /usr/bin/chromium; undefined when the file is missing. */
export function chromiumPath(): string | undefined {
  const path = process.env.PRESPARSE_CHROMIUM || DEFAULT_CHROMIUM;
  return existsSync(path) ? path : undefined;
}

/** The one line a browser test file prints when it skips. */
export function chromiumSkipMessage(): string {
  const path = process.env.PRESPARSE_CHROMIUM || DEFAULT_CHROMIUM;
  return `browser tests skipped: chromium not found at ${path} (apt-get install chromium, or set PRESPARSE_CHROMIUM)`;
}

/** Launches headless Chromium with a fresh temporary profile; the caller closes it. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(chromiumSkipMessage());
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Everything a page said went wrong: uncaught errors, console errors, failed or 4xx/5xx requests. */
export interface PageLog {
  errors: string[];
  console: string[];
  requests: string[];
  /** The log as text, for an assertion message. */
  text(): string;
}

/** Starts recording a page's errors and bad requests; call before `page.goto`. */
export function watchPage(page: Page): PageLog {
  const log: PageLog = {
    errors: [],
    console: [],
    requests: [],
    text() {
      const parts = [
        ...log.errors.map((e) => `page error: ${e}`),
        ...log.console.map((c) => `console: ${c}`),
        ...log.requests.map((r) => `request: ${r}`),
      ];
      return parts.length > 0 ? parts.join("\n") : "(page logged nothing)";
    },
  };
  page.on("pageerror", (e) => log.errors.push(e.stack ?? e.message));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") log.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on("requestfailed", (r) => log.requests.push(`${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) log.requests.push(`${r.request().method()} ${r.url()} → ${r.status()}`);
  });
  return log;
}

/**
 * Waits until the page sets `window.__results` with `done: true` and returns it. Fails early with the page's log if
 * the page throws before posting (a module that does not load never posts), or after `timeout` ms.
 */
export async function pageResults<T>(page: Page, log: PageLog, timeout = 15_000): Promise<T> {
  const posted = page.waitForFunction(
    () => (window as unknown as { __results?: { done?: boolean } }).__results?.done === true,
    undefined,
    { timeout, polling: 100 },
  );
  const crashed = new Promise<never>((_, reject) => {
    page.on("pageerror", (e) => reject(new Error(`page threw before posting results: ${e.message}\n${log.text()}`)));
    page.on("crash", () => reject(new Error(`page crashed\n${log.text()}`)));
  });
  crashed.catch(() => undefined); // an error after the results arrive is the caller's to read from the log
  try {
    await Promise.race([posted, crashed]);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${log.text()}`);
  }
  return page.evaluate(() => (window as unknown as { __results: T }).__results);
}

/** Saves a full-page PNG under test/artifacts/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
