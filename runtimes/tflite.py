"""TFLite bundles run in the ai-edge-litert interpreter with its (default) XNNPACK delegate, torch-free.

The model has one fixed-shape signature per length bucket (colbert.json `io.signatures`). Each
sequence goes through the smallest bucket of its kind that holds it, padded with attention mask 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .colbert import ColbertSettings
from .iospec import OUTPUT, Bucket
from .manifest import BundleError, first_line


class TfliteEngine:
    def __init__(self, model_path: Path, buckets: dict[str, Bucket], pad_token_id: int, threads: int = 0):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(str(model_path), num_threads=threads or None)
            available = self.interpreter.get_signature_list()
        except Exception as e:  # the interpreter raises ValueError / RuntimeError with long text
            raise BundleError(f"{model_path}: LiteRT cannot load it ({first_line(e)}); re-export the bundle") from None
        missing = sorted(set(buckets) - set(available))
        if missing:
            raise BundleError(f"{model_path}: colbert.json names signature(s) {', '.join(missing)} that the model "
                              f"does not have (it has {', '.join(sorted(available))}); re-export the bundle")
        self.buckets = buckets
        self.pad_token_id = pad_token_id
        self._runners: dict[str, object] = {}

    def runner(self, name: str):
        if name not in self.buckets:
            raise ValueError(f"unknown signature {name!r}; this bundle has {', '.join(self.buckets)}")
        if name not in self._runners:
            self._runners[name] = self.interpreter.get_signature_runner(name)
        return self._runners[name]

    def signature_for(self, length: int, is_query: bool) -> tuple[str, int]:
        """The smallest bucket of the input's kind that holds `length` tokens."""
        kind = "query" if is_query else "document"
        fitting = sorted((b.length, name) for name, b in self.buckets.items() if b.kind == kind and b.length >= length)
        if not fitting:
            largest = max(b.length for b in self.buckets.values() if b.kind == kind)
            raise ValueError(f"{kind} of {length} tokens is past this bundle's largest {kind} bucket of {largest}; "
                             f"truncate to the {kind} length first")
        bucket, name = fitting[0]
        return name, bucket

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        batch, length = input_ids.shape
        name, bucket = self.signature_for(length, is_query)
        run = self.runner(name)
        ids = np.full((1, bucket), self.pad_token_id, dtype=np.int32)
        mask = np.zeros((1, bucket), dtype=np.int32)
        out = []
        for row in range(batch):  # every signature is batch 1
            ids[0, :length], mask[0, :length] = input_ids[row], attention_mask[row]
            out.append(run(input_ids=ids, attention_mask=mask)[OUTPUT][0, :length].astype(np.float32))
        return np.stack(out)


def load_engine(bundle_dir: Path, settings: ColbertSettings, manifest: dict, threads: int = 0) -> TfliteEngine:
    return TfliteEngine(Path(bundle_dir) / manifest["artifact"], settings.io.buckets, settings.pad_token_id, threads)
