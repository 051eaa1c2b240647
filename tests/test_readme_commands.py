"""The README's offline export commands, run as written, exit 0 at every precision on every target.

The one around the real tokenizer runs in-process (most tests read its ONNX bundles); the one around the
generated stand-in runs as its own process beside the session (conftest.py), from a fresh directory, so that
`--out bundles` is the README's own path.
"""
from __future__ import annotations


from runtimes.targets import PRECISIONS, TARGETS
from tests.conftest import README_SYNTHETIC, read_json, readme_offline_commands, synthetic_name


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


def test_offline_command_with_the_real_tokenizer(exports):
    code, out = exports.run(*README_SYNTHETIC)
    assert code == 0
    _all_pass(exports.output[README_SYNTHETIC].out)
    report = read_json(out / synthetic_name() / "coreml-fp16" / "parity.json")
    assert "top10_agreement" not in report["thresholds"] and "top10_agreement" in report["metrics"]
    assert "near ties" in report["informational"]["top10_agreement"]
    golden = read_json(out / synthetic_name() / "coreml-fp16" / "golden.json")
    assert "top10_agreement" not in golden["tolerance"] and "cosine_min" in golden["tolerance"]


def test_offline_command_with_the_generated_tokenizer(background_readme_runs):
    (words, (code, cwd, stdout)), = background_readme_runs.items()
    assert "--tokenizer" not in words
    assert code == 0, (cwd / "stderr.txt").read_text()[-3000:]
    _all_pass(stdout)
    model = cwd / "bundles" / f"{synthetic_name()}-bytetok"
    assert sorted(p.name for p in model.iterdir()) == sorted(f"{t}-{p}" for t in TARGETS for p in PRECISIONS)
