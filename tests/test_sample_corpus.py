"""samples/sample-corpus.json is the one sample corpus: the iOS app's resource is a byte-for-byte copy that
`python -m spec.sample_corpus` writes, and `--check` names the copy when it is not."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from spec.sample_corpus import COMMAND, IOS_COPY, SOURCE

ROOT = Path(__file__).resolve().parents[1]
CHECK = [sys.executable, "-m", "spec.sample_corpus", "--check"]


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CHECK, "--root", str(root)], cwd=ROOT, capture_output=True, text=True)


def test_the_source_is_a_list_of_texts():
    texts = json.loads(SOURCE.read_text(encoding="utf-8"))
    assert isinstance(texts, list) and texts and all(isinstance(t, str) and t.strip() for t in texts)


def test_the_ios_apps_copy_is_the_source_byte_for_byte():
    result = check(ROOT)
    assert result.returncode == 0, result.stderr
    assert (ROOT / IOS_COPY).read_bytes() == SOURCE.read_bytes()


def test_check_fails_naming_an_altered_copy(tmp_path):
    (tmp_path / IOS_COPY).parent.mkdir(parents=True)
    shutil.copyfile(ROOT / IOS_COPY, tmp_path / IOS_COPY)
    assert check(tmp_path).returncode == 0
    (tmp_path / IOS_COPY).write_bytes(SOURCE.read_bytes().replace(b"\n", b"\r\n"))
    result = check(tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"stale: {IOS_COPY} (run {COMMAND})"]
