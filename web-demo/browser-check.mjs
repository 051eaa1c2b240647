#!/usr/bin/env node
// node browser-check.mjs URL [--queries FILE.json] [--screenshot FILE.png] [--offline] [--expect-error] [--pick DIR]
// Drives the page in headless Chromium (Debian's /usr/bin/chromium, through playwright-core) as a user
// would, and prints what it saw as one JSON line: cross-origin isolation, the self-test, the index, the top
// 10 of each query, and, after a reload (offline with --offline), whether the index was read back.
import { chromium } from "playwright-core";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--no-first-run", "--disable-dev-shm-usage"];
const TIMEOUT = 600_000;

function parse(argv) {
  const out = { url: argv[0], queries: [], screenshot: null, offline: false, expectError: false, pick: null };
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === "--queries") out.queriesFile = argv[++i];
    else if (argv[i] === "--screenshot") out.screenshot = argv[++i];
    else if (argv[i] === "--offline") out.offline = true;
    else if (argv[i] === "--expect-error") out.expectError = true;
    else if (argv[i] === "--pick") out.pick = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.url) throw new Error("usage: node browser-check.mjs URL [--queries FILE.json] [--screenshot FILE.png] [--offline] [--expect-error]");
  return out;
}

async function settled(page) {
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: TIMEOUT });
  return page.evaluate(() => ({ state: document.body.dataset.state, error: document.getElementById("error").textContent }));
}

async function main() {
  const opts = parse(process.argv.slice(2));
  if (opts.queriesFile) opts.queries = JSON.parse(await readFile(opts.queriesFile, "utf8"));
  const profile = await mkdtemp(join(tmpdir(), "colbert-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true, args: FLAGS, viewport: { width: 1280, height: 860 } });
  const result = { console: [] };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => { if (m.type() === "error") result.console.push(m.text().slice(0, 300)); });
    page.on("pageerror", (e) => result.console.push(String(e).slice(0, 300)));
    await page.goto(opts.url);
    Object.assign(result, await settled(page));
    result.isolated = await page.evaluate(() => self.crossOriginIsolated);
    if (opts.pick) { // the user picks a bundle folder, as with the "Open bundle folder…" button
      await page.setInputFiles("#pick-folder", opts.pick);
      await page.waitForFunction(() => document.body.dataset.state !== "ready" && document.body.dataset.state !== "error", null, { timeout: 60_000 }).catch(() => {});
      result.picked = await settled(page);
      if (result.picked.state === "ready") result.picked.info = await page.evaluate(() => window.colbert.ready);
      return result;
    }
    if (opts.expectError || result.state !== "ready") return result;
    const info = await page.evaluate(() => window.colbert.ready);
    Object.assign(result, { info, selftest: await page.evaluate(() => window.colbert.selftest()) });
    result.hits = {};
    for (const query of opts.queries) result.hits[query] = await page.evaluate(([q]) => window.colbert.search(q, 10), [query]);
    await page.fill("#query", opts.queries[0] ?? "how do bees communicate");
    await page.waitForFunction(() => document.querySelectorAll("#results li").length > 0, null, { timeout: TIMEOUT });
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    await page.waitForFunction(() => navigator.serviceWorker?.controller !== null || !("serviceWorker" in navigator), null, { timeout: 60_000 }).catch(() => {});
    if (opts.offline) await context.setOffline(true);
    await page.reload();
    const again = await settled(page);
    result.reload = { ...again, info: again.state === "ready" ? await page.evaluate(() => window.colbert.ready) : null,
      offline: opts.offline };
    return result;
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

main().then((result) => process.stdout.write(`${JSON.stringify(result)}\n`), (error) => {
  process.stderr.write(`error: ${String(error?.message ?? error).split("\n")[0]}\n`);
  process.exitCode = 1;
});
