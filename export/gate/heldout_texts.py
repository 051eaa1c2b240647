"""Texts the parity gate never sees: `verify --full --held-out` measures a bundle on them, to show that what
the gate passed holds on other texts. Kept apart from parity_texts and calibration_texts on purpose (the
fallback tunes on the gate's texts, GPTQ on the calibration ones), with the same spread of kinds: short and
long queries, documents of every length, other languages and scripts, code, numbers and the text edges.

The texts are data, in export/texts/held_out.json.
"""
from __future__ import annotations

from ..texts import load

_HELD_OUT = load("held_out")
QUERIES: list[str] = _HELD_OUT["QUERIES"]
DOCUMENTS: list[str] = _HELD_OUT["DOCUMENTS"]
TOPICS: list[str] = _HELD_OUT["TOPICS"]


def documents() -> list[str]:
    """Short and medium documents, then ones past 128 tokens and past every document_length."""
    return DOCUMENTS + TOPICS + [" ".join(TOPICS), " ".join(TOPICS * 4), " ".join(DOCUMENTS * 3)]


def queries() -> list[str]:
    return list(QUERIES)
