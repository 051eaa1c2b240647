"""`python -m export verify`: passes on published bundles and re-runs the gate with --full. What it refuses is in
test_spec.py (every bad-bundle mutation, the golden rule at its bounds) and test_conformance.py (per target)."""
from __future__ import annotations

from export.cli import main
from tests.conftest import SYNTHETIC_ONNX, synthetic_name

SYNTHETIC, MODEL_17M = SYNTHETIC_ONNX, synthetic_name()


def test_verify_passes_on_published_bundles(exports):
    _, out = exports.run(*SYNTHETIC)
    bundles = [str(out / MODEL_17M / f"onnx-{p}") for p in ("fp32", "fp16", "int8")]
    assert main(["verify", *bundles]) == 0


def test_verify_full_reruns_the_gate(exports):
    assert main(["verify", "--full", str(exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp16"))]) == 0


def test_verify_of_a_path_that_is_no_bundle_is_one_failing_row(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path} is not a bundle: no manifest.json" in out and len(out.splitlines()) == 3
