#!/usr/bin/env node
// node bench-worker.mjs SPEC_JSON: one `python -m export bench` row measured in headless Chromium (the page,
// served by serve.mjs, on onnxruntime-web's wasm build). Prints the measurements as one JSON line, with the
// keys export/tools/bench_worker.py prints; what a page cannot measure (its process memory) is null.
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "./serve.mjs";

const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--no-first-run", "--disable-dev-shm-usage"];

async function main() {
  const spec = JSON.parse(await readFile(process.argv[2], "utf8"));
  const server = await startServer({ bundle: spec.path });
  const profile = await mkdtemp(join(tmpdir(), "colbert-bench-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true, args: FLAGS });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const started = performance.now();
    await page.goto(`http://127.0.0.1:${server.address().port}/?threads=${spec.threads}`);
    await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 1_800_000 });
    const state = await page.evaluate(() => ({ state: document.body.dataset.state, error: document.getElementById("error").textContent }));
    if (state.state !== "ready") throw new Error(state.error);
    const coldStart = (performance.now() - started) / 1e3; // load, verify, self-test and index the sample corpus
    const measured = await page.evaluate((s) => window.colbert.bench(s), spec);
    const info = await page.evaluate(() => window.colbert.ready);
    return { cold_start_s: coldStart, peak_rss_mb: null, model_rss_mb: null, threads: info.threads, ...measured };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
    server.close();
  }
}

main().then((result) => process.stdout.write(`${JSON.stringify(result)}\n`), (error) => {
  process.stderr.write(`error: ${String(error?.message ?? error).split("\n")[0]}\n`);
  process.exitCode = 1;
});
