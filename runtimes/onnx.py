"""ONNX bundles run in onnxruntime on the CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from .colbert import ColbertSettings
from .iospec import check_sequence_bound
from .manifest import BundleError, first_line

_NUMPY = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


class OnnxEngine:
    """Any batch in one call; sequences past the export bound are refused like every engine's."""

    def __init__(self, model_path: Path, max_sequence: int, threads: int = 0):
        self.max_sequence = max_sequence
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BundleError(f"{model_path}: onnxruntime cannot load it ({first_line(e)}); re-export the bundle") from None
        self._dtypes = {i.name: _NUMPY[i.type] for i in self.session.get_inputs()}

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        check_sequence_bound(input_ids.shape[1], self.max_sequence, is_query)
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        (vectors,) = self.session.run(None, {k: v.astype(self._dtypes[k]) for k, v in feed.items()})
        return vectors.astype(np.float32)  # fp16 models: MaxSim is summed in fp32


def load_engine(bundle_dir: Path, settings: ColbertSettings, manifest: dict, threads: int = 0) -> OnnxEngine:
    return OnnxEngine(Path(bundle_dir) / manifest["artifact"], settings.io.max_sequence, threads)
