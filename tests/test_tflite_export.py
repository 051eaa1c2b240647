"""TFLite bundles: litert-torch conversion, length-bucket signatures, the LiteRT runtime, the gate, bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import runtimes
from export.cli import main
from runtimes.manifest import BundleError
from tests.conftest import flip_byte, read_json, rehash

MODEL_17M = "mxbai-edge-colbert-v0-17m-synthetic"
PRECISIONS = ("fp32", "fp16", "int8")
SYNTHETIC = ("tflite", "--synthetic", "--size", "17m", "--precision", *PRECISIONS)


def bundle(exports, precision="fp32"):
    return exports.bundle(*SYNTHETIC, model=MODEL_17M, target="tflite", precision=precision)


def test_synthetic_tflite_bundles_pass_the_gate(exports):
    code, out = exports.run(*SYNTHETIC)
    assert code == 0
    for precision in PRECISIONS:
        b = out / MODEL_17M / f"tflite-{precision}"
        assert read_json(b / "parity.json")["passed"]
        io = read_json(b / "colbert.json")["io"]
        assert [i["dtype"] for i in io["inputs"]] == ["int32", "int32"]
        assert io["signatures"] == {
            "encode_query": {"kind": "query", "length": 48},
            "encode_document_128": {"kind": "document", "length": 128},
            "encode_document_256": {"kind": "document", "length": 256},
            "encode_document_512": {"kind": "document", "length": 512},
        }
    sizes = {p: read_json(out / MODEL_17M / f"tflite-{p}" / "manifest.json")["artifact_bytes"] for p in PRECISIONS}
    assert sizes["fp16"] < 0.55 * sizes["fp32"] and sizes["int8"] < 0.45 * sizes["fp32"]


def test_signature_is_picked_by_kind_and_length(exports):
    engine = runtimes.load(bundle(exports)).engine
    assert engine.signature_for(48, is_query=True) == ("encode_query", 48)
    assert engine.signature_for(3, is_query=False) == ("encode_document_128", 128)
    assert engine.signature_for(129, is_query=False) == ("encode_document_256", 256)
    assert engine.signature_for(512, is_query=False) == ("encode_document_512", 512)
    with pytest.raises(ValueError, match="document of 513 tokens is past this bundle's largest document bucket of 512"):
        engine.signature_for(513, is_query=False)
    with pytest.raises(ValueError, match="unknown signature 'encode_everything'"):
        engine.runner("encode_everything")


def test_padding_leaves_real_tokens_alone(exports):
    """The same 100 tokens through the 128 and the 512 bucket, and through ONNX with no padding."""
    runtime = runtimes.load(bundle(exports))
    ids, mask = runtime.tokenizer.encode(["padding must not leak into real tokens " * 40], is_query=False)
    ids, mask = ids[:, :100], mask[:, :100]
    engine = runtime.engine

    def through(name: str, width: int) -> np.ndarray:
        padded_ids = np.full((1, width), 7, np.int32)  # a real token id as padding: only the mask may hide it
        padded_mask = np.zeros((1, width), np.int32)
        padded_ids[0, :100], padded_mask[0, :100] = ids[0], mask[0]
        return engine.runner(name)(input_ids=padded_ids, attention_mask=padded_mask)["embeddings"][0, :100]

    small, large = through("encode_document_128", 128), through("encode_document_512", 512)
    onnx = runtimes.load(exports.bundle("onnx", "--synthetic", "--size", "17m", "--precision", "fp32", "fp16", "int8",
                                        model=MODEL_17M, target="onnx", precision="fp32"))
    unpadded = onnx.engine.encode(ids, mask)[0]
    np.testing.assert_allclose(small, unpadded, atol=1e-5)
    np.testing.assert_allclose(large, unpadded, atol=1e-5)


def test_batches_and_edge_texts(exports):
    runtime = runtimes.load(bundle(exports))
    texts = ["", "東京 🙂 ✨", "?!...", "a short one", "word " * 900]
    one, many = runtime.encode_documents(texts, batch_size=1), runtime.encode_documents(texts, batch_size=5)
    assert len(one[-1]) == 512  # truncated to document_length, every position a real token
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert np.isfinite(a).all()


def _copy(exports, tmp_path):
    return shutil.copytree(bundle(exports), tmp_path / "bundle")


def test_corrupt_model_is_a_one_line_error(exports, tmp_path):
    b = _copy(exports, tmp_path)
    (b / "model.tflite").write_bytes(b"not a flatbuffer" * 100)
    rehash(b)
    with pytest.raises(BundleError, match="LiteRT cannot load it") as error:
        runtimes.load(b)
    assert "\n" not in str(error.value)


def test_signature_missing_from_the_model_is_refused(exports, tmp_path):
    b = _copy(exports, tmp_path)
    settings = read_json(b / "colbert.json")
    settings["io"]["signatures"]["encode_document_1024"] = {"kind": "document", "length": 1024}
    (b / "colbert.json").write_text(json.dumps(settings))
    rehash(b)
    with pytest.raises(BundleError, match="encode_document_1024 that the model does not have"):
        runtimes.load(b)


def test_wrong_hash_fails_verify(exports, tmp_path, capsys):
    b = _copy(exports, tmp_path)
    flip_byte(b / "model.tflite")
    assert main(["verify", str(b)]) == 1
    assert "sha256 mismatch for model.tflite" in capsys.readouterr().out
    with pytest.raises(BundleError, match="sha256"):
        runtimes.load(b)
