"""The two kinds of tokenizer.json a bundle may carry, and the refusal of anything else.

Every port implements exactly these (spec/bundle.md, "Tokenizer"): byte-level BPE (NFC, the ByteLevel
pre-tokenizer with its regex and no prefix space, BPE without byte fallback or affixes) and WordPiece
(BERT's normalizer and pre-tokenizer). Hugging Face tokenizers could run more; the Python runtime refuses
the rest too, so that a bundle it accepts is one every port accepts.
"""
from __future__ import annotations

import json
from pathlib import Path

from .manifest import BundleError

KINDS = {
    "bpe": {"normalizer": "NFC", "pre_tokenizer": "ByteLevel", "model": "BPE"},
    "wordpiece": {"normalizer": "BertNormalizer", "pre_tokenizer": "BertPreTokenizer", "model": "WordPiece"},
}
POST_PROCESSORS = ("TemplateProcessing", "BertProcessing")


def _type(component: object) -> str:
    return str(component.get("type")) if isinstance(component, dict) else "none"


def _refuse(path: Path, component: str, found: str) -> BundleError:
    return BundleError(f"{path}: its {component} is {found}, which bundles do not support "
                       "(byte-level BPE or WordPiece only); re-export from a checkpoint with a supported tokenizer",
                       "unknown_tokenizer_component")


def tokenizer_kind(path: Path, data: dict) -> str:
    """'bpe' or 'wordpiece'; BundleError naming the first component outside both kinds."""
    kind = "bpe" if _type(data.get("normalizer")) == "NFC" else "wordpiece"
    for component, expected in KINDS[kind].items():
        if _type(data.get(component)) != expected:
            raise _refuse(path, component, _type(data.get(component)))
    model, pre = data["model"], data["pre_tokenizer"]
    if kind == "bpe":
        if pre.get("add_prefix_space") or pre.get("use_regex") is False:
            raise _refuse(path, "pre_tokenizer", "ByteLevel with add_prefix_space or without its regex")
        if model.get("byte_fallback") or model.get("ignore_merges") or model.get("dropout") \
                or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
            raise _refuse(path, "model", "BPE with byte_fallback, ignore_merges, dropout or affixes")
    if _type(data.get("post_processor")) not in POST_PROCESSORS:
        raise _refuse(path, "post_processor", _type(data.get("post_processor")))
    return kind


def check_tokenizer(path: Path) -> str:
    """tokenizer.json's text, once it is JSON of a supported kind."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{path} is not valid JSON ({getattr(e, 'msg', 'not UTF-8')}); re-export the bundle",
                          "malformed") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict) or \
            not isinstance(data["model"].get("vocab"), dict):
        raise BundleError(f"{path} has no model vocabulary; re-export the bundle", "malformed")
    tokenizer_kind(path, data)
    return text
