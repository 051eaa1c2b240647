"""Writes files generated for the ports under a root, or with `--check` names those that differ.

Shared by the generators that keep port files in step with one source (`spec/port_tables.py`,
`spec/sample_corpus.py`), so that each only says what it renders and where.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stale(files: dict[str, bytes], root: Path) -> list[str]:
    """The paths under `root` whose bytes are not the rendered ones (a missing file is stale too)."""
    return [path for path, data in files.items()
            if not (root / path).is_file() or (root / path).read_bytes() != data]


def write(files: dict[str, bytes], root: Path) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)  # bytes, so no platform turns "\n" into "\r\n"


def main(argv: list[str], files: dict[str, bytes], command: str, about: str) -> int:
    """The generators' command line: write `files` under --root (the repository by default), or --check them."""
    parser = argparse.ArgumentParser(prog=command, description=about)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale file")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the port files are (default: this repository)")
    args = parser.parse_args(argv)
    if not args.check:
        write(files, args.root)
        return 0
    paths = stale(files, args.root)
    for path in paths:
        print(f"stale: {path} (run {command})", file=sys.stderr)
    return 1 if paths else 0
