"""Applies the bad-bundle mutations of spec/conformance/bad-bundles.jsonl to a copy of a real bundle.

This is the Python harness's reading of the ops the spec names; every port's test applies the same ops."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from runtimes.manifest import MANIFEST, read_manifest
from tests.conftest import flip_byte, rehash


def artifact_paths(bundle: Path) -> dict[str, Path]:
    """$artifact: the artifact (a file or a directory); $artifact_file: it, or its largest file."""
    artifact = bundle / read_manifest(bundle)["artifact"]
    largest = max(artifact.rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else -1) if artifact.is_dir() else artifact
    return {"$artifact": artifact, "$artifact_file": largest}


def _set(data, path: list, value) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _delete(data, path: list) -> None:
    for key in path[:-1]:
        data = data[key]
    del data[path[-1]]


def apply(bundle: Path, mutation: dict, rehash_after: bool) -> None:
    name = mutation["file"]
    path = artifact_paths(bundle)[name] if name.startswith("$") else bundle / name
    op = mutation["op"]
    if op == "flip_byte":
        flip_byte(path, mutation["offset"])
    elif op == "delete":
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif op == "write":
        path.write_text(mutation["text"], encoding="utf-8")
    elif op == "truncate":
        path.write_bytes(path.read_bytes()[: mutation["bytes"]])
    elif op in ("set_json", "delete_json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        _set(data, mutation["path"], mutation["value"]) if op == "set_json" else _delete(data, mutation["path"])
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        raise ValueError(f"unknown mutation op {op!r}")
    if rehash_after and (bundle / MANIFEST).is_file():
        rehash(bundle)
