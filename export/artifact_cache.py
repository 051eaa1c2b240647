"""Converted artifacts kept by what went into them, for runs that convert the same thing again.

Off unless MXBAI_EXPORT_ARTIFACT_CACHE names a directory. A conversion is fully determined by the target, the
precision, what the fallback keeps, the checkpoint's settings and sequence bound, every weight of the export
encoder (and, for int8, every int8 weight), the converters' versions and this package's own code: the key
hashes all of them. The gate still runs on a reused artifact, against this run's reference, as on a fresh one.
Re-exporting a checkpoint after a change of tokenizer, of `--precision` or of a failed gate's options then
converts only what changed; so do the tests, whose runs share synthetic weights.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import torch

from runtimes.iospec import IoSpec

from .precision import Precision
from .targets import Artifact, ExportContext, ExportTarget

ENV = "MXBAI_EXPORT_ARTIFACT_CACHE"
CODE = Path(__file__).resolve().parent
TOOLS = ("torch", "numpy")


def cache_root() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


@functools.cache  # the code does not change within a process; read once, not per conversion
def _code_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([*CODE.rglob("*.py"), *CODE.rglob("*.json")]):  # the texts too: calibration shapes int8
        digest.update(path.relative_to(CODE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _versions(target: ExportTarget) -> dict[str, str | None]:
    out = {}
    for dist in TOOLS + tuple(target.tool_packages):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _tensors(digest, named: dict[str, object]) -> None:
    for name in sorted(named):
        value = named[name]
        array = value.detach().cpu().contiguous().numpy() if isinstance(value, torch.Tensor) else value
        digest.update(f"{name}|{array.dtype}|{array.shape}".encode() + b"\0")
        digest.update(array.tobytes())


def key(target: ExportTarget, context: ExportContext, precision: Precision) -> str:
    digest = hashlib.sha256()
    settings = asdict(context.settings) | {"io": None}  # io is what the conversion gives back
    digest.update(json.dumps({"target": target.name, "precision": precision.name, "settings": settings,
                              "max_sequence": context.max_sequence, "kept": list(context.kept),
                              "versions": _versions(target), "code": _code_digest()}, sort_keys=True).encode())
    _tensors(digest, dict(context.encoder.state_dict()))
    if precision.uses_int8_encoder:
        weights = context.int8_weights()
        _tensors(digest, {f"{name}.values": w.values for name, w in weights.items()}
                 | {f"{name}.scale": w.scale for name, w in weights.items()})
    return digest.hexdigest()


def load(root: Path, cache_key: str, out_dir: Path) -> Artifact | None:
    """The cached artifact copied into out_dir, or None when there is none."""
    entry = root / cache_key
    if not (entry / "artifact.json").is_file():
        return None
    data = json.loads((entry / "artifact.json").read_text())
    source, dest = entry / data["file"], Path(out_dir) / data["file"]
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        shutil.copyfile(source, dest)
    return Artifact(data["file"], IoSpec.from_dict(data["io"]), data["recipe"], data["details"])


def store(root: Path, cache_key: str, out_dir: Path, artifact: Artifact) -> None:
    """Kept whole or not at all: written beside, then renamed into place."""
    root.mkdir(parents=True, exist_ok=True)
    if (root / cache_key).exists():
        return
    scratch = Path(tempfile.mkdtemp(prefix=f".{cache_key[:12]}-", dir=root))
    try:
        source = Path(out_dir) / artifact.file
        if source.is_dir():
            shutil.copytree(source, scratch / artifact.file)
        else:
            shutil.copyfile(source, scratch / artifact.file)
        (scratch / "artifact.json").write_text(json.dumps({"file": artifact.file, "io": artifact.io.to_dict(),
                                                           "recipe": artifact.recipe, "details": artifact.details}))
        os.rename(scratch, root / cache_key)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)  # another run stored it first, or the disk is full: not kept
