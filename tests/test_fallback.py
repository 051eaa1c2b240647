"""The fp16 / int8 fallback never publishes, or reports, a bundle worse than the best it measured.

The case is built to mislead the ranking, as Core ML's fp16 compute did on a trained checkpoint (issue 35): the
PyTorch form predicts that keeping blocks in fp32 brings the bundle inside the margin, and the target measures
it worse. The target here is a labelled test double: its gate results are scripted (the blocks kept -> the
room used), so that the retries' order and the choice between them are what is tested; the real targets'
fallbacks run in test_robustness.py and test_onnx_export.py.
"""
from __future__ import annotations

import pytest

from export.precision import fp16
from export import pipeline
from export.model.checkpoint import read_checkpoint
from export.cli import summary
from export.gate.parity import ParityReport
from export.pipeline import Attempt, Exporter
from export.precision import TABLE
from export.model.synthetic import write_synthetic
from tests.conftest import FIXTURE_TOKENIZER, read_json

BOUND = TABLE["fp16"].tier["maxsim_rel_err_max"][1]
BLOCKS = [f"backbone.layers.{n}.attn" for n in range(8)]


class ScriptedTarget:
    """A test double of an export target: its name and fp16 form only; the Exporter below scripts its gate."""
    name = "onnx"
    fp16_form = "compute"


class ScriptedExporter(Exporter):
    """The real fallback, over scripted measurements: `rooms` maps the number of blocks kept to the MaxSim room
    used that the target "measures" (`groups` for each of export.precision.fp16's groups, in order); the PyTorch ranking is
    BLOCKS in order and predicts the first retry."""

    def __init__(self, checkpoint, out_root, rooms: dict[int, float], predicted: int, groups: tuple[float, ...]):
        self.lines: list[str] = []
        super().__init__(checkpoint, out_root, self.lines.append)
        self.predicted, self.attempts = predicted, []
        self.group_sizes = [len(blocks) for _, blocks in fp16.groups(self.encoder)]
        self.rooms = {**rooms, **dict(zip(self.group_sizes, groups))}

    def _ranked(self, target, precision):
        return BLOCKS

    def _next_count(self, target, precision, ranked, first, tried):
        return self.predicted if tried == 0 else tried + 1

    def _attempt(self, target, tag, precision, kept):
        self.attempts.append(len(kept))
        staging = pipeline.bundle.stage(self.out_root, self.checkpoint, target.name, precision.name)
        (staging / "model.onnx").write_bytes(b"scripted")
        error = self.rooms[len(kept)] * BOUND
        report = ParityReport(precision.name, error <= BOUND, {"cosine_min": 1.0, "maxsim_rel_err_p99": 0.0,
                                                          "maxsim_rel_err_max": error, "top10_agreement": 1.0}, {}, dict(precision.tier))
        report.failed = [] if report.passed else [f"maxsim_rel_err_max={error:.6g} (needs <= {BOUND})"]
        report.kept = list(kept)
        manifest = {"target": target.name, "precision": precision.name, "details": {"fp16_fp32_blocks": list(kept)},
                    "model": {"name": self.checkpoint.name, "synthetic": False}}
        return Attempt(staging, manifest, report, 8)


@pytest.fixture(scope="module")
def checkpoint():
    path = write_synthetic("17m", FIXTURE_TOKENIZER)
    return read_checkpoint(path, source=str(path))


def build(checkpoint, tmp_path, monkeypatch, rooms: dict[int, float], predicted: int, groups=(1.5, 1.5)):
    monkeypatch.setattr(pipeline.targets, "target", lambda name: ScriptedTarget())
    exporter = ScriptedExporter(checkpoint, tmp_path, rooms, predicted, groups)
    try:
        return exporter.build("onnx", "fp16"), exporter
    finally:
        exporter.close()


def test_a_retry_measured_worse_than_the_first_attempt_is_not_the_answer(checkpoint, tmp_path, monkeypatch):
    """Issue 35's shape: the first attempt misses by 0.01%, the predicted six blocks measure 117%, and the groups
    worse still: the first attempt's report is the one refused, and the summary says why the fallback could not
    help."""
    result, exporter = build(checkpoint, tmp_path, monkeypatch, {0: 1.0001, 6: 1.17}, predicted=6)
    assert exporter.attempts == [0, 6, *exporter.group_sizes]
    assert not result.passed and result.report.kept == []
    assert result.report.metrics["maxsim_rel_err_max"] == pytest.approx(1.0001 * BOUND)
    failed = read_json(tmp_path / checkpoint.name / "onnx-fp16.FAILED-parity.json")
    assert failed["fp16_fp32_blocks"] == [] and failed["metrics"]["maxsim_rel_err_max"] == pytest.approx(1.0001 * BOUND)
    ffn, linear = exporter.group_sizes
    assert result.note.startswith("the fallback could not help: every retry measured worse than the first "
                                  f"attempt's 100% (6 blocks in fp32: room used 117%; {ffn} blocks in fp32: room used "
                                  f"150%; {linear} blocks in fp32: room used 150%)")
    assert any("measured worse with 6 blocks in fp32: room used 117%, against 100% before" in line
               for line in exporter.lines)
    assert f"onnx fp16: {result.note}" in summary([result], synthetic=True)
    assert not list((tmp_path / checkpoint.name).glob(".*staging*"))


def test_a_group_measured_better_is_kept_when_the_ranked_blocks_are_not(checkpoint, tmp_path, monkeypatch):
    """fp16 error spread over every layer: the ranked blocks measure worse, every feed-forward block in fp32
    brings it inside the margin, and that bundle is published naming every block it keeps."""
    result, exporter = build(checkpoint, tmp_path, monkeypatch, {0: 1.07, 6: 1.17}, predicted=6, groups=(0.55, 0.3))
    ffn_blocks = fp16.groups(exporter.encoder)[0][1]
    assert exporter.attempts == [0, 6, len(ffn_blocks)]
    assert result.passed and result.report.kept == list(ffn_blocks) and result.note == ""
    assert read_json(result.path / "parity.json")["fp16_fp32_blocks"] == list(ffn_blocks)
    assert any(line.endswith("; keeping every feed-forward block in fp32") for line in exporter.lines)


def test_the_best_retry_is_kept_when_a_later_one_is_worse(checkpoint, tmp_path, monkeypatch):
    """Two blocks bring it to 85% (still past the margin), three make it worse (120%): the ranking has
    mispredicted, so the groups come next; neither beats two blocks, and the two-block bundle is the one the
    margin refuses, not the last one tried."""
    result, exporter = build(checkpoint, tmp_path, monkeypatch, {0: 1.3, 2: 0.85, 3: 1.2, 4: 0.5}, predicted=2,
                             groups=(0.9, 0.95))
    assert exporter.attempts == [0, 2, 3, *exporter.group_sizes]
    assert not result.passed and result.report.kept == BLOCKS[:2] and result.note == ""
    assert "without margin" in result.report.failed[-1]


def test_ranked_retries_go_on_while_each_measures_better(checkpoint, tmp_path, monkeypatch):
    """Each retry better than the last but outside the margin until five blocks: published with five."""
    rooms = {0: 1.3, 2: 1.1, 3: 0.95, 4: 0.85, 5: 0.6}
    result, exporter = build(checkpoint, tmp_path, monkeypatch, rooms, predicted=2)
    assert exporter.attempts == [0, 2, 3, 4, 5]
    assert result.passed and result.report.kept == BLOCKS[:5] and result.note == ""
    assert read_json(result.path / "parity.json")["fp16_fp32_blocks"] == BLOCKS[:5]
