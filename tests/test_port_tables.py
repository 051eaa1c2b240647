"""spec/port_tables.py, the one generator of every port's Unicode tables: the committed tables are what it writes
from spec/conformance/charclasses.jsonl, and `--check` names a table file that is not."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from spec.port_tables import COMMAND, GENERATED, JAVASCRIPT, KOTLIN, SOURCE, SWIFT, render

ROOT = Path(__file__).resolve().parents[1]
CHECK = [sys.executable, "-m", "spec.port_tables", "--check"]


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CHECK, "--root", str(root)], cwd=ROOT, capture_output=True, text=True)


def test_the_committed_tables_are_what_the_generator_writes():
    result = check(ROOT)
    assert result.returncode == 0, result.stderr
    rendered = render(SOURCE.read_bytes())
    assert sorted(rendered) == sorted([SWIFT, KOTLIN, JAVASCRIPT])
    assert all(GENERATED.encode() in data[:200] for data in rendered.values())  # each file names its generator


def test_check_fails_naming_an_altered_table_file_and_only_it(tmp_path):
    for path in (SWIFT, KOTLIN, JAVASCRIPT):
        (tmp_path / path).parent.mkdir(parents=True)
        shutil.copyfile(ROOT / path, tmp_path / path)
    assert check(tmp_path).returncode == 0
    altered = tmp_path / KOTLIN
    altered.write_bytes(altered.read_bytes().replace(b"[0,8]", b"[0,9]", 1))
    result = check(tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"stale: {KOTLIN} (run {COMMAND})"]


def test_the_generator_writes_a_missing_table_file(tmp_path):
    assert check(tmp_path).stderr.count("stale: ") == 3
    subprocess.run([sys.executable, "-m", "spec.port_tables", "--root", str(tmp_path)], cwd=ROOT, check=True)
    assert (tmp_path / SWIFT).read_bytes() == (ROOT / SWIFT).read_bytes()
    assert check(tmp_path).returncode == 0
