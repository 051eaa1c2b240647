"""`python -m export bench BUNDLE...`: artifact size and encoder latency per query and per document.

Latency is measured through each bundle's own runtime at batch 1, on a query padded to
query_length and a document filled to document_length (48 and 512 tokens for mxbai).
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

import runtimes
from runtimes.manifest import BundleError, read_manifest

from . import parity_texts
from .table import format_table


def _inputs(runtime, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
    length = runtime.settings.query_length if is_query else runtime.settings.document_length
    text = " ".join(parity_texts.DOCUMENTS * 4)
    ids, mask = runtime.tokenizer.encode([text], is_query)  # truncated to exactly `length`
    assert ids.shape[1] == length
    return ids, mask


def _median_ms(engine, ids: np.ndarray, mask: np.ndarray, is_query: bool, runs: int) -> float:
    engine.encode(ids, mask, is_query)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.encode(ids, mask, is_query)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def measure(bundle: Path, runs: int, threads: int = 0) -> dict:
    manifest = read_manifest(bundle)
    runtime = runtimes.load(bundle, threads=threads)
    q, d = _inputs(runtime, True), _inputs(runtime, False)
    return {
        "bundle": str(bundle),
        "target": manifest["target"],
        "precision": manifest["precision"],
        "recipe": manifest.get("details", {}).get("int8_recipe", "-"),
        "size_mb": manifest["artifact_bytes"] / 1e6,
        "query_tokens": q[0].shape[1],
        "query_ms": _median_ms(runtime.engine, *q, True, runs),
        "document_tokens": d[0].shape[1],
        "document_ms": _median_ms(runtime.engine, *d, False, runs),
    }


def run_bench(bundles: list[Path], runs: int, threads: int) -> int:
    rows, failed = [], False
    for bundle in bundles:
        try:
            m = measure(bundle, runs, threads)
        except BundleError as e:
            failed = True
            rows.append(["-", "-", "-", "-", "-", "-", f"{bundle}: {e}"])
            continue
        rows.append([m["target"], m["precision"], m["recipe"], f"{m['size_mb']:.1f}",
                     f"{m['query_ms']:.2f} ({m['query_tokens']} tok)", f"{m['document_ms']:.2f} ({m['document_tokens']} tok)",
                     m["bundle"]])
    print(format_table(rows, ["target", "precision", "recipe", "size MB", "query ms", "document ms", "bundle"]))
    return 1 if failed else 0
