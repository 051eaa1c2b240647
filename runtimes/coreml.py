"""Core ML bundles: Core ML itself on macOS, the numpy reference interpreter (runtimes.mil) elsewhere.

The package has one function per bucket (colbert.json `io.buckets`), run as runtimes.buckets does. The query function loads with the engine; the others on first use.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .colbert import ColbertSettings
from .buckets import check_buckets, check_known, encode_in_buckets
from .iospec import OUTPUT, IoSpec
from .manifest import BundleError, first_line
from .mil import MilError, MilProgram, function_names, read_spec


def coreml_available() -> bool:
    """Core ML predictions run only on macOS."""
    return sys.platform == "darwin"


class CoremlEngine:
    def __init__(self, package: Path, io: IoSpec, pad_token_id: int, use_coreml: bool | None = None):
        self.package = Path(package)
        self.io = io
        self.pad_token_id = pad_token_id
        self.use_coreml = coreml_available() if use_coreml is None else use_coreml
        try:
            available = function_names(read_spec(self.package))
        except MilError as e:
            raise BundleError(f"{first_line(e)}; re-export the bundle") from None
        check_buckets(self.package, io, available, "function")
        self._functions: dict[str, object] = {}
        self.function(io.bucket_for(1, is_query=True)[0])  # a broken package fails here, at load

    def function(self, name: str):
        """The loaded function `name`: an MLModel on macOS, else the interpreter's program."""
        check_known(self.io, name)
        if name not in self._functions:
            try:
                if self.use_coreml:
                    import coremltools as ct

                    self._functions[name] = ct.models.MLModel(str(self.package), function_name=name)
                else:
                    self._functions[name] = MilProgram(self.package, name)
            except MilError as e:
                raise BundleError(f"{first_line(e)}; re-export the bundle") from None
            except Exception as e:  # coremltools raises RuntimeError / ValueError with long text
                raise BundleError(f"{self.package}: Core ML cannot load function {name} ({first_line(e)}); "
                                  "re-export the bundle") from None
        return self._functions[name]

    def run_bucket(self, name: str, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask}
        model = self.function(name)
        try:
            out = model.predict(feed) if self.use_coreml else model.run(feed)
        except MilError as e:
            raise BundleError(first_line(e)) from None
        return out[OUTPUT]

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        return encode_in_buckets(self.io, self.pad_token_id, self.run_bucket, input_ids, attention_mask, is_query)


def load_engine(bundle_dir: Path, settings: ColbertSettings, manifest: dict, threads: int = 0) -> CoremlEngine:
    if threads:
        raise BundleError("Core ML bundles have no thread setting (Core ML schedules its own compute units, and "
                          "the MIL interpreter is a checker, not a runtime to tune); run without --threads")
    return CoremlEngine(Path(bundle_dir) / manifest["artifact"], settings.io, settings.pad_token_id)
