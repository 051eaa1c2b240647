#!/usr/bin/env node
// node serve.mjs --bundle DIR [--corpus FILE.json] [--port N]
// Serves the page on 127.0.0.1 with COOP same-origin and COEP require-corp (so the page is cross-origin
// isolated and onnxruntime-web can use threads): the page and its modules, the files it imports from
// node_modules, the bundle under /bundle/ (a JSON list of its files at /bundle/) and the corpus at /corpus.json.
import { createServer } from "node:http";
import { readFile, readdir, stat } from "node:fs/promises";
import { extname, join, normalize, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL(".", import.meta.url));
const SAMPLE_CORPUS = join(ROOT, "..", "samples", "sample-corpus.json");
const PAGE = new Set(["index.html", "style.css", "app.js", "worker.js", "sw.js"]);
const MODULES = ["node_modules/onnxruntime-web/dist/", "node_modules/@huggingface/tokenizers/dist/"];
const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json; charset=utf-8" };
const USAGE = "usage: node serve.mjs --bundle DIR [--corpus FILE.json] [--port N]";

function options(argv) {
  const out = { corpus: SAMPLE_CORPUS, port: 8080 };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (!["--bundle", "--corpus", "--port"].includes(key) || value === undefined) throw new Error(USAGE);
    out[key.slice(2)] = value;
  }
  if (!out.bundle) throw new Error(USAGE);
  out.port = Number(out.port);
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error("--port takes 0 to 65535");
  return out;
}

async function listFiles(root) {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath ?? e.path, e.name)).split(sep).join("/")).sort();
}

/** The file a URL path names inside `root`, or null for anything outside it. */
function inside(root, path) {
  const full = resolve(root, normalize(path));
  return full === resolve(root) || full.startsWith(resolve(root) + sep) ? full : null;
}

function headers(type) {
  return { "content-type": type, "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin", "cache-control": "no-cache" };
}

/**
 * Serve the page for one bundle; resolves to the running server once it listens.
 * @param {{bundle: string, corpus?: string, port?: number}} opts
 * @returns {Promise<import("node:http").Server>}
 */
export async function startServer({ bundle: bundleDir, corpus = SAMPLE_CORPUS, port = 0 }) {
  const opts = { corpus };
  const bundle = resolve(bundleDir);
  if (!(await stat(join(bundle, "manifest.json")).catch(() => null))) throw new Error(`${bundleDir} is not a bundle: no manifest.json`);
  if (!(await stat(opts.corpus).catch(() => null))) throw new Error(`${opts.corpus}: no such corpus file`);
  const server = createServer(async (request, response) => {
    const send = (status, type, body) => { response.writeHead(status, headers(type)); response.end(body); };
    try {
      const path = decodeURIComponent(new URL(request.url, "http://localhost").pathname).slice(1) || "index.html";
      let file = null;
      if (PAGE.has(path)) file = join(ROOT, path);
      else if (path === "corpus.json") file = opts.corpus;
      else if (path.startsWith("src/") && path.endsWith(".js")) file = inside(join(ROOT, "src"), path.slice(4));
      else if (MODULES.some((m) => path.startsWith(m))) file = inside(join(ROOT, "node_modules"), path.slice("node_modules/".length));
      else if (path === "bundle" || path === "bundle/") return send(200, TYPES[".json"], JSON.stringify(await listFiles(bundle)));
      else if (path.startsWith("bundle/")) file = inside(bundle, path.slice("bundle/".length));
      const info = file && (await stat(file).catch(() => null));
      if (!info?.isFile()) return send(404, "text/plain; charset=utf-8", `not found: /${path}\n`);
      send(200, TYPES[extname(file)] ?? "application/octet-stream", await readFile(file));
    } catch (error) {
      send(400, "text/plain; charset=utf-8", `bad request: ${error.message}\n`);
    }
  });
  await new Promise((ready, fail) => server.once("error", fail).listen(port, "127.0.0.1", ready));
  return server;
}

async function main() {
  const opts = options(process.argv.slice(2));
  const server = await startServer(opts);
  process.stdout.write(`serving ${resolve(opts.bundle)} at http://127.0.0.1:${server.address().port}/\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  });
}
