"""golden.json's one rule (spec/bundle.md, "The golden rule"): what `verify` and every port's self-test apply.

1. Each golden text, tokenised alone as its kind, gives exactly the file's input_ids, attention_mask and
   kept_positions.
2. The encoder's kept vectors of each text have the file's count; every vector's cosine with the file's is
   taken (float64).
3. MaxSim of every query with every document, from the encoded vectors (fp32 sums), against the file's
   `scores`: relative error |got - expected| / max(|expected|, SCORE_FLOOR).
4. top10_agreement: per query, the share of the file's top-k documents (k = min(top_k, documents), ranked by
   score, ties to the lower index) that are also in the encoded top-k; the mean over queries.
5. Every metric named in `tolerance` meets its bound.

Steps 2 to 5 are runtimes/metrics.py's, which the parity gate measures with too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .colbert import ColbertRuntime
from .fields import integer, list_of, obj, require, string
from .manifest import BundleError, read_json_file
from .metrics import cosines, missed_bounds, score_matrix, summary

DEFAULT_TOP_K = 10  # golden files written before `top_k` was recorded
ENTRY_FIELDS = {"text": string, "input_ids": list_of(integer), "attention_mask": list_of(integer),
                "kept_positions": list_of(integer), "vectors": list_of(list_of(lambda v: isinstance(v, (int, float))))}
GOLDEN_FIELDS = {"tolerance": obj, "queries": list_of(obj), "documents": list_of(obj),
                 "scores": list_of(list_of(lambda v: isinstance(v, (int, float))))}
METRICS = ("cosine_min", "cosine_mean", "maxsim_rel_err_max", "maxsim_rel_err_p99", "top10_agreement")


@dataclass(frozen=True)
class Golden:
    tolerance: dict[str, tuple[str, float]]
    queries: list[dict]
    documents: list[dict]
    scores: np.ndarray  # [queries, documents], float64
    top_k: int

    @classmethod
    def from_file(cls, path: Path) -> "Golden":
        return cls.from_data(read_json_file(path), str(path))

    @classmethod
    def from_data(cls, data: object, path: str) -> "Golden":
        """golden.json's parsed JSON, checked; `path` names it in errors."""
        data = require(data, GOLDEN_FIELDS, path)
        for kind in ("queries", "documents"):
            for n, entry in enumerate(data[kind]):
                require(entry, ENTRY_FIELDS, f"{path}[{kind!r}][{n}]")
        tolerance = {}
        for metric, bound in data["tolerance"].items():
            require(bound, {"op": lambda op: op in (">=", "<="), "value": lambda v: isinstance(v, (int, float))},
                    f"{path}['tolerance'][{metric!r}]")
            if metric not in METRICS:
                raise BundleError(f"{path}: tolerance names {metric!r}, not a metric of the golden rule; "
                                  "re-export the bundle", "malformed")
            tolerance[metric] = (bound["op"], float(bound["value"]))
        rows = data["scores"]
        if len(rows) != len(data["queries"]) or any(len(row) != len(data["documents"]) for row in rows):
            raise BundleError(f"{path}: scores are not one row per query and one column per document; "
                              "re-export the bundle", "malformed")
        scores = np.asarray(rows, dtype=np.float64).reshape(len(data["queries"]), len(data["documents"]))
        k = data.get("top_k", DEFAULT_TOP_K)
        if not integer(k) or k < 1:
            raise BundleError(f"{path}: top_k must be a positive integer; re-export the bundle", "mistyped_field")
        return cls(tolerance, data["queries"], data["documents"], scores, k)


@dataclass
class GoldenReport:
    passed: bool
    metrics: dict[str, float]
    failures: list[str] = field(default_factory=list)
    id_mismatches: list[str] = field(default_factory=list)  # texts whose ids, mask or kept positions differ


def _ids_of(runtime: ColbertRuntime, entry: dict, is_query: bool) -> bool:
    ids, mask = runtime.tokenizer.encode([entry["text"]], is_query)
    kept = np.flatnonzero(runtime.tokenizer.keep(ids, mask, is_query)[0]).tolist()
    return (ids[0].tolist(), mask[0].tolist(), kept) == (entry["input_ids"], entry["attention_mask"],
                                                         entry["kept_positions"])


def measure(golden: Golden, queries: Sequence[np.ndarray], documents: Sequence[np.ndarray]) -> dict[str, float]:
    """Steps 2 to 4 of the rule on encoded vectors; ValueError when a vector count differs."""
    if (len(queries), len(documents)) != (len(golden.queries), len(golden.documents)):  # zip would drop the rest
        raise ValueError(f"{len(queries)} queries and {len(documents)} documents encoded, golden.json has "
                         f"{len(golden.queries)} and {len(golden.documents)}")
    per_text = []
    for n, (entry, got) in enumerate(zip(golden.queries + golden.documents, list(queries) + list(documents))):
        want = np.asarray(entry["vectors"], dtype=np.float64).reshape(-1, got.shape[1])
        if want.shape != got.shape:
            raise ValueError(f"text {n} ({entry['text'][:30]!r}): {got.shape[0]} vectors, golden.json has {want.shape[0]}")
        per_text.append(cosines(got, want))
    cosine = np.concatenate(per_text) if per_text else np.ones(0)
    return summary(cosine, golden.scores, score_matrix(queries, documents), golden.top_k)


def judge(golden: Golden, metrics: dict[str, float]) -> list[str]:
    """Step 5: each tolerance bound missed, as 'metric=value (needs op bound)'."""
    return missed_bounds(metrics, golden.tolerance)


def self_test(runtime: ColbertRuntime, golden: Golden) -> GoldenReport:
    """The whole rule through a runtime: tokenizer, encoder and scoring."""
    mismatches = [e["text"] for kind, is_query in (("queries", True), ("documents", False))
                  for e in getattr(golden, kind) if not _ids_of(runtime, e, is_query)]
    queries = runtime.encode_queries([e["text"] for e in golden.queries])
    documents = runtime.encode_documents([e["text"] for e in golden.documents])
    try:
        metrics = measure(golden, queries, documents)
    except ValueError as e:
        return GoldenReport(False, {}, [str(e)], mismatches)
    failures = judge(golden, metrics)
    return GoldenReport(not failures and not mismatches, metrics, failures, mismatches)
