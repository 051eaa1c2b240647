"""The bundle contract (spec/): the frozen conformance vectors, checked against tokenizers and PyLate themselves
and run by the Python runtime, the bad-bundle mutations, the golden rule and the JSON Schemas."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.gate import parity_texts
from export.model.checkpoint import PYLATE_DEFAULTS, read_checkpoint
from export.model.checkpoint import python_whitespace as exporter_whitespace
from export.cli import main
from runtimes.colbert import ColbertSettings, ColbertTokenizer, maxsim, top_k
from runtimes.golden import Golden, judge, measure
from runtimes.iospec import IoSpec
from runtimes.manifest import ERROR_KINDS, BundleError, sha256
from spec import generate as spec_generate
from spec.generate import generate
from tests.bundle_mutations import apply, artifact_paths
from tests.conftest import FIXTURE_TOKENIZER, SYNTHETIC_ONNX, TARGET_NAMES, read_json, rehash, synthetic_name
from tests.schemas import SCHEMAS, schema_errors

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "spec" / "conformance"
SYNTHETIC, MODEL_17M = SYNTHETIC_ONNX, synthetic_name()
TOKENIZE = ("mxbai", "mxbai-variant", "minilm")


def read_jsonl(name: str) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in (CONFORMANCE / name).read_text(encoding="utf-8").split("\n") if line]
    return lines[0]["header"], lines[1:]


@pytest.fixture(scope="module")
def tokenizers(minilm_checkpoint) -> dict[str, Path]:
    """The tokenizers the vectors name, from where the tests take them: mxbai's fixture, and the trained MiniLM
    checkpoint PyLate saved (its bundles carry the same file)."""
    return {"mxbai-edge-colbert-v0": FIXTURE_TOKENIZER,
            "all-MiniLM-L6-v2, saved by PyLate": minilm_checkpoint / "tokenizer.json"}


def tokenizer_file(tokenizers: dict[str, Path], header: dict) -> Path:
    path = tokenizers[header["tokenizer"]]
    assert sha256(path) == header["tokenizer_sha256"], f"{path} is not the tokenizer the vectors were made with"
    return path


def settings_of(header: dict) -> ColbertSettings:
    settings = dict(header["settings"])
    return ColbertSettings(**{**settings, "io": IoSpec.from_dict(settings["io"])})


def test_what_the_generator_restates_equals_the_exporters():
    """spec/generate.py imports nothing of the exporter, so it restates the gate's long documents, PyLate's default
    skiplist and Python's whitespace; this holds the copies equal, so the vectors test what bundles carry."""
    assert spec_generate.long_documents() == parity_texts.long_documents()
    assert spec_generate.SKIPLIST_WORDS == PYLATE_DEFAULTS["skiplist_words"]
    assert spec_generate.python_whitespace() == exporter_whitespace()


def test_conformance_vectors_regenerate_byte_for_byte(tmp_path, tokenizers):
    """From tokenizers itself and spec/oracle.py: a change of either, or of the texts in export/texts/gate.json,
    shows up here as a diff to review."""
    generate(FIXTURE_TOKENIZER, tokenizers["all-MiniLM-L6-v2, saved by PyLate"], tmp_path)
    committed = sorted(p.name for p in CONFORMANCE.iterdir())
    assert committed == sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in committed if (CONFORMANCE / n).read_bytes() != (tmp_path / n).read_bytes()] == []
    assert sum((CONFORMANCE / n).stat().st_size for n in committed) < 10e6


@pytest.mark.parametrize("name", TOKENIZE)
def test_python_runtime_passes_the_tokenize_vectors(tokenizers, name):
    header, cases = read_jsonl(f"tokenize-{name}.jsonl")
    assert len(cases) >= 3000
    tokenizer = ColbertTokenizer(tokenizer_file(tokenizers, header), settings_of(header))
    io = tokenizer.settings.io
    mismatches = []
    for case in cases:
        for kind, is_query in (("query", True), ("document", False)):
            ids, mask = tokenizer.encode([case["text"]], is_query)
            got = {"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(),
                   "kept_positions": np.flatnonzero(tokenizer.keep(ids, mask, is_query)[0]).tolist(),
                   "bucket": io.bucket_for(ids.shape[1], is_query)[0]}
            if got != case[kind]:
                mismatches.append((kind, case["text"][:40]))
    assert mismatches == []
    lengths = [len(c["document"]["input_ids"]) for c in cases]
    assert max(lengths) == tokenizer.settings.document_length and min(lengths) <= 3  # past the bound, and empty


# which PyLate-saved test checkpoint has the settings of which vector file
PYLATE_CHECKPOINTS = {"mxbai": "mxbai_checkpoint", "mxbai-variant": "variant_checkpoint", "minilm": "minilm_checkpoint"}


@pytest.mark.parametrize("name", TOKENIZE)
def test_tokenize_vectors_are_pylates_own_tokenize(request, pylate, tokenizers, tmp_path, name):
    """The vectors against the real thing: PyLate's ColBERT.tokenize of every text alone, on a checkpoint PyLate
    saved with the same settings (its strip, lowercasing, truncation, prefix and expansion included)."""
    header, cases = read_jsonl(f"tokenize-{name}.jsonl")
    checkpoint = read_checkpoint(request.getfixturevalue(PYLATE_CHECKPOINTS[name]), source="test")
    assert sha256(checkpoint.path / "tokenizer.json") == header["tokenizer_sha256"]  # PyLate saved that very file
    frozen = {k: v for k, v in header["settings"].items() if k not in ("io", "dim")}
    assert {k: v for k, v in asdict(checkpoint.settings).items() if k in frozen} == frozen
    expected = pylate.tokenize(checkpoint.path, [c["text"] for c in cases], tmp_path)
    mismatches = [(kind, case["text"][:40]) for case, pylates in zip(cases, expected) for kind in ("query", "document")
                  if {k: case[kind][k] for k in ("input_ids", "attention_mask")} != pylates[kind]]
    assert mismatches == []


def test_python_runtime_passes_the_preprocess_vectors():
    header, cases = read_jsonl("preprocess.jsonl")
    mxbai = read_jsonl("tokenize-mxbai.jsonl")[0]
    settings = settings_of(mxbai)
    assert settings.strip_codepoints == header["strip_codepoints"]
    lower = ColbertTokenizer(FIXTURE_TOKENIZER, settings)
    cased = ColbertTokenizer(FIXTURE_TOKENIZER, ColbertSettings(**{**asdict(settings), "do_lower_case": False,
                                                                    "io": settings.io}))
    assert [(lower.preprocess(c["text"]), cased.preprocess(c["text"])) for c in cases] == \
           [(c["lowercase"], c["cased"]) for c in cases]


def test_char_classes_cover_every_scalar_value_once_per_family():
    _, lines = read_jsonl("charclasses.jsonl")
    classes = {line["class"]: line["ranges"] for line in lines if "class" in line}
    for family in (("bert_split_whitespace", "bert_punctuation"), ("bytelevel_letter", "bytelevel_number",
                                                                   "bytelevel_whitespace")):
        points = [c for name in family for a, b in classes[name] for c in range(a, b + 1)]
        assert len(points) == len(set(points))  # the classes of one component never overlap
    assert [0x4E00, 0x4E00] in [[a, min(b, 0x4E00)] for a, b in classes["bert_chinese"]]
    assert any(a <= ord(".") <= b for a, b in classes["bert_punctuation"])


@pytest.mark.parametrize("name, like", [("bert_removed", "x{c}y -> xy"), ("bert_whitespace", "x{c}y -> x y"),
                                        ("bert_split_whitespace", "x{c}y -> x y"), ("bert_chinese", "x{c}y -> x {c} y"),
                                        ("bert_punctuation", "x{c}y -> x {c} y")])
def test_python_runtime_honours_the_wordpiece_char_classes(tokenizers, name, like):
    """The classes through the runtime's whole WordPiece path: a sample of each class's code points between two
    letters tokenises as the class says (the prefix and specials included). The normalizer runs first, so what
    clean_text drops never reaches the pre-tokenizer."""
    header, _ = read_jsonl("tokenize-minilm.jsonl")
    tokenizer = ColbertTokenizer(tokenizer_file(tokenizers, header), settings_of(header))
    classes = {line["class"]: {c for a, b in line["ranges"] for c in range(a, b + 1)}
               for line in read_jsonl("charclasses.jsonl")[1] if "class" in line}
    points = sorted(classes[name] - (classes["bert_removed"] if name != "bert_removed" else set()))
    sample = [chr(c) for c in np.random.default_rng(0).choice(points, size=min(300, len(points)), replace=False)]
    given, expected = like.split(" -> ")
    texts = [given.format(c=c) for c in sample]
    assert tokenizer.rows(texts, False) == tokenizer.rows([expected.format(c=c) for c in sample], False)


def test_python_runtime_passes_the_scoring_vectors():
    _, cases = read_jsonl("scoring.jsonl")
    assert any(len(set(c["maxsim"])) < len(c["maxsim"]) for c in cases)  # ties are covered
    for case in cases:
        query = np.asarray(case["query"], np.float32).reshape(-1, case["dim"])
        documents = [np.asarray(d, np.float32).reshape(-1, case["dim"]) for d in case["documents"]]
        scores = [maxsim(query, d) for d in documents]
        assert scores == case["maxsim"], case["name"]
        assert [i for i, _ in top_k(scores, case["k"])] == case["rank"], case["name"]
        index = runtimes.Index.build(documents, list(range(len(documents))), "0" * 64)
        assert [h.index for h in index.search(query, case["k"])] == case["rank"], case["name"]
        assert [h.score for h in index.search(query, case["k"])] == [case["maxsim"][i] for i in case["rank"]]


def test_python_runtime_passes_the_golden_rule_vectors():
    """golden.json checked as a bundle's, then rule steps 2 to 5 on the encoded vectors."""
    _, cases = read_jsonl("golden.jsonl")
    assert {"floor-below-one", "negative-scores", "no-documents", "empty", "vector-count"} <= {c["name"] for c in cases}
    for case in cases:
        golden = Golden.from_data(case["golden"], case["name"])
        rows = lambda kind: [np.asarray(v, np.float32).reshape(-1, case["dim"]) for v in case["encoded"][kind]]  # noqa: E731
        if "error" in case:
            with pytest.raises(ValueError):
                measure(golden, rows("queries"), rows("documents"))
            continue
        metrics = measure(golden, rows("queries"), rows("documents"))
        assert metrics == pytest.approx(case["metrics"], abs=1e-12), case["name"]
        assert sorted(f.split("=")[0] for f in judge(golden, metrics)) == case["failures"], case["name"]


def test_golden_rule_refuses_fewer_encoded_texts_than_golden_json_holds():
    """Without documents there are no pairs to expose a missing query: the counts themselves must differ."""
    entry = {"text": "q", "input_ids": [1], "attention_mask": [1], "kept_positions": [0], "vectors": [[1.0, 0.0]]}
    golden = Golden.from_data({"tolerance": {}, "queries": [entry, entry], "documents": [], "scores": [[], []]}, "two")
    with pytest.raises(ValueError, match="1 queries and 0 documents encoded, golden.json has 2 and 0"):
        measure(golden, [np.asarray([[1.0, 0.0]], np.float32)], [])


def bad_bundle_cases() -> list[dict]:
    return read_jsonl("bad-bundles.jsonl")[1]


def open_error(bundle: Path) -> BundleError:
    with pytest.raises(BundleError) as error:
        runtimes.load(bundle)
    return error.value


@pytest.mark.parametrize("case", bad_bundle_cases(), ids=lambda c: c["name"])
def test_each_bad_bundle_mutation_gets_its_error_kind(exports, tmp_path, case):
    source = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="int8")
    bundle = shutil.copytree(source, tmp_path / "bundle")
    apply(bundle, case["mutation"], case["rehash"])
    error = open_error(bundle)
    assert error.kind == case["error"], str(error)
    assert case["error"] in ERROR_KINDS and "\n" not in str(error)


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_artifact_mutations_get_their_error_kind_on_every_target(mxbai_run, tmp_path, target):
    """The mutations that touch the artifact, on each target's own kind of artifact (a file, an .mlpackage)."""
    for case in [c for c in bad_bundle_cases() if c["mutation"]["file"].startswith("$")]:
        bundle = shutil.copytree(mxbai_run.bundle(target), tmp_path / case["name"])
        apply(bundle, case["mutation"], case["rehash"])
        error = open_error(bundle)
        assert error.kind == case["error"], (case["name"], str(error))
        assert "\n" not in str(error) and artifact_paths(mxbai_run.bundle(target))[case["mutation"]["file"]].name in str(error)


def test_verify_refuses_each_bad_bundle_in_one_row(exports, tmp_path, capsys):
    source = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp32")
    bundles = []
    for case in bad_bundle_cases():
        bundle = shutil.copytree(source, tmp_path / case["name"])
        apply(bundle, case["mutation"], case["rehash"])
        bundles.append(str(bundle))
    assert main(["verify", *bundles]) == 1
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == len(bundles) and all("FAIL" in row for row in rows)


# ------------------------------------------------------------------ the golden rule


def golden_copy(exports, tmp_path, precision: str = "fp32") -> Path:
    return shutil.copytree(exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision=precision),
                           tmp_path / f"bundle-{precision}")


def verify_ok(bundle: Path) -> bool:
    return main(["verify", str(bundle)]) == 0


def rotated(actual: np.ndarray, cosine: float) -> list[float]:
    """A unit vector at exactly `cosine` from `actual`."""
    a = actual / np.linalg.norm(actual)
    other = np.zeros_like(a)
    other[int(np.argmin(np.abs(a)))] = 1.0
    u = other - (other @ a) * a
    u /= np.linalg.norm(u)
    return (cosine * a + np.sqrt(1 - cosine ** 2) * u).tolist()


@pytest.mark.parametrize("precision, step", [("fp32", 2e-6), ("int8", 2e-4)])
def test_verify_fails_just_past_the_cosine_tolerance_and_passes_just_inside(exports, tmp_path, precision, step):
    """Every golden vector replaced by one at exactly `bound +- step` from what the runtime encodes, so the
    cosine metric of the tier (min for fp32, mean for int8) sits just inside, then just past, its bound."""
    bundle = golden_copy(exports, tmp_path, precision)
    runtime = runtimes.load(bundle)
    golden = read_json(bundle / "golden.json")
    metric = next(m for m in golden["tolerance"] if m.startswith("cosine"))
    bound = golden["tolerance"][metric]["value"]
    actual = {"queries": runtime.encode_queries([e["text"] for e in golden["queries"]]),
              "documents": runtime.encode_documents([e["text"] for e in golden["documents"]])}
    for delta, passes in ((step, True), (-step, False)):
        edited = json.loads(json.dumps(golden))
        for kind, encoded in actual.items():
            for entry, vectors in zip(edited[kind], encoded):
                entry["vectors"] = [rotated(v.astype(np.float64), bound + delta) for v in vectors]
        (bundle / "golden.json").write_text(json.dumps(edited))
        rehash(bundle)
        assert verify_ok(bundle) is passes, (metric, bound + delta)


def test_verify_fails_just_past_the_maxsim_tolerance_and_passes_just_inside(exports, tmp_path):
    bundle = golden_copy(exports, tmp_path)
    runtime = runtimes.load(bundle)
    golden = read_json(bundle / "golden.json")
    bound = golden["tolerance"]["maxsim_rel_err_max"]["value"]
    q = runtime.encode_queries([golden["queries"][0]["text"]])[0]
    d = runtime.encode_documents([golden["documents"][0]["text"]])[0]
    actual = maxsim(q, d)
    for relative, passes in ((bound * 0.9, True), (bound * 1.1, False)):
        edited = json.loads(json.dumps(golden))
        edited["scores"][0][0] = actual / (1 + relative)  # |actual - s| / s = relative
        (bundle / "golden.json").write_text(json.dumps(edited))
        rehash(bundle)
        assert verify_ok(bundle) is passes, relative


def test_verify_applies_top_k_agreement_from_the_stored_scores(trained_run, tmp_path, capsys):
    """Two documents of one query swapped across its top-10 boundary in golden.json's scores (of trained weights:
    a synthetic bundle's golden file does not gate the ranking, which is noise there)."""
    bundle = shutil.copytree(trained_run.bundle("onnx", "fp32"), tmp_path / "bundle")
    golden = read_json(bundle / "golden.json")
    row = golden["scores"][0]
    order = [i for i, _ in top_k(row, len(row))]
    inside, outside = order[9], order[10]
    row[inside], row[outside] = row[outside], row[inside]
    (bundle / "golden.json").write_text(json.dumps(golden))
    rehash(bundle)
    assert not verify_ok(bundle)
    assert "top10_agreement" in capsys.readouterr().out


def test_golden_ids_that_the_tokenizer_does_not_give_fail_verify(exports, tmp_path, capsys):
    bundle = golden_copy(exports, tmp_path)
    golden = read_json(bundle / "golden.json")
    golden["queries"][0]["input_ids"][2] += 1
    (bundle / "golden.json").write_text(json.dumps(golden))
    rehash(bundle)
    assert not verify_ok(bundle)
    assert "golden ids differ for 1 text" in capsys.readouterr().out


# ------------------------------------------------------------------ schemas


def test_the_schemas_are_valid_2020_12_and_reject_a_wrong_field(exports):
    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp32")
    assert set(SCHEMAS) == {"colbert.json", "manifest.json", "golden.json", "parity.json"}
    assert schema_errors(bundle) == []
    settings = read_json(bundle / "colbert.json")
    settings["query_length"] = "48"
    assert SCHEMAS["colbert.json"].is_valid(settings) is False
    manifest = read_json(bundle / "manifest.json")
    manifest["format"] = 2
    assert SCHEMAS["manifest.json"].is_valid(manifest) is False
