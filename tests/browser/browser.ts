/**
 * Headless Chromium (Debian's `chromium` package; `bash .ci/run` installs it) driven by
 * puppeteer-core from the npm registry. Every page records what it requested and what the browser
 * complained about (a Content-Security-Policy violation, a script error), and screenshots go to
 * one directory whose paths are printed.
 */
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Chromium is: $CHROMIUM, else Debian's. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `no Chromium at ${path}: install Debian's chromium package (apt-get install chromium; bash .ci/run does) ` +
        "or set CHROMIUM to a Chromium binary",
    );
  }
  return path;
}

/** The screenshot directory: $DATAFLOW_BROWSER_SCREENSHOTS, else a new one under the temp directory (kept). */
export function screenshotDir(): string {
  const dir = process.env.DATAFLOW_BROWSER_SCREENSHOTS ||
    mkdtempSync(join(tmpdir(), "dataflow-console-screenshots-"));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A page and what happened on it. */
export interface Tab {
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Console messages and page errors (CSP violations show up here). */
  problems: string[];
}

/** Starts headless Chromium (new headless mode; no sandbox, since CI runs as root). */
export async function launch(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
}

/** A new page of 1280×860 that records its requests and problems. */
export async function openTab(browser: Browser): Promise<Tab> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  const tab: Tab = { page, requests: [], problems: [] };
  page.on("request", (r) => tab.requests.push(r.url()));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn") tab.problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => tab.problems.push(`pageerror: ${(e as Error).message ?? e}`));
  return tab;
}

/** Saves a full-page PNG and prints its path. */
export async function screenshot(page: Page, dir: string, name: string, copyTo?: string): Promise<string> {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  console.log(`screenshot: ${path}`);
  if (copyTo) {
    // The content only (no empty viewport below it), for the README.
    const height = await page.evaluate(
      `Math.ceil(document.querySelector("main").getBoundingClientRect().bottom)`,
    );
    await page.screenshot({
      path: copyTo as `${string}.png`,
      clip: { x: 0, y: 0, width: 1280, height: Math.min(860, Number(height) || 860) },
    });
    console.log(`screenshot: ${copyTo}`);
  }
  return path;
}
