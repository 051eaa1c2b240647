"""Tiers that hold on weights and texts the tests never tuned to (experiments/robustness.py runs every case).

Here: ExecuTorch fp16 on a PyLate-default head (the seed nearest its bound); ONNX
fp16 on a checkpoint with no query prefix and query expansion; every fp16 and int8 bundle of the
trained run on the held-out texts; and the fp16 fallback on weights where one block's fp16 breaks, in both
fp16 forms.
"""
from __future__ import annotations

import shutil

import pytest

from export.gate import parity
from export.model.checkpoint import read_checkpoint
from export.pipeline import Exporter
from export.precision import TABLE
from export.targets import target as export_target
from export.verify import verify_bundle
from tests.conftest import TARGET_NAMES, read_json
from experiments.robustness import CASES, build_checkpoint, measure

# In CI: the seed whose fp16 came nearest its bound (93% of its room before the score floor, which took the
# fallback; 46% with it); `python -m experiments.robustness` runs all
# five seeds and the scaled head on every target.
SEEDS = ["seed4"]
pytestmark = pytest.mark.export  # every case exports: not the fast tier
BROKEN_BLOCK = "backbone.layers.2.attn"


@pytest.fixture(scope="session")
def robustness_root(tmp_path_factory):
    return tmp_path_factory.mktemp("robustness")


def _checkpoint(pylate, root, name):
    return build_checkpoint(pylate, CASES[name], root / "checkpoints" / f"minilm-{name}")


def _report(rows) -> str:
    def one(r) -> str:
        held = f"held-out {max(r.held_out_room.values()):.0%}" if r.held_out_room else "refused"
        return (f"{r.checkpoint} {r.target} {r.precision}: room used gate {max(r.gate_room.values()):.0%}, {held}, "
                f"kept {r.kept or '-'}")
    return "; ".join(one(r) for r in rows if r.gate_room)


@pytest.mark.parametrize("name", SEEDS)
def test_executorch_fp16_holds_on_pylate_default_heads(pylate, robustness_root, name, capsys):
    rows = measure(_checkpoint(pylate, robustness_root, name), ["executorch"], ["fp16"], robustness_root / "out",
                   lambda message: None)
    with capsys.disabled():
        print(f"\n  {_report(rows)}")
    assert rows[0].error is None
    assert rows[0].gate_passed, rows[0]
    assert rows[0].held_out_passed, rows[0].held_out_metrics


def test_no_query_prefix_with_expansion_holds_fp16_on_held_out_texts(pylate, robustness_root, capsys):
    """Its near-zero MaxSim pairs are taken against the score floor. (Its int8 reaches the tier only by a scrape
    even with six layers in float, so the gate refuses it: `python -m experiments.robustness` shows that, since ranking
    its 37 layers costs minutes; test_onnx_export.py tests the refusal itself.)"""
    rows = measure(_checkpoint(pylate, robustness_root, "no-query-prefix"), ["onnx"], ["fp16"],
                   robustness_root / "out", lambda message: None)
    with capsys.disabled():
        print(f"\n  {_report(rows)}")
    assert [(r.error, r.gate_passed, r.held_out_passed) for r in rows] == [(None, True, True)], rows


@pytest.mark.parametrize("target", TARGET_NAMES)
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_trained_bundles_hold_their_tier_on_held_out_texts(trained_run, target, precision):
    bundle = trained_run.bundle(target, precision)
    problems, reports = verify_bundle(bundle, False, lambda message: None, held_out=True)
    assert problems == []
    assert reports[0].texts == {"queries": 32, "documents": 43}
    assert read_json(bundle / "parity.json")["margin"]["within"]  # the gate stopped inside the margin


@pytest.fixture(scope="session")
def tiny_values(builds):
    """An exporter of the 17m architecture where layer 2's attention holds fp16-subnormal value weights (fp32
    unchanged: tests/checkpoints.py)."""
    path = builds.checkpoint("tiny-values")
    exporter = Exporter(read_checkpoint(path, source=str(path)), builds.root / "tiny-values-out", lambda message: None)
    yield exporter
    exporter.close()


@pytest.mark.parametrize("target, fixture", [("executorch", "tiny_values_executorch_run"),
                                             ("coreml", "tiny_values_coreml_run")])
def test_fp16_fallback_keeps_the_broken_block_in_fp32(request, target, fixture):
    """With every block in fp16 the bundle misses the tier; the fallback finds the block (ranked in each fp16
    form: ExecuTorch's weights, Core ML's compute), keeps it in fp32, and names it. (The run's fixture is a
    parameter by name, so that the session orders the test after the run: conftest.fixtures_of.)"""
    run = request.getfixturevalue(fixture)
    assert run.code == 0, run.output.stderr[-2000:]
    assert f"[{target} fp16] missed the fp16 tier" in run.output.stderr
    bundle = run.bundle(target, "fp16")
    report = read_json(bundle / "parity.json")
    kept = report["fp16_fp32_blocks"]
    assert report["passed"] and report["margin"]["within"]
    assert kept[0] == BROKEN_BLOCK
    assert read_json(bundle / "manifest.json")["details"]["fp16_fp32_blocks"] == kept


@pytest.mark.parametrize("target", ["onnx", "tflite"])
def test_fp16_blocks_kept_in_fp32_are_honoured_by_the_other_targets(tiny_values, target):
    """The block the fallback keeps, given directly (ranking it again costs a minute): the bundle then holds
    the tier that the test above sees missed with every block in fp16."""
    attempt = tiny_values._attempt(export_target(target), f"[{target} fp16]", TABLE["fp16"], (BROKEN_BLOCK,))
    shutil.rmtree(attempt.staging)
    assert attempt.report.passed, attempt.report.failed
    assert attempt.manifest["details"]["fp16_fp32_blocks"] == [BROKEN_BLOCK]


def test_margin_is_the_share_of_each_bound_used():
    thresholds = TABLE["fp16"].tier
    used = parity.room_used({"cosine_min": 0.9995, "maxsim_rel_err_p99": 7.5e-4, "maxsim_rel_err_max": 8e-3,
                             "top10_agreement": 1.0}, thresholds)
    assert used == pytest.approx({"cosine_min": 0.5, "maxsim_rel_err_p99": 0.25, "maxsim_rel_err_max": 0.8,
                                  "top10_agreement": 0.0})
