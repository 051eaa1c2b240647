"""Export targets. Each module has the same shape:

    NAME: str                      the bundle prefix, and the runtime's key in runtimes.ENGINES
    PRECISIONS: tuple[str, ...]    what it can build
    TOOL_PACKAGES: tuple[str, ...] distributions whose versions go into the manifest
    export(encoder, precision, out_dir, workdir, settings) -> Artifact
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

TARGETS = {"onnx": "export.targets.onnx"}


@dataclass
class Artifact:
    file: str  # path relative to the bundle directory
    io: dict  # input/output names, dtypes and shapes, for apps
    recipe: str  # how the precision was reached, in a few words
    details: dict = field(default_factory=dict)


def target_module(name: str) -> ModuleType:
    return importlib.import_module(TARGETS[name])
