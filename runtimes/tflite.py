"""TFLite bundles run in the ai-edge-litert interpreter with its (default) XNNPACK delegate, torch-free.

The model has one signature per bucket (colbert.json `io.buckets`), run as runtimes.buckets does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .colbert import ColbertSettings
from .buckets import check_buckets, check_known, encode_in_buckets
from .iospec import OUTPUT, IoSpec
from .manifest import BundleError, first_line


class TfliteEngine:
    def __init__(self, model_path: Path, io: IoSpec, pad_token_id: int, threads: int = 0):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(str(model_path), num_threads=threads or None)
            available = self.interpreter.get_signature_list()
        except Exception as e:  # the interpreter raises ValueError / RuntimeError with long text
            raise BundleError(f"{model_path}: LiteRT cannot load it ({first_line(e)}); re-export the bundle") from None
        check_buckets(model_path, io, available, "signature")
        self.io = io
        self.pad_token_id = pad_token_id
        self._runners: dict[str, object] = {}

    def runner(self, name: str):
        check_known(self.io, name)
        if name not in self._runners:
            self._runners[name] = self.interpreter.get_signature_runner(name)
        return self._runners[name]

    def run_bucket(self, name: str, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.runner(name)(input_ids=ids, attention_mask=mask)[OUTPUT]

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        return encode_in_buckets(self.io, self.pad_token_id, self.run_bucket, input_ids, attention_mask, is_query)


def load_engine(bundle_dir: Path, settings: ColbertSettings, manifest: dict, threads: int = 0) -> TfliteEngine:
    return TfliteEngine(Path(bundle_dir) / manifest["artifact"], settings.io, settings.pad_token_id, threads)
