#!/usr/bin/env node
// node cli.mjs verify|scores|preprocess|tokenize|selftest|search --bundle DIR [options] [TEXT...]
// The command-line contract of spec/bundle.md, on the same src/ modules the page runs (onnxruntime-web's
// wasm build in Node). Texts come as arguments or, when none are given, as a JSON array on stdin.
import { readFile, writeFile, rename, stat } from "node:fs/promises";
import { openBundle } from "./src/bundle.js";
import { ColbertModel } from "./src/colbert.js";
import { BundleError, IndexFileError, InputError } from "./src/errors.js";
import { goldenScores, selfTest } from "./src/golden.js";
import * as ort from "onnxruntime-web";
import { directoryFiles } from "./src/node-files.js";
import { ColbertTokenizer, bucketFor } from "./src/tokenizer.js";
import { readIndex } from "./src/index-file.js";
import { VectorIndex } from "./src/vector-index.js";

const USAGE = "usage: node cli.mjs verify|scores|preprocess|tokenize|selftest|search --bundle DIR [--query|--document] " +
  "[--corpus FILE.json] [--index FILE] [--k N] [--threads N] [TEXT...]";
const VALUED = new Set(["--bundle", "--corpus", "--index", "--k", "--threads"]);

class UsageError extends Error {}

/** JSON with sorted keys, one line. */
function dump(value) {
  const sorted = (v) => (Array.isArray(v) ? v.map(sorted) : v && typeof v === "object" && !ArrayBuffer.isView(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
  process.stdout.write(`${JSON.stringify(sorted(value))}\n`);
}

function parse(argv) {
  const [command, ...rest] = argv;
  const options = {};
  const flags = new Set();
  const positional = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (VALUED.has(arg)) {
      if (i + 1 >= rest.length) throw new UsageError(`${arg} takes a value`);
      options[arg] = rest[++i];
    } else if (arg.startsWith("--")) flags.add(arg);
    else positional.push(arg);
  }
  if (!command || !options["--bundle"]) throw new UsageError(USAGE);
  return { command, options, flags, positional };
}

async function texts(given) {
  if (given.length) return given;
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  let parsed;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || !parsed.every((t) => typeof t === "string")) {
    throw new UsageError("give texts as arguments or a JSON array of strings on stdin");
  }
  return parsed;
}

function positiveInteger(value, name) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} takes a positive whole number`);
  return n;
}

async function corpusOf(path) {
  let parsed;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || !parsed.every((t) => typeof t === "string")) throw new UsageError(`${path} is not a JSON array of texts`);
  return parsed;
}

async function search(model, { options, positional }) {
  if (!options["--corpus"] || positional.length !== 1) throw new UsageError("search takes --corpus FILE (a JSON array of texts) and one QUERY");
  const corpus = await corpusOf(options["--corpus"]);
  const k = options["--k"] ? positiveInteger(options["--k"], "--k") : 10;
  const indexPath = options["--index"];
  let index;
  if (indexPath && (await stat(indexPath).catch(() => null))) {
    // either kind: the exact file (format 1) or the compressed one (format 3); format 2 is unknown_version
    index = await readIndex(new Uint8Array(await readFile(indexPath)), indexPath, model.bundle.modelDigest);
    if (JSON.stringify(index.metadata) !== JSON.stringify(corpus)) {
      throw new IndexFileError("other_model", `${indexPath} was built for another corpus; delete it to rebuild`);
    }
  } else {
    index = VectorIndex.build(await model.encodeDocuments(corpus), corpus, model.bundle.modelDigest);
    if (indexPath) {
      await writeFile(`${indexPath}.partial`, await index.toBytes());
      await rename(`${indexPath}.partial`, indexPath);
    }
  }
  const started = performance.now();
  const [query] = await model.encodeQueries([positional[0]]);
  const hits = index.search(query, k);
  const milliseconds = performance.now() - started;
  return { hits: hits.map((h) => ({ index: h.index, score: h.score, text: corpus[h.index] })), milliseconds };
}

async function run(argv) {
  const args = parse(argv);
  const { command, options, flags, positional } = args;
  if (!["verify", "scores", "preprocess", "tokenize", "selftest", "search"].includes(command)) {
    throw new UsageError(`unknown command ${command}; ${USAGE}`);
  }
  ort.env.wasm.numThreads = options["--threads"] ? positiveInteger(options["--threads"], "--threads") : 1;
  ort.env.logLevel = "error";
  const bundle = await openBundle(directoryFiles(options["--bundle"]));
  if (command === "verify") {
    process.stdout.write(`OK ${bundle.manifest.target}-${bundle.manifest.precision} ${bundle.manifest.model?.name ?? ""}\n`);
    return 0;
  }
  if (command === "scores") return dump(goldenScores(bundle.golden, bundle.settings.dim)), 0;
  const tokenizer = new ColbertTokenizer(bundle.tokenizerJSON, bundle.settings);
  if (command === "preprocess") return dump((await texts(positional)).map(tokenizer.preprocess)), 0;
  if (command === "tokenize") {
    const isQuery = flags.has("--query");
    if (isQuery === flags.has("--document")) throw new UsageError("tokenize takes --query or --document");
    const buckets = bundle.settings.io.buckets;
    dump((await texts(positional)).map((text) => {
      const row = tokenizer.encodeOne(text, isQuery);
      const out = { input_ids: row.input_ids, attention_mask: row.attention_mask,
        kept_positions: row.kept.flatMap((k, p) => (k ? [p] : [])) };
      if (Object.keys(buckets).length) out.bucket = bucketFor(buckets, row.input_ids.length, isQuery)[0];
      return out;
    }));
    return 0;
  }
  const model = await ColbertModel.load(bundle, ort);
  if (command === "selftest") {
    const report = await selfTest(model);
    dump(report);
    return report.passed ? 0 : 1;
  }
  dump(await search(model, args));
  return 0;
}

run(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error) => {
  if (error instanceof UsageError || error instanceof InputError || error instanceof RangeError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof BundleError || error instanceof IndexFileError) {
    process.stderr.write(`error: ${error.kind}: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`error: ${String(error?.message ?? error).split("\n")[0]}\n`);
    process.exitCode = 1;
  }
});
