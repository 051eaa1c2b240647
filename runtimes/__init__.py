"""Torch-free reference runtimes: load a bundle, encode, score and rank as an app would."""
from __future__ import annotations

from pathlib import Path

from .colbert import ColbertRuntime, ColbertSettings, ColbertTokenizer, maxsim, top_k
from .manifest import BundleError, read_manifest, verify_hashes
from .targets import TARGETS, engine_module

__all__ = ["load", "BundleError", "ColbertRuntime", "ColbertSettings", "maxsim", "top_k"]


def load(bundle_dir: str | Path, batch_size: int = 16, threads: int = 0) -> ColbertRuntime:
    """Verify a bundle's hashes and return a runtime for it (threads 0: the engine's default)."""
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    verify_hashes(bundle_dir, manifest)
    target = manifest.get("target")
    if target not in TARGETS:
        raise BundleError(f"{bundle_dir}: unknown target {target!r}; this runtime knows {', '.join(TARGETS)}")
    settings = ColbertSettings.from_file(bundle_dir / "colbert.json")
    if settings.io is None:
        raise BundleError(f"{bundle_dir}/colbert.json has no io section; re-export the bundle")
    engine = engine_module(target).load_engine(bundle_dir, settings, manifest, threads)
    tokenizer = ColbertTokenizer(bundle_dir / "tokenizer.json", settings)
    return ColbertRuntime(tokenizer, engine, batch_size=batch_size)
