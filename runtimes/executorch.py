"""ExecuTorch bundles (.pte, XNNPACK) run in the ExecuTorch Python runtime."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .colbert import ColbertSettings
from .iospec import check_sequence_bound
from .manifest import BundleError, first_line


def _major(version: str) -> str:
    return version.split(".")[0]


class ExecutorchEngine:
    """Batches larger than the export bound are split; longer sequences are refused."""

    def __init__(self, program_path: Path, max_batch: int, max_sequence: int, threads: int = 0):
        import torch  # the ExecuTorch Python runtime exchanges torch tensors
        from executorch.extension.pybindings import portable_lib
        from executorch.kernels import quantized  # noqa: F401  registers the quantized kernels
        from executorch.runtime import Runtime

        if threads:  # XNNPACK runs on ExecuTorch's one process-wide threadpool
            portable_lib._unsafe_reset_threadpool(threads)
        self._torch = torch
        self.max_batch, self.max_sequence = max_batch, max_sequence
        try:
            program = Runtime.get().load_program(Path(program_path))
            self.method = program.load_method("forward")
        except Exception as e:  # the runtime raises RuntimeError / ValueError with multi-line text
            raise BundleError(f"{program_path}: ExecuTorch cannot load it ({first_line(e)}); re-export the bundle") from None

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        check_sequence_bound(input_ids.shape[1], self.max_sequence, is_query)
        out = []
        for start in range(0, len(input_ids), self.max_batch):
            ids = self._torch.from_numpy(np.ascontiguousarray(input_ids[start:start + self.max_batch], np.int64))
            mask = self._torch.from_numpy(np.ascontiguousarray(attention_mask[start:start + self.max_batch], np.int64))
            (vectors,) = self.method.execute([ids, mask])
            out.append(vectors.float().numpy())
        return np.concatenate(out)


def load_engine(bundle_dir: Path, settings: ColbertSettings, manifest: dict, threads: int = 0) -> ExecutorchEngine:
    from importlib.metadata import version

    made_with, installed = manifest.get("tools", {}).get("executorch", "?"), version("executorch")
    if _major(made_with) != _major(installed):
        raise BundleError(f"{bundle_dir} was exported with ExecuTorch {made_with}, this runtime is {installed}: "
                          ".pte files are not compatible across major versions; re-export with this version")
    io = settings.io
    return ExecutorchEngine(Path(bundle_dir) / manifest["artifact"], io.max_batch, io.max_sequence, threads)
