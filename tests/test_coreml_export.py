"""Core ML bundles: what is Core ML's own (deployment target, functions, MIL programs, the interpreter's errors);
the rest is in test_conformance.py. On macOS the bundles also run through Core ML itself; on Linux those
tests skip."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import runtimes
from export.cli import main
from runtimes.coreml import CoremlEngine, coreml_available
from runtimes.manifest import BundleError
from runtimes.mil import MilError, MilProgram, read_spec
from tests.conftest import PRECISIONS, read_json, rehash

PACKAGE = "model.mlpackage"
# RoPE's cos and sin are constants in a fixed-shape function (its positions are), so they are not among these
ENCODER_OPS = {"linear", "matmul", "softmax", "layer_norm", "gelu", "gather", "select"}
ON_MAC = pytest.mark.skipif(not coreml_available(), reason="Core ML predictions run only on macOS; "
                                                           "on Linux the gate runs through the MIL interpreter")


def test_one_function_per_bucket_and_ios_18(trained_run):
    """A multifunction package (iOS 18): every bucket a function with fixed [1, n] inputs, no flexible one."""
    for precision in PRECISIONS:
        b = trained_run.bundle("coreml", precision)
        manifest = read_json(b / "manifest.json")
        assert manifest["details"]["minimum_deployment_target"] == "iOS18"
        assert all(p.startswith(f"{PACKAGE}/") for p in manifest["files"] if "mlpackage" in p)
        io = read_json(b / "colbert.json")["io"]
        expected = {name: [1, bucket["length"]] for name, bucket in io["buckets"].items()}
        assert "functions" not in manifest["details"]  # the buckets are colbert.json's alone
        assert manifest["details"]["default_function"] == "encode_query"
        spec = read_spec(b / PACKAGE)
        assert spec.specificationVersion >= 9 and spec.description.defaultFunctionName == "encode_query"
        assert set(spec.mlProgram.functions) == set(expected)
        for function in spec.description.functions:
            for i in function.input:
                assert list(i.type.multiArrayType.shape) == expected[function.name]
                assert not i.type.multiArrayType.shapeRange.sizeRanges  # fixed, not a RangeDim
        with pytest.raises(ValueError, match="function encode_query takes \\[1, 32\\]"):
            MilProgram(b / PACKAGE).run({"input_ids": np.ones((1, 33), np.int32),
                                         "attention_mask": np.ones((1, 33), np.int32)})
    with pytest.raises(MilError, match="no function 'main' .*it has encode_query"):
        MilProgram(b / PACKAGE, "main")


def test_programs_use_the_expected_ops_and_dtypes(mxbai_run, trained_run):
    mxbai = mxbai_run.bundle("coreml") / PACKAGE
    assert ENCODER_OPS <= set(MilProgram(mxbai, "encode_document_512").op_types())
    assert not {"cos", "sin", "range_1d"} & set(MilProgram(mxbai, "encode_document_512").op_types())
    ops = {p: set(MilProgram(trained_run.bundle("coreml", p) / PACKAGE).op_types()) for p in PRECISIONS}
    assert "constexpr_blockwise_shift_scale" in ops["int8"] and "constexpr_blockwise_shift_scale" not in ops["fp32"]
    program = MilProgram(trained_run.bundle("coreml", "fp16") / PACKAGE)
    linears = [o.type.tensorType.dataType for op in program.operations if op.type == "linear" for o in op.outputs]
    assert set(linears[:-1]) == {10} and linears[-1] == 11  # MIL FLOAT16 in the backbone, FLOAT32 for the Dense head
    matmuls = {o.type.tensorType.dataType for op in program.operations if op.type == "matmul" for o in op.outputs}
    assert matmuls == {11}  # attention logits and their weighted sum in fp32


def test_fp16_has_no_nan_or_inf(trained_run):
    runtime = runtimes.load(trained_run.bundle("coreml", "fp16"))
    texts = ["", "東京 🙂", "?!?!", "word " * 900]
    for vectors in runtime.encode_queries(texts) + runtime.encode_documents(texts):
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)


def _copy(mxbai_run, tmp_path, precision="fp32"):
    return shutil.copytree(mxbai_run.bundle("coreml", precision), tmp_path / "bundle")


def test_missing_weight_blob_is_a_one_line_error(mxbai_run, tmp_path):
    b = _copy(mxbai_run, tmp_path)
    (b / PACKAGE / "Data/com.apple.CoreML/weights/weight.bin").unlink()
    rehash(b)
    with pytest.raises(BundleError, match="weight blob .* is missing") as error:
        runtimes.load(b)
    assert "\n" not in str(error.value)


def test_unsupported_op_is_a_one_line_error(mxbai_run, tmp_path):
    b = _copy(mxbai_run, tmp_path)
    spec_path = b / PACKAGE / "Data/com.apple.CoreML/model.mlmodel"
    text = spec_path.read_bytes()
    spec_path.write_bytes(text.replace(b"\n\x06linear", b"\n\x06lineax", 1))  # the first op named "linear"
    rehash(b)
    with pytest.raises(BundleError, match="unsupported MIL op 'lineax'") as error:
        runtimes.load(b)
    assert "\n" not in str(error.value)


def test_a_changed_weight_is_caught_by_the_golden_vectors(mxbai_run, tmp_path, capsys):
    """Corrupt the program on purpose, consistently hashed: verify's golden re-encode must catch it."""
    b = _copy(mxbai_run, tmp_path)
    blob = b / PACKAGE / "Data/com.apple.CoreML/weights/weight.bin"
    data = bytearray(blob.read_bytes())
    middle = len(data) - len(data) // 8  # inside the last layers' weights
    data[middle:middle + 4096] = bytes(4096)
    blob.write_bytes(bytes(data))
    rehash(b)
    assert main(["verify", str(b)]) == 1
    assert "golden" in capsys.readouterr().out


@ON_MAC
@pytest.mark.parametrize("precision", PRECISIONS)
def test_core_ml_agrees_with_the_interpreter(trained_run, precision):
    runtime = runtimes.load(trained_run.bundle("coreml", precision))
    package, io, pad = trained_run.bundle("coreml", precision) / PACKAGE, runtime.settings.io, runtime.settings.pad_token_id
    core_ml, interpreter = CoremlEngine(package, io, pad, use_coreml=True), CoremlEngine(package, io, pad, use_coreml=False)
    ids = np.random.default_rng(0).integers(1000, 2000, (2, 200))
    mask = np.ones_like(ids)
    mask[1, 150:] = 0
    a, b = core_ml.encode(ids, mask), interpreter.encode(ids, mask)
    tolerance = 1e-4 if precision == "fp32" else 5e-3
    np.testing.assert_allclose(a[0], b[0], atol=tolerance)
    np.testing.assert_allclose(a[1, :150], b[1, :150], atol=tolerance)


@ON_MAC
def test_gate_through_core_ml(trained_run):
    assert main(["verify", "--full", str(trained_run.bundle("coreml", "fp16"))]) == 0
