"""ExecuTorch bundles: what is ExecuTorch's own (XNNPACK delegation, the version check); the rest is in
test_conformance.py."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

import runtimes
from export.targets.executorch import check_matmuls_delegated
from runtimes.colbert import ColbertSettings
from runtimes.manifest import BundleError
from tests.conftest import PRECISIONS, read_json


def test_xnnpack_runs_every_matmul_and_the_manifest_says_how_much(mxbai_run, trained_run):
    for run, precisions in ((mxbai_run, ("fp32",)), (trained_run, PRECISIONS)):
        for precision in precisions:
            manifest = read_json(run.bundle("executorch", precision) / "manifest.json")
            delegation = manifest["details"]["delegation"]
            assert delegation["delegated_compute_share"] > 0.6 and delegation["delegated_subgraphs"] >= 1
            assert not any(op.startswith(("aten_mm", "aten_bmm", "aten_addmm", "aten_linear"))
                           for op in delegation["portable_compute_ops"])
            assert manifest["tools"]["executorch"] == manifest["details"]["executorch_version"]


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_int8_and_fp16_hold_one_widened_weight_at_a_time(trained_run, precision):
    """Each weight is widened to fp32 (int8 dequantized, fp16 cast) next to its matmul, so the planned buffers
    exceed fp32's by about one fp32 weight, the largest (trained MiniLM: int8 5.25 MB, fp16 5.51, against fp32's
    2.63; the FFN weight is 2.25). Widenings left where partitioning hoists them, at the top of the graph, keep
    every weight alive at once (int8: 42.2 MB)."""
    planned = {p: read_json(trained_run.bundle("executorch", p) / "manifest.json")["details"]["planned_memory_bytes"]
               for p in ("fp32", precision)}
    config = read_json(trained_run.checkpoint / "config.json")
    largest_weight = config["hidden_size"] * config["intermediate_size"] * 4
    assert planned[precision] > 0 and planned[precision] - planned["fp32"] <= 1.5 * largest_weight, planned


def test_attention_scores_are_not_planned_buffers(mxbai_run):
    """Planned buffers are allocated whole at load, for the longest sequence. No planned tensor may be as large as
    one layer's [heads, seq, seq] attention scores (4 heads in the 17m): XNNPACK keeps them inside its delegate,
    sized to the input actually run. The 4-D attention planned three at once (12 MB at 512 tokens)."""
    from executorch.exir._serialize._program import deserialize_pte_binary  # reads the plan ExecuTorch runs

    bundle = mxbai_run.bundle("executorch")
    pte = deserialize_pte_binary((bundle / "model.pte").read_bytes())
    plan = getattr(pte, "program", pte).execution_plan[0]
    planned = [math.prod(v.val.sizes) for v in plan.values
               if type(v.val).__name__ == "Tensor" and v.val.allocation_info is not None]
    sequence = ColbertSettings.from_file(bundle / "colbert.json").io.max_sequence
    assert sequence >= 256 and 0 < max(planned) < 4 * sequence * sequence


def test_matches_onnx_on_the_same_checkpoint(mxbai_run):
    et, onnx = (runtimes.load(mxbai_run.bundle(t)) for t in ("executorch", "onnx"))
    texts = ["late interaction keeps one vector per token", "word " * 300]
    for a, b in zip(et.encode_documents(texts), onnx.encode_documents(texts)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_matmul_left_to_portable_kernels_fails_the_export():
    check_matmuls_delegated({"portable_compute_ops": {"aten_native_layer_norm_default": 15}})
    with pytest.raises(RuntimeError, match="fell back to portable kernels"):
        check_matmuls_delegated({"portable_compute_ops": {"aten_bmm_default": 8, "aten_cat_default": 2}})


def test_other_executorch_major_version_is_refused(mxbai_run, tmp_path):
    bundle = shutil.copytree(mxbai_run.bundle("executorch"), tmp_path / "bundle")
    manifest = read_json(bundle / "manifest.json")
    manifest["tools"]["executorch"] = "0.7.0"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="exported with ExecuTorch 0.7.0"):
        runtimes.load(bundle)
