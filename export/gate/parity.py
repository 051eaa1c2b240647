"""The parity gate: an artifact, run in its reference runtime, against the PyTorch fp32 reference."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from runtimes.colbert import ColbertRuntime, ColbertTokenizer
from runtimes.metrics import missed_bounds, score_matrix, summary

from . import heldout_texts, parity_texts
from ..precision import TABLE

if TYPE_CHECKING:  # the reference needs torch; verify and bench without --full must not import it
    from ..model.reference import Reference

# Worst value of each metric across batch sizes: lower is worse for these, higher for the rest.
HIGHER_IS_BETTER = {"cosine_min", "cosine_mean", "top10_agreement"}
BATCH_SIZES = (1, 8)
TOP_K = 10
# compare's metrics in the order parity.json lists them (metrics, by_batch_size)
REPORTED = ("cosine_min", "cosine_mean", "max_abs_error", "maxsim_rel_err_p99", "maxsim_rel_err_max",
            "top10_agreement", "tokens", "pairs")
# The fallbacks (int8 and fp16) stop only once every metric uses at most this share of its tier's room:
# a bundle that scrapes past the bound on the gate's texts misses it on others.
MARGIN = 0.8
# On random weights MaxSim scores are near ties, so rankings are noise: the gate reports top-10 agreement
# for a synthetic checkpoint but does not hold it to the tier (the vectors' and scores' bounds still apply).
SYNTHETIC_INFORMATIONAL = {"top10_agreement": "on synthetic weights MaxSim scores are near ties, so the ranking "
                                              "is noise"}


@dataclass(frozen=True)
class Texts:
    queries: list[str]
    documents: list[str]


def gate_texts() -> Texts:
    return Texts(parity_texts.queries(), parity_texts.documents())


def held_out_texts() -> Texts:
    """Texts the gate, the fallbacks and GPTQ never see (export/gate/heldout_texts.py)."""
    return Texts(heldout_texts.queries(), heldout_texts.documents())


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
    kept: list[str] = field(default_factory=list)  # what the fallback kept: int8 Linear layers, fp16 blocks
    informational: dict[str, str] = field(default_factory=dict)  # metric -> why it is reported but not gated

    @property
    def margin(self) -> dict[str, float]:
        return room_used(self.metrics, self.thresholds)

    @property
    def worst_room(self) -> float:
        """The largest share of its room any gated metric uses (1 = the bound)."""
        return max(self.margin.values(), default=0.0)

    @property
    def within_margin(self) -> bool:
        return self.passed and all(used <= MARGIN for used in self.margin.values())

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
            "margin": {"room_used": self.margin, "stop_at": MARGIN, "within": self.within_margin},
            **({"informational": self.informational} if self.informational else {}),
            **_kept_json(self.precision, self.kept),
        }


def _kept_json(precision: str, kept: list[str]) -> dict:
    """What the fallback kept, under its field, for a precision that has a fallback."""
    fallback = TABLE[precision].fallback
    return {fallback.field: kept} if fallback else {}


def room_used(metrics: dict[str, float], thresholds: dict[str, tuple[str, float]]) -> dict[str, float]:
    """Each gated metric's share of its tier's room: 0 is the fp32 reference itself, 1 the bound. For a `>=`
    bound the room is what lies between the bound and 1 (cosine and agreement are at most 1)."""
    used = {}
    for key, (op, bound) in thresholds.items():
        value = metrics[key]
        room, spent = (bound, value) if op == "<=" else (1.0 - bound, 1.0 - value)
        used[key] = float(spent / room) if room > 0 else (0.0 if spent <= 0 else float("inf"))
        if not np.isfinite(value):
            used[key] = float("inf")
    return used


def reference_outputs(reference: Reference, tokenizer: ColbertTokenizer, texts: Texts | None = None) -> Encoded:
    """PyTorch fp32 vectors for the gate's texts (or `texts`), one text at a time, filtered as PyLate does."""
    texts = texts or gate_texts()

    def encode(texts: list[str], is_query: bool) -> list[np.ndarray]:
        out = []
        for text in texts:
            ids, mask = tokenizer.encode([text], is_query)
            vectors = reference.encode(ids, mask)[0]
            out.append(vectors[tokenizer.keep(ids, mask, is_query)[0]])
        return out

    return Encoded(encode(texts.queries, True), encode(texts.documents, False))


def compare(reference: Encoded, candidate: Encoded) -> dict[str, float]:
    pairs = list(zip(reference.queries + reference.documents, candidate.queries + candidate.documents))
    for n, (r, c) in enumerate(pairs):
        if r.shape != c.shape:
            raise ValueError(f"text {n}: runtime returned {c.shape} vectors, reference {r.shape}")
    ref = np.concatenate([r for r, _ in pairs]).astype(np.float64)
    cand = np.concatenate([c for _, c in pairs]).astype(np.float64)
    cosine = (ref * cand).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1) + 1e-12)
    s_ref = score_matrix(reference.queries, reference.documents)
    s_cand = score_matrix(candidate.queries, candidate.documents)
    measured = {**summary(cosine, s_ref, s_cand, TOP_K), "max_abs_error": float(np.abs(ref - cand).max()),
                "tokens": int(len(ref)), "pairs": int(s_ref.size)}
    return {key: measured[key] for key in REPORTED}


def worst(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        key: (min if key in HIGHER_IS_BETTER else max)(run[key] for run in runs)
        for key in runs[0]
    }


def bucket_use(runtime: ColbertRuntime, texts: Texts) -> dict[str, int]:
    """How many of the texts each bucket runs at batch 1 (none for a dynamic sequence)."""
    io = runtime.settings.io
    use = dict.fromkeys(io.buckets, 0)
    if not use:
        return use
    for kind, is_query in ((texts.queries, True), (texts.documents, False)):
        for text in kind:
            ids, _ = runtime.tokenizer.encode([text], is_query)
            use[io.bucket_for(ids.shape[1], is_query)[0]] += 1
    return use


def gated(precision: str, synthetic: bool) -> tuple[dict[str, tuple[str, float]], dict[str, str]]:
    """The tier's bounds the gate holds a bundle to, and the metrics it only reports (with why)."""
    informational = SYNTHETIC_INFORMATIONAL if synthetic else {}
    return {k: v for k, v in TABLE[precision].tier.items() if k not in informational}, dict(informational)


def run_gate(runtime: ColbertRuntime, reference: Encoded, precision: str, synthetic: bool = False,
             texts: Texts | None = None) -> ParityReport:
    """Encode the gate's texts (or `texts`, which `reference` was computed on) through the runtime at each
    batch size and hold them to the tier."""
    texts = texts or gate_texts()
    by_batch = {}
    for size in BATCH_SIZES:
        candidate = Encoded(
            runtime.encode_queries(texts.queries, batch_size=size),
            runtime.encode_documents(texts.documents, batch_size=size),
        )
        by_batch[str(size)] = compare(reference, candidate)
    metrics = worst(list(by_batch.values()))
    thresholds, informational = gated(precision, synthetic)
    buckets = bucket_use(runtime, texts)
    failed = missed_bounds(metrics, thresholds) + [f"bucket {name} ran none of the texts"
                                                   for name, n in buckets.items() if n == 0]
    counts = {"queries": len(reference.queries), "documents": len(reference.documents)}
    return ParityReport(precision, not failed, metrics, by_batch, thresholds, failed, counts, buckets,
                        informational=informational)
