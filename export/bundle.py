"""Bundles: written in a staging directory, moved under their final name only once the gate passes."""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np

from runtimes.colbert import ColbertTokenizer, maxsim
from runtimes.manifest import MANIFEST, hash_files

from .model.checkpoint import Checkpoint
from .gate import parity_texts
from .gate.parity import TOP_K, Encoded, ParityReport
from .targets import Artifact

FORMAT_VERSION = 1
TOOLS = ("torch", "transformers", "tokenizers", "numpy")  # plus each target's TOOL_PACKAGES


def artifact_bytes(path: Path) -> int:
    """Size of an artifact: a file, or a directory such as an .mlpackage."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def bundle_name(target: str, precision: str) -> str:
    return f"{target}-{precision}"


def stage(out_root: Path, checkpoint: Checkpoint, target: str, precision: str) -> Path:
    """A fresh hidden staging directory beside where the bundle will end up."""
    parent = Path(out_root) / checkpoint.name
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{bundle_name(target, precision)}.staging-", dir=parent))


def _tool_versions(extra: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for dist in TOOLS + extra:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def golden(tokenizer: ColbertTokenizer, reference: Encoded, thresholds: dict) -> dict:
    """Texts, their model inputs, and the reference vectors and scores an app checks itself against."""
    queries, documents = parity_texts.queries(), parity_texts.documents()
    picked_queries = [queries.index(t) for t in parity_texts.golden_queries()]
    picked_documents = [documents.index(t) for t in parity_texts.golden_documents()]

    def entries(texts: list[str], picks: list[int], vectors: list[np.ndarray], is_query: bool) -> list[dict]:
        out = []
        for n in picks:
            ids, mask = tokenizer.encode([texts[n]], is_query)
            out.append({
                "text": texts[n],
                "input_ids": ids[0].tolist(),
                "attention_mask": mask[0].tolist(),
                "kept_positions": np.flatnonzero(tokenizer.keep(ids, mask, is_query)[0]).tolist(),
                "vectors": np.round(vectors[n].astype(np.float64), 7).tolist(),
            })
        return out

    q = entries(queries, picked_queries, reference.queries, True)
    d = entries(documents, picked_documents, reference.documents, False)
    scores = [[maxsim(reference.queries[i], reference.documents[j]) for j in picked_documents] for i in picked_queries]
    return {
        "about": "PyTorch fp32 reference vectors (after PyLate filtering) and their MaxSim scores; a self-test "
                 "applies the golden rule of spec/bundle.md with `tolerance`, the bundle's parity tier.",
        "tolerance": {k: {"op": op, "value": v} for k, (op, v) in thresholds.items()},
        "top_k": TOP_K,
        "queries": q,
        "documents": d,
        "scores": scores,
    }


def write_contents(staging: Path, checkpoint: Checkpoint, artifact: Artifact, golden_vectors: dict) -> None:
    shutil.copyfile(checkpoint.path / "tokenizer.json", staging / "tokenizer.json")
    settings = replace(checkpoint.settings, io=artifact.io)
    (staging / "colbert.json").write_text(settings.to_json())
    (staging / "golden.json").write_text(json.dumps(golden_vectors))


def write_manifest(staging: Path, checkpoint: Checkpoint, target: str, precision: str, artifact: Artifact,
                   tool_packages: tuple[str, ...] = ()) -> dict:
    manifest = {
        "format": FORMAT_VERSION,
        "target": target,
        "precision": precision,
        "artifact": artifact.file,
        "artifact_bytes": artifact_bytes(staging / artifact.file),
        "recipe": artifact.recipe,
        "details": artifact.details,
        "model": {
            "name": checkpoint.name,
            "source": checkpoint.source,
            "revision": checkpoint.revision,
            "synthetic": checkpoint.synthetic,
            "model_type": checkpoint.model_type,
        },
        "tools": _tool_versions(tool_packages),
        "files": hash_files(staging),
    }
    if checkpoint.synthetic:
        manifest["warning"] = "SYNTHETIC random weights: for plumbing tests only, not for retrieval"
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def finish(staging: Path, report: ParityReport, manifest: dict) -> Path:
    """Publish a passing bundle atomically; a failing one leaves only its parity report behind."""
    final = staging.parent / bundle_name(manifest["target"], manifest["precision"])
    model = manifest["model"]
    report_json = {"model": model["name"], "synthetic": model["synthetic"], **report.to_json()}
    if model["synthetic"]:
        report_json["warning"] = manifest["warning"]
    (staging / "parity.json").write_text(json.dumps(report_json, indent=2))
    failed_report = final.with_name(final.name + ".FAILED-parity.json")
    if not report.passed:
        shutil.copyfile(staging / "parity.json", failed_report)
        shutil.rmtree(staging)
        return failed_report
    manifest["files"] = hash_files(staging)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    failed_report.unlink(missing_ok=True)
    if final.exists():  # replace an older bundle: move it aside first so the swap is two renames
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        final.rename(old / final.name)
        staging.rename(final)
        shutil.rmtree(old)
    else:
        staging.rename(final)
    return final
