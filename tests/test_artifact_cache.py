"""export/artifact_cache.py: a conversion is reused only for exactly the same inputs, and the reused bundle is the
same bundle, gated again."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from export import artifact_cache
from export.model.checkpoint import read_checkpoint
from export.cli import main
from export.pipeline import Exporter
from export.precision import TABLE
from export.model.source import resolve
from export.targets import target
from runtimes.manifest import sha256
from tests.conftest import FIXTURE_TOKENIZER, read_json, synthetic_args, synthetic_name


@pytest.mark.export  # converts in-process: not the fast tier
def test_a_second_run_reuses_the_conversion_and_publishes_the_same_bundle(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(artifact_cache.ENV, str(tmp_path / "artifacts"))
    bundles = []
    for run in ("first", "second"):
        assert main([*synthetic_args("onnx", precisions=("fp32",)), "--out", str(tmp_path / run)]) == 0
        bundles.append(tmp_path / run / synthetic_name() / "onnx-fp32")
    err = capsys.readouterr().err
    assert err.count("[onnx fp32] exported") == 1 and err.count("[onnx fp32] reused from the artifact cache") == 1
    assert sha256(bundles[0] / "model.onnx") == sha256(bundles[1] / "model.onnx")
    first, second = (read_json(b / "manifest.json") for b in bundles)
    assert first["files"] == second["files"] and first["details"] == second["details"]
    assert read_json(bundles[1] / "parity.json")["failed"] == []


def test_the_key_changes_with_any_weight_precision_kept_part_or_setting(tmp_path):
    checkpoint = read_checkpoint(resolve("17m", synthetic=True, tokenizer=FIXTURE_TOKENIZER).path, source="test")
    exporter = Exporter(checkpoint, tmp_path, lambda message: None)
    try:
        onnx, context = target("onnx"), exporter.context()
        fp32, fp16 = TABLE["fp32"], TABLE["fp16"]
        keys = {artifact_cache.key(onnx, context, fp32), artifact_cache.key(onnx, context, fp16),
                artifact_cache.key(target("tflite"), context, fp32),
                artifact_cache.key(onnx, dataclasses.replace(context, kept=("backbone.layers.2.attn",)), fp16),
                artifact_cache.key(onnx, dataclasses.replace(
                    context, settings=dataclasses.replace(context.settings, query_length=33)), fp32)}
        assert len(keys) == 5
        assert artifact_cache.key(onnx, context, fp32) == artifact_cache.key(onnx, exporter.context(), fp32)
        with torch.no_grad():
            next(iter(exporter.encoder.parameters())).view(-1)[0] += 1e-6
        assert artifact_cache.key(onnx, context, fp32) not in keys
    finally:
        exporter.close()
