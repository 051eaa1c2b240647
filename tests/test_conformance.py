"""What every registered target's bundles must do, run for each target in runtimes.targets.

A new target gets all of it by registering itself (and, with buckets, by joining BUCKETED).
Target-specific behaviour (delegation, MIL ops) is tested in the target's own file; fidelity against PyLate
in test_pylate_parity.py.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.cli import main
from export.precision import TABLE
from runtimes.manifest import BundleError
from runtimes.metrics import missed_bounds
from tests.conftest import PRECISIONS, TARGET_NAMES, read_json, rehash

BUCKETED = ("tflite", "coreml")  # one fixed-shape entry point per bucket: TFLite signatures, Core ML functions
EDGE_TEXTS = ["bees dance to share where flowers are", "", "   ", "東京 🙂 ✨", "?!...", "word " * 900]


def copy_bundle(run, target: str, tmp_path: Path, precision: str = "fp32") -> Path:
    return shutil.copytree(run.bundle(target, precision), tmp_path / "bundle")


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_every_bundle_passes_the_gate_at_batch_1_and_8(mxbai_run, trained_run, target):
    assert mxbai_run.code == 0 and trained_run.code == 0
    for run, precisions, bound in ((mxbai_run, ("fp32",), 512), (trained_run, PRECISIONS, 256)):
        for precision in precisions:
            bundle = run.bundle(target, precision)
            assert bundle.is_dir() and not bundle.with_name(bundle.name + ".FAILED-parity.json").exists()
            parity = read_json(bundle / "parity.json")
            assert parity["tier"] == precision and set(parity["by_batch_size"]) == {"1", "8"}
            for metrics in parity["by_batch_size"].values():  # each batch size on its own, not only the worst
                assert missed_bounds(metrics, TABLE[precision].tier) == [], (target, precision, metrics)
            assert read_json(bundle / "manifest.json")["target"] == target
            io = read_json(bundle / "colbert.json")["io"]  # one bound: document_length, capped by BERT's positions
            assert io["max_sequence"] == bound and io["outputs"][0]["dtype"] == "float32"
            assert set(parity["buckets"]) == set(io["buckets"]) and all(parity["buckets"].values())


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_batch_1_equals_batch_n_on_edge_texts(mxbai_run, target):
    runtime = runtimes.load(mxbai_run.bundle(target))
    one = runtime.encode_documents(EDGE_TEXTS, batch_size=1)
    many = runtime.encode_documents(EDGE_TEXTS, batch_size=len(EDGE_TEXTS))
    for a, b in zip(one, many):
        assert a.shape == b.shape and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-5)
    queries = runtime.encode_queries(EDGE_TEXTS, batch_size=4)
    assert [len(q) for q in queries[:3]] == [len(runtime.encode_queries([t])[0]) for t in EDGE_TEXTS[:3]]


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_inputs_past_the_window_and_past_document_length(mxbai_run, target):
    runtime = runtimes.load(mxbai_run.bundle(target))
    medium, long = "bees dance and sing " * 40, "word " * 900  # ~160 and ~900 tokens
    vectors = runtime.encode_documents([medium, long])
    assert 128 < len(vectors[0]) < 512 and len(vectors[1]) == 512  # truncated to document_length, all real tokens
    for v in vectors:
        assert np.isfinite(v).all()
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    bound = runtime.settings.io.max_sequence
    ids = np.full((1, bound + 1), 1000, np.int64)
    with pytest.raises(runtimes.InputPastBound, match=f"document of {bound + 1} tokens is past this bundle's export "
                       f"bound of {bound}") as refused:
        runtime.engine.encode(ids, np.ones_like(ids))
    assert refused.value.kind == "input_past_bound"


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_golden_vectors_the_model_does_not_produce_fail_verify(mxbai_run, target, tmp_path, capsys):
    """With consistent hashes, only re-encoding the golden texts through the target's runtime can tell."""
    bundle = copy_bundle(mxbai_run, target, tmp_path)
    golden = read_json(bundle / "golden.json")
    vectors = golden["documents"][0]["vectors"]
    vectors[2] = [-v for v in vectors[2]]
    (bundle / "golden.json").write_text(json.dumps(golden))
    rehash(bundle)
    assert main(["verify", str(bundle)]) == 1
    assert "golden vectors: cosine_min" in capsys.readouterr().out


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_trained_checkpoint_holds_every_tier(trained_run, target):
    """fp16 and int8 only count on trained weights; the tiers against PyLate are in test_pylate_parity."""
    assert trained_run.code == 0, trained_run.output.stdout
    for precision in PRECISIONS:
        assert read_json(trained_run.bundle(target, precision) / "parity.json")["synthetic"] is False
    int8 = read_json(trained_run.bundle(target, "int8") / "manifest.json")
    assert int8["details"]["int8_recipe"] == "gptq" and int8["details"]["int8_group"] == 32
    sizes = {p: read_json(trained_run.bundle(target, p) / "manifest.json")["artifact_bytes"] for p in PRECISIONS}
    assert sizes["fp16"] < 0.55 * sizes["fp32"] and sizes["int8"] < 0.45 * sizes["fp32"]  # TFLite int8 is 44%


@pytest.mark.parametrize("target", BUCKETED)
def test_one_entry_point_per_bucket(mxbai_run, trained_run, target):
    io = read_json(mxbai_run.bundle(target) / "colbert.json")["io"]
    assert [i["dtype"] for i in io["inputs"]] == ["int32", "int32"] and io["max_batch"] == 1
    assert io["buckets"] == {
        "encode_query": {"kind": "query", "length": 48},
        "encode_document_128": {"kind": "document", "length": 128},
        "encode_document_256": {"kind": "document", "length": 256},
        "encode_document_512": {"kind": "document", "length": 512},
    }
    for precision in PRECISIONS:  # BERT: query_length 32, document_length 256
        bert = read_json(trained_run.bundle(target, precision) / "colbert.json")["io"]
        assert bert["buckets"] == {"encode_query": {"kind": "query", "length": 32},
                                   "encode_document_128": {"kind": "document", "length": 128},
                                   "encode_document_256": {"kind": "document", "length": 256}}


@pytest.mark.parametrize("target", BUCKETED)
def test_padding_to_a_bucket_leaves_real_tokens_alone(mxbai_run, target):
    """The same 100 tokens through the 128 and the 512 bucket, and through ONNX with no padding."""
    runtime = runtimes.load(mxbai_run.bundle(target))
    ids, mask = runtime.tokenizer.encode(["padding must not leak into real tokens " * 40], is_query=False)
    ids, mask = ids[:, :100], mask[:, :100]

    def through(name: str, width: int) -> np.ndarray:
        padded_ids = np.full((1, width), 7, np.int32)  # a real token id as padding: only the mask may hide it
        padded_mask = np.zeros((1, width), np.int32)
        padded_ids[0, :100], padded_mask[0, :100] = ids[0], mask[0]
        return runtime.engine.run_bucket(name, padded_ids, padded_mask)[0, :100]

    unpadded = runtimes.load(mxbai_run.bundle("onnx")).engine.encode(ids, mask)[0]
    np.testing.assert_allclose(through("encode_document_128", 128), unpadded, atol=1e-5)
    np.testing.assert_allclose(through("encode_document_512", 512), unpadded, atol=1e-5)
    zeros = np.zeros((1, 8), np.int32)
    with pytest.raises(ValueError, match="unknown bucket 'encode_everything'"):
        runtime.engine.run_bucket("encode_everything", zeros, zeros)


@pytest.mark.parametrize("target", BUCKETED)
def test_bucket_missing_from_the_model_is_refused(mxbai_run, target, tmp_path):
    b = copy_bundle(mxbai_run, target, tmp_path)
    settings = read_json(b / "colbert.json")
    settings["io"]["buckets"]["encode_document_1024"] = {"kind": "document", "length": 1024}
    (b / "colbert.json").write_text(json.dumps(settings))
    rehash(b)
    with pytest.raises(BundleError, match="encode_document_1024 that the model does not have") as error:
        runtimes.load(b)
    assert "\n" not in str(error.value)
