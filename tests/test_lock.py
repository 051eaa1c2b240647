"""The locks in requirements/ still satisfy pyproject.toml and pylate.in: uv resolves them again, taking the
committed pins as its preferences, and must give back the same pins. A change to a requirement that the locked
versions no longer meet moves a pin, and this test names it."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
LOCKS = ("test.txt", "pylate.txt")
PIN = re.compile(r"^([A-Za-z0-9_.-]+==[^\s\\]+(?: ; [^\\]+?)?)\s*\\?$", re.M)


def pins(path: Path) -> set[str]:
    """`name==version ; marker` of every locked package (hashes left out: a new wheel of a pinned version is not
    a change of version)."""
    return set(PIN.findall(path.read_text()))


def test_every_lock_pins_each_package_with_its_hashes():
    for name in LOCKS:
        text = (REQUIREMENTS / name).read_text()
        blocks = re.split(r"^(?=[A-Za-z0-9_.-])", text, flags=re.M)[1:]  # one per requirement
        assert len(blocks) == len(pins(REQUIREMENTS / name)) > 50, f"{name}: a requirement is not pinned with =="
        assert [b.split()[0] for b in blocks if "--hash=sha256:" not in b] == [], f"{name}: a pin has no hash"


@pytest.mark.skipif(shutil.which("uv") is None, reason="no uv: pip install -r requirements/test.txt brings it")
def test_the_locks_are_what_uv_resolves_from_the_requirements(tmp_path):
    for name in LOCKS:
        shutil.copy(REQUIREMENTS / name, tmp_path / name)  # uv keeps the pins it can as preferences
    done = subprocess.run([str(REQUIREMENTS / "lock"), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in LOCKS:
        committed, resolved = pins(REQUIREMENTS / name), pins(tmp_path / name)
        assert committed == resolved, (f"requirements/{name} is stale: run requirements/lock and commit it "
                                       f"(drops {sorted(committed - resolved)[:5]}, adds {sorted(resolved - committed)[:5]})")
