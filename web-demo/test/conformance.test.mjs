// Every conformance vector of spec/conformance that needs no model: preprocessing, tokenization, character
// classes, scoring, the golden rule and the index file.
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
