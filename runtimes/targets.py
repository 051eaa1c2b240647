"""Every target the runtime runs, once: the engine module that runs its bundles and the library it runs on.

Runtimes import only engine modules (lazily, so an app that ships one target needs only that target's
runtime package). A new target is one line here and one engine module
(`load_engine(bundle_dir, settings, manifest, threads)`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Target:
    name: str  # the bundle prefix and manifest["target"]
    engine: str  # runtime module
    library: str  # what the engine runs on (the benchmark's baseline imports it without a model)


TARGETS = {t.name: t for t in (
    Target("onnx", "runtimes.onnx", "onnxruntime"),
    Target("executorch", "runtimes.executorch", "executorch.runtime"),
    Target("tflite", "runtimes.tflite", "ai_edge_litert.interpreter"),
    Target("coreml", "runtimes.coreml", "runtimes.mil"),
)}


def engine_module(name: str) -> ModuleType:
    return importlib.import_module(TARGETS[name].engine)
