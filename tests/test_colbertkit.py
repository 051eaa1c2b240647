"""ColBERTKit (ios-demo/ColBERTKit), the Swift package apps use: its XCTests on every conformance file and on real
exported Core ML bundles, and its CLI held to the Python runtime on the same bundles through tests/port_cli.py,
as the Kotlin and web ports are. Needs a Swift toolchain. Off Apple systems `selftest` and `search` run on
recorded encodings (`--replay`, a TEST DOUBLE: vectors the Python runtime's MIL interpreter computed)."""
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
from runtimes.colbert import maxsim
from runtimes.coreml import coreml_available
from tests import port_cli
from tests.conftest import flip_byte, read_json, rehash
from tests.port_texts import random_texts
from tests.test_index import SAMPLE_CORPUS

PACKAGE = Path(__file__).resolve().parents[1] / "ios-demo" / "ColBERTKit"
SPEC = PACKAGE.parents[1] / "spec"
APP_SOURCES = PACKAGE.parent / "App" / "ColBERTSearch.swiftpm" / "Sources"
CORE_ML_STAND_IN = Path(__file__).parent / "swift" / "CoreMLStandIn.swift"
WEIGHTS = "model.mlpackage/Data/com.apple.CoreML/weights/weight.bin"
# Release with -enable-testing, for the CLI and the XCTests alike (one build): a debug SHA-256 of a 68 MB model
# takes a minute, and the XCTests hash real bundles once per bad-bundle mutation.
RELEASE = ["-c", "release", "-Xswiftc", "-enable-testing"]
# The only XCTests allowed to skip: those that need Core ML itself (Linux has none).
CORE_ML_SKIPS = {"CoreMLBundleTests.testSelfTestPassesOnCoreML", "CoreMLBundleTests.testAnArtifactCoreMLCannotLoadIsUnreadableModel"}
pytestmark = pytest.mark.skipif(shutil.which("swift") is None, reason="no Swift toolchain on this machine")


@pytest.fixture(scope="session")
def colbertkit() -> Path:
    """The CLI, built once per session."""
    build = ["swift", "build", *RELEASE, "--package-path", str(PACKAGE)]
    subprocess.run(build, check=True, capture_output=True, timeout=900)
    binary = subprocess.run([*build, "--show-bin-path"], check=True, capture_output=True, text=True, timeout=300)
    return Path(binary.stdout.strip()) / "colbertkit"


@pytest.fixture(scope="session")
def cli(colbertkit):
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(colbertkit), *args], input=stdin, capture_output=True, text=True, timeout=900,
                              **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))
    return run


def run(colbertkit: Path, command: str, bundle: Path, *flags: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(colbertkit), command, *flags, "--bundle", str(bundle)], input=stdin, capture_output=True,
                          text=True, timeout=600, **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))


def _xctest_totals(result: subprocess.CompletedProcess) -> tuple[int, int, set[str]]:
    """(executed, skipped) of `swift test` and the skipped tests' names, once it exited 0 with 0 failures."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    totals = re.findall(r"Executed (\d+) tests?, with (?:(\d+) tests? skipped and )?(\d+) failures?", result.stdout)
    executed, skipped, failures = totals[-1]
    assert int(failures) == 0, totals[-1]
    return int(executed), int(skipped or 0), set(re.findall(r"Test Case '(?:\w+\.)?(\w+\.\w+)' skipped", output))


@pytest.mark.covered_by("test_swift_package_tests_pass")
def test_swift_package_tests_pass_on_the_conformance_vectors(colbertkit, minilm_checkpoint):
    """The fast tier's share of the test below, which runs these too: every XCTest but the real bundles'."""
    env = {**port_cli.tokenizer_env(minilm_checkpoint), "COLBERTKIT_SPEC": str(SPEC)}
    result = subprocess.run(["swift", "test", *RELEASE, "--package-path", str(PACKAGE), "--skip", "BundleTests"],
                            capture_output=True, text=True, env=env, timeout=1800)
    executed, skipped, skips = _xctest_totals(result)
    assert executed >= 20 and skipped == 0, skips


def test_swift_package_tests_pass(colbertkit, trained_run, mxbai_run, variant_run, minilm_checkpoint):
    """Every conformance file and the real bundles (the first, the smallest, takes every bad-bundle mutation):
    0 failures, and no skip but Core ML's own."""
    bundles = [trained_run.bundle("coreml", "int8"), trained_run.bundle("coreml", "fp32"), mxbai_run.bundle("coreml"),
               variant_run.bundle("coreml")]
    env = {**port_cli.tokenizer_env(minilm_checkpoint), "COLBERTKIT_SPEC": str(SPEC),
           "COLBERTKIT_BUNDLES": ":".join(map(str, bundles))}
    result = subprocess.run(["swift", "test", *RELEASE, "--package-path", str(PACKAGE)], capture_output=True, text=True,
                            env=env, timeout=1800)
    executed, skipped, skips = _xctest_totals(result)
    assert executed >= 30
    expected = set() if coreml_available() else CORE_ML_SKIPS
    assert skips == expected and skipped == len(expected), skips
    reasons = re.findall(r"Test skipped - (.*)", result.stdout + result.stderr)
    assert all(reason.startswith("needs Core ML") for reason in reasons), reasons


def test_verify_accepts_a_published_core_ml_bundle(colbertkit, trained_run):
    result = run(colbertkit, "verify", trained_run.bundle("coreml", "int8"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK coreml-int8 ")


@pytest.mark.parametrize("change, kind, names", [
    (lambda b: flip_byte(b / WEIGHTS), "tampered", WEIGHTS),
    (lambda b: (b / "golden.json").unlink(), "missing_file", "golden.json"),
    (lambda b: (b / "notes.txt").write_text("x"), "unlisted_file", "notes.txt"),
    (lambda b: (b / "manifest.json").unlink(), "not_a_bundle", "no manifest.json"),
])
def test_verify_refuses_tampered_missing_and_foreign_files(colbertkit, mxbai_run, tmp_path, change, kind, names):
    bundle = shutil.copytree(mxbai_run.bundle("coreml"), tmp_path / "bundle")
    change(bundle)
    result = run(colbertkit, "verify", bundle)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {kind}: ") and names in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_target_it_does_not_run_is_refused(colbertkit, trained_run):
    result = run(colbertkit, "verify", trained_run.bundle("onnx", "int8"))
    assert result.returncode == 1 and result.stderr.startswith("error: unknown_target: "), result.stderr
    assert "manifest.json" in result.stderr


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
    mismatches = [(t, e, g) for t, e, g in zip(texts, expected, json.loads(result.stdout), strict=True) if e != g]
    assert mismatches == []


def test_preprocess_takes_texts_as_arguments(colbertkit, mxbai_run):
    bundle = mxbai_run.bundle("coreml")
    result = run(colbertkit, "preprocess", bundle, "  ΟΔΥΣΣΕΥΣ ", "İ")
    preprocess = runtimes.load(bundle).tokenizer.preprocess
    assert json.loads(result.stdout) == [preprocess("  ΟΔΥΣΣΕΥΣ "), preprocess("İ")]


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run", "trained_run"])  # BPE twice, WordPiece
def test_tokenize_equals_the_python_runtime_on_thousands_of_texts(cli, request, run_name):
    """Ids, masks, kept positions and the bucket (Core ML function) of every text, as a query and as a document."""
    port_cli.tokenize_equals_the_python_runtime(cli, request.getfixturevalue(run_name).bundle("coreml"), seed=1)


def test_tokenize_takes_texts_as_arguments_and_refuses_bad_usage(colbertkit, mxbai_run):
    bundle = mxbai_run.bundle("coreml")
    result = run(colbertkit, "tokenize", bundle, "--query", "what is late interaction?")
    ids, mask = runtimes.load(bundle).tokenizer.encode(["what is late interaction?"], True)
    assert json.loads(result.stdout)[0]["input_ids"] == ids[0].tolist()
    assert json.loads(result.stdout)[0]["bucket"] == "encode_query"
    usage = run(colbertkit, "tokenize", bundle)  # neither --query nor --document
    assert usage.returncode == 2 and "tokenize takes --query or --document" in usage.stderr
    not_json = run(colbertkit, "tokenize", bundle, "--query", stdin="[1, 2")
    assert not_json.returncode == 2 and len(not_json.stderr.strip().splitlines()) == 1


def test_a_tokenizer_it_does_not_implement_is_refused_naming_the_component(colbertkit, trained_run, tmp_path):
    bundle = shutil.copytree(trained_run.bundle("coreml"), tmp_path / "bundle")
    tokenizer = read_json(bundle / "tokenizer.json")
    tokenizer["normalizer"] = {"type": "Lowercase"}
    (bundle / "tokenizer.json").write_text(json.dumps(tokenizer))
    rehash(bundle)
    result = run(colbertkit, "tokenize", bundle, "--query", "hello")
    assert result.returncode == 1 and result.stderr.startswith("error: unknown_tokenizer_component: "), result.stderr
    assert "tokenizer.json" in result.stderr and "normalizer is Lowercase" in result.stderr


def recordings(bundle: Path, texts: list[str], is_query: bool) -> list[dict]:
    """What the Python runtime's engine (the MIL interpreter) gives for each text's exact inputs, all positions."""
    runtime = runtimes.load(bundle)
    out = []
    for text in texts:
        ids, mask = runtime.tokenizer.encode([text], is_query)
        vectors = runtime.engine.encode(ids, mask, is_query)[0]
        out.append({"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(), "vectors": vectors.tolist()})
    return out


def golden_recordings(bundle: Path) -> list[dict]:
    golden = read_json(bundle / "golden.json")
    return (recordings(bundle, [e["text"] for e in golden["queries"]], True)
            + recordings(bundle, [e["text"] for e in golden["documents"]], False))


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_selftest_runs_the_whole_path_with_recorded_encodings(colbertkit, trained_run, tmp_path, precision):
    """The replay encoder is a TEST DOUBLE: vectors the Python runtime computed for these exact ids."""
    bundle = trained_run.bundle("coreml", precision)
    replay = tmp_path / "replay.json"
    recorded = golden_recordings(bundle)
    replay.write_text(json.dumps(recorded))
    result = run(colbertkit, "selftest", bundle, "--replay", str(replay))
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["passed"] and report["idsExact"], report
    assert set(report) == {"passed", "idsExact", "idMismatches", "cosineMin", "cosineMean", "maxsimRelativeErrorMax",
                           "maxsimRelativeErrorP99", "top10Agreement", "failures"}
    metrics = ("cosineMin", "cosineMean", "maxsimRelativeErrorMax", "maxsimRelativeErrorP99", "top10Agreement")
    assert all(isinstance(report[m], (int, float)) for m in metrics), report  # every metric computed
    assert report["cosineMin"] > 0.9 and report["maxsimRelativeErrorMax"] < 5e-2  # the tier itself: `passed`

    recorded[0]["vectors"] = (-np.asarray(recorded[0]["vectors"])).tolist()  # a wrong vector for the first text
    replay.write_text(json.dumps(recorded))
    result = run(colbertkit, "selftest", bundle, "--replay", str(replay))
    failures = json.loads(result.stdout)["failures"]  # int8's tier bounds cosine_mean, the others cosine_min
    assert result.returncode == 1 and any(f.startswith("cosine_") for f in failures), failures

    replay.write_text(json.dumps(recorded[1:]))  # no vectors for the first text's ids: refused, not guessed
    result = run(colbertkit, "selftest", bundle, "--replay", str(replay))
    assert result.returncode == 1 and "the replay encoder has no vectors for ids" in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def search_replay(trained_run, tmp_path_factory) -> tuple[Path, Path, list[np.ndarray]]:
    """The sample corpus and the search queries recorded on the trained int8 Core ML bundle, and the corpus's
    kept vectors from the same recordings (the MIL interpreter is slow: the corpus is encoded once here)."""
    bundle = trained_run.bundle("coreml", "int8")
    tokenizer = runtimes.load(bundle).tokenizer
    queries = port_cli.search_queries() + [parity_texts.QUERIES[0], "bees"]
    documents = recordings(bundle, json.loads(SAMPLE_CORPUS.read_text()), False)
    kept = []
    for r in documents:
        ids, mask = np.asarray([r["input_ids"]]), np.asarray([r["attention_mask"]])
        kept.append(np.asarray(r["vectors"], np.float32)[tokenizer.keep(ids, mask, False)[0]])
    replay = tmp_path_factory.mktemp("replay") / "search.json"
    replay.write_text(json.dumps(documents + recordings(bundle, queries, True)))
    return bundle, replay, kept


def test_search_ranks_as_the_python_runtime_and_reads_a_python_float16_index(cli, search_replay, tmp_path):
    """The sample corpus indexed by the CLI (recorded encodings), searched from the saved index; and a float16
    index the Python runtime built, searched."""
    bundle, replay, documents = search_replay
    port_cli.search_ranks_as_the_python_runtime(cli, bundle, tmp_path / "sample.cbindex", ("--replay", str(replay)),
                                                documents)
    runtime, corpus = runtimes.load(bundle), json.loads(SAMPLE_CORPUS.read_text())
    python_built = tmp_path / "python.cbindex"  # what `runtimes.build_index(..., dtype="float16")` writes
    runtimes.Index.build(documents, corpus, runtime.model_digest, "float16").save(python_built)
    result = cli("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--index", str(python_built),
                 "--replay", str(replay), parity_texts.QUERIES[0])
    assert result.returncode == 0, result.stderr
    expected = runtimes.search(runtime, runtimes.Index.load(python_built), parity_texts.QUERIES[0], k=10)
    assert [h["index"] for h in json.loads(result.stdout)["hits"]] == [h.index for h in expected]


def test_search_reads_a_python_compressed_index(cli, search_replay, tmp_path):
    """Compressed indexes (format 3; 4, 2 and 8 bits) the Python runtime built of the sample corpus's kept vectors,
    searched through the CLI: the documents Python's compressed search gives, and their scores."""
    from runtimes.compressed_index import CompressedIndex

    bundle, replay, documents = search_replay
    runtime, corpus = runtimes.load(bundle), json.loads(SAMPLE_CORPUS.read_text())
    query = parity_texts.QUERIES[0]
    (q,) = runtime.encode_queries([query])
    for bits in (4, 2, 8):
        path = tmp_path / f"python-{bits}bit.cbindex"
        # every centroid probed and every document a candidate: near ties at the probe and candidate cut-offs
        # (numpy's sums against Swift's in-order ones) cannot differ; the conformance files test the pruning
        index = CompressedIndex.build(documents, corpus, runtime.model_digest, bits=bits, centroids=32, nprobe=32,
                                      candidates=len(corpus))
        index.save(path)
        result = cli("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--index", str(path),
                     "--replay", str(replay), query)
        assert result.returncode == 0, result.stderr
        hits, expected = json.loads(result.stdout)["hits"], index.search(q, 10)
        assert [h["index"] for h in hits] == [h.index for h in expected], bits
        np.testing.assert_allclose([h["score"] for h in hits], [h.score for h in expected], rtol=1e-5)


def test_search_refuses_bad_usage_another_corpus_and_a_corrupt_index(cli, search_replay, tmp_path):
    bundle, replay, _ = search_replay
    engine = ("--replay", str(replay))
    index = tmp_path / "sample.cbindex"
    search = ("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS))
    for k in ("ten", "0", "-3"):
        bad_k = cli(*search, "--k", k, *engine, "bees")
        assert bad_k.returncode == 2 and bad_k.stderr.startswith("error: ") and "--k" in bad_k.stderr
    assert cli(*search, "--index", str(index), *engine, "bees").returncode == 0
    other = tmp_path / "other.json"
    other.write_text(json.dumps(["only one document"]))
    mismatch = cli("search", "--bundle", str(bundle), "--corpus", str(other), "--index", str(index), *engine, "bees")
    assert mismatch.returncode == 2 and "indexes another corpus" in mismatch.stderr
    index.write_bytes(index.read_bytes()[:-5])
    truncated = cli(*search, "--index", str(index), *engine, "bees")
    assert truncated.returncode == 1 and truncated.stderr.startswith("error: corrupt:") and str(index) in truncated.stderr


@pytest.mark.skipif(coreml_available(), reason="on macOS search runs Core ML itself")
def test_search_needs_core_ml_or_recorded_encodings_and_says_so_off_apple_systems(colbertkit, mxbai_run, tmp_path):
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps(["bees dance", "owls hunt at night"]))
    result = run(colbertkit, "search", mxbai_run.bundle("coreml"), "--corpus", str(corpus), "what do bees do")
    assert result.returncode == 2 and "search runs Core ML, which only Apple's systems have" in result.stderr


def test_refuses_a_tampered_bundle_naming_the_file(cli, trained_run, tmp_path):
    port_cli.refuses_a_tampered_bundle_naming_the_file(cli, shutil.copytree(trained_run.bundle("coreml", "int8"),
                                                                               tmp_path / "bundle"),
                                                       target="coreml", artifact_file=WEIGHTS)


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
