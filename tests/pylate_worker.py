"""Runs inside PyLate's own venv (tests/pylate_env.py), never in the project's: PyLate itself saves the test
checkpoints and computes the reference vectors the runtimes are compared with.

    python pylate_worker.py save SOURCE DEST SETTINGS_JSON
    python pylate_worker.py encode MODEL TEXTS_JSON OUT_NPZ
    python pylate_worker.py tokenize MODEL TEXTS_JSON OUT_JSON

Standalone on purpose: it imports nothing from the project.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import torch
from pylate import models


def save(source: str, dest: str, settings: dict) -> None:
    """models.ColBERT(source, **settings).save(dest); `do_lower_case` goes to the Transformer module."""
    torch.manual_seed(settings.pop("seed", 0))  # PyLate initialises a new Dense head randomly
    lower = settings.pop("do_lower_case", None)
    model = models.ColBERT(model_name_or_path=source, device="cpu", **settings)
    if lower is not None:
        model[0].do_lower_case = lower
    model.save(dest)


def encode(model_dir: str, texts_json: str, out: str) -> None:
    """PyLate's encode for every text: its vectors, and the token ids of the positions it kept."""
    model = models.ColBERT(model_name_or_path=model_dir, device="cpu")
    texts = json.loads(open(texts_json, encoding="utf-8").read())
    arrays = {}
    for kind, is_query in (("queries", True), ("documents", False)):
        vectors = model.encode(texts[kind], is_query=is_query, batch_size=8)
        full = model.encode(texts[kind], is_query=is_query, batch_size=8, output_value=None)
        for n, v in enumerate(vectors):
            kept = full["masks"][n].astype(bool)
            if len(v) != kept.sum():
                raise SystemExit(f"PyLate's two encode paths disagree on {kind} {n}")
            arrays[f"{kind}/{n}/vectors"] = np.asarray(v, dtype=np.float32)
            arrays[f"{kind}/{n}/ids"] = full["input_ids"][n][kept].astype(np.int64)
    np.savez(out, **arrays)


def tokenize(model_dir: str, texts_json: str, out: str) -> None:
    """PyLate's ColBERT.tokenize of every text alone, as a query and as a document: input_ids, attention_mask."""
    model = models.ColBERT(model_name_or_path=model_dir, device="cpu")
    texts = json.loads(open(texts_json, encoding="utf-8").read())
    result = []
    for text in texts:
        row = {}
        for kind, is_query in (("query", True), ("document", False)):
            tokens = model.tokenize([text], is_query=is_query)
            row[kind] = {"input_ids": tokens["input_ids"][0].tolist(), "attention_mask": tokens["attention_mask"][0].tolist()}
        result.append(row)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "save":
        save(args[0], args[1], json.loads(args[2]))
    elif command == "encode":
        encode(*args)
    elif command == "tokenize":
        tokenize(*args)
    else:
        raise SystemExit(f"unknown command {command!r}")
