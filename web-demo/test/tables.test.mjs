import assert from "node:assert/strict";
import { test } from "node:test";
import * as tables from "../src/unicode-tables.js";
import { vectors } from "./helpers.mjs";

test("the generated Unicode tables are the conformance vectors' (run python -m spec.port_tables when they change)", () => {
  const { cases } = vectors("charclasses.jsonl");
  const ranges = (name) => cases.find((c) => c.class === name).ranges;
  assert.deepEqual([...tables.PYTHON_LOWER], cases.find((c) => c.mapping === "python_lower").pairs);
  assert.deepEqual(tables.BERT_REMOVED, ranges("bert_removed"));
  assert.deepEqual(tables.BERT_CLEAN_WHITESPACE, ranges("bert_whitespace"));
  assert.deepEqual(tables.BERT_ACCENT, ranges("bert_accent"));
  assert.deepEqual(tables.BERT_CHINESE, ranges("bert_chinese"));
  assert.deepEqual(tables.BERT_WHITESPACE, ranges("bert_split_whitespace"));
  assert.deepEqual(tables.BERT_PUNCTUATION, ranges("bert_punctuation"));
  assert.deepEqual(tables.BYTELEVEL_LETTER, ranges("bytelevel_letter"));
  assert.deepEqual(tables.BYTELEVEL_NUMBER, ranges("bytelevel_number"));
  assert.deepEqual(tables.BYTELEVEL_WHITESPACE, ranges("bytelevel_whitespace"));
  assert.deepEqual(tables.NFC_COMBINING, ranges("nfc_combining"));
});
