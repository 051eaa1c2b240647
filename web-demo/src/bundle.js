/**
 * Opening a bundle as spec/bundle.md says: manifest and format, every file's sha256, the target, colbert.json,
 * tokenizer.json (its kind), golden.json. The model itself is loaded by the encoder.
 */
import { BundleError } from "./errors.js";
import { boolean, integer, listOf, number, object, optional, parseJSON, require, string } from "./fields.js";
import { sha256Hex } from "./sha256.js";
import { tokenizerKind } from "./tokenizer.js";

export const FORMATS = Object.freeze([1]);
export const MANIFEST = "manifest.json";
const TARGET = "onnx"; // the only target onnxruntime-web runs

/**
 * Where a bundle's files come from: a directory on disk, a server, or files a user picked.
 * @typedef {{read(path: string): Promise<Uint8Array|null>, list?(): Promise<string[]|null>, label: string}} BundleFiles
 */

const SETTINGS_FIELDS = {
  query_prefix: string, document_prefix: string, query_prefix_id: optional(integer), document_prefix_id: optional(integer),
  query_length: integer, document_length: integer, do_query_expansion: boolean, attend_to_expansion_tokens: boolean,
  do_lower_case: boolean, strip_codepoints: listOf(integer), skiplist_words: listOf(string), skiplist_ids: listOf(integer),
  mask_token_id: integer, pad_token_id: integer, dim: integer, io: object,
};
const IO_FIELDS = { inputs: listOf(object), outputs: listOf(object), max_batch: optional(integer), max_sequence: integer,
  min_sequence: integer, buckets: object };
const TENSOR_FIELDS = { name: string, dtype: string, shape: listOf((d) => integer(d) || string(d)) };
const BUCKET_FIELDS = { kind: (k) => k === "query" || k === "document", length: integer };
const ENTRY_FIELDS = { text: string, input_ids: listOf(integer), attention_mask: listOf(integer),
  kept_positions: listOf(integer), vectors: listOf(listOf(number)) };
const GOLDEN_FIELDS = { tolerance: object, queries: listOf(object), documents: listOf(object), scores: listOf(listOf(number)) };
export const METRICS = Object.freeze(["cosine_min", "cosine_mean", "maxsim_rel_err_max", "maxsim_rel_err_p99", "top10_agreement"]);

/** @param {any} manifest @param {string} where */
function checkManifest(manifest, where) {
  if (!object(manifest)) throw new BundleError("malformed", MANIFEST, `${where} is not a JSON object; re-export the bundle`);
  const version = manifest.format;
  if (!integer(version) || !FORMATS.includes(version)) {
    throw new BundleError("unknown_format", MANIFEST, `${where}: bundle format ${JSON.stringify(version ?? null)} is not one this ` +
      `reader knows (${FORMATS.join(", ")}); re-export the bundle, or upgrade the web demo`);
  }
  if (!object(manifest.files) || !Object.values(manifest.files).every(string)) {
    throw new BundleError("mistyped_field", MANIFEST, `${where}: 'files' must map each file to its sha256; re-export the bundle`);
  }
  for (const key of ["target", "precision", "artifact"]) {
    if (!string(manifest[key])) throw new BundleError("mistyped_field", MANIFEST, `${where}: '${key}' must be a string; re-export the bundle`);
  }
  return manifest;
}

/** @param {any} data */
function checkSettings(data) {
  const file = "colbert.json";
  const settings = require(data, SETTINGS_FIELDS, file);
  const io = require(settings.io, IO_FIELDS, file, `${file}['io']`);
  for (const key of ["inputs", "outputs"]) io[key].forEach((t) => require(t, TENSOR_FIELDS, file, `${file}['io']['${key}']`));
  for (const [name, b] of Object.entries(io.buckets)) require(b, BUCKET_FIELDS, file, `${file}['io']['buckets']['${name}']`);
  return settings;
}

/** golden.json's fields, checked as opening a bundle does. @param {any} data */
export function checkGolden(data) {
  const file = "golden.json";
  const golden = require(data, GOLDEN_FIELDS, file);
  for (const kind of ["queries", "documents"]) golden[kind].forEach((e, n) => require(e, ENTRY_FIELDS, file, `${file}['${kind}'][${n}]`));
  for (const [metric, bound] of Object.entries(golden.tolerance)) {
    require(bound, { op: (op) => op === ">=" || op === "<=", value: number }, file, `${file}['tolerance']['${metric}']`);
    if (!METRICS.includes(metric)) {
      throw new BundleError("malformed", file, `${file}: tolerance names ${metric}, not a metric of the golden rule; re-export the bundle`);
    }
  }
  if (golden.scores.length !== golden.queries.length || golden.scores.some((r) => r.length !== golden.documents.length)) {
    throw new BundleError("malformed", file, `${file}: scores are not one row per query and one column per document; re-export the bundle`);
  }
  if ("top_k" in golden && !(integer(golden.top_k) && golden.top_k >= 1)) {
    throw new BundleError("mistyped_field", file, `${file}: top_k must be a positive integer; re-export the bundle`);
  }
  return golden;
}

/**
 * sha256 of the lines "<path>\t<sha256>\n" of the model files, sorted by path: what an index is tied to.
 * @param {any} manifest
 */
export async function modelDigest(manifest) {
  const artifact = manifest.artifact;
  const lines = Object.keys(manifest.files).sort()
    .filter((p) => p === "tokenizer.json" || p === "colbert.json" || p === artifact || p.startsWith(`${artifact}/`))
    .map((p) => `${p}\t${manifest.files[p]}\n`).join("");
  return sha256Hex(new TextEncoder().encode(lines));
}

/**
 * @typedef {{manifest: any, settings: any, golden: any, tokenizerJSON: any, model: Uint8Array,
 *            modelDigest: string, label: string}} Bundle
 */

/**
 * Open a bundle; a BundleError (kind, file) when it cannot be trusted or read.
 * @param {BundleFiles} files
 * @param {(done: number, total: number) => void} [progress] files checked so far
 * @returns {Promise<Bundle>}
 */
export async function openBundle(files, progress) {
  const where = `${files.label}/${MANIFEST}`;
  const raw = await files.read(MANIFEST);
  if (raw === null) throw new BundleError("not_a_bundle", MANIFEST, `${files.label} is not a bundle: no ${MANIFEST} (re-run the export)`);
  const manifest = checkManifest(parseJSON(raw, MANIFEST), where);
  const listed = Object.keys(manifest.files).sort();
  /** @type {Map<string, Uint8Array>} */
  const contents = new Map();
  const missing = [];
  const changed = [];
  for (const [n, path] of listed.entries()) {
    const bytes = await files.read(path);
    if (bytes === null) missing.push(path);
    else {
      contents.set(path, bytes);
      if ((await sha256Hex(bytes)) !== manifest.files[path]) changed.push(path);
    }
    progress?.(n + 1, listed.length);
  }
  if (missing.length) {
    throw new BundleError("missing_file", missing[0], `${files.label}: missing ${missing.join(", ")}; the bundle is incomplete, re-export it`);
  }
  if (changed.length) {
    throw new BundleError("tampered", changed[0], `${files.label}: sha256 mismatch for ${changed.join(", ")}; the bundle was modified, re-export it`);
  }
  const present = (await files.list?.()) ?? null;
  const extra = present === null ? [] : present.filter((p) => p !== MANIFEST && !(p in manifest.files)).sort();
  if (extra.length) {
    throw new BundleError("unlisted_file", extra[0], `${files.label}: unlisted files ${extra.join(", ")}; remove them or re-export`);
  }
  if (manifest.target !== TARGET) {
    throw new BundleError("unknown_target", MANIFEST, `${where}: target ${JSON.stringify(manifest.target)} does not run in the browser; export an onnx bundle`);
  }
  const need = (path) => {
    const bytes = contents.get(path);
    if (!bytes) throw new BundleError("missing_file", path, `${files.label}: the manifest does not list ${path}; re-export the bundle`);
    return bytes;
  };
  const settings = checkSettings(parseJSON(need("colbert.json"), "colbert.json"));
  const tokenizerJSON = parseJSON(need("tokenizer.json"), "tokenizer.json");
  tokenizerKind(tokenizerJSON);
  const golden = checkGolden(parseJSON(need("golden.json"), "golden.json"));
  return { manifest, settings, golden, tokenizerJSON, model: need(manifest.artifact), modelDigest: await modelDigest(manifest),
    label: files.label };
}
