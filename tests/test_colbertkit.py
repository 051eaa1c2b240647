"""ColBERTKit (ios-demo/ColBERTKit), the Swift package apps use, checked against the Python runtime on the
same bundles: its own XCTests, and its CLI on real exported Core ML bundles. Needs a Swift toolchain."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export import parity_texts
from runtimes.colbert import maxsim
from runtimes.coreml import coreml_available
from tests.conftest import flip_byte, read_json, rehash
from tests.port_texts import SPECIAL_TEXTS, random_texts

PACKAGE = Path(__file__).resolve().parents[1] / "ios-demo" / "ColBERTKit"
APP_SOURCES = PACKAGE.parent / "App" / "ColBERTSearch.swiftpm" / "Sources"
CORE_ML_STAND_IN = Path(__file__).parent / "swift" / "CoreMLStandIn.swift"
pytestmark = pytest.mark.skipif(shutil.which("swift") is None, reason="no Swift toolchain on this machine")


@pytest.fixture(scope="session")
def colbertkit() -> Path:
    """The CLI, built once per session in release (a debug SHA-256 takes a minute over a 68 MB model)."""
    build = ["swift", "build", "-c", "release", "--package-path", str(PACKAGE)]
    subprocess.run(build, check=True, capture_output=True, timeout=900)
    binary = subprocess.run([*build, "--show-bin-path"], check=True, capture_output=True, text=True, timeout=300)
    return Path(binary.stdout.strip()) / "colbertkit"


def run(colbertkit: Path, command: str, bundle: Path, *flags: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(colbertkit), command, *flags, "--bundle", str(bundle)], input=stdin, capture_output=True,
                          text=True, timeout=600)


def test_swift_package_tests_pass(colbertkit):
    result = subprocess.run(["swift", "test", "--package-path", str(PACKAGE)], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert re.search(r"Executed [1-9]\d* tests, with (\d+ tests? skipped and )?0 failures", result.stdout)


def test_verify_accepts_a_published_core_ml_bundle(colbertkit, trained_run):
    result = run(colbertkit, "verify", trained_run.bundle("coreml", "int8"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK coreml-int8")


@pytest.mark.parametrize("change, message", [
    (lambda b: flip_byte(b / "model.mlpackage/Data/com.apple.CoreML/weights/weight.bin"),
     "sha256 mismatch for model.mlpackage/Data/com.apple.CoreML/weights/weight.bin"),
    (lambda b: (b / "golden.json").unlink(), "missing golden.json"),
    (lambda b: (b / "notes.txt").write_text("x"), "unlisted files notes.txt"),
    (lambda b: (b / "manifest.json").unlink(), "is not a bundle: no manifest.json"),
])
def test_verify_refuses_tampered_missing_and_foreign_files(colbertkit, mxbai_run, tmp_path, change, message):
    bundle = shutil.copytree(mxbai_run.bundle("coreml"), tmp_path / "bundle")
    change(bundle)
    result = run(colbertkit, "verify", bundle)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_maxsim_of_the_golden_vectors_matches_the_python_runtime(colbertkit, mxbai_run, trained_run):
    for bundle in (mxbai_run.bundle("coreml"), trained_run.bundle("coreml", "int8")):
        result = run(colbertkit, "scores", bundle)
        assert result.returncode == 0, result.stderr
        golden = read_json(bundle / "golden.json")
        queries = [np.asarray(q["vectors"], np.float32) for q in golden["queries"]]
        documents = [np.asarray(d["vectors"], np.float32) for d in golden["documents"]]
        expected = [[maxsim(q, d) for d in documents] for q in queries]
        np.testing.assert_allclose(json.loads(result.stdout), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(json.loads(result.stdout), golden["scores"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run"])  # lowercasing on, and off
def test_preprocessing_equals_the_python_runtime_on_thousands_of_texts(colbertkit, request, run_name):
    bundle = request.getfixturevalue(run_name).bundle("coreml")
    texts = parity_texts.queries() + parity_texts.documents() + random_texts(3000)
    result = run(colbertkit, "preprocess", bundle, stdin=json.dumps(texts))
    assert result.returncode == 0, result.stderr
    preprocess = runtimes.load(bundle).tokenizer.preprocess
    expected = [preprocess(t) for t in texts]
    mismatches = [(t, e, g) for t, e, g in zip(texts, expected, json.loads(result.stdout)) if e != g]
    assert mismatches == []


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run", "trained_run"])  # BPE twice, WordPiece
def test_tokenize_equals_the_python_runtime_on_thousands_of_texts(colbertkit, request, run_name):
    """Token ids, masks, kept positions and the bucket (Core ML function) of every text, as a query and as a
    document, each alone."""
    bundle = request.getfixturevalue(run_name).bundle("coreml")
    runtime = runtimes.load(bundle)
    tokenizer, io = runtime.tokenizer, runtime.settings.io
    texts = parity_texts.queries() + parity_texts.documents() + SPECIAL_TEXTS + random_texts(3000, seed=1)
    for flag, is_query in (("--query", True), ("--document", False)):
        result = run(colbertkit, "tokenize", bundle, flag, stdin=json.dumps(texts))
        assert result.returncode == 0, result.stderr
        mismatches = []
        for text, got in zip(texts, json.loads(result.stdout)):
            ids, mask = tokenizer.encode([text], is_query)
            expected = {"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(),
                        "kept_positions": np.flatnonzero(tokenizer.keep(ids, mask, is_query)[0]).tolist(),
                        "bucket": io.bucket_for(ids.shape[1], is_query)[0]}
            if got != expected:
                mismatches.append((text, expected["input_ids"], got["input_ids"]))
        assert mismatches == [], mismatches[:3]


def test_tokenize_takes_texts_as_arguments(colbertkit, mxbai_run):
    bundle = mxbai_run.bundle("coreml")
    result = run(colbertkit, "tokenize", bundle, "--query", "what is late interaction?")
    ids, mask = runtimes.load(bundle).tokenizer.encode(["what is late interaction?"], True)
    assert json.loads(result.stdout)[0]["input_ids"] == ids[0].tolist()


@pytest.mark.skipif(coreml_available(), reason="on macOS search runs Core ML itself")
def test_search_needs_core_ml_and_says_so_off_apple_systems(colbertkit, mxbai_run, tmp_path):
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps(["bees dance", "owls hunt at night"]))
    result = run(colbertkit, "search", mxbai_run.bundle("coreml"), "--corpus", str(corpus), "what do bees do")
    assert result.returncode == 2 and "search runs Core ML, which only Apple's systems have" in result.stderr


def test_a_tokenizer_it_does_not_implement_is_refused_naming_the_component(colbertkit, trained_run, tmp_path):
    bundle = shutil.copytree(trained_run.bundle("coreml"), tmp_path / "bundle")
    tokenizer = read_json(bundle / "tokenizer.json")
    tokenizer["normalizer"] = {"type": "Lowercase"}
    (bundle / "tokenizer.json").write_text(json.dumps(tokenizer))
    rehash(bundle)
    result = run(colbertkit, "tokenize", bundle, "--query", "hello")
    assert result.returncode == 1
    assert "normalizer of type Lowercase, which ColBERTKit does not implement" in result.stderr


def replay_recordings(bundle: Path) -> list[dict]:
    """What the Python runtime's engine gives for the exact inputs of every golden text (all positions)."""
    runtime = runtimes.load(bundle)
    golden = read_json(bundle / "golden.json")
    out = []
    for entries, is_query in ((golden["queries"], True), (golden["documents"], False)):
        for entry in entries:
            ids, mask = runtime.tokenizer.encode([entry["text"]], is_query)
            vectors = runtime.engine.encode(ids, mask, is_query)[0]
            out.append({"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(), "vectors": vectors.tolist()})
    return out


@pytest.mark.parametrize("run_name, target, precision", [("mxbai_run", "coreml", "fp32"), ("trained_run", "coreml", "fp16")])
def test_selftest_runs_the_whole_path_with_the_replay_encoder(colbertkit, request, tmp_path, run_name, target, precision):
    """The replay encoder is a TEST DOUBLE: vectors the Python runtime computed for these exact ids."""
    bundle = request.getfixturevalue(run_name).bundle(target, precision)
    recordings = replay_recordings(bundle)
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps(recordings))
    result = run(colbertkit, "selftest", bundle, "--replay", str(replay))
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["passed"] and report["idsExact"], report
    assert report["cosineMin"] > 0.999 and report["maxsimRelativeErrorMax"] < 5e-3

    recordings[0]["vectors"] = (-np.asarray(recordings[0]["vectors"])).tolist()  # a wrong vector for the first text
    replay.write_text(json.dumps(recordings))
    result = run(colbertkit, "selftest", bundle, "--replay", str(replay))
    assert result.returncode == 1 and any("cosine_min" in f for f in json.loads(result.stdout)["failures"])

    replay.write_text(json.dumps(recordings[1:]))  # no vectors for the first text's ids: refused, not guessed
    result = run(colbertkit, "selftest", bundle, "--replay", str(replay))
    assert result.returncode == 1 and "the replay encoder has no vectors for ids" in result.stderr


@pytest.mark.skipif(coreml_available(), reason="on macOS, build the app itself in Xcode")
def test_the_apps_model_code_compiles_against_colbertkit(colbertkit, tmp_path):
    """The app's sources that do not import SwiftUI, built in Swift 6 mode against ColBERTKit, with a labelled
    STAND-IN for Core ML and security-scoped URLs (Linux has neither). The SwiftUI views wait for Xcode."""
    target = tmp_path / "Sources" / "AppModule"
    shutil.copytree(APP_SOURCES / "Resources", target / "Resources")
    model_code = sorted(f for f in APP_SOURCES.glob("*.swift") if "import SwiftUI" not in f.read_text())
    assert [f.stem for f in model_code] == ["BundleLocation", "IndexCache", "SampleCorpus", "SearchModel"]
    for source in [*model_code, CORE_ML_STAND_IN]:
        shutil.copy(source, target)
    (tmp_path / "Package.swift").write_text(f"""// swift-tools-version: 6.0
import PackageDescription
let package = Package(name: "AppCheck", platforms: [.macOS(.v14)],
    dependencies: [.package(path: "{PACKAGE}")],
    targets: [.target(name: "AppModule", dependencies: [.product(name: "ColBERTKit", package: "ColBERTKit")],
                      resources: [.copy("Resources")])],
    swiftLanguageModes: [.v6])
""")
    result = subprocess.run(["swift", "build", "--package-path", str(tmp_path)], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "warning:" not in result.stdout + result.stderr
