"""Core ML bundles: Core ML itself on macOS, the numpy reference interpreter (runtimes.mil) elsewhere."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .colbert import ColbertSettings, check_sequence_bound
from .iospec import OUTPUT
from .manifest import BundleError, first_line
from .mil import MilError, MilProgram


def coreml_available() -> bool:
    """Core ML predictions run only on macOS."""
    return sys.platform == "darwin"


class CoremlEngine:
    """Batch is fixed at 1 (the runtime loops); the sequence is flexible up to the export bound."""

    def __init__(self, package: Path, max_sequence: int, use_coreml: bool | None = None):
        self.max_sequence = max_sequence
        self.use_coreml = coreml_available() if use_coreml is None else use_coreml
        try:
            if self.use_coreml:
                import coremltools as ct

                self._model = ct.models.MLModel(str(package))
            else:
                self._program = MilProgram(package)
        except MilError as e:
            raise BundleError(f"{first_line(e)}; re-export the bundle") from None
        except Exception as e:  # coremltools raises RuntimeError / ValueError with long text
            raise BundleError(f"{package}: Core ML cannot load it ({first_line(e)}); re-export the bundle") from None

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids.astype(np.int32), "attention_mask": mask.astype(np.int32)}
        try:
            out = self._model.predict(feed) if self.use_coreml else self._program.run(feed)
        except MilError as e:
            raise BundleError(first_line(e)) from None
        return np.asarray(out[OUTPUT], dtype=np.float32)

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        check_sequence_bound(input_ids.shape[1], self.max_sequence)
        return np.concatenate([self._run(input_ids[i:i + 1], attention_mask[i:i + 1]) for i in range(len(input_ids))])


def load_engine(bundle_dir: Path, settings: ColbertSettings, manifest: dict, threads: int = 0) -> CoremlEngine:
    if threads:
        raise BundleError("Core ML bundles have no thread setting (Core ML schedules its own compute units, and "
                          "the MIL interpreter is a checker, not a runtime to tune); run without --threads")
    return CoremlEngine(Path(bundle_dir) / manifest["artifact"], settings.io.max_sequence)
