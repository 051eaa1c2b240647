"""The texts the parity gate encodes: real English queries and documents, plus the edge cases.

Kept as data, in export/texts/gate.json: the gate's metrics are only as good as these texts are varied. Here,
what composes them by code.
"""
from __future__ import annotations

from ..texts import load

_GATE = load("gate")
QUERIES: list[str] = _GATE["QUERIES"]
EDGE_QUERIES: list[str] = _GATE["EDGE_QUERIES"]
DOCUMENTS: list[str] = _GATE["DOCUMENTS"]
EDGE_DOCUMENTS: list[str] = _GATE["EDGE_DOCUMENTS"]
# What happens to a text before the tokenizer, and the tokenizers' own edges (gate.json's about_TEXT_EDGES)
TEXT_EDGES: list[str] = _GATE["TEXT_EDGES"]
# Queries of every length and kind beyond the plain questions (gate.json's about_MORE_QUERIES)
MORE_QUERIES: list[str] = _GATE["MORE_QUERIES"]
MORE_DOCUMENTS: list[str] = _GATE["MORE_DOCUMENTS"]


def long_documents() -> list[str]:
    """Documents past the 128-token local window, and one past any document_length up to 2048."""
    medium = " ".join(DOCUMENTS[0:6])  # ~170 words: past 128 tokens
    long = " ".join(DOCUMENTS * 3)  # ~5000 words: past document_length, so it is truncated
    return [medium, " ".join(DOCUMENTS[20:30]), long]


def composed_documents() -> list[str]:
    """Documents of 60 to 400 words, each joining sentences of one topic pair: lengths between the short
    ones and the truncated one, where most real passages sit."""
    return [" ".join(DOCUMENTS[start:start + n]) for start, n in ((2, 3), (8, 4), (14, 6), (30, 8), (40, 12), (10, 16))]


def documents() -> list[str]:
    return DOCUMENTS + EDGE_DOCUMENTS + TEXT_EDGES + long_documents() + MORE_DOCUMENTS + composed_documents()


def queries() -> list[str]:
    return QUERIES + EDGE_QUERIES + TEXT_EDGES + MORE_QUERIES


def golden_queries() -> list[str]:
    """The gate's texts an app's self-test re-encodes: plain ones, emoji and CJK, and every text edge."""
    return [QUERIES[0], QUERIES[8], EDGE_QUERIES[1], *TEXT_EDGES]


def golden_documents() -> list[str]:
    """A plain document, punctuation only, one past the 128-token window, and every text edge."""
    return [DOCUMENTS[0], EDGE_DOCUMENTS[2], long_documents()[0], *TEXT_EDGES]
