"""Bundle manifests: what a bundle holds and the sha256 of every file. Shared by exporter and apps."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"
FORMATS = (1,)  # bundle format versions this runtime reads (spec/bundle.md, "Format version")

# The error kinds every reader tells apart (spec/bundle.md, "Errors"), and the conformance vectors name.
ERROR_KINDS = ("not_a_bundle", "missing_file", "tampered", "unlisted_file", "unknown_format", "malformed",
               "mistyped_field", "unknown_tokenizer_component", "unknown_target", "unreadable_model")


class BundleError(Exception):
    """A bundle that cannot be trusted or run; `kind` is one of ERROR_KINDS, the message says what to do."""

    def __init__(self, message: str, kind: str = "unreadable_model"):
        assert kind in ERROR_KINDS, kind
        super().__init__(message)
        self.kind = kind


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


def read_json_file(path: Path) -> object:
    """A bundle's JSON file; BundleError (malformed) when it is not UTF-8 JSON."""
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        reason = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8"
        raise BundleError(f"{path} is not valid JSON ({reason}); re-export the bundle", "malformed") from None


def read_manifest(bundle_dir: Path) -> dict:
    """manifest.json, with its format version and file list checked."""
    path = Path(bundle_dir) / MANIFEST
    if not path.is_file():
        raise BundleError(f"{bundle_dir} is not a bundle: no {MANIFEST} (re-run the export)", "not_a_bundle")
    manifest = read_json_file(path)
    if not isinstance(manifest, dict):
        raise BundleError(f"{path} is not a JSON object; re-export the bundle", "malformed")
    version = manifest.get("format")
    if type(version) is not int or version not in FORMATS:
        raise BundleError(f"{path}: bundle format {version!r} is not one this runtime reads "
                          f"({', '.join(map(str, FORMATS))}); re-export the bundle, or upgrade the runtime",
                          "unknown_format")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise BundleError(f"{path}: 'files' must map each file to its sha256; re-export the bundle", "mistyped_field")
    for key in ("target", "precision", "artifact"):
        if not isinstance(manifest.get(key), str):
            raise BundleError(f"{path}: '{key}' must be a string; re-export the bundle", "mistyped_field")
    return manifest


def model_files(manifest: dict) -> dict[str, str]:
    """The files an encoding depends on: the artifact (a file, or every file of a directory artifact),
    tokenizer.json and colbert.json, each with its sha256 from the manifest."""
    artifact = manifest["artifact"]
    return {path: digest for path, digest in sorted(manifest["files"].items())
            if path in ("tokenizer.json", "colbert.json", artifact) or path.startswith(artifact + "/")}


def model_digest(manifest: dict) -> str:
    """sha256 of the lines '<path>\t<sha256>\n' of model_files, sorted by path: what an index is tied to."""
    lines = "".join(f"{path}\t{digest}\n" for path, digest in model_files(manifest).items())
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def verify_hashes(bundle_dir: Path, manifest: dict) -> None:
    """Raise BundleError unless the bundle holds exactly the files the manifest lists, unchanged."""
    expected: dict[str, str] = manifest.get("files", {})
    actual = hash_files(bundle_dir)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(f for f in expected.keys() & actual.keys() if expected[f] != actual[f])
    if missing:
        raise BundleError(f"{bundle_dir}: missing {', '.join(missing)}; the bundle is incomplete, re-export it",
                          "missing_file")
    if changed:
        raise BundleError(f"{bundle_dir}: sha256 mismatch for {', '.join(changed)}; the bundle was modified, "
                          "re-export it", "tampered")
    if extra:
        raise BundleError(f"{bundle_dir}: unlisted files {', '.join(extra)}; remove them or re-export", "unlisted_file")
