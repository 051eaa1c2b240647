"""TFLite bundles: what is TFLite's own (length-bucket signatures, padding); the rest is in test_conformance.py."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import runtimes
from runtimes.manifest import BundleError
from tests.conftest import read_json, rehash


def test_one_signature_per_length_bucket(mxbai_run, trained_run):
    io = read_json(mxbai_run.bundle("tflite") / "colbert.json")["io"]
    assert [i["dtype"] for i in io["inputs"]] == ["int32", "int32"]
    assert io["buckets"] == {
        "encode_query": {"kind": "query", "length": 48},
        "encode_document_128": {"kind": "document", "length": 128},
        "encode_document_256": {"kind": "document", "length": 256},
        "encode_document_512": {"kind": "document", "length": 512},
    }
    bert = read_json(trained_run.bundle("tflite") / "colbert.json")["io"]  # BERT: document_length 256
    assert list(bert["buckets"]) == ["encode_query", "encode_document_128", "encode_document_256"]


def test_signature_is_picked_by_kind_and_length(mxbai_run):
    engine = runtimes.load(mxbai_run.bundle("tflite")).engine
    assert engine.signature_for(48, is_query=True) == ("encode_query", 48)
    assert engine.signature_for(3, is_query=False) == ("encode_document_128", 128)
    assert engine.signature_for(129, is_query=False) == ("encode_document_256", 256)
    assert engine.signature_for(512, is_query=False) == ("encode_document_512", 512)
    with pytest.raises(ValueError, match="document of 513 tokens is past this bundle's largest document bucket of 512"):
        engine.signature_for(513, is_query=False)
    with pytest.raises(ValueError, match="unknown signature 'encode_everything'"):
        engine.runner("encode_everything")


def test_padding_leaves_real_tokens_alone(mxbai_run):
    """The same 100 tokens through the 128 and the 512 bucket, and through ONNX with no padding."""
    runtime = runtimes.load(mxbai_run.bundle("tflite"))
    ids, mask = runtime.tokenizer.encode(["padding must not leak into real tokens " * 40], is_query=False)
    ids, mask = ids[:, :100], mask[:, :100]
    engine = runtime.engine

    def through(name: str, width: int) -> np.ndarray:
        padded_ids = np.full((1, width), 7, np.int32)  # a real token id as padding: only the mask may hide it
        padded_mask = np.zeros((1, width), np.int32)
        padded_ids[0, :100], padded_mask[0, :100] = ids[0], mask[0]
        return engine.runner(name)(input_ids=padded_ids, attention_mask=padded_mask)["embeddings"][0, :100]

    small, large = through("encode_document_128", 128), through("encode_document_512", 512)
    unpadded = runtimes.load(mxbai_run.bundle("onnx")).engine.encode(ids, mask)[0]
    np.testing.assert_allclose(small, unpadded, atol=1e-5)
    np.testing.assert_allclose(large, unpadded, atol=1e-5)


def test_signature_missing_from_the_model_is_refused(mxbai_run, tmp_path):
    b = shutil.copytree(mxbai_run.bundle("tflite"), tmp_path / "bundle")
    settings = read_json(b / "colbert.json")
    settings["io"]["buckets"]["encode_document_1024"] = {"kind": "document", "length": 1024}
    (b / "colbert.json").write_text(json.dumps(settings))
    rehash(b)
    with pytest.raises(BundleError, match="encode_document_1024 that the model does not have"):
        runtimes.load(b)
