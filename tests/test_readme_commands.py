"""The README's offline export commands, run as written, exit 0 at every precision on every target.

Both run one after the other in a process of their own beside the session (conftest.py), each from a fresh
directory, so that `--out bundles` is the README's own path; the one with `--tokenizer` gets the mxbai
fixture for the README's placeholder path.
"""
from __future__ import annotations

from export.precision import PRECISIONS
from runtimes.targets import TARGETS
from tests.conftest import check_schemas, read_json, readme_offline_commands, synthetic_name


def _all_pass(summary: str) -> None:
    rows = {tuple(line.split()[:2]): line for line in summary.splitlines()}
    for target in TARGETS:
        for precision in PRECISIONS:
            assert "PASS" in rows[(target, precision)], rows.get((target, precision))
    assert summary.startswith("SYNTHETIC random weights")
    assert "top10_agreement is reported, not gated: on synthetic weights" in summary


def test_the_readme_shows_both_offline_commands():
    commands = readme_offline_commands()
    assert [c[:4] for c in commands] == [["all", "--size", "17m", "--synthetic"]] * 2
    assert ["--tokenizer" in c for c in commands] == [False, True]
    assert all(c[-2:] == ["--out", "bundles"] for c in commands)


def test_both_offline_commands_exit_0_at_every_precision(readme_runs):
    assert len(readme_runs) == 2
    for words, (code, cwd, stdout) in readme_runs.items():
        assert code == 0, (words, (cwd / "stderr.txt").read_text()[-3000:])
        _all_pass(stdout)
        check_schemas(cwd / "bundles")
        model = cwd / "bundles" / (synthetic_name() if "--tokenizer" in words else f"{synthetic_name()}-bytetok")
        assert sorted(p.name for p in model.iterdir()) == sorted(f"{t}-{p}" for t in TARGETS for p in PRECISIONS)
        report = read_json(model / "coreml-fp16" / "parity.json")
        assert "top10_agreement" not in report["thresholds"] and "top10_agreement" in report["metrics"]
        assert "near ties" in report["informational"]["top10_agreement"]
        golden = read_json(model / "coreml-fp16" / "golden.json")
        assert "top10_agreement" not in golden["tolerance"] and "cosine_min" in golden["tolerance"]
