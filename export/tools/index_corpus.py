"""The index benchmark's corpus and queries: real English prose from Python's own documentation, which ships with
the interpreter (pydoc_data.topics), so a corpus of 100,000 documents needs no download.

Documents are the topics' paragraphs of 15 words or more, every tenth one held out; past those, windows of 15 to
200 words over the same text, seeded. Queries are the held-out paragraphs' first 8 to 14 words: in the corpus's
domain, never its documents. A benchmark, not a test: the text changes with Python's version.
"""
from __future__ import annotations

import random

MIN_WORDS, MAX_WORDS = 15, 200
QUERY_WORDS = (8, 14)


def _paragraphs() -> list[str]:
    from pydoc_data.topics import topics

    out = []
    for name in sorted(topics):
        for block in topics[name].split("\n\n"):
            text = " ".join(block.split())
            if len(text.split()) >= MIN_WORDS:
                out.append(text)
    return out


def _split() -> tuple[list[str], list[str]]:
    paragraphs = _paragraphs()
    return [p for n, p in enumerate(paragraphs) if n % 10], [p for n, p in enumerate(paragraphs) if not n % 10]


def documents(count: int, seed: int = 0) -> list[str]:
    """`count` documents: the kept paragraphs, then seeded windows over them."""
    kept, _ = _split()
    out = kept[:count]
    words = " ".join(kept).split()
    rng = random.Random(seed)
    while len(out) < count:
        length, start = rng.randint(MIN_WORDS, MAX_WORDS), rng.randrange(len(words) - MAX_WORDS)
        out.append(" ".join(words[start:start + length]))
    return out


def queries(count: int = 100, seed: int = 0) -> list[str]:
    """The first 8 to 14 words of held-out paragraphs, seeded."""
    _, held = _split()
    rng = random.Random(seed)
    return [" ".join(p.split()[:rng.randint(*QUERY_WORDS)]) for p in held[:count]]
