"""android-demo/colbert (the Kotlin library on ONNX Runtime's Java API): its JUnit tests on the conformance
vectors and on real bundles, and its CLI held to the Python runtime on the same bundles. Needs Java 17+ and
Maven; Maven Central serves the dependencies, or where it does not answer a copy of ../shared/vendor (tests/registries.py)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.gate import parity_texts
from export.gate.parity import Encoded, compare
from export.precision import TABLE
from tests import port_cli, registries
from tests.test_index import SAMPLE_CORPUS

MODULE = Path(__file__).resolve().parents[1] / "android-demo" / "colbert"
JAR = MODULE / "target" / "colbert-cli.jar"
VENDOR_COPIES = MODULE.parents[1] / ".pytest_cache" / "d" / "vendor"  # where no registry answers
pytestmark = pytest.mark.skipif(shutil.which("java") is None or shutil.which("mvn") is None,
                                reason="no Java and Maven on this machine")


def mvn(*goals: str, env: dict | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    flags = registries.maven_flags(VENDOR_COPIES)
    return subprocess.run(["mvn", "-B", *flags, "-f", str(MODULE / "pom.xml"), *goals], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="session")
def colbert_cli() -> Path:
    """The CLI jar, built with the README's command (tests skipped: the next test runs them) unless one newer
    than every source and the pom is there (`.ci/run` builds it before the tests)."""
    sources = [MODULE / "pom.xml", *(p for p in (MODULE / "src").rglob("*") if p.is_file())]
    if not JAR.is_file() or JAR.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        done = mvn("-q", "package", "-DskipTests")
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return JAR


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["java", "-jar", str(JAR), *args], input=stdin, capture_output=True, text=True, timeout=900,
                          **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))


def _surefire(done: subprocess.CompletedProcess) -> None:
    """Maven passed, ran tests, and none failed, errored or was skipped."""
    summary = re.findall(r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)\s*$", done.stdout, re.M)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    run, failures, errors, skipped = map(int, summary[-1])
    assert run > 0 and failures == errors == skipped == 0, summary[-1]


@pytest.mark.covered_by("test_maven_tests_pass_on_the_vectors_and_real_bundles")
def test_maven_tests_pass_on_the_conformance_vectors(minilm_checkpoint):
    """The fast tier's share of the test below, which runs these classes too: the vector files, no bundle."""
    env = port_cli.tokenizer_env(minilm_checkpoint)
    classes = "ConformanceTest,IndexConformanceTest,CompressedIndexConformanceTest,UnicodeTablesTest,VersionsTest"
    _surefire(mvn("test", f"-Dtest={classes}", env=env))


def test_maven_tests_pass_on_the_vectors_and_real_bundles(colbert_cli, trained_run, mxbai_run, variant_run,
                                                          minilm_checkpoint):
    bundles = [trained_run.bundle("onnx", "int8"), trained_run.bundle("onnx", "fp32"), mxbai_run.bundle("onnx"),
               variant_run.bundle("onnx")]  # the first, the smallest, takes every bad-bundle mutation
    env = {**port_cli.tokenizer_env(minilm_checkpoint),
           "COLBERT_BUNDLES": ":".join(map(str, bundles)),
           "COLBERT_TFLITE_BUNDLES": ":".join(str(trained_run.bundle("tflite", p)) for p in ("fp32", "int8"))}
    _surefire(mvn("test", env=env, timeout=2400))


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run", "trained_run"])  # BPE twice, WordPiece
def test_cli_tokenize_equals_the_python_runtime_on_thousands_of_texts(colbert_cli, request, run_name):
    port_cli.tokenize_equals_the_python_runtime(cli, request.getfixturevalue(run_name).bundle("onnx"), seed=3)


@pytest.mark.parametrize("run_name, precision", [("trained_run", "fp32"), ("trained_run", "int8"), ("mxbai_run", "fp32")])
def test_cli_vectors_are_within_the_fp32_tier_of_the_python_runtimes_and_self_test_passes(colbert_cli, request,
                                                                                         run_name, precision):
    """The gate's texts encoded by the Kotlin path and by the Python runtime, on the same bundle and engine: the
    same engine, so the fp32 tier holds between them whatever the bundle's precision."""
    bundle = request.getfixturevalue(run_name).bundle("onnx", precision)
    runtime = runtimes.load(bundle)
    report = cli("selftest", "--bundle", str(bundle))
    assert report.returncode == 0 and json.loads(report.stdout)["passed"], report.stdout + report.stderr
    encoded = {}
    for kind, texts, flag in (("queries", parity_texts.queries(), "--query"),
                              ("documents", parity_texts.documents(), "--document")):
        result = cli("encode", "--bundle", str(bundle), flag, stdin=json.dumps(texts))
        assert result.returncode == 0, result.stderr
        encoded[kind] = [np.asarray(v, np.float32).reshape(-1, runtime.settings.dim) for v in json.loads(result.stdout)]
    python = Encoded(runtime.encode_queries(parity_texts.queries()), runtime.encode_documents(parity_texts.documents()))
    metrics = compare(python, Encoded(encoded["queries"], encoded["documents"]))
    for metric, (op, bound) in TABLE["fp32"].tier.items():
        assert (metrics[metric] >= bound) if op == ">=" else (metrics[metric] <= bound), (metric, metrics[metric])


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_cli_search_ranks_as_the_python_runtime(colbert_cli, trained_run, tmp_path, precision):
    """The sample corpus indexed by the CLI, searched from the saved index; and an index Python built, searched."""
    bundle = trained_run.bundle("onnx", precision)
    port_cli.search_ranks_as_the_python_runtime(cli, bundle, tmp_path / "sample.cbindex")
    runtime, corpus = runtimes.load(bundle), json.loads(SAMPLE_CORPUS.read_text())
    python_built = tmp_path / "python.cbindex"
    runtimes.build_index(runtime, corpus, dtype="float16").save(python_built)
    result = cli("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--index", str(python_built),
                 parity_texts.QUERIES[0])
    expected = runtimes.search(runtime, runtimes.Index.load(python_built), parity_texts.QUERIES[0], k=10)
    assert [h["index"] for h in json.loads(result.stdout)["hits"]] == [h.index for h in expected]


def test_cli_search_reads_a_python_compressed_index(colbert_cli, trained_run, tmp_path):
    """Compressed indexes (format 3: 4, 2 and 8 bits) the Python runtime built of the sample corpus, searched
    through the CLI: the documents Python's compressed search gives, and their scores (each side encodes the query
    itself, so the scores agree to the fp32 tier, not bit for bit); and a format 2 file refused."""
    from runtimes.compressed_index import CompressedIndex

    bundle = trained_run.bundle("onnx", "fp32")
    runtime, corpus = runtimes.load(bundle), json.loads(SAMPLE_CORPUS.read_text())
    documents, query = runtime.encode_documents(corpus), parity_texts.QUERIES[0]
    (q,) = runtime.encode_queries([query])
    search = ("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS))
    for bits in (4, 2, 8):
        path = tmp_path / f"python-{bits}bit.cbindex"
        # every centroid probed and every document a candidate: near ties at the probe and candidate cut-offs
        # (numpy's sums against Kotlin's in-order ones) cannot differ; the conformance files test the pruning
        index = CompressedIndex.build(documents, corpus, runtime.model_digest, bits=bits, centroids=32, nprobe=32,
                                      candidates=len(corpus))
        index.save(path)
        result = cli(*search, "--index", str(path), query)
        assert result.returncode == 0, result.stderr
        hits, expected = json.loads(result.stdout)["hits"], index.search(q, 10)
        assert [h["index"] for h in hits] == [h.index for h in expected], bits
        np.testing.assert_allclose([h["score"] for h in hits], [h.score for h in expected], rtol=1e-4)
    data = bytearray(path.read_bytes())
    data[8:12] = (2).to_bytes(4, "little")  # format 2: the file before decompressed vectors were normalised
    path.write_bytes(bytes(data))
    refused = cli(*search, "--index", str(path), query)
    assert refused.returncode == 1 and refused.stderr.startswith("error: unknown_version:"), refused.stderr
    assert str(path) in refused.stderr


def test_cli_refuses_a_tampered_bundle_naming_the_file_and_bad_usage(colbert_cli, trained_run, tmp_path):
    port_cli.refuses_a_tampered_bundle_naming_the_file(cli, shutil.copytree(trained_run.bundle("onnx", "int8"),
                                                                               tmp_path / "bundle"))
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


def test_bench_times_the_kotlin_path_beside_the_python_runtime(colbert_cli, trained_run, tmp_path, capsys):
    """`bench --against kotlin`: the same bundle through the Python runtime and the Kotlin library, one table."""
    port_cli.bench_times_the_port_beside_the_python_runtime(trained_run.bundle("onnx", "int8"), "kotlin",
                                                            "onnx int8 (kotlin)", tmp_path, capsys)
