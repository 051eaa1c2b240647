"""The parity metrics of spec/bundle.md's golden rule (steps 2 to 5), measured one way by all who measure them:
the golden rule (runtimes/golden.py), the parity gate (export/gate/parity.py) and the benchmark's fidelity columns
(export/tools/bench.py). spec/oracle.py computes the same from the spec's text alone, on purpose apart from this.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .colbert import maxsim, top_k

Bounds = dict[str, tuple[str, float]]  # metric -> (">=" or "<=", bound)

COSINE_NORM_FLOOR = 1e-12  # a zero vector has cosine 0 with anything, not NaN
# The smallest score a relative error is taken against: one query vector's perfect match (a cosine of 1). A pair
# whose MaxSim is near zero (an untrained head's unrelated texts score -0.2 to 0.5) would otherwise turn a 1e-3
# difference into any relative error at all; a trained ColBERT's scores sit far above it.
SCORE_FLOOR = 1.0


def cosines(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Step 2: each row of `got` against the same row of `want`, in float64: a.b / max(|a| |b|, 1e-12)."""
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return (g * w).sum(1) / np.maximum(np.linalg.norm(g, axis=1) * np.linalg.norm(w, axis=1), COSINE_NORM_FLOOR)


def score_matrix(queries: Sequence[np.ndarray], documents: Sequence[np.ndarray]) -> np.ndarray:
    """MaxSim (fp32 sums) of every query with every document, as float64 [queries, documents]."""
    scores = [[maxsim(q, d) for d in documents] for q in queries]
    return np.array(scores, dtype=np.float64).reshape(len(queries), len(documents))


def relative_errors(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Step 3: each pair's |got - expected| / max(|expected|, SCORE_FLOOR)."""
    return np.abs(got - expected) / np.maximum(np.abs(expected), SCORE_FLOOR)


def p99(values: np.ndarray) -> float:
    """Step 3: the 99th percentile, linear between closest ranks (numpy's default); 0 without values."""
    return float(np.percentile(values, 99)) if np.size(values) else 0.0


def agreement(expected: np.ndarray, got: np.ndarray, k: int) -> float:
    """Step 4: per query row, the share of the top min(k, documents) by `expected` also in the top by `got`, both
    ranked as Rank ranks (ties to the lower index); the mean over rows; 1 without queries or documents."""
    k = min(k, expected.shape[1])
    if k == 0:  # no documents: nothing to miss
        return 1.0
    shares = [len({i for i, _ in top_k(e.tolist(), k)} & {i for i, _ in top_k(g.tolist(), k)}) / k
              for e, g in zip(expected, got)]
    return float(np.mean(shares)) if shares else 1.0


def summary(cosine: np.ndarray, expected: np.ndarray, got: np.ndarray, k: int) -> dict[str, float]:
    """Steps 2 to 4's metrics from every kept vector's cosine and both [queries, documents] score matrices."""
    relative = relative_errors(got, expected).ravel()
    return {
        "cosine_min": float(cosine.min()) if cosine.size else 1.0,  # "both 1 when there are none"
        "cosine_mean": float(cosine.mean()) if cosine.size else 1.0,
        "maxsim_rel_err_max": float(relative.max()) if relative.size else 0.0,  # "both 0 when there are no pairs"
        "maxsim_rel_err_p99": p99(relative),
        "top10_agreement": agreement(expected, got, k),
    }


def missed_bounds(metrics: dict[str, float], bounds: Bounds) -> list[str]:
    """Step 5: one 'metric=value (needs op bound)' per bound missed; a value that is not finite misses."""
    missed = []
    for metric, (op, bound) in bounds.items():
        value = metrics[metric]
        if not np.isfinite(value) or not (value >= bound if op == ">=" else value <= bound):
            missed.append(f"{metric}={value:.6g} (needs {op} {bound:g})")
    return missed
