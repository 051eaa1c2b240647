"""One benchmark row, measured in a process of its own so that its peak RSS and cold start are its own.

    python bench_worker.py SPEC_JSON [OUT_NPZ]   (prints the measurements as one JSON line; with OUT_NPZ, also
                                                 saves the vectors that fidelity is measured on)

Standalone on purpose: the `pylate` kind runs in PyLate's own environment, which has neither this project
nor its pins. The other kinds (`bundle`, `peer`) import the project's torch-free runtime.

Kinds: `bundle` (an exported bundle through runtimes.load), `peer` (an ONNX file from pylate-onnx-export,
run by onnxruntime with the bundle's tokenizer and PyLate's conventions), `pylate` (PyLate's own
ColBERT.encode, torch eager fp32).

The memory the model adds: peak RSS while loading the row and encoding one query, above the RSS just
before (the runtime imported, two copies of the row's tokenizer already loaded), less what one more
tokenizer copy costs, since loading the row loads one. Linux only: it resets the peak through
/proc/self/clear_refs (the first tokenizer copy costs ~4x the second: library state is built once).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[2]


def _rss_mb(field: str) -> float | None:
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    line = next(line for line in status.read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def _reset_peak_rss() -> bool:
    """Start VmHWM afresh from the current RSS (Linux 4.0+); False where the kernel has no such switch."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: VmHWM, which starts afresh at exec (ru_maxrss is kept
    across exec, so a worker would report the larger parent it was forked from)."""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # macOS reports bytes


class _PeerEngine:
    """An ONNX model with inputs input_ids, attention_mask (and token_type_ids for BERT) and one output."""

    def __init__(self, path: str, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        return self.session.run(None, feed)[0]


def _through(runtime):
    """The project's runtime (length-sorted batches, PyLate's filtering) as an encode function."""
    return lambda texts, is_query, size: (runtime.encode_queries if is_query else runtime.encode_documents)(
        texts, batch_size=size)


def _encoders(spec: dict):
    """(import the runtime; load the model) -> encode(texts, is_query, batch_size) -> list of arrays."""
    kind, threads = spec["kind"], spec["threads"]
    if kind == "pylate":
        import torch
        from pylate import models

        torch.set_num_threads(threads)

        def load():
            model = models.ColBERT(model_name_or_path=spec["path"], device="cpu")
            return lambda texts, is_query, size: [np.asarray(v, np.float32) for v in model.encode(
                texts, is_query=is_query, batch_size=size, show_progress_bar=False)]
        return load
    sys.path.insert(0, str(PROJECT))
    import runtimes
    from runtimes.colbert import ColbertRuntime, ColbertSettings, ColbertTokenizer

    if kind == "bundle":
        manifest = json.loads((Path(spec["path"]) / "manifest.json").read_text())
        runtimes.engine_module(manifest["target"])
        __import__(runtimes.targets.TARGETS[manifest["target"]].library)

        def load():
            return _through(runtimes.load(spec["path"], threads=threads))
        return load
    if kind == "peer":
        __import__("onnxruntime")  # the baseline holds the runtime

        def load():
            bundle = Path(spec["tokenizer_bundle"])
            settings = ColbertSettings.from_file(bundle / "colbert.json")
            return _through(ColbertRuntime(ColbertTokenizer(bundle / "tokenizer.json", settings),
                                           _PeerEngine(spec["path"], threads)))
        return load
    raise SystemExit(f"unknown kind {kind!r}")


def _tokenizer(spec: dict):
    """The row's tokenizer, loaded as its `load` loads it."""
    if spec["kind"] == "pylate":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(spec["path"])
    from runtimes.colbert import ColbertSettings, ColbertTokenizer

    bundle = Path(spec["tokenizer_bundle"] if spec["kind"] == "peer" else spec["path"])
    return ColbertTokenizer(bundle / "tokenizer.json", ColbertSettings.from_file(bundle / "colbert.json"))


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _tokenizer_copies(spec: dict) -> tuple[list, float | None]:
    """Two copies of the row's tokenizer (the caller keeps them alive), and what the second one cost."""
    first = _tokenizer(spec)
    before = _rss_mb("VmRSS")
    second = _tokenizer(spec)
    after = _rss_mb("VmRSS")
    return [first, second], None if before is None else after - before


def _index_search(count: int, queries: list, documents: list) -> dict:
    """Search p50 over an index of `count` documents: the encoded corpus repeated, so the vector counts per
    document are the corpus's own."""
    from runtimes.index import Index

    index = Index.build([documents[n % len(documents)] for n in range(count)], list(range(count)), "0" * 64)
    search_ms = []
    for query in queries:
        t = time.perf_counter()
        index.search(query, 10)
        search_ms.append((time.perf_counter() - t) * 1e3)
    return {"index_search_p50_ms": statistics.median(search_ms), "index_documents": count,
            "index_vectors": int(len(index.vectors))}


def measure(spec: dict, out: str | None) -> dict:
    load = _encoders(spec)
    queries, documents, size = spec["queries"], spec["documents"], spec["batch_size"]
    tokenizers, tokenizer_mb = _tokenizer_copies(spec)  # held to the end: their memory stays below the mark
    resettable = _reset_peak_rss()
    before = _rss_mb("VmRSS")
    started = time.perf_counter()
    encode = load()
    encode(queries[:1], True, 1)
    result = {"cold_start_s": time.perf_counter() - started,
              "model_rss_mb": _peak_rss_mb() - before - tokenizer_mb if resettable and tokenizer_mb is not None else None}

    query_ms = []
    for _ in range(spec["query_passes"]):
        for text in queries:
            t = time.perf_counter()
            encode([text], True, 1)
            query_ms.append((time.perf_counter() - t) * 1e3)
    result.update(query_p50_ms=statistics.median(query_ms), query_p95_ms=_percentile(query_ms, 95))

    if spec["batch_1_documents"]:
        t = time.perf_counter()
        for text in documents:
            encode([text], False, 1)
        result["docs_per_s_batch_1"] = len(documents) / (time.perf_counter() - t)
    t = time.perf_counter()
    vectors = encode(documents, False, size)
    result["docs_per_s_batched"] = len(documents) / (time.perf_counter() - t)
    result["peak_rss_mb"] = _peak_rss_mb()
    if spec.get("index_documents") and spec["kind"] == "bundle":
        result.update(_index_search(spec["index_documents"], encode(queries, True, size), vectors))
    if out is None:
        return result

    query_vectors = encode(queries, True, size)
    arrays = {f"q{n}": v for n, v in enumerate(query_vectors)}
    arrays.update({f"d{n}": v for n, v in enumerate(vectors[: spec["fidelity_documents"]])})
    np.savez(out, **arrays)
    return result


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    spec_path, out_path = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    print(json.dumps(measure(json.loads(Path(spec_path).read_text()), out_path)))
