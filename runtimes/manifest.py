"""Bundle manifests: what a bundle holds and the sha256 of every file. Shared by exporter and apps."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"


class BundleError(Exception):
    """A bundle that cannot be trusted or run; the message says what to do."""


def first_line(error: BaseException) -> str:
    """The first line of a library's error message, for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_files(bundle_dir: Path) -> dict[str, str]:
    """sha256 of every file under the bundle except the manifest itself, by relative path."""
    bundle_dir = Path(bundle_dir)
    return {
        p.relative_to(bundle_dir).as_posix(): sha256(p)
        for p in sorted(bundle_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def read_manifest(bundle_dir: Path) -> dict:
    path = Path(bundle_dir) / MANIFEST
    if not path.is_file():
        raise BundleError(f"{bundle_dir} is not a bundle: no {MANIFEST} (re-run the export)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise BundleError(f"{path} is not valid JSON ({e.msg}); re-run the export") from None


def verify_hashes(bundle_dir: Path, manifest: dict) -> None:
    """Raise BundleError unless the bundle holds exactly the files the manifest lists, unchanged."""
    expected: dict[str, str] = manifest.get("files", {})
    actual = hash_files(bundle_dir)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(f for f in expected.keys() & actual.keys() if expected[f] != actual[f])
    if missing:
        raise BundleError(f"{bundle_dir}: missing {', '.join(missing)}; the bundle is incomplete, re-export it")
    if changed:
        raise BundleError(f"{bundle_dir}: sha256 mismatch for {', '.join(changed)}; the bundle was modified, re-export it")
    if extra:
        raise BundleError(f"{bundle_dir}: unlisted files {', '.join(extra)}; remove them or re-export")
