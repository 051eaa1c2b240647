"""Core ML bundles: coremltools conversion, the gate through the numpy MIL interpreter, and bad input.

On macOS the same bundles are also run through Core ML itself; on Linux those tests skip.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import runtimes
from export.cli import main
from runtimes.coreml import CoremlEngine, coreml_available
from runtimes.manifest import BundleError
from runtimes.mil import MilProgram
from tests.conftest import flip_byte, read_json, rehash

MODEL_17M = "mxbai-edge-colbert-v0-17m-synthetic"
PRECISIONS = ("fp32", "fp16", "int8")
SYNTHETIC = ("coreml", "--synthetic", "--size", "17m", "--precision", *PRECISIONS)
PACKAGE = "model.mlpackage"
ENCODER_OPS = {"linear", "matmul", "softmax", "layer_norm", "gelu", "gather", "cos", "sin", "range_1d", "select"}
ON_MAC = pytest.mark.skipif(not coreml_available(), reason="Core ML predictions run only on macOS; "
                                                           "on Linux the gate runs through the MIL interpreter")


def bundle(exports, precision="fp32"):
    return exports.bundle(*SYNTHETIC, model=MODEL_17M, target="coreml", precision=precision)


def test_synthetic_coreml_bundles_pass_the_gate(exports):
    code, out = exports.run(*SYNTHETIC)
    assert code == 0
    for precision in PRECISIONS:
        b = out / MODEL_17M / f"coreml-{precision}"
        assert read_json(b / "parity.json")["passed"]
        manifest = read_json(b / "manifest.json")
        assert manifest["details"]["minimum_deployment_target"] == ("iOS18" if precision == "int8" else "iOS17")
        assert manifest["details"]["neural_engine_fixed_shapes"] == []
        assert all(p.startswith(f"{PACKAGE}/") for p in manifest["files"] if "mlpackage" in p)
        io = read_json(b / "colbert.json")["io"]
        assert [i["dtype"] for i in io["inputs"]] == ["int32", "int32"] and io["max_sequence"] == 512


def test_programs_use_the_expected_ops_and_dtypes(exports):
    ops = {p: set(MilProgram(bundle(exports, p) / PACKAGE).op_types()) for p in PRECISIONS}
    assert ENCODER_OPS <= ops["fp32"]
    assert "constexpr_blockwise_shift_scale" in ops["int8"] and "constexpr_blockwise_shift_scale" not in ops["fp32"]
    program = MilProgram(bundle(exports, "fp16") / PACKAGE)
    dtypes = {o.type.tensorType.dataType for op in program.operations if op.type == "linear" for o in op.outputs}
    assert dtypes == {10}  # MIL FLOAT16: the interpreter holds fp16 programs' tensors in fp16


def test_fp16_has_no_nan_or_inf(exports):
    runtime = runtimes.load(bundle(exports, "fp16"))
    texts = ["", "東京 🙂", "?!?!", "word " * 900]
    for vectors in runtime.encode_queries(texts) + runtime.encode_documents(texts):
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)


def test_batches_and_length_bound(exports):
    runtime = runtimes.load(bundle(exports))
    texts = ["bees dance to share where flowers are", "", "東京 🙂", "word " * 900]
    one, many = runtime.encode_documents(texts, batch_size=1), runtime.encode_documents(texts, batch_size=4)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, atol=1e-5)
    ids = np.ones((1, 600), np.int64)
    with pytest.raises(ValueError, match="past this bundle's export bound of 512"):
        runtime.engine.encode(ids, ids)


def _copy(exports, tmp_path, precision="fp32"):
    return shutil.copytree(bundle(exports, precision), tmp_path / "bundle")


def test_missing_weight_blob_is_a_one_line_error(exports, tmp_path):
    b = _copy(exports, tmp_path)
    (b / PACKAGE / "Data/com.apple.CoreML/weights/weight.bin").unlink()
    rehash(b)
    with pytest.raises(BundleError, match="weight blob .* is missing") as error:
        runtimes.load(b)
    assert "\n" not in str(error.value)


def test_unsupported_op_is_a_one_line_error(exports, tmp_path):
    b = _copy(exports, tmp_path)
    spec_path = b / PACKAGE / "Data/com.apple.CoreML/model.mlmodel"
    text = spec_path.read_bytes()
    spec_path.write_bytes(text.replace(b"\n\x06linear", b"\n\x06lineax", 1))  # the first op named "linear"
    rehash(b)
    with pytest.raises(BundleError, match="unsupported MIL op 'lineax'") as error:
        runtimes.load(b)
    assert "\n" not in str(error.value)


def test_wrong_hash_fails_verify(exports, tmp_path, capsys):
    b = _copy(exports, tmp_path)
    flip_byte(b / PACKAGE / "Data/com.apple.CoreML/weights/weight.bin")
    assert main(["verify", str(b)]) == 1
    assert f"sha256 mismatch for {PACKAGE}/Data/com.apple.CoreML/weights/weight.bin" in capsys.readouterr().out


def test_a_changed_weight_is_caught_by_the_golden_vectors(exports, tmp_path, capsys):
    """Corrupt the program on purpose, consistently hashed: verify's golden re-encode must catch it."""
    b = _copy(exports, tmp_path)
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
def test_core_ml_agrees_with_the_interpreter(exports, precision):
    package = bundle(exports, precision) / PACKAGE
    core_ml, interpreter = CoremlEngine(package, 512, use_coreml=True), CoremlEngine(package, 512, use_coreml=False)
    ids = np.random.default_rng(0).integers(1000, 2000, (2, 200))
    mask = np.ones_like(ids)
    mask[1, 150:] = 0
    a, b = core_ml.encode(ids, mask), interpreter.encode(ids, mask)
    tolerance = 1e-4 if precision == "fp32" else 5e-3
    np.testing.assert_allclose(a[0], b[0], atol=tolerance)
    np.testing.assert_allclose(a[1, :150], b[1, :150], atol=tolerance)


@ON_MAC
def test_gate_through_core_ml(exports, tmp_path):
    assert main(["verify", "--full", str(bundle(exports, "fp16"))]) == 0
