"""Running a model that has buckets: one fixed-shape entry point per kind and length (a TFLite signature, a
Core ML function).

Every row goes through the smallest bucket of its kind that holds the batch's length, padded with the pad
token and attention mask 0, one row at a time (each bucket is batch 1); the padding is cut off again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .iospec import IoSpec
from .manifest import BundleError

# an engine's `run_bucket`: (bucket name, int32 ids [1, n], mask [1, n]) -> vectors [1, n, dim]
RunBucket = Callable[[str, np.ndarray, np.ndarray], np.ndarray]


def check_buckets(path: Path, io: IoSpec, available: Iterable[str], kind: str) -> None:
    """At load: the model has every bucket colbert.json names (`kind`: what the target calls an entry point)."""
    available = sorted(available)
    missing = sorted(set(io.buckets) - set(available))
    if not io.buckets or missing:
        raise BundleError(f"{path}: colbert.json names bucket(s) {', '.join(missing) or '(none)'} that the model "
                          f"does not have (its {kind}s: {', '.join(available)}); re-export the bundle")


def check_known(io: IoSpec, name: str) -> None:
    if name not in io.buckets:
        raise ValueError(f"unknown bucket {name!r}; this bundle has {', '.join(io.buckets)}")


def encode_in_buckets(io: IoSpec, pad_token_id: int, run: RunBucket, input_ids: np.ndarray,
                      attention_mask: np.ndarray, is_query: bool) -> np.ndarray:
    batch, length = input_ids.shape
    name, bucket = io.bucket_for(length, is_query)
    ids = np.full((1, bucket), pad_token_id, dtype=np.int32)
    mask = np.zeros((1, bucket), dtype=np.int32)
    out = []
    for row in range(batch):
        ids[0, :length], mask[0, :length] = input_ids[row], attention_mask[row]
        out.append(np.asarray(run(name, ids, mask), dtype=np.float32)[0, :length])
    return np.stack(out)
