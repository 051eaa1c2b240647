"""Texts that stress a port's preprocessing and tokenizer, for the harnesses that hold a port's CLI to the Python
runtime (tests/test_colbertkit.py, tests/test_web_demo.py)."""
from __future__ import annotations

import random


def random_texts(n: int, seed: int = 0) -> list[str]:
    """Mixed scripts, every whitespace Python strips, capitals whose lowercase changes length, sigmas."""
    rng = random.Random(seed)
    pools = ["abcXYZ ", "ΣΑΟΔΥΕσς ", "İIıKÅẞǅΩ ", "東京日本 ", "🙂👩\u200d👩 ", "\u0301\u0308\u200b\ufeff",
             "".join(map(chr, (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8202, 8232, 8233, 8239,
                                8287, 12288))),
             "".join(chr(c) for c in rng.sample(range(0x20, 0x3000), 400)),
             "\u08df\u1acc\u1b7e\ua7ca\U0001f970\U0001fae0\u0378"]  # assigned after Unicode 8, or not at all
    return ["".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 30))) for _ in range(n)]


SPECIAL_TEXTS = ["[CLS] [SEP] [MASK] [PAD] [UNK] [Q] [D] [unused0] [UNUSED1] <|padding|> |||IP_ADDRESS|||",
                 "🥰 🫠 ꟊ a\u0378b ǅ ΣΑΣ İ ß café x\u0301\u0323 a\u200bb a\u00adb a\ue000b ࣟy ᫌ ᭾",
                 "supercalifragilisticexpialidocious" * 4, "東京都渋谷区 ¿qué? ‐dash",
                 "a  [MASK]  b", "[Q] starts", "ends [D] ", "x" + " " * 30 + "y", "don't you'll I'd 'S 'RE",
                 "a\n\n\nb", "tab\t\tend", "3.14159 is π", "ΣΙΣΥΦΟΣ"]
