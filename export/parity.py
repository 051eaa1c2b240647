"""The parity gate: an artifact, run in its reference runtime, against the PyTorch fp32 reference."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from runtimes.colbert import ColbertRuntime, ColbertTokenizer, maxsim

from . import parity_texts

if TYPE_CHECKING:  # the reference needs torch; verify and bench without --full must not import it
    from .reference import Reference

# metric -> (comparison, bound), per precision; ARCHITECTURE.md's tiers
TIERS: dict[str, dict[str, tuple[str, float]]] = {
    "fp32": {"cosine_min": (">=", 0.99999), "maxsim_rel_err_max": ("<=", 1e-4), "top10_agreement": (">=", 1.0)},
    "fp16": {"cosine_min": (">=", 0.999), "maxsim_rel_err_max": ("<=", 5e-3), "top10_agreement": (">=", 0.99)},
    "int8": {"cosine_mean": (">=", 0.995), "maxsim_rel_err_p99": ("<=", 2e-2), "top10_agreement": (">=", 0.95)},
}
# Worst value of each metric across batch sizes: lower is worse for these, higher for the rest.
HIGHER_IS_BETTER = {"cosine_min", "cosine_mean", "top10_agreement"}
BATCH_SIZES = (1, 8)
TOP_K = 10


@dataclass
class Encoded:
    queries: list[np.ndarray]
    documents: list[np.ndarray]


@dataclass
class ParityReport:
    precision: str
    passed: bool
    metrics: dict[str, float]  # worst over batch sizes
    by_batch: dict[str, dict[str, float]]
    thresholds: dict[str, tuple[str, float]]
    failed: list[str] = field(default_factory=list)
    texts: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, int] = field(default_factory=dict)  # bucket -> gate texts it ran, at batch 1
    float_layers: list[str] = field(default_factory=list)  # int8: Linear layers kept in float to hold the tier

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "tier": self.precision,
            "metrics": self.metrics,
            "by_batch_size": self.by_batch,
            "thresholds": {k: {"op": op, "value": v} for k, (op, v) in self.thresholds.items()},
            "failed": self.failed,
            "texts": self.texts,
            "buckets": self.buckets,
            **({"int8_float_layers": self.float_layers} if self.precision == "int8" else {}),
        }


def reference_outputs(reference: Reference, tokenizer: ColbertTokenizer) -> Encoded:
    """PyTorch fp32 vectors for the gate's texts, one text at a time, filtered as PyLate does."""

    def encode(texts: list[str], is_query: bool) -> list[np.ndarray]:
        out = []
        for text in texts:
            ids, mask = tokenizer.encode([text], is_query)
            vectors = reference.encode(ids, mask)[0]
            out.append(vectors[tokenizer.keep(ids, mask, is_query)[0]])
        return out

    return Encoded(encode(parity_texts.queries(), True), encode(parity_texts.documents(), False))


def score_matrix(encoded: Encoded) -> np.ndarray:
    return np.array([[maxsim(q, d) for d in encoded.documents] for q in encoded.queries], dtype=np.float64)


def compare(reference: Encoded, candidate: Encoded) -> dict[str, float]:
    pairs = list(zip(reference.queries + reference.documents, candidate.queries + candidate.documents))
    for n, (r, c) in enumerate(pairs):
        if r.shape != c.shape:
            raise ValueError(f"text {n}: runtime returned {c.shape} vectors, reference {r.shape}")
    ref = np.concatenate([r for r, _ in pairs]).astype(np.float64)
    cand = np.concatenate([c for _, c in pairs]).astype(np.float64)
    cosine = (ref * cand).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1) + 1e-12)
    s_ref, s_cand = score_matrix(reference), score_matrix(candidate)
    rel = np.abs(s_cand - s_ref) / np.maximum(np.abs(s_ref), 1e-6)
    k = min(TOP_K, s_ref.shape[1])
    agreement = [
        len(set(np.argsort(-r, kind="stable")[:k]) & set(np.argsort(-c, kind="stable")[:k])) / k
        for r, c in zip(s_ref, s_cand)
    ]
    return {
        "cosine_min": float(cosine.min()),
        "cosine_mean": float(cosine.mean()),
        "max_abs_error": float(np.abs(ref - cand).max()),
        "maxsim_rel_err_p99": float(np.percentile(rel, 99)),
        "maxsim_rel_err_max": float(rel.max()),
        "top10_agreement": float(np.mean(agreement)),
        "tokens": int(len(ref)),
        "pairs": int(rel.size),
    }


def worst(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        key: (min if key in HIGHER_IS_BETTER else max)(run[key] for run in runs)
        for key in runs[0]
    }


def failures(metrics: dict[str, float], thresholds: dict[str, tuple[str, float]]) -> list[str]:
    failed = []
    for key, (op, bound) in thresholds.items():
        ok = metrics[key] >= bound if op == ">=" else metrics[key] <= bound
        if not ok or not np.isfinite(metrics[key]):
            failed.append(f"{key}={metrics[key]:.6g} (needs {op} {bound:g})")
    return failed


def bucket_use(runtime: ColbertRuntime) -> dict[str, int]:
    """How many of the gate's texts each bucket runs at batch 1 (none for a dynamic sequence)."""
    io = runtime.settings.io
    use = dict.fromkeys(io.buckets, 0)
    if not use:
        return use
    for texts, is_query in ((parity_texts.queries(), True), (parity_texts.documents(), False)):
        for text in texts:
            ids, _ = runtime.tokenizer.encode([text], is_query)
            use[io.bucket_for(ids.shape[1], is_query)[0]] += 1
    return use


def run_gate(runtime: ColbertRuntime, reference: Encoded, precision: str) -> ParityReport:
    """Encode the gate's texts through the runtime at each batch size and hold them to the tier."""
    by_batch = {}
    for size in BATCH_SIZES:
        candidate = Encoded(
            runtime.encode_queries(parity_texts.queries(), batch_size=size),
            runtime.encode_documents(parity_texts.documents(), batch_size=size),
        )
        by_batch[str(size)] = compare(reference, candidate)
    metrics = worst(list(by_batch.values()))
    thresholds = TIERS[precision]
    buckets = bucket_use(runtime)
    failed = failures(metrics, thresholds) + [f"bucket {name} ran none of the gate's texts"
                                              for name, n in buckets.items() if n == 0]
    texts = {"queries": len(reference.queries), "documents": len(reference.documents)}
    return ParityReport(precision, not failed, metrics, by_batch, thresholds, failed, texts, buckets)
