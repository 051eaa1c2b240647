"""Every target's runtime against PyLate itself: checkpoints PyLate saved, vectors from PyLate's own encode.

The gate's reference runs transformers behind our tokenizer, so it cannot see a preprocessing step our
tokenizer skips; these tests can. For every text of the gate (its edge texts included) the runtime must
keep exactly the token ids PyLate keeps, and its vectors must meet the precision's tier against PyLate's.
"""
from __future__ import annotations

import pytest

import runtimes
from export.gate import parity_texts
from export.model.checkpoint import read_checkpoint
from export.gate.parity import Encoded, compare
from export.precision import TABLE
from runtimes.colbert import ColbertTokenizer
from runtimes.metrics import missed_bounds
from tests.conftest import PRECISIONS, TARGET_NAMES

# export run fixture -> its precisions; fp16 and int8 only count on the trained weights
RUNS = {"trained_run": PRECISIONS, "mxbai_run": ("fp32",), "variant_run": ("fp32",)}
CHECKPOINTS = ("minilm_checkpoint", "mxbai_checkpoint", "variant_checkpoint")


@pytest.fixture(scope="session")
def pylate_vectors(pylate, tmp_path_factory):
    """PyLate's encode of the gate's texts, once per checkpoint."""
    cache = {}

    def get(checkpoint):
        if checkpoint not in cache:
            cache[checkpoint] = pylate.encode(checkpoint, parity_texts.queries(), parity_texts.documents(),
                                              tmp_path_factory.mktemp("pylate-out"))
        return cache[checkpoint]

    return get


def kept_ids(tokenizer: ColbertTokenizer, text: str, is_query: bool) -> list[int]:
    ids, mask = tokenizer.encode([text], is_query)
    return ids[0][tokenizer.keep(ids, mask, is_query)[0]].tolist()


def id_mismatches(tokenizer: ColbertTokenizer, expected: dict) -> list[str]:
    """Texts whose kept token ids differ from PyLate's, with both counts."""
    out = []
    for kind, texts in (("queries", parity_texts.queries()), ("documents", parity_texts.documents())):
        for text, (_, ids) in zip(texts, expected[kind]):
            mine = kept_ids(tokenizer, text, kind == "queries")
            if mine != ids.tolist():
                out.append(f"{kind} {text[:40]!r}: {len(mine)} kept vs PyLate's {len(ids)}")
    return out


@pytest.mark.parametrize("fixture", CHECKPOINTS)
def test_runtime_tokenizer_keeps_exactly_pylates_token_ids(request, pylate_vectors, fixture):
    checkpoint = read_checkpoint(request.getfixturevalue(fixture), source="test")
    tokenizer = ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)
    assert id_mismatches(tokenizer, pylate_vectors(checkpoint.path)) == []


def test_pylate_strips_whitespace_only_text_to_nothing(mxbai_checkpoint, pylate_vectors):
    """What the runtimes once got wrong: PyLate keeps nothing of a whitespace-only text but [CLS] [Q] [SEP]."""
    expected = pylate_vectors(mxbai_checkpoint)
    _, ids = expected["queries"][parity_texts.queries().index(" \t\n\r\u3000 ")]
    assert ids.tolist() == [50281, 50368, 50282]


@pytest.mark.parametrize("target", TARGET_NAMES)
@pytest.mark.parametrize("fixture", list(RUNS))
def test_bundles_match_pylates_encode(request, pylate_vectors, fixture, target):
    run = request.getfixturevalue(fixture)
    assert run.code == 0, f"a bundle of {run.checkpoint.name} missed its tier in the gate"
    expected = pylate_vectors(run.checkpoint)
    reference = Encoded([v for v, _ in expected["queries"]], [v for v, _ in expected["documents"]])
    for precision in RUNS[fixture]:
        runtime = runtimes.load(run.bundle(target, precision))
        assert id_mismatches(runtime.tokenizer, expected) == []
        candidate = Encoded(runtime.encode_queries(parity_texts.queries(), batch_size=8),
                            runtime.encode_documents(parity_texts.documents(), batch_size=8))
        counts = [(len(r), len(c)) for r, c in zip(reference.queries + reference.documents,
                                                   candidate.queries + candidate.documents) if len(r) != len(c)]
        assert counts == [], f"{target} {precision}: vector counts (PyLate, runtime) differ"
        metrics = compare(reference, candidate)
        assert missed_bounds(metrics, TABLE[precision].tier) == [], (target, precision, metrics)
        print(f"{run.checkpoint.name} {target} {precision} vs PyLate: " + ", ".join(
            f"{k}={metrics[k]:.3g}" for k in ("cosine_min", "cosine_mean", "maxsim_rel_err_p99", "maxsim_rel_err_max",
                                              "top10_agreement")))
