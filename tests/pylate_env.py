"""PyLate 1.6 in a venv of its own, built once and kept in pytest's cache, and the worker that runs in it.

PyLate 1.6 pins transformers <= 5.3 and, through fast-plaid, torch 2.11; the project pins newer ones.
`pylate.models` imports neither fast-plaid nor its other index dependencies, so the venv takes PyLate
without its dependencies, adds what `pylate.models` imports, and shares the project's torch through
--system-site-packages (about 35 s to build, against a 4.5 GB torch 2.11 download otherwise).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

PYLATE = "pylate==1.6.0"
PEER = "pylate-onnx-export==0.1.0"  # the peer exporter the benchmark compares with; it needs only pylate.models
# what `from pylate import models` imports, every package pinned with its hashes (requirements/pylate.in says why
# these versions; `requirements/lock` regenerates it)
MODELS_LOCK = Path(__file__).resolve().parents[1] / "requirements" / "pylate.txt"
WORKER = Path(__file__).with_name("pylate_worker.py")
READY = "ready.json"


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                   check=True, timeout=1800)


def pylate_python(cache_dir: Path) -> Path:
    """The venv's interpreter, building the venv first unless a complete one for this spec is cached."""
    spec = json.dumps([sys.version, PYLATE, PEER, MODELS_LOCK.read_text()])
    venv = Path(cache_dir) / f"pylate-venv-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    python = venv / "bin" / "python"
    if (venv / READY).is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)  # a build that was cut short
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    _pip(python, "--no-deps", PYLATE, PEER)
    _pip(python, "--require-hashes", "-r", str(MODELS_LOCK))
    (venv / READY).write_text(spec)
    return python


class PyLate:
    """PyLate's own ColBERT.save and ColBERT.encode, run in its venv."""

    def __init__(self, python: Path):
        self.python = python

    def _run(self, *args: str) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        result = subprocess.run([str(self.python), str(WORKER), *args], capture_output=True, text=True, env=env,
                                timeout=1800)
        if result.returncode:
            raise RuntimeError(f"PyLate worker {args[0]} failed:\n{result.stderr[-4000:]}")

    def save(self, source: Path, dest: Path, **settings) -> Path:
        """A checkpoint written by models.ColBERT(source, **settings).save(dest)."""
        self._run("save", str(source), str(dest), json.dumps(settings))
        return dest

    def tokenize(self, model: Path, texts: list[str], workdir: Path) -> list[dict]:
        """[{"query": {"input_ids", "attention_mask"}, "document": {...}}] from PyLate's tokenize, each text alone."""
        source, out = workdir / "texts.json", workdir / "tokens.json"
        source.write_text(json.dumps(texts), encoding="utf-8")
        self._run("tokenize", str(model), str(source), str(out))
        return json.loads(out.read_text(encoding="utf-8"))

    def encode(self, model: Path, queries: list[str], documents: list[str], workdir: Path) -> dict:
        """{"queries": [(vectors, kept ids)], "documents": [...]} from PyLate's encode."""
        texts, out = workdir / "texts.json", workdir / "pylate.npz"
        texts.write_text(json.dumps({"queries": queries, "documents": documents}), encoding="utf-8")
        self._run("encode", str(model), str(texts), str(out))
        with np.load(out) as arrays:
            return {kind: [(arrays[f"{kind}/{n}/vectors"], arrays[f"{kind}/{n}/ids"]) for n in range(len(items))]
                    for kind, items in (("queries", queries), ("documents", documents))}
