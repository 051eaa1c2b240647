"""`python -m export bench ... --compressed-at 1000,10000`: the index kinds side by side on one bundle, in a
process of its own with numpy on one thread. For each corpus size: the exact file (float32 and float16) and the
compressed one (8, 4 and 2 bits, each searched with 128, 256 and 512 candidates), each one's file size, build
time (after encoding), search p50 over the queries, and top-10 agreement with exact MaxSim (export/tools/index_corpus.py: documents and held-out queries).

    python export/tools/bench_index.py SPEC_JSON    (spec: bundle, sizes, threads; prints one JSON line)
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[2]
KINDS = (("exact", "float32", None), ("exact", "float16", None), ("compressed", None, 8), ("compressed", None, 4),
         ("compressed", None, 2))
CANDIDATES = (128, 256, 512)  # each compressed file searched with each: the fidelity bought by decompressing more


def _search_ms(index, queries: list[np.ndarray], **options) -> tuple[float, list[list[int]]]:
    times, hits = [], []
    for query in queries:
        t = time.perf_counter()
        found = index.search(query, 10, **options)
        times.append((time.perf_counter() - t) * 1e3)
        hits.append([h.index for h in found])
    return statistics.median(times), hits


def _agreement(want: list[list[int]], got: list[list[int]]) -> float:
    return float(np.mean([len(set(w) & set(g)) / len(w) for w, g in zip(want, got) if w]))


def measure(spec: dict) -> list[dict]:
    sys.path.insert(0, str(PROJECT))
    import runtimes
    from export.tools import index_corpus
    from runtimes.compressed_index import CompressedIndex
    from runtimes.index import Index

    runtime = runtimes.load(spec["bundle"], threads=spec.get("threads", 0))
    queries = runtime.encode_queries(index_corpus.queries())
    texts = index_corpus.documents(max(spec["sizes"]))
    started = time.perf_counter()
    documents = runtime.encode_documents(texts)
    encode_s = time.perf_counter() - started
    rows = []
    for size in sorted(spec["sizes"]):
        subset, reference = documents[:size], None
        for kind, dtype, bits in KINDS:
            t = time.perf_counter()
            if kind == "exact":
                index = Index.build(subset, list(range(size)), runtime.model_digest, dtype)
            else:
                index = CompressedIndex.build(subset, list(range(size)), runtime.model_digest, bits)
            build_s = time.perf_counter() - t
            size_bytes = len(index.to_bytes())
            for options in ([{}] if kind == "exact" else [{"candidates": c} for c in CANDIDATES]):
                p50, hits = _search_ms(index, queries, **options)
                reference = reference or hits
                detail = dtype or (f"{bits}-bit, {len(index.centroids)} centroids, {options['candidates']} "
                                   "candidates")
                rows.append({"documents": size, "kind": kind, "detail": detail, "bytes": size_bytes,
                             "build_s": build_s, "search_p50_ms": p50, "top10_agreement": _agreement(reference, hits),
                             "vectors": int(sum(len(d) for d in subset))})
    return [{"encode_s": encode_s, "queries": len(queries)}, *rows]


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(Path(sys.argv[1]).read_text()))))
