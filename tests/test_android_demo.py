"""android-demo/colbert (the Kotlin library on ONNX Runtime's Java API): its JUnit tests on the conformance
vectors and on real bundles, and its CLI held to the Python runtime on the same bundles. Needs Java 17+ and
Maven; Maven Central serves the dependencies."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export import parity_texts
from export.parity import TIERS
from tests.conftest import FIXTURE_TOKENIZER, flip_byte
from tests.port_texts import SPECIAL_TEXTS, random_texts
from tests.test_index import SAMPLE_CORPUS

MODULE = Path(__file__).resolve().parents[1] / "android-demo" / "colbert"
JAR = MODULE / "target" / "colbert-cli.jar"
pytestmark = pytest.mark.skipif(shutil.which("java") is None or shutil.which("mvn") is None,
                                reason="no Java and Maven on this machine")


def mvn(*goals: str, env: dict | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(["mvn", "-B", "-f", str(MODULE / "pom.xml"), *goals], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="session")
def colbert_cli() -> Path:
    """The CLI jar, built once per session with the README's command (tests skipped: the next test runs them)."""
    done = mvn("-q", "package", "-DskipTests")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return JAR


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["java", "-jar", str(JAR), *args], input=stdin, capture_output=True, text=True, timeout=900,
                          **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))


def test_maven_tests_pass_on_the_vectors_and_real_bundles(colbert_cli, trained_run, mxbai_run, variant_run,
                                                          minilm_checkpoint):
    bundles = [trained_run.bundle("onnx", "int8"), trained_run.bundle("onnx", "fp32"), mxbai_run.bundle("onnx"),
               variant_run.bundle("onnx")]  # the first, the smallest, takes every bad-bundle mutation
    env = {**os.environ, "MXBAI_TOKENIZER": str(FIXTURE_TOKENIZER),
           "MINILM_TOKENIZER": str(minilm_checkpoint / "tokenizer.json"),
           "COLBERT_BUNDLES": ":".join(map(str, bundles))}
    done = mvn("test", env=env, timeout=2400)
    summary = re.findall(r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)\s*$", done.stdout, re.M)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    run, failures, errors, skipped = map(int, summary[-1])
    assert run > 0 and failures == errors == skipped == 0, summary[-1]


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run", "trained_run"])  # BPE twice, WordPiece
def test_cli_tokenize_equals_the_python_runtime_on_thousands_of_texts(colbert_cli, request, run_name):
    bundle = request.getfixturevalue(run_name).bundle("onnx")
    tokenizer = runtimes.load(bundle).tokenizer
    texts = parity_texts.queries() + parity_texts.documents() + SPECIAL_TEXTS + random_texts(3000, seed=3)
    for flag, is_query in (("--query", True), ("--document", False)):
        result = cli("tokenize", "--bundle", str(bundle), flag, stdin=json.dumps(texts))
        assert result.returncode == 0, result.stderr
        mismatches = []
        for text, got in zip(texts, json.loads(result.stdout), strict=True):
            ids, mask = tokenizer.encode([text], is_query)
            expected = {"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(),
                        "kept_positions": np.flatnonzero(tokenizer.keep(ids, mask, is_query)[0]).tolist()}
            if got != expected:
                mismatches.append(text)
        assert mismatches == [], mismatches[:3]


@pytest.mark.parametrize("run_name, precision", [("trained_run", "fp32"), ("trained_run", "int8"), ("mxbai_run", "fp32")])
def test_cli_vectors_are_within_the_tier_of_the_python_runtimes_and_self_test_passes(colbert_cli, request, run_name,
                                                                                    precision):
    """The gate's texts encoded by the Kotlin path and by the Python runtime, on the same bundle and engine."""
    bundle = request.getfixturevalue(run_name).bundle("onnx", precision)
    runtime = runtimes.load(bundle)
    report = cli("selftest", "--bundle", str(bundle))
    assert report.returncode == 0 and json.loads(report.stdout)["passed"], report.stdout + report.stderr
    cosine_bound = TIERS[precision]["cosine_min"][1]
    for texts, flag, encode in ((parity_texts.queries(), "--query", runtime.encode_queries),
                                (parity_texts.documents(), "--document", runtime.encode_documents)):
        result = cli("encode", "--bundle", str(bundle), flag, stdin=json.dumps(texts))
        assert result.returncode == 0, result.stderr
        for text, got, want in zip(texts, json.loads(result.stdout), encode(texts), strict=True):
            got = np.asarray(got, np.float64).reshape(want.shape)
            cosine = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
            assert cosine.min() >= max(cosine_bound, 0.9999), (text, cosine.min())


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_cli_search_ranks_as_the_python_runtime(colbert_cli, trained_run, tmp_path, precision):
    """The sample corpus indexed by the CLI (and saved), searched again from the saved index, which Python reads."""
    bundle = trained_run.bundle("onnx", precision)
    runtime = runtimes.load(bundle)
    corpus = json.loads(SAMPLE_CORPUS.read_text())
    index = tmp_path / "sample.cbindex"
    for query in parity_texts.QUERIES[:6]:
        result = cli("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--index", str(index), "--k",
                     "10", query)
        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)["hits"]
        expected = runtime.rank(query, corpus, k=10)
        assert [h["index"] for h in hits] == [i for i, _ in expected], query
        np.testing.assert_allclose([h["score"] for h in hits], [s for _, s in expected], rtol=1e-4)
        assert all(h["text"] == corpus[h["index"]] for h in hits)
    python_reads_it = runtimes.Index.load(index, runtime.model_digest)
    assert python_reads_it.metadata == corpus
    python_built = tmp_path / "python.cbindex"  # and an index Python built, searched by the CLI
    runtimes.build_index(runtime, corpus, dtype="float16").save(python_built)
    result = cli("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--index", str(python_built),
                 parity_texts.QUERIES[0])
    expected = runtimes.search(runtime, runtimes.Index.load(python_built), parity_texts.QUERIES[0], k=10)
    assert [h["index"] for h in json.loads(result.stdout)["hits"]] == [h.index for h in expected]


def test_cli_refuses_a_tampered_bundle_naming_the_file_and_bad_usage(colbert_cli, trained_run, tmp_path):
    bundle = shutil.copytree(trained_run.bundle("onnx", "int8"), tmp_path / "bundle")
    assert cli("verify", "--bundle", str(bundle)).stdout.startswith("OK onnx-int8")
    flip_byte(bundle / "model.onnx")
    result = cli("selftest", "--bundle", str(bundle))
    assert result.returncode == 1 and result.stderr.startswith("error: tampered:") and "model.onnx" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    usage = cli("tokenize", "--bundle", str(trained_run.bundle("onnx")))  # neither --query nor --document
    assert usage.returncode == 2 and "tokenize takes --query or --document" in usage.stderr
    not_json = cli("tokenize", "--bundle", str(trained_run.bundle("onnx")), "--query", stdin="[1, 2")
    assert not_json.returncode == 2 and len(not_json.stderr.strip().splitlines()) == 1
    other = tmp_path / "other.json"
    other.write_text(json.dumps(["only one document"]))
    index = tmp_path / "sample.cbindex"
    assert cli("search", "--bundle", str(trained_run.bundle("onnx")), "--corpus", str(SAMPLE_CORPUS), "--index",
               str(index), "bees").returncode == 0
    mismatch = cli("search", "--bundle", str(trained_run.bundle("onnx")), "--corpus", str(other), "--index", str(index),
                   "bees")
    assert mismatch.returncode == 2 and "indexes another corpus" in mismatch.stderr
    index.write_bytes(index.read_bytes()[:-5])
    truncated = cli("search", "--bundle", str(trained_run.bundle("onnx")), "--corpus", str(SAMPLE_CORPUS), "--index",
                    str(index), "bees")
    assert truncated.returncode == 1 and truncated.stderr.startswith("error: corrupt:")
