"""The benchmark's texts: short real queries, and documents of mixed lengths (about 20 to 600 tokens).

Documents are runs of real sentences cut to a word count drawn uniformly, seeded, so every run and every
row encodes the same corpus. Lengths past a model's document_length are truncated by its tokenizer.
"""
from __future__ import annotations

import random

from ..gate import parity_texts
from ..precision.calibration_texts import CALIBRATION_TEXTS

MIN_WORDS, MAX_WORDS = 15, 460  # about 20 and 600 tokens of English prose


def queries() -> list[str]:
    return list(parity_texts.QUERIES)


def documents(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = " ".join(parity_texts.DOCUMENTS + CALIBRATION_TEXTS).split()
    out = []
    for _ in range(count):
        length, start = rng.randint(MIN_WORDS, MAX_WORDS), rng.randrange(len(words))
        out.append(" ".join((words[start:] + words)[:length]))
    return out
