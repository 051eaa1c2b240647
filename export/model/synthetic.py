"""Seeded checkpoints with the exact 17m / 32m architecture, in the PyLate layout, for offline runs.

The weights are random: good for proving the plumbing (shapes, masks, windows, tokenisation),
useless for judging quantization, which needs trained weights.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ..cache import cache_dir
from .checkpoint import HUB_IDS, SYNTHETIC_MARKER, CheckpointError

SEED = 20251016
# Architecture of mxbai-edge-colbert-v0 (see MODEL-FACTS): hidden, intermediate, layers, heads, Dense widths.
ARCHITECTURES = {
    "17m": dict(hidden=256, intermediate=384, layers=7, heads=4, dense=[512, 48]),
    "32m": dict(hidden=384, intermediate=576, layers=10, heads=6, dense=[768, 64]),
}
VOCAB_SIZE = 50370
SPECIAL_IDS = {"[UNK]": 50280, "[CLS]": 50281, "[SEP]": 50282, "[PAD]": 50283, "[MASK]": 50284}
PREFIX_IDS = {"[Q] ": 50368, "[D] ": 50369}


def cache_root() -> Path:
    return cache_dir() / "synthetic"


def model_config(size: str) -> dict:
    a = ARCHITECTURES[size]
    return {
        "architectures": ["ModernBertModel"],
        "model_type": "modernbert",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": a["hidden"],
        "intermediate_size": a["intermediate"],
        "num_hidden_layers": a["layers"],
        "num_attention_heads": a["heads"],
        "max_position_embeddings": 7999,
        "global_attn_every_n_layers": 3,
        "local_attention": 128,
        "global_rope_theta": 160000.0,
        "local_rope_theta": 160000.0,
        "norm_eps": 1e-5,
        "norm_bias": False,
        "attention_bias": False,
        "mlp_bias": False,
        "hidden_activation": "gelu",
        "unk_token_id": SPECIAL_IDS["[UNK]"],
        "cls_token_id": SPECIAL_IDS["[CLS]"],
        "sep_token_id": SPECIAL_IDS["[SEP]"],
        "pad_token_id": SPECIAL_IDS["[PAD]"],
        "mask_token_id": SPECIAL_IDS["[MASK]"],
        "bos_token_id": SPECIAL_IDS["[CLS]"],
        "eos_token_id": SPECIAL_IDS["[SEP]"],
    }


def backbone_weights(size: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    a = ARCHITECTURES[size]
    h, i = a["hidden"], a["intermediate"]

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    def norm() -> np.ndarray:  # trained LayerNorm gains are not all 1: vary them so the test sees them
        return (1.0 + 0.1 * rng.standard_normal(h, dtype=np.float32)).astype(np.float32)

    w = {"embeddings.tok_embeddings.weight": normal(VOCAB_SIZE, h), "embeddings.norm.weight": norm()}
    for n in range(a["layers"]):
        p = f"layers.{n}."
        if n:
            w[p + "attn_norm.weight"] = norm()
        w[p + "attn.Wqkv.weight"] = normal(3 * h, h)
        w[p + "attn.Wo.weight"] = normal(h, h)
        w[p + "mlp_norm.weight"] = norm()
        w[p + "mlp.Wi.weight"] = normal(2 * i, h)
        w[p + "mlp.Wo.weight"] = normal(h, i)
    w["final_norm.weight"] = norm()
    return w


def generated_tokenizer() -> dict:
    """A byte-level tokenizer with mxbai's special ids, when no real tokenizer.json is given.

    It has no merges (one token per byte), so texts tokenise longer than with the real one; the
    ids of specials, prefixes and bare punctuation sit where the conventions expect them.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: n for n, c in enumerate(alphabet)}
    for n in range(len(vocab), VOCAB_SIZE):
        vocab[f"<|unused_{n}|>"] = n
    for token, n in {**SPECIAL_IDS, **PREFIX_IDS}.items():
        del vocab[f"<|unused_{n}|>"]
        vocab[token] = n
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_IDS))
    tok.add_tokens(list(PREFIX_IDS))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", SPECIAL_IDS["[CLS]"]), ("[SEP]", SPECIAL_IDS["[SEP]"])],
    )
    return json.loads(tok.to_str())


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))


def _write_checkpoint(size: str, root: Path, tokenizer: Path | None) -> None:
    rng = np.random.default_rng(SEED)
    a = ARCHITECTURES[size]
    _write_json(root / "config.json", model_config(size))
    save_file(backbone_weights(size, rng), str(root / "model.safetensors"))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    width = a["hidden"]
    for n, out in enumerate(a["dense"], start=1):
        d = root / f"{n}_Dense"
        d.mkdir()
        weight = (rng.standard_normal((out, width), dtype=np.float32) / np.sqrt(width)).astype(np.float32)
        save_file({"linear.weight": weight}, str(d / "model.safetensors"))
        _write_json(d / "config.json", {
            "in_features": width, "out_features": out, "bias": False,
            "activation_function": "torch.nn.modules.linear.Identity", "use_residual": False,
        })
        modules.append({"idx": n, "name": str(n), "path": f"{n}_Dense", "type": "pylate.models.Dense.Dense"})
        width = out
    _write_json(root / "modules.json", modules)
    _write_json(root / "config_sentence_transformers.json", {
        "query_prefix": "[Q] ", "document_prefix": "[D] ", "query_length": 48, "document_length": 512,
        "do_query_expansion": False, "attend_to_expansion_tokens": False,
        "skiplist_words": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), "similarity_fn_name": "MaxSim",
    })
    _write_json(root / "sentence_bert_config.json", {"max_seq_length": 511, "do_lower_case": True})
    _write_json(root / "tokenizer_config.json", {
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]",
        "unk_token": "[UNK]", "model_max_length": 8192,
    })
    if tokenizer:
        shutil.copyfile(tokenizer, root / "tokenizer.json")
    else:
        _write_json(root / "tokenizer.json", generated_tokenizer())
    _write_json(root / SYNTHETIC_MARKER, {
        "synthetic": True, "seed": SEED, "architecture_of": HUB_IDS[size],
        "tokenizer": "given tokenizer.json" if tokenizer else "generated byte-level stand-in",
    })


def write_synthetic(size: str, tokenizer: Path | None = None) -> Path:
    """The synthetic checkpoint for `size` around `tokenizer` (a tokenizer.json; None: a generated byte-level
    stand-in with mxbai's special ids), written once into the cache, keyed by the tokenizer's content."""
    if tokenizer is not None and not Path(tokenizer).is_file():
        raise CheckpointError(f"--tokenizer {tokenizer}: no such file")
    name = f"{HUB_IDS[size].split('/')[-1]}-synthetic" + ("" if tokenizer else "-bytetok")
    key = hashlib.sha256(Path(tokenizer).read_bytes()).hexdigest()[:12] if tokenizer else "generated"
    root = cache_root() / key / name
    if (root / SYNTHETIC_MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root.parent))
    try:
        _write_checkpoint(size, staging, tokenizer)
        staging.rename(root)  # atomic: a crash leaves only a hidden staging directory
    except OSError:
        if not (root / SYNTHETIC_MARKER).is_file():  # a concurrent writer did not win either
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
