// Every conformance vector of spec/conformance that needs no model: preprocessing, tokenization, character
// classes, scoring, the golden rule and both index file kinds (exact and compressed).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createHash } from "node:crypto";
import { IndexFileError } from "../src/errors.js";
import { preprocessor } from "../src/preprocess.js";
import { checkGolden } from "../src/bundle.js";
import { judge, measure } from "../src/golden.js";
import { fromRows, maxsim, topK } from "../src/scoring.js";
import { ColbertTokenizer, bucketFor } from "../src/tokenizer.js";
import { VectorIndex } from "../src/vector-index.js";
import { CompressedIndex, readIndex } from "../src/index-file.js";
import { bestCentroids } from "../src/compressed-index.js";
import { CONFORMANCE, TOKENIZERS, vectors } from "./helpers.mjs";

test("preprocessing: strip and Python's lowercase, on and off", () => {
  const { header, cases } = vectors("preprocess.jsonl");
  const lower = preprocessor({ strip_codepoints: header.strip_codepoints, do_lower_case: true });
  const cased = preprocessor({ strip_codepoints: header.strip_codepoints, do_lower_case: false });
  const wrong = cases.filter((c) => lower(c.text) !== c.lowercase || cased(c.text) !== c.cased).map((c) => c.text);
  assert.deepEqual(wrong, []);
});

function tokenizerFor(header) {
  const path = TOKENIZERS[header.tokenizer];
  const bytes = readFileSync(path);
  assert.equal(createHash("sha256").update(bytes).digest("hex"), header.tokenizer_sha256, `${path} is not the vectors' tokenizer`);
  return new ColbertTokenizer(JSON.parse(bytes.toString("utf8")), header.settings);
}

for (const name of ["mxbai", "mxbai-variant", "minilm"]) {
  test(`tokenization: tokenize-${name}.jsonl, as a query and as a document`, (t) => {
    const { header, cases } = vectors(`tokenize-${name}.jsonl`);
    if (!TOKENIZERS[header.tokenizer]) return t.skip(`set MINILM_TOKENIZER to the tokenizer.json of ${header.tokenizer}`);
    const tokenizer = tokenizerFor(header);
    const wrong = [];
    for (const c of cases) {
      for (const [kind, isQuery] of [["query", true], ["document", false]]) {
        const row = tokenizer.encodeOne(c.text, isQuery);
        const got = { input_ids: row.input_ids, attention_mask: row.attention_mask,
          kept_positions: row.kept.flatMap((k, p) => (k ? [p] : [])),
          bucket: bucketFor(header.settings.io.buckets, row.input_ids.length, isQuery)[0] };
        try {
          assert.deepEqual(got, c[kind]);
        } catch {
          wrong.push(`${kind} ${JSON.stringify(c.text).slice(0, 60)}`);
        }
      }
    }
    assert.ok(cases.length >= 3000);
    assert.deepEqual(wrong, []);
  });
}

test("character classes: WordPiece's normalizer and pre-tokenizer per code point, through the tokenizer", (t) => {
  const header = vectors("tokenize-minilm.jsonl").header;
  if (!TOKENIZERS[header.tokenizer]) return t.skip("set MINILM_TOKENIZER");
  const tokenizer = tokenizerFor(header);
  const classes = Object.fromEntries(vectors("charclasses.jsonl").cases.filter((c) => c.class)
    .map((c) => [c.class, c.ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i))]));
  const removed = new Set(classes.bert_removed);
  const like = { bert_removed: "x{c}y=xy", bert_whitespace: "x{c}y=x y", bert_split_whitespace: "x{c}y=x y",
    bert_chinese: "x{c}y=x {c} y", bert_punctuation: "x{c}y=x {c} y" };
  const wrong = [];
  for (const [name, rule] of Object.entries(like)) {
    const [given, expected] = rule.split("=");
    const points = classes[name].filter((c) => name === "bert_removed" || !removed.has(c));
    const step = Math.max(1, Math.floor(points.length / 400)); // every code point of small classes, 400 of large
    for (let i = 0; i < points.length; i += step) {
      const ch = String.fromCodePoint(points[i]);
      const a = tokenizer.ids(given.replaceAll("{c}", ch), false);
      const b = tokenizer.ids(expected.replaceAll("{c}", ch), false);
      if (JSON.stringify(a) !== JSON.stringify(b)) wrong.push(`${name} U+${points[i].toString(16)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("scoring: MaxSim and rank, ties included, exactly", () => {
  const { cases } = vectors("scoring.jsonl");
  for (const c of cases) {
    const q = fromRows(c.query, c.dim);
    const docs = c.documents.map((d) => fromRows(d, c.dim));
    const scores = docs.map((d) => maxsim(q, d));
    assert.deepEqual(scores, c.maxsim, c.name);
    assert.deepEqual(topK(scores, c.k).map((h) => h.index), c.rank, c.name);
    const index = VectorIndex.build(docs, docs.map((_, i) => i), "0".repeat(64));
    assert.deepEqual(index.search(q, c.k).map((h) => h.index), c.rank, c.name);
  }
});

test("golden rule: golden.json parsed as a bundle's, then steps 2 to 5 on the encoded vectors", () => {
  const { cases } = vectors("golden.jsonl");
  assert.ok(cases.some((c) => c.name === "floor-below-one"));
  for (const c of cases) {
    const golden = checkGolden(structuredClone(c.golden));
    const queries = c.encoded.queries.map((rows) => fromRows(rows, c.dim));
    const documents = c.encoded.documents.map((rows) => fromRows(rows, c.dim));
    if (c.error) {
      assert.throws(() => measure(golden, queries, documents), RangeError, c.name);
      continue;
    }
    const metrics = measure(golden, queries, documents);
    for (const [metric, want] of Object.entries(c.metrics)) {
      assert.ok(Math.abs(metrics[metric] - want) <= 1e-12, `${c.name}: ${metric} ${metrics[metric]}, the vectors say ${want}`);
    }
    assert.deepEqual(judge(golden, metrics).map((f) => f.split("=")[0]).sort(), c.failures, c.name);
  }
});

test("index files: both dtypes search as the vectors say", async () => {
  const { header, cases } = vectors("index.jsonl");
  for (const dtype of ["float32", "float16"]) {
    const path = join(CONFORMANCE, header.files[dtype].file);
    const index = await VectorIndex.fromBytes(new Uint8Array(readFileSync(path)), path, header.model_digest);
    assert.equal(index.dtype, dtype);
    assert.deepEqual(index.metadata, header.metadata);
    for (const c of cases) {
      const hits = index.search(fromRows(c.query, header.dim), c.k).map((h) => ({ index: h.index, score: h.score }));
      assert.deepEqual(hits, c.hits, `${dtype} ${c.name}`);
    }
  }
});

test("index files: each mutation gets its error kind, in one line", async () => {
  const { header } = vectors("index.jsonl");
  const data = new Uint8Array(readFileSync(join(CONFORMANCE, header.files.float32.file)));
  for (const m of header.mutations) {
    let bytes = data.slice();
    let digest = header.model_digest;
    if (m.op === "truncate") bytes = bytes.slice(0, m.bytes);
    else if (m.op === "append") bytes = new Uint8Array([...bytes, ...new Uint8Array(m.bytes)]);
    else if (m.op === "flip_byte") bytes[m.offset < 0 ? bytes.length + m.offset : m.offset] ^= 1;
    else if (m.op === "set_u32") new DataView(bytes.buffer).setUint32(m.offset, m.value, true);
    else if (m.op === "expect_digest") digest = m.value;
    await assert.rejects(VectorIndex.fromBytes(bytes, m.name, digest), (error) => {
      assert.ok(error instanceof IndexFileError);
      assert.equal(error.kind, m.error, m.name);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

test("index files: readIndex reads the exact files as VectorIndex does, and their mutations alike", async () => {
  const { header, cases } = vectors("index.jsonl");
  for (const dtype of ["float32", "float16"]) {
    const path = join(CONFORMANCE, header.files[dtype].file);
    const index = await readIndex(new Uint8Array(readFileSync(path)), path, header.model_digest);
    assert.ok(index instanceof VectorIndex);
    for (const c of cases) {
      const hits = index.search(fromRows(c.query, header.dim), c.k).map((h) => ({ index: h.index, score: h.score }));
      assert.deepEqual(hits, c.hits, `${dtype} ${c.name}`);
    }
  }
  const data = new Uint8Array(readFileSync(join(CONFORMANCE, header.files.float32.file)));
  for (const m of header.mutations) {
    const { bytes, digest } = mutateIndex(data, m, header.model_digest);
    await assert.rejects(readIndex(bytes, m.name, digest), (error) => error instanceof IndexFileError && error.kind === m.error, m.name);
  }
});

/**
 * One index mutation of index.jsonl or compressed-index.jsonl applied to a copy of `data`: truncate, append,
 * flip_byte, set_u16, set_u32 (then, with rehash, the last 32 bytes set to the sha256 of every byte before
 * them), or expect_digest (another model digest to expect).
 */
function mutateIndex(data, m, modelDigest) {
  let bytes = data.slice();
  let digest = modelDigest;
  if (m.op === "truncate") bytes = bytes.slice(0, m.bytes);
  else if (m.op === "append") bytes = new Uint8Array([...bytes, ...new Uint8Array(m.bytes)]);
  else if (m.op === "flip_byte") bytes[m.offset < 0 ? bytes.length + m.offset : m.offset] ^= 1;
  else if (m.op === "set_u16") new DataView(bytes.buffer).setUint16(m.offset, m.value, true);
  else if (m.op === "set_u32") new DataView(bytes.buffer).setUint32(m.offset, m.value, true);
  else if (m.op === "expect_digest") digest = m.value;
  else throw new Error(`unknown op ${m.op}`);
  if (m.rehash) bytes.set(createHash("sha256").update(bytes.subarray(0, bytes.length - 32)).digest(), bytes.length - 32);
  return { bytes, digest };
}

test("compressed index files: each loads, its sha256 the header's, and searches exactly as the vectors say", async () => {
  const { header, cases } = vectors("compressed-index.jsonl");
  const indexes = {};
  for (const [name, file] of Object.entries(header.files)) {
    const bytes = new Uint8Array(readFileSync(join(CONFORMANCE, file.file)));
    assert.equal(createHash("sha256").update(bytes).digest("hex"), file.sha256, file.file);
    const index = await readIndex(bytes, file.file, header.model_digest);
    assert.ok(index instanceof CompressedIndex, file.file);
    assert.deepEqual([index.bits, index.nprobe, index.candidates, index.dim, index.size],
      [file.bits, file.nprobe, file.candidates, header.dim, header.documents], file.file);
    assert.deepEqual(index.metadata, header.metadata);
    assert.equal(index.modelDigest, header.model_digest);
    indexes[name] = index;
  }
  assert.deepEqual(Object.values(header.files).map((f) => f.bits).sort(), [2, 4, 8]);
  assert.ok(cases.length >= 42 && cases.some((c) => c.query.length === 0) && cases.some((c) => c.nprobe !== undefined));
  for (const c of cases) {
    const options = {};
    if (c.nprobe !== undefined) options.nprobe = c.nprobe;
    if (c.candidates !== undefined) options.candidates = c.candidates;
    const hits = indexes[c.file].search(fromRows(c.query, header.dim), c.k, options).map((h) => ({ index: h.index, score: h.score }));
    assert.deepEqual(hits, c.hits, c.name);
  }
});

test("compressed index files: each mutation gets its error kind, in one line", async () => {
  const { header } = vectors("compressed-index.jsonl");
  const data = new Uint8Array(readFileSync(join(CONFORMANCE, header.files["4bit"].file)));
  assert.ok(header.mutations.some((m) => m.rehash) && header.mutations.some((m) => m.op === "set_u16"));
  assert.ok(header.mutations.some((m) => m.name === "before-normalising" && m.value === 2 && m.error === "unknown_version"));
  for (const m of header.mutations) {
    const { bytes, digest } = mutateIndex(data, m, header.model_digest);
    await assert.rejects(readIndex(bytes, m.name, digest), (error) => {
      assert.ok(error instanceof IndexFileError, m.name);
      assert.equal(error.kind, m.error, m.name);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
  const { bytes } = mutateIndex(data, header.mutations.find((m) => m.name === "before-normalising"), header.model_digest);
  for (const read of [CompressedIndex.fromBytes, VectorIndex.fromBytes]) { // either reader, called directly
    await assert.rejects(read(bytes, "format 2"), (error) => error.kind === "unknown_version" && /normalised/.test(error.message));
  }
});

test("compressed index files: a file at an unaligned byte offset reads the same, and bad search options are refused", async () => {
  const { header, cases } = vectors("compressed-index.jsonl");
  const data = readFileSync(join(CONFORMANCE, header.files["2bit"].file));
  const shifted = new Uint8Array(data.length + 3);
  shifted.set(data, 3);
  const index = await readIndex(shifted.subarray(3), "shifted", header.model_digest);
  const c = cases.find((x) => x.file === "2bit" && x.hits.length > 1);
  assert.deepEqual(index.search(fromRows(c.query, header.dim), c.k, { nprobe: c.nprobe, candidates: c.candidates })
    .map((h) => ({ index: h.index, score: h.score })), c.hits);
  assert.throws(() => index.search(fromRows(c.query, header.dim), 3, { nprobe: 0 }), RangeError);
  assert.deepEqual(index.search(fromRows(c.query, header.dim), 0), []);
});

/** mulberry32: a seeded generator of numbers in [0, 1). @param {number} seed */
function seeded(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** IEEE half bits of a value exact in float16 (normal or zero). @param {number} x */
function half(x) {
  if (x === 0) return 0;
  const e = Math.floor(Math.log2(Math.abs(x)));
  return (x < 0 ? 0x8000 : 0) | ((e + 15) << 10) | ((Math.abs(x) / 2 ** e - 1) * 1024);
}

/**
 * A compressed index file laid out from spec/bundle.md's tables (a test's own writer): each document a list of
 * [code, buckets] vectors; the lists derived from the codes.
 */
function compressedFile({ dim, bits, centroids, cutoffs, weights, documents, nprobe, candidates }) {
  const k = centroids.length;
  const codes = documents.flatMap((d) => d.map(([c]) => c));
  const lists = centroids.map((_, c) => documents.flatMap((d, i) => (d.some(([x]) => x === c) ? [i] : [])));
  const meta = new TextEncoder().encode(JSON.stringify(documents.map((_, i) => i)));
  const parts = [];
  const u64 = (values) => { const b = new DataView(new ArrayBuffer(8 * values.length)); values.forEach((x, i) => b.setBigUint64(8 * i, BigInt(x), true)); return new Uint8Array(b.buffer); };
  const typed = (Type, setter, values) => { const b = new DataView(new ArrayBuffer(Type * values.length)); values.forEach((x, i) => b[setter](Type * i, x, true)); return new Uint8Array(b.buffer); };
  const header = new DataView(new ArrayBuffer(128));
  new Uint8Array(header.buffer).set([0x43, 0x42, 0x49, 0x4e, 0x44, 0x45, 0x58, 0]);
  [[8, 3], [12, dim], [16, bits], [20, 0], [80, k], [84, nprobe], [88, candidates], [92, 0]].forEach(([at, x]) => header.setUint32(at, x, true));
  header.setBigUint64(24, BigInt(documents.length), true);
  header.setBigUint64(32, BigInt(codes.length), true);
  header.setBigUint64(40, BigInt(meta.length), true);
  header.setBigUint64(96, BigInt(lists.flat().length), true);
  parts.push(new Uint8Array(header.buffer));
  parts.push(typed(2, "setUint16", centroids.flat().map(half)));
  parts.push(typed(4, "setFloat32", [...cutoffs, ...weights]));
  let total = 0;
  parts.push(u64([0, ...documents.map((d) => (total += d.length))]));
  parts.push(typed(2, "setUint16", codes));
  const residuals = new Uint8Array(codes.length * dim * bits / 8);
  documents.flat().forEach(([, buckets], t) => buckets.forEach((b, j) => {
    residuals[t * dim * bits / 8 + Math.floor(j * bits / 8)] |= b << ((j * bits) % 8);
  }));
  parts.push(residuals);
  total = 0;
  parts.push(u64([0, ...lists.map((l) => (total += l.length))]));
  parts.push(typed(4, "setUint32", lists.flat()));
  parts.push(meta);
  const chunks = [];
  let length = 0;
  for (const part of parts) {
    const pad = (64 - (length % 64)) % 64;
    if (length && pad) chunks.push(new Uint8Array(pad));
    length += (length ? pad : 0) + part.length;
    chunks.push(part);
  }
  const body = Buffer.concat(chunks);
  return new Uint8Array(Buffer.concat([body, createHash("sha256").update(body).digest()]));
}

/** Decompressing as plain loops, from the spec's text: y, its fp32 length n, then y / n unless n is 0. */
function plainDecompress(centroid, weights, buckets) {
  const y = buckets.map((b, j) => Math.fround(centroid[j] + weights[b]));
  let n = 0;
  for (const value of y) n = Math.fround(n + Math.fround(value * value));
  n = Math.fround(Math.sqrt(n));
  return n > 0 ? y.map((value) => Math.fround(value / n)) : y;
}

/** The five steps as plain loops, from the spec's text. */
function plainSearch(file, query, k, nprobe, candidates) {
  if (query.count === 0 || k <= 0) return [];
  const { dim, centroids, weights, documents } = file;
  const kk = centroids.length;
  const vec = (rows) => fromRows(rows, dim);
  const s = Array.from({ length: query.count }, (_, i) => centroids.map((c) => maxsim(vec([Array.from(query.data.subarray(i * dim, (i + 1) * dim))]), vec([c]))));
  const probes = s.map((row) => Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, Math.min(nprobe, kk)));
  const listed = documents.flatMap((d, doc) => (probes.some((probe) => probe.some((c) => d.some(([x]) => x === c))) ? [doc] : []));
  const score = new Map(listed.map((doc) => [doc, 0]));
  probes.forEach((probe, i) => listed.forEach((doc) => {
    const held = probe.filter((c) => documents[doc].some(([x]) => x === c)).map((c) => s[i][c]);
    score.set(doc, Math.fround(score.get(doc) + (held.length ? Math.max(...held) : s[i][probe[probe.length - 1]])));
  }));
  const found = [...score.keys()].sort((a, b) => score.get(b) - score.get(a) || a - b).slice(0, candidates);
  const scored = found.map((doc) => [doc, maxsim(query, vec(documents[doc].map(([c, buckets]) => plainDecompress(centroids[c], weights, buckets))))]);
  return scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k).map(([index, score]) => ({ index, score }));
}

test("compressed index files: a file of many centroids and ties, 2, 4 and 8 bits, searches as plain loops of the spec's steps", async () => {
  const random = seeded(7);
  const pick = (n) => Math.floor(random() * n);
  for (const [bits, dim] of [[4, 6], [2, 12], [8, 5]]) {
    const levels = 2 ** bits;
    const centroids = Array.from({ length: 100 }, (_, c) => Array.from({ length: dim }, () => (c === 0 ? 0 : (pick(17) - 8) / 8)));
    const weights = Array.from({ length: levels }, (_, b) => (b - levels / 2) / 16);
    const cutoffs = weights.slice(1);
    const documents = Array.from({ length: 60 }, (_, i) => Array.from({ length: i % 13 === 5 ? 0 : 1 + pick(5) },
      () => [pick(100), Array.from({ length: dim }, () => pick(levels))]));
    documents[7].push([0, Array(dim).fill(levels / 2)]); // decompresses to zeros: not divided
    const file = { dim, bits, centroids, cutoffs, weights, documents, nprobe: 3, candidates: 7 };
    const index = await readIndex(compressedFile(file), `synthetic ${bits}-bit`);
    assert.ok(index instanceof CompressedIndex);
    for (let q = 0; q < 30; q++) {
      const query = fromRows(Array.from({ length: pick(4) }, () => Array.from({ length: dim }, () => (pick(9) - 4) / 4)), dim);
      for (const [nprobe, candidates, k] of [[undefined, undefined, 10], [1, 1, 5], [70, 20, 10], [100, 60, 60], [200, 3, 2]]) {
        const got = index.search(query, k, { nprobe, candidates }).map((h) => ({ index: h.index, score: h.score }));
        assert.deepEqual(got, plainSearch(file, query, k, nprobe ?? 3, candidates ?? 7), `${bits}-bit query ${q} nprobe ${nprobe}`);
      }
    }
  }
});

test("compressed index files: decompression rounds as the spec's fp32 steps, on values whose lengths are not exact", async () => {
  const random = seeded(11);
  const pick = (n) => Math.floor(random() * n);
  // normal fp16 values of 11 significant bits, so that the squares and their sums round in fp32
  const halfValue = () => (pick(2) ? -1 : 1) * (1 + pick(1024) / 1024) * 2 ** -(1 + pick(6));
  let rounded = 0;
  for (const [bits, dim] of [[2, 24], [4, 18], [8, 13]]) {
    const levels = 2 ** bits;
    const centroids = Array.from({ length: 8 }, (_, c) => Array.from({ length: dim }, () => (c === 0 ? 0 : halfValue())));
    const weights = Array.from({ length: levels }, (_, b) => (b === levels / 2 ? 0 : Math.fround((random() - 0.5) / 5)));
    const cutoffs = weights.slice(1).sort((a, b) => a - b);
    const documents = Array.from({ length: 20 }, () => Array.from({ length: pick(5) },
      () => [pick(8), Array.from({ length: dim }, () => pick(levels))]));
    documents[3].push([0, Array(dim).fill(levels / 2)]); // zeros: n = 0, y as it is
    const index = await readIndex(compressedFile({ dim, bits, centroids, cutoffs, weights, documents, nprobe: 2, candidates: 4 }), `${bits}-bit`);
    documents.flat().forEach(([c, buckets], t) => {
      const want = Float32Array.from(plainDecompress(centroids[c], weights, buckets));
      assert.deepEqual(index.decompress(t), want, `${bits}-bit vector ${t}`);
      // the same length summed in double, unrounded: the cases are worth something only where it differs
      const y = buckets.map((b, j) => Math.fround(centroids[c][j] + weights[b]));
      const double = Math.sqrt(y.reduce((n, value) => n + value * value, 0));
      if (double > 0 && !want.every((value, j) => value === Math.fround(y[j] / double))) rounded++;
    });
  }
  assert.ok(rounded > 10, `only ${rounded} vectors depend on the fp32 rounding`);
});

test("compressed index files: step 2's sorted buffer and full sort choose the same centroids, ties to the lower id", () => {
  const random = seeded(3);
  for (let round = 0; round < 20; round++) {
    const k = 50 + Math.floor(random() * 200);
    const scores = Float32Array.from({ length: k + 5 }, () => Math.floor(random() * 9) / 4);
    const from = 5;
    const reference = Array.from({ length: k }, (_, c) => c).sort((a, b) => scores[from + b] - scores[from + a] || a - b);
    for (const count of [1, 2, 8, 64, 65, Math.min(k, 100), k]) {
      assert.deepEqual(Array.from(bestCentroids(scores, from, k, Math.min(count, k))), reference.slice(0, Math.min(count, k)), `${k} ${count}`);
    }
  }
});

test("an index this port writes reads back the same", async () => {
  const { header } = vectors("index.jsonl");
  const path = join(CONFORMANCE, header.files.float32.file);
  const index = await VectorIndex.fromBytes(new Uint8Array(readFileSync(path)), path);
  const again = await VectorIndex.fromBytes(await index.toBytes(), "again", header.model_digest);
  assert.deepEqual(Buffer.from(await again.toBytes()), readFileSync(path));
});

test("character classes: the WordPiece normalizer and pre-tokenizer on every code point", async () => {
  const { bertNormalizer } = await import("../src/tokenizer.js");
  const { cases } = vectors("charclasses.jsonl");
  const set = (name) => new Set(cases.find((c) => c.class === name).ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)));
  const [removed, white, chinese, accent] = ["bert_removed", "bert_whitespace", "bert_chinese", "bert_accent"].map(set);
  const lower = new Map(cases.find((c) => c.mapping === "bert_lowercase").pairs);
  const only = (o) => bertNormalizer({ clean_text: false, handle_chinese_chars: false, strip_accents: false, lowercase: false, ...o });
  const [clean, spacing, strip, lowercase] = [{ clean_text: true }, { handle_chinese_chars: true }, { strip_accents: true },
    { lowercase: true }].map(only);
  const wrong = [];
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp < 0xe000) continue;
    const ch = String.fromCodePoint(cp);
    const ok = clean(`a${ch}a`) === (removed.has(cp) ? "aa" : white.has(cp) ? "a a" : `a${ch}a`)
      && spacing(ch) === (chinese.has(cp) ? ` ${ch} ` : ch)
      && (strip(ch) === "") === accent.has(cp)
      && lowercase(ch) === (lower.get(cp) ?? ch);
    if (!ok) wrong.push(`U+${cp.toString(16)}`);
  }
  assert.deepEqual(wrong.slice(0, 20), []);
});
