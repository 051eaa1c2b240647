"""ONNX bundles through the whole chain: export, parity gate, bundle contents, CLI behaviour."""
from __future__ import annotations

import re

import numpy as np
import pytest

import runtimes
from export import parity_texts
from export.parity import TIERS
from runtimes.manifest import sha256
from tests.conftest import model_args, read_json
from tests.test_runtime import MODEL_17M, SYNTHETIC

SYNTHETIC_32M = ("onnx", "--synthetic", "--size", "32m", "--precision", "fp32", "fp16", "int8")
MODEL_32M = "mxbai-edge-colbert-v0-32m-synthetic"
PRECISIONS = ("fp32", "fp16", "int8")


@pytest.mark.parametrize("args, model", [(SYNTHETIC, MODEL_17M), (SYNTHETIC_32M, MODEL_32M)])
def test_synthetic_exports_pass_every_tier(exports, args, model):
    code, out = exports.run(*args)
    assert code == 0
    for precision in PRECISIONS:
        bundle = out / model / f"onnx-{precision}"
        parity = read_json(bundle / "parity.json")
        assert parity["passed"] and parity["tier"] == precision
        assert parity["synthetic"] is True and "SYNTHETIC" in parity["warning"]
        assert set(parity["by_batch_size"]) == {"1", "8"}
        assert parity["texts"]["documents"] >= 50


def test_bundle_contents_and_manifest(exports):
    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="int8")
    manifest = read_json(bundle / "manifest.json")
    assert manifest["target"] == "onnx" and manifest["precision"] == "int8"
    assert manifest["model"]["synthetic"] is True and "SYNTHETIC" in manifest["warning"]
    assert manifest["model"]["source"] == "synthetic:mixedbread-ai/mxbai-edge-colbert-v0-17m"
    assert {"torch", "onnx", "onnxruntime"} <= set(manifest["tools"])
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {"manifest.json"}
    assert files == {"model.onnx", "tokenizer.json", "colbert.json", "golden.json", "parity.json"}
    for name in files:
        assert manifest["files"][name] == sha256(bundle / name)
    settings = read_json(bundle / "colbert.json")
    assert settings["query_prefix_id"] == 50368 and settings["pad_token_id"] == 50284 and settings["dim"] == 48
    assert [i["name"] for i in settings["io"]["inputs"]] == ["input_ids", "attention_mask"]
    golden = read_json(bundle / "golden.json")
    assert settings["strip_codepoints"] == [c for c in range(0x110000) if chr(c).isspace()]
    assert [q["text"] for q in golden["queries"]] == parity_texts.golden_queries()
    assert [d["text"] for d in golden["documents"]] == parity_texts.golden_documents()
    assert set(parity_texts.TEXT_EDGES) <= {d["text"] for d in golden["documents"]}  # the self-test exercises preprocessing
    assert any(len(d["input_ids"]) > 128 for d in golden["documents"])
    assert np.asarray(golden["scores"]).shape == (len(golden["queries"]), len(golden["documents"]))


def test_int8_is_a_quarter_of_fp32_and_fp16_half(exports):
    _, out = exports.run(*SYNTHETIC)
    size = {p: read_json(out / MODEL_17M / f"onnx-{p}" / "manifest.json")["artifact_bytes"] for p in PRECISIONS}
    assert size["fp16"] < 0.52 * size["fp32"]
    assert size["int8"] < 0.28 * size["fp32"]  # the 77% embedding table is int8 too


def test_fp16_outputs_fp16_and_scores_in_fp32(exports):
    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp16")
    runtime = runtimes.load(bundle)
    assert runtime.engine.session.get_outputs()[0].type == "tensor(float16)"
    (q,) = runtime.encode_queries(["what causes the northern lights"])
    assert q.dtype == np.float32


def test_trained_checkpoint_holds_every_tier(exports, minilm_checkpoint):
    code, out = exports.run(*model_args("onnx", minilm_checkpoint))
    assert code == 0
    for precision in PRECISIONS:
        parity = read_json(out / "minilm-colbert" / f"onnx-{precision}" / "parity.json")
        assert parity["passed"], parity["failed"]
        manifest = read_json(out / "minilm-colbert" / f"onnx-{precision}" / "manifest.json")
        assert manifest["model"]["synthetic"] is False


def test_plain_dynamic_int8_fails_the_gate_on_trained_weights(exports, minilm_checkpoint):
    """The recipe most ColBERT ONNX exports ship: the gate must catch it, and publish nothing."""
    code, out = exports.run(*model_args("onnx", minilm_checkpoint, ("int8",)), "--int8-recipe", "dynamic")
    assert code == 1
    assert not (out / "minilm-colbert" / "onnx-int8").exists()
    report = read_json(out / "minilm-colbert" / "onnx-int8.FAILED-parity.json")
    assert not report["passed"] and any("maxsim_rel_err_p99" in f for f in report["failed"])
    assert report["metrics"]["cosine_min"] < TIERS["fp16"]["cosine_min"][1]
    assert not list((out / "minilm-colbert").glob(".*staging*"))


def test_all_targets_summary_table_and_progress(exports, capsys):
    code, out = exports.run("all", "--synthetic", "--size", "17m", "--precision", "fp32")
    captured = capsys.readouterr()
    assert code == 0
    header = next(line for line in captured.out.splitlines() if line.startswith("target"))
    assert "cos min" in header and "MaxSim p99" in header and "result" in header
    assert "SYNTHETIC" in captured.out
    rows = {tuple(line.split()[:2]): line for line in captured.out.splitlines()}
    from export.targets import TARGETS
    for target in TARGETS:  # `all` builds every registered target
        assert rows[(target, "fp32")].rstrip().endswith("PASS")
    progress = [line for line in captured.err.splitlines() if re.match(r"\[\s*\d+\.\ds\] ", line)]
    assert progress and all("SYNTHETIC" in line for line in progress)
    for target in TARGETS:
        assert (out / MODEL_17M / f"{target}-fp32" / "manifest.json").is_file()


def test_a_crash_mid_export_leaves_no_bundle(tmp_path, monkeypatch):
    from export import cli
    from export.targets import onnx as onnx_target

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(onnx_target, "export", crash)
    with pytest.raises(RuntimeError, match="simulated"):
        cli.main(["onnx", "--synthetic", "--precision", "fp32", "--out", str(tmp_path)])
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    from export import cli

    assert cli.main(["onnx", "--synthetic", "--precision", "int4", "--out", str(tmp_path)]) == 2
    assert cli.main(["onnx", "--synthetic", "--int8-recipe", "magic", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot build int4" in err and "no int8 recipe 'magic'" in err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_bench_reports_size_and_latency_per_bundle(exports, tmp_path, capsys):
    from export import cli

    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="int8")
    assert cli.main(["bench", "--runs", "2", str(bundle), str(tmp_path)]) == 1  # tmp_path is no bundle
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("onnx") and "tok)" in line)
    assert "gptq" in row and "(48 tok)" in row and "(512 tok)" in row
    assert "is not a bundle" in out
