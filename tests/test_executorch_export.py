"""ExecuTorch bundles: XNNPACK lowering, the ExecuTorch runtime, the gate, and bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import runtimes
from export.cli import main
from runtimes.manifest import BundleError
from tests.conftest import flip_byte, model_args, read_json, rehash

MODEL_17M = "mxbai-edge-colbert-v0-17m-synthetic"
MODEL_32M = "mxbai-edge-colbert-v0-32m-synthetic"
PRECISIONS = ("fp32", "fp16", "int8")


def synthetic(size: str) -> tuple[str, ...]:
    return ("executorch", "--synthetic", "--size", size, "--precision", *PRECISIONS)


@pytest.mark.parametrize("size, model", [("17m", MODEL_17M), ("32m", MODEL_32M)])
def test_synthetic_executorch_bundles_pass_the_gate(exports, size, model):
    code, out = exports.run(*synthetic(size))
    assert code == 0
    for precision in PRECISIONS:
        bundle = out / model / f"executorch-{precision}"
        assert read_json(bundle / "parity.json")["passed"]
        manifest = read_json(bundle / "manifest.json")
        delegation = manifest["details"]["delegation"]
        assert delegation["delegated_compute_share"] > 0.6 and delegation["delegated_subgraphs"] >= 1
        assert not any(op.startswith(("aten_mm", "aten_bmm", "aten_addmm", "aten_linear"))
                       for op in delegation["portable_compute_ops"])
        assert manifest["tools"]["executorch"] == manifest["details"]["executorch_version"]


def test_runtime_splits_batches_and_refuses_long_inputs(exports):
    bundle = exports.bundle(*synthetic("17m"), model=MODEL_17M, target="executorch", precision="fp32")
    runtime = runtimes.load(bundle)
    texts = ["bees dance to share where flowers are", "", "東京 🙂", "word " * 900]
    one, many = runtime.encode_documents(texts, batch_size=1), runtime.encode_documents(texts, batch_size=4)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, atol=1e-5)
    ids = np.ones((1, 600), np.int64)
    with pytest.raises(ValueError, match="past this bundle's export bound of 512"):
        runtime.engine.encode(ids, ids)


def test_matches_onnx_on_the_same_checkpoint(exports):
    et = runtimes.load(exports.bundle(*synthetic("17m"), model=MODEL_17M, target="executorch", precision="fp32"))
    onnx = runtimes.load(exports.bundle("onnx", "--synthetic", "--size", "17m", "--precision", "fp32", "fp16", "int8",
                                        model=MODEL_17M, target="onnx", precision="fp32"))
    texts = ["late interaction keeps one vector per token"]
    np.testing.assert_allclose(et.encode_queries(texts)[0], onnx.encode_queries(texts)[0], atol=1e-5)


def test_a_matmul_left_to_portable_kernels_fails_the_export():
    from export.targets.executorch import _check_matmuls_delegated

    _check_matmuls_delegated({"portable_compute_ops": {"aten_native_layer_norm_default": 15}})
    with pytest.raises(RuntimeError, match="fell back to portable kernels"):
        _check_matmuls_delegated({"portable_compute_ops": {"aten_bmm_default": 8, "aten_cat_default": 2}})


def _copy(exports, tmp_path, precision="fp32"):
    source = exports.bundle(*synthetic("17m"), model=MODEL_17M, target="executorch", precision=precision)
    return shutil.copytree(source, tmp_path / "bundle")


def test_corrupt_program_is_a_one_line_error(exports, tmp_path):
    bundle = _copy(exports, tmp_path)
    (bundle / "model.pte").write_bytes(b"not a program" * 100)
    rehash(bundle)
    with pytest.raises(BundleError, match="ExecuTorch cannot load it") as error:
        runtimes.load(bundle)
    assert "\n" not in str(error.value)


def test_wrong_hash_fails_verify(exports, tmp_path, capsys):
    bundle = _copy(exports, tmp_path)
    flip_byte(bundle / "model.pte")
    assert main(["verify", str(bundle)]) == 1
    assert "sha256 mismatch for model.pte" in capsys.readouterr().out


def test_other_executorch_major_version_is_refused(exports, tmp_path):
    bundle = _copy(exports, tmp_path)
    manifest = read_json(bundle / "manifest.json")
    manifest["tools"]["executorch"] = "0.7.0"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="exported with ExecuTorch 0.7.0"):
        runtimes.load(bundle)


def test_trained_checkpoint_int8_tier(exports, minilm_checkpoint):
    """The default recipe (GPTQ weights dequantized per call, fp32 XNNPACK matmul) holds the tier;
    8da8w's per-token int8 activations alone put MaxSim p99 near 6e-2 on these weights."""
    code, out = exports.run(*model_args("executorch", minilm_checkpoint))
    parity = read_json(out / "minilm-colbert" / "executorch-int8" / "parity.json")
    assert code == 0 and parity["passed"]
    assert read_json(out / "minilm-colbert" / "executorch-int8" / "manifest.json")["details"]["int8_recipe"] == "gptq-w8"
