// Real exported ONNX bundles (COLBERT_BUNDLES, set by tests/test_web_demo.py): every bad-bundle mutation of
// spec/conformance gets its error kind, and the self-test passes through onnxruntime-web.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-web";
import { openBundle } from "../src/bundle.js";
import { ColbertModel } from "../src/colbert.js";
import { BundleError } from "../src/errors.js";
import { selfTest } from "../src/golden.js";
import { directoryFiles } from "../src/node-files.js";
import { BUNDLES, mutate, vectors } from "./helpers.mjs";

const skip = BUNDLES.length ? false : "set COLBERT_BUNDLES to exported ONNX bundles (tests/test_web_demo.py does)";

test("each bad-bundle mutation gets its error kind, naming the file, in one line", { skip }, async () => {
  const work = await mkdtemp(join(tmpdir(), "colbert-web-"));
  try {
    for (const c of vectors("bad-bundles.jsonl").cases) {
      const dest = join(work, c.name);
      await mutate(BUNDLES[0], dest, c);
      const error = await openBundle(directoryFiles(dest)).then((b) => ColbertModel.load(b, ort)).then(() => null, (e) => e);
      assert.ok(error instanceof BundleError, `${c.name}: ${error}`);
      assert.equal(error.kind, c.error, `${c.name}: ${error.message}`);
      assert.ok(!error.message.includes("\n"), c.name);
      await rm(dest, { recursive: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

for (const bundle of BUNDLES) {
  test(`self-test of ${bundle}`, async () => {
    const model = await ColbertModel.load(await openBundle(directoryFiles(bundle)), ort);
    const report = await selfTest(model);
    assert.ok(report.passed, JSON.stringify(report));
    assert.ok(report.idsExact);
  });
}
