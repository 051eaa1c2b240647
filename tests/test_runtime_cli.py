"""`python -m runtimes` (runtimes/cli.py): the Python runtime as a port. The ports' harness (tests/port_cli.py)
drives it as it drives Swift, Kotlin and JavaScript; tokenization and scores are also held to spec/oracle.py,
which is not the code under test."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.gate import parity_texts
from spec import oracle
from tests import port_cli
from tests.conftest import TARGET_NAMES, read_json, rehash
from tests.port_texts import SPECIAL_TEXTS, random_texts
from tests.test_index import SAMPLE_CORPUS

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtimes", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, encoding="utf-8", timeout=900,
                          **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))


def one_line_error(result: subprocess.CompletedProcess, code: int, starts: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.startswith(starts) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run", "trained_run"])  # BPE twice, WordPiece
def test_tokenize_equals_tokenizers_itself_on_thousands_of_texts(request, run_name):
    bundle = request.getfixturevalue(run_name).bundle("coreml")  # bucketed: `bucket` is checked too
    settings = read_json(bundle / "colbert.json")
    tokenizer = oracle.load_tokenizer(bundle / "tokenizer.json")
    texts = parity_texts.queries() + parity_texts.documents() + SPECIAL_TEXTS + random_texts(3000, seed=4)
    for flag, is_query in (("--query", True), ("--document", False)):
        result = cli("tokenize", "--bundle", str(bundle), flag, stdin=json.dumps(texts))
        assert result.returncode == 0, result.stderr
        got = json.loads(result.stdout)
        expected = []
        for text in texts:
            row = oracle.tokenize(tokenizer, settings, text, is_query)
            expected.append({k: v for k, v in row.items() if k != "bucket" or v is not None})
        mismatches = [t for t, g, e in zip(texts, got, expected, strict=True) if g != e]
        assert mismatches == [], mismatches[:3]


def test_tokenize_passes_the_ports_harness(trained_run):
    port_cli.tokenize_equals_the_python_runtime(cli, trained_run.bundle("onnx"), seed=5)


def test_preprocess_is_the_oracles_steps_1_and_2(mxbai_run):
    bundle = mxbai_run.bundle("onnx")
    settings = read_json(bundle / "colbert.json")
    texts = SPECIAL_TEXTS + ["", "   ", " \u00a0Ünïcode\u3000", "ΣΑΣ", "x\u0301"]
    result = cli("preprocess", "--bundle", str(bundle), *texts)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [oracle.preprocess(t, settings["strip_codepoints"], settings["do_lower_case"])
                                         for t in texts]


def test_scores_are_the_oracles_maxsim_of_the_golden_vectors(trained_run):
    bundle = trained_run.bundle("onnx", "fp16")
    golden, dim = read_json(bundle / "golden.json"), read_json(bundle / "colbert.json")["dim"]
    result = cli("scores", "--bundle", str(bundle))
    assert result.returncode == 0, result.stderr

    def vectors(entry: dict) -> np.ndarray:
        return np.asarray(entry["vectors"], np.float32).reshape(-1, dim)

    expected = [[oracle.maxsim(vectors(q), vectors(d)) for d in golden["documents"]] for q in golden["queries"]]
    # Both sum in fp32, in different orders (a BLAS dot product, the oracle's left to right): a few ulps apart
    np.testing.assert_allclose(json.loads(result.stdout), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_verify_and_selftest_pass_on_every_target(trained_run, target):
    bundle = trained_run.bundle(target)
    verify = cli("verify", "--bundle", str(bundle))
    assert verify.returncode == 0 and verify.stdout == f"OK {target}-fp32 {bundle.parent.name}\n", verify.stderr
    threads = () if target == "coreml" else ("--threads", "1")  # Core ML schedules its own compute units
    result = cli("selftest", "--bundle", str(bundle), *threads)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"passed", "idsExact", "idMismatches", "cosineMin", "cosineMean", "maxsimRelativeErrorMax",
                           "maxsimRelativeErrorP99", "top10Agreement", "failures"}
    assert report["passed"] and report["idsExact"] and report["failures"] == [] and report["cosineMin"] > 0.9999


def test_selftest_fails_with_exit_1_on_golden_vectors_the_model_does_not_produce(trained_run, tmp_path):
    bundle = shutil.copytree(trained_run.bundle("onnx"), tmp_path / "bundle")
    golden = read_json(bundle / "golden.json")
    golden["queries"][0]["vectors"][0] = [-v for v in golden["queries"][0]["vectors"][0]]
    (bundle / "golden.json").write_text(json.dumps(golden))
    rehash(bundle)
    result = cli("selftest", "--bundle", str(bundle))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert not report["passed"] and report["cosineMin"] < 0 and any("cosine_min" in f for f in report["failures"])


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_search_ranks_as_the_python_runtime(trained_run, tmp_path, precision):
    port_cli.search_ranks_as_the_python_runtime(cli, trained_run.bundle("onnx", precision), tmp_path / "sample.cbindex")


def test_index_writes_the_oracles_bytes_and_refuses_bad_input_writing_nothing(trained_run, tmp_path):
    bundle = trained_run.bundle("onnx")
    out = tmp_path / "sample.cbindex"
    result = cli("index", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--out", str(out), "--dtype",
                 "float16")
    assert result.returncode == 0, result.stderr
    assert "documents" in result.stdout and "docs/s" in result.stdout  # the summary table
    runtime = runtimes.load(bundle)
    corpus = json.loads(SAMPLE_CORPUS.read_text())
    expected = oracle.index_bytes(runtime.encode_documents(corpus), corpus, runtime.model_digest, "float16",
                                  runtime.settings.dim)
    assert out.read_bytes() == expected
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"one"\n{"title": "no text"}\n')
    refused = cli("index", "--bundle", str(bundle), "--corpus", str(bad), "--out", str(tmp_path / "bad.cbindex"))
    one_line_error(refused, 2, "error: ")
    assert "document 2" in refused.stderr and sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl",
                                                                                              "sample.cbindex"]


def test_refuses_a_tampered_bundle_and_bad_usage_in_one_line(trained_run, tmp_path):
    port_cli.refuses_a_tampered_bundle_naming_the_file(cli, shutil.copytree(trained_run.bundle("onnx", "int8"),
                                                                               tmp_path / "bundle"))
    bundle = str(trained_run.bundle("onnx"))
    one_line_error(cli("tokenize", "--bundle", bundle), 2, "error: one of the arguments --query --document")
    one_line_error(cli("tokenize", "--bundle", bundle, "--query", stdin="not json"), 2, "error: give texts")
    one_line_error(cli("tokenize", "--bundle", bundle, "--query", stdin='["a", 1]'), 2, "error: give texts")
    one_line_error(cli("search", "--bundle", bundle, "--corpus", str(SAMPLE_CORPUS), "--k", "0", "q"), 2,
                   "error: argument --k")
    one_line_error(cli("rank", "--bundle", bundle), 2, "error: argument ")
    one_line_error(cli("verify"), 2, "error: the following arguments are required: --bundle")
    one_line_error(cli("verify", "--bundle", str(tmp_path / "nothing")), 1, "error: not_a_bundle: ")
    not_texts = tmp_path / "corpus.json"
    not_texts.write_text('{"a": 1}')
    one_line_error(cli("search", "--bundle", bundle, "--corpus", str(not_texts), "q"), 2, "error: ")
    index = tmp_path / "other.cbindex"
    index.write_bytes(b"CBINDEX\0" + (1).to_bytes(4, "little") + b"\0" * 200)  # version 1, then nonsense
    one_line_error(cli("search", "--bundle", bundle, "--corpus", str(SAMPLE_CORPUS), "--index", str(index), "q"), 1,
                   "error: corrupt: ")
