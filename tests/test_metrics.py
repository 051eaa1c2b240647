"""runtimes/metrics.py, the one measure of the golden rule, the parity gate and the benchmark's fidelity: on values
worked out by hand, then against spec/oracle.py (written from the spec alone) on random vectors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from export.tools.bench import fidelity
from export.gate.parity import Encoded, compare
from runtimes import metrics
from runtimes.golden import Golden, judge, measure
from spec import oracle

# ---------------------------------------------------------------- by hand


def test_cosine_per_vector_in_float64_with_a_zero_vector_at_zero():
    got = np.array([[3, 4], [0, 2], [0, 0], [1, 0]], np.float32)
    want = np.array([[4, 3], [0, 1], [1, 0], [-1, 0]], np.float64)
    assert metrics.cosines(got, want).tolist() == [24 / 25, 1.0, 0.0, -1.0]
    assert metrics.cosines(np.zeros((0, 2)), np.zeros((0, 2))).size == 0


def test_relative_error_is_taken_against_the_score_or_one_whichever_is_larger():
    got = np.array([[0.0703125, 5.0, -1.0, -0.25]])
    expected = np.array([[0.0625, 4.0, -2.0, 0.25]])  # below the floor, above it, negative, negative below it
    assert metrics.relative_errors(got, expected).tolist() == [[0.0078125, 0.25, 0.5, 0.5]]


def test_p99_interpolates_linearly_between_closest_ranks():
    assert metrics.p99(np.arange(101.0)) == 99.0
    assert metrics.p99(np.array([0.0, 1.0])) == pytest.approx(0.99, abs=1e-15)
    assert metrics.p99(np.array([[0.5, 2.0], [1.0, 4.0]])) == pytest.approx(2.0 + 0.97 * 2.0, abs=1e-15)  # ravelled
    assert metrics.p99(np.array([])) == 0.0


def test_top_k_agreement_ranks_ties_to_the_lower_index():
    expected = np.array([[1.0, 1.0, 1.0, 0.0]])  # top 2: documents 0 and 1 (ties in corpus order)
    assert metrics.agreement(expected, np.array([[0.0, 1.0, 1.0, 1.0]]), 2) == 0.5  # top 2: 1 and 2
    assert metrics.agreement(expected, np.array([[2.0, 2.0, 0.0, 0.0]]), 2) == 1.0
    assert metrics.agreement(expected, np.array([[0.0, 0.0, 0.0, 1.0]]), 10) == 1.0  # k = min(10, 4): all of them
    two = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    assert metrics.agreement(two, np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]]), 1) == 0.5  # the mean over queries


def test_top_k_agreement_is_one_without_documents_or_queries():
    assert metrics.agreement(np.zeros((3, 0)), np.zeros((3, 0)), 10) == 1.0
    assert metrics.agreement(np.zeros((0, 5)), np.zeros((0, 5)), 10) == 1.0


def test_summary_without_vectors_or_pairs():
    assert metrics.summary(np.ones(0), np.zeros((0, 0)), np.zeros((0, 0)), 10) == {
        "cosine_min": 1.0, "cosine_mean": 1.0, "maxsim_rel_err_max": 0.0, "maxsim_rel_err_p99": 0.0,
        "top10_agreement": 1.0}


def test_score_matrix_keeps_its_shape_without_documents_and_sums_in_fp32():
    q = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    assert metrics.score_matrix([q, q], []).shape == (2, 0) and metrics.score_matrix([], [q]).shape == (0, 1)
    third = np.float32(1 / 3)
    scores = metrics.score_matrix([np.array([[third], [third], [third]], np.float32)], [np.ones((1, 1), np.float32)])
    assert scores.dtype == np.float64 and scores[0, 0] == float(third + third + third)


def test_one_text_per_missed_bound():
    bounds = {"cosine_min": (">=", 0.99999), "maxsim_rel_err_max": ("<=", 1e-4), "top10_agreement": (">=", 1.0)}
    values = {"cosine_min": 0.9999871234, "maxsim_rel_err_max": math.nan, "top10_agreement": 1.0}
    assert metrics.missed_bounds(values, bounds) == ["cosine_min=0.999987 (needs >= 0.99999)",
                                                     "maxsim_rel_err_max=nan (needs <= 0.0001)"]
    assert metrics.missed_bounds({**values, "cosine_min": 0.99999, "maxsim_rel_err_max": 1e-4}, bounds) == []
    assert metrics.missed_bounds({"top10_agreement": math.inf}, {"top10_agreement": (">=", 0.95)}) == [
        "top10_agreement=inf (needs >= 0.95)"]  # not finite fails even where the comparison holds


# ---------------------------------------------------------------- against the oracle

DIM = 3


def dyadic(rng: np.random.Generator, rows: int, zero_share: float = 0.15) -> np.ndarray:
    """Vectors of eighths: every fp32 product and sum is exact, so MaxSim is the same summed in any order and
    equal scores are real ties. Some rows are zero vectors."""
    v = rng.integers(-8, 9, size=(rows, DIM)) / 8
    v[rng.random(rows) < zero_share] = 0.0
    return v.astype(np.float32)


def random_case(rng: np.random.Generator) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """golden.json's fields and encoded vectors: references near the encoded ones, scores near theirs, some below
    the floor or negative, texts without vectors, and now and then no queries or no documents."""
    n_queries, n_documents = rng.integers(0, 5), rng.integers(0, 14)
    queries = [dyadic(rng, rng.integers(0, 4)) for _ in range(n_queries)]
    documents = [dyadic(rng, rng.integers(0, 4)) for _ in range(n_documents)]

    def entry(vectors: np.ndarray) -> dict:
        noisy = vectors + rng.normal(0, 0.05, vectors.shape) * (rng.random() < 0.7)
        return {"text": "t", "input_ids": [1], "attention_mask": [1], "kept_positions": [0], "vectors": noisy.tolist()}

    scores = [[oracle.maxsim(q, d) * rng.choice([1.0, 1.0, 0.9, -0.5, 0.01]) + rng.choice([0.0, 0.0, 0.125])
               for d in documents] for q in queries]
    tolerance = {m: {"op": op, "value": float(rng.choice(values))} for m, op, values in (
        ("cosine_min", ">=", [0.0, 0.5, 0.999]), ("cosine_mean", ">=", [0.9, 0.99]),
        ("maxsim_rel_err_max", "<=", [0.1, 1.0]), ("maxsim_rel_err_p99", "<=", [0.05, 0.5]),
        ("top10_agreement", ">=", [0.5, 1.0])) if rng.random() < 0.7}
    golden = {"tolerance": tolerance, "top_k": int(rng.integers(1, 12)), "scores": scores,
              "queries": [entry(q) for q in queries], "documents": [entry(d) for d in documents]}
    return golden, queries, documents


@pytest.mark.parametrize("seed", range(300))
def test_the_golden_rule_measures_as_the_oracle(seed):
    data, queries, documents = random_case(np.random.default_rng(seed))
    golden, spec = Golden.from_data(data, str(seed)), oracle.read_golden(data)
    got, want = measure(golden, queries, documents), oracle.golden_metrics(spec, queries, documents)
    assert got == pytest.approx(want, abs=1e-12)  # conformance/golden.jsonl's tolerance: norms differ in the last bit
    exact = ("maxsim_rel_err_max", "maxsim_rel_err_p99", "top10_agreement")
    assert {m: got[m] for m in exact} == {m: want[m] for m in exact}
    assert sorted(f.split("=")[0] for f in judge(golden, got)) == oracle.failures(spec, want)


@pytest.mark.parametrize("seed", range(100))
def test_each_metric_is_the_oracles_step(seed):
    rng = np.random.default_rng(1000 + seed)
    got, want = dyadic(rng, 20, 0.3), dyadic(rng, 20, 0.3).astype(np.float64)
    assert metrics.cosines(got, want) == pytest.approx([oracle.cosine(g, w) for g, w in zip(got, want)], abs=1e-15)
    queries, documents = [dyadic(rng, rng.integers(0, 4)) for _ in range(4)], [dyadic(rng, 3) for _ in range(9)]
    encoded = metrics.score_matrix(queries, documents)
    assert encoded.tolist() == [[oracle.maxsim(q, d) for d in documents] for q in queries]
    expected = np.round(encoded * rng.choice([1.0, 0.5, -1.0], encoded.shape) * 4) / 4  # dyadic: ties again
    relative = metrics.relative_errors(encoded, expected)
    assert relative.tolist() == [[oracle.relative_error(g, e) for g, e in zip(*rows)] for rows in zip(encoded, expected)]
    assert metrics.p99(relative) == oracle.p99(relative.ravel().tolist())
    k = int(rng.integers(1, 12))
    assert metrics.agreement(expected, encoded, k) == oracle.top_k_agreement(expected.tolist(), encoded.tolist(), k)


# ---------------------------------------------------------------- its callers measure alike


def test_the_gate_and_the_golden_rule_measure_the_same(tmp_path):
    rng = np.random.default_rng(7)
    reference = Encoded([dyadic(rng, 3, 0) for _ in range(4)], [dyadic(rng, int(n), 0) for n in rng.integers(1, 5, 12)])
    candidate = Encoded([v + np.float32(1 / 64) for v in reference.queries],
                        [v * np.float32(0.75) for v in reference.documents])
    entry = lambda v: {"text": "t", "input_ids": [1], "attention_mask": [1], "kept_positions": [0],  # noqa: E731
                       "vectors": v.tolist()}
    golden = Golden.from_data({"tolerance": {}, "top_k": 10, "queries": [entry(q) for q in reference.queries],
                               "documents": [entry(d) for d in reference.documents],
                               "scores": metrics.score_matrix(reference.queries, reference.documents).tolist()}, "g")
    gate = compare(reference, candidate)
    rule = measure(golden, candidate.queries, candidate.documents)
    # the gate adds 1e-12 to the norms' product where the rule takes max(product, 1e-12): short vectors here
    assert {m: gate[m] for m in rule} == pytest.approx(rule, rel=1e-9)
    assert {m: gate[m] for m in rule if not m.startswith("cosine")} == {m: v for m, v in rule.items()
                                                                         if not m.startswith("cosine")}
    np.savez(tmp_path / "ref.npz", **{f"q{n}": v for n, v in enumerate(reference.queries)},
             **{f"d{n}": v for n, v in enumerate(reference.documents)})
    np.savez(tmp_path / "cand.npz", **{f"q{n}": v for n, v in enumerate(candidate.queries)},
             **{f"d{n}": v for n, v in enumerate(candidate.documents)})
    assert fidelity(tmp_path / "ref.npz", tmp_path / "cand.npz") == {
        m: gate[m] for m in ("maxsim_rel_err_p99", "top10_agreement")}
