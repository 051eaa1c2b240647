"""Torch-free reference runtimes: load a bundle, encode, score and rank as an app would."""
from __future__ import annotations

import importlib
from pathlib import Path

from .colbert import ColbertRuntime, ColbertSettings, ColbertTokenizer, maxsim, top_k
from .manifest import BundleError, read_manifest, verify_hashes

# target name -> module with `load_engine(bundle_dir, settings, manifest, threads)`; imported lazily so an
# app that ships one target needs only that target's runtime package.
ENGINES = {"onnx": "runtimes.onnx", "executorch": "runtimes.executorch", "tflite": "runtimes.tflite",
           "coreml": "runtimes.coreml"}

__all__ = ["load", "BundleError", "ColbertRuntime", "ColbertSettings", "maxsim", "top_k"]


def load(bundle_dir: str | Path, batch_size: int = 16, threads: int = 0) -> ColbertRuntime:
    """Verify a bundle's hashes and return a runtime for it (threads 0: the engine's default)."""
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    verify_hashes(bundle_dir, manifest)
    target = manifest.get("target")
    if target not in ENGINES:
        raise BundleError(f"{bundle_dir}: unknown target {target!r}; this runtime knows {', '.join(ENGINES)}")
    settings = ColbertSettings.from_file(bundle_dir / "colbert.json")
    engine = importlib.import_module(ENGINES[target]).load_engine(bundle_dir, settings, manifest, threads)
    tokenizer = ColbertTokenizer(bundle_dir / "tokenizer.json", settings)
    return ColbertRuntime(tokenizer, engine, batch_size=batch_size)
