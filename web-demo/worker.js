// The model and the index, off the UI thread. Messages in: {type: "open", source}, {type: "search", id, query, k},
// {type: "selftest", id}. Messages out: {type: "state"|"progress"|"ready"|"result"|"error", ...}.
import * as ort from "./node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";
import { openBundle } from "./src/bundle.js";
import { ColbertModel } from "./src/colbert.js";
import { selfTest } from "./src/golden.js";
import { httpFiles } from "./src/http-files.js";
import { loadIndex, saveIndex } from "./src/index-store.js";
import { pickedFiles } from "./src/picked-files.js";
import { sha256Hex } from "./src/sha256.js";
import { readIndex } from "./src/index-file.js";
import { VectorIndex } from "./src/vector-index.js";

const MOST_THREADS = self.crossOriginIsolated ? navigator.hardwareConcurrency || 1 : 1; // threads need isolation
ort.env.wasm.wasmPaths = new URL("./node_modules/onnxruntime-web/dist/", self.location.href).href;
ort.env.logLevel = "error";

const post = (message) => self.postMessage(message);

async function indexFor(model, corpus) {
  const key = `${model.bundle.modelDigest}:${await sha256Hex(new TextEncoder().encode(JSON.stringify(corpus)))}`;
  const stored = await loadIndex(key).catch(() => undefined);
  if (stored) {
    try {
      return { index: await readIndex(stored, "the saved index", model.bundle.modelDigest), restored: true };
    } catch {
      // a stored index that no longer reads is rebuilt below
    }
  }
  post({ type: "state", state: "indexing" });
  const vectors = await model.encode(corpus, false, 8, (done) => post({ type: "progress", phase: "indexing", done, total: corpus.length }));
  const index = VectorIndex.build(vectors, corpus, model.bundle.modelDigest);
  await saveIndex(key, await index.toBytes()).catch(() => undefined);
  return { index, restored: false };
}

/** Opens a bundle and returns what searches need: the model, its index and the corpus. */
async function open(source) {
  post({ type: "state", state: "loading" });
  const threads = Math.max(1, Math.min(source.threads ?? 4, MOST_THREADS));
  ort.env.wasm.numThreads = threads; // read when the first session is made
  const files = source.kind === "files" ? pickedFiles(source.files, source.label) : httpFiles(new URL(source.url, self.location.href).href);
  const bundle = await openBundle(files, (done, total) => post({ type: "progress", phase: "verifying", done, total }));
  const model = await ColbertModel.load(bundle, ort);
  post({ type: "state", state: "selftest" });
  const report = await selfTest(model);
  if (!report.passed) {
    throw Object.assign(new Error(`golden.json: the self-test failed (${report.failures.concat(report.idMismatches.map((t) => `ids of ${JSON.stringify(t.slice(0, 30))}`)).join("; ")})`), { kind: "selftest", file: "golden.json", report });
  }
  const corpus = await (await fetch(new URL(source.corpus, self.location.href))).json();
  const { index, restored } = await indexFor(model, corpus);
  const m = bundle.manifest;
  post({ type: "ready", info: { name: m.model?.name, target: m.target, precision: m.precision, synthetic: Boolean(m.model?.synthetic),
    bytes: bundle.model.length, documents: index.size, vectors: index.offsets[index.size], restored, threads,
    isolated: self.crossOriginIsolated, selftest: report } });
  return { model, index, corpus };
}

/** @param {{model: ColbertModel, index: import("./src/index-file.js").AnyIndex, corpus: string[]}} session */
async function search(session, query, k) {
  const started = performance.now();
  const [q] = await session.model.encodeQueries([query]);
  const hits = session.index.search(q, k).map((h) => ({ index: h.index, score: h.score, text: session.corpus[h.index] }));
  return { hits, milliseconds: performance.now() - started };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const percentile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.round(q * (xs.length - 1)))];

/**
 * What `python -m export bench` measures of a row, in this browser: query latency at batch 1, documents/s
 * (one at a time, and in length-sorted batches), and search over an index of `index_documents` documents
 * (the encoded ones repeated, so the vector counts are the corpus's own).
 */
async function bench(session, spec) {
  const { model } = session;
  const queryMs = [];
  for (let pass = 0; pass < spec.query_passes; pass++) {
    for (const text of spec.queries) {
      const t = performance.now();
      await model.encodeQueries([text], 1);
      queryMs.push(performance.now() - t);
    }
  }
  const result = { query_p50_ms: median(queryMs), query_p95_ms: percentile(queryMs, 0.95) };
  if (spec.batch_1_documents) {
    const t = performance.now();
    for (const text of spec.documents) await model.encodeDocuments([text], 1);
    result.docs_per_s_batch_1 = spec.documents.length / ((performance.now() - t) / 1e3);
  }
  let t = performance.now();
  const documents = await model.encodeDocuments(spec.documents, spec.batch_size);
  result.docs_per_s_batched = spec.documents.length / ((performance.now() - t) / 1e3);
  if (spec.index_documents) {
    const tiled = Array.from({ length: spec.index_documents }, (_, n) => documents[n % documents.length]);
    const index = VectorIndex.build(tiled, tiled.map((_, n) => n), model.bundle.modelDigest);
    const queries = await model.encodeQueries(spec.queries);
    const searchMs = queries.map((q) => { t = performance.now(); index.search(q, 10); return performance.now() - t; });
    Object.assign(result, { index_search_p50_ms: median(searchMs), index_vectors: index.offsets[index.size] });
  }
  return result;
}

/** Messages are handled one at a time, in order; a new "open" replaces the session. */
function listen() {
  let session = null;
  let queue = Promise.resolve();
  self.onmessage = ({ data }) => {
    queue = queue.then(async () => {
      try {
        if (data.type === "open") {
          session = null;
          session = await open(data.source);
        } else if (!session) throw new Error("no bundle is open");
        else if (data.type === "search") post({ type: "result", id: data.id, ...(await search(session, data.query, data.k)) });
        else if (data.type === "selftest") post({ type: "result", id: data.id, report: await selfTest(session.model) });
        else if (data.type === "bench") post({ type: "result", id: data.id, measured: await bench(session, data.spec) });
      } catch (error) {
        post({ type: "error", id: data.id, kind: error.kind ?? "error", file: error.file ?? null, message: String(error.message ?? error) });
      }
    });
  };
}

listen();
