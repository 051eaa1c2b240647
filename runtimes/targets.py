"""Every target, once: the runtime module that runs its bundles and the exporter module that builds them.

Runtimes import only engine modules (lazily, so an app that ships one target needs only that target's
runtime package); the exporter reads the same table. A new target is one line here, one engine module
(`load_engine(bundle_dir, settings, manifest, threads)`) and one exporter module (`TARGET`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Target:
    name: str  # the bundle prefix and manifest["target"]
    engine: str  # runtime module
    exporter: str  # export module
    library: str  # what the engine runs on (the benchmark's baseline imports it without a model)


TARGETS = {t.name: t for t in (
    Target("onnx", "runtimes.onnx", "export.targets.onnx", "onnxruntime"),
    Target("executorch", "runtimes.executorch", "export.targets.executorch", "executorch.runtime"),
    Target("tflite", "runtimes.tflite", "export.targets.tflite", "ai_edge_litert.interpreter"),
    Target("coreml", "runtimes.coreml", "export.targets.coreml", "runtimes.mil"),
)}


def engine_module(name: str) -> ModuleType:
    return importlib.import_module(TARGETS[name].engine)
