"""`python -m export verify`: passes on published bundles, fails on tampered ones."""
from __future__ import annotations

import json
import shutil

import pytest

import runtimes
from export.cli import main
from runtimes.manifest import BundleError, hash_files
from tests.conftest import synthetic_args, synthetic_name

SYNTHETIC, MODEL_17M = synthetic_args("onnx"), synthetic_name()


@pytest.fixture
def bundle_copy(exports, tmp_path):
    def copy(precision: str):
        source = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision=precision)
        return shutil.copytree(source, tmp_path / f"onnx-{precision}")
    return copy


def test_verify_passes_on_published_bundles(exports):
    _, out = exports.run(*SYNTHETIC)
    bundles = [str(out / MODEL_17M / f"onnx-{p}") for p in ("fp32", "fp16", "int8")]
    assert main(["verify", *bundles]) == 0


def test_verify_full_reruns_the_gate(exports):
    assert main(["verify", "--full", str(exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp16"))]) == 0


def test_tampered_model_fails_verify_and_load(bundle_copy, capsys):
    bundle = bundle_copy("fp32")
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "model.onnx").write_bytes(bytes(data))
    assert main(["verify", str(bundle)]) == 1
    assert "sha256 mismatch for model.onnx" in capsys.readouterr().out
    with pytest.raises(BundleError, match="sha256 mismatch"):
        runtimes.load(bundle)


@pytest.mark.parametrize("change, message", [
    (lambda b: (b / "golden.json").unlink(), "missing golden.json"),
    (lambda b: (b / "notes.txt").write_text("x"), "unlisted files notes.txt"),
    (lambda b: (b / "manifest.json").unlink(), "no manifest.json"),
])
def test_incomplete_or_extended_bundles_fail(bundle_copy, capsys, change, message):
    bundle = bundle_copy("int8")
    change(bundle)
    assert main(["verify", str(bundle)]) == 1
    assert message in capsys.readouterr().out


def test_golden_vectors_that_the_model_no_longer_produces_fail(bundle_copy, capsys):
    """Even with consistent hashes, wrong expectations are caught by re-encoding."""
    bundle = bundle_copy("fp32")
    golden = json.loads((bundle / "golden.json").read_text())
    golden["documents"][0]["vectors"][2] = [-v for v in golden["documents"][0]["vectors"][2]]
    (bundle / "golden.json").write_text(json.dumps(golden))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = hash_files(bundle)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert main(["verify", str(bundle)]) == 1
    assert "golden vectors: cosine_min" in capsys.readouterr().out
