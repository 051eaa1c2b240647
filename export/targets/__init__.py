"""Export targets. Each module has the same shape:

    NAME: str                      the bundle prefix, and the runtime's key in runtimes.ENGINES
    PRECISIONS: tuple[str, ...]    what it can build
    INT8_RECIPES: dict[str, str]   int8 recipe name -> description; INT8_RECIPE is the default
    TOOL_PACKAGES: tuple[str, ...] distributions whose versions go into the manifest
    export(context, precision, out_dir, int8_recipe) -> Artifact
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

import torch
from torch import nn

from runtimes.colbert import ColbertSettings

from ..gptq import QuantizedWeight

TARGETS = {"onnx": "export.targets.onnx", "executorch": "export.targets.executorch", "tflite": "export.targets.tflite",
           "coreml": "export.targets.coreml"}


@dataclass
class ExportContext:
    """What every target and precision of one checkpoint shares."""

    encoder: nn.Module  # fp32, eval mode; targets copy it before changing it
    settings: ColbertSettings
    workdir: Path  # scratch space for this run, for intermediate files a target reuses
    max_sequence: int | None  # a hard cap on the sequence (BERT's positions), or None
    int8_weights: Callable[[str], dict[str, QuantizedWeight]]  # "gptq" | "rtn" -> Linear name -> int8 weight


@dataclass
class Artifact:
    file: str  # path relative to the bundle directory
    io: dict  # input/output names, dtypes and shapes, for apps
    recipe: str  # how the precision was reached, in a few words
    details: dict = field(default_factory=dict)


def io_spec(dim: int, precision: str, batch: int | str, max_sequence: int | None, max_batch: int | None = None,
            index_dtype: str = "int64") -> dict:
    """Input/output names, dtypes and shapes of an encoder artifact, as apps read them from colbert.json."""
    shape = [batch, "sequence"]
    return {
        "inputs": [{"name": "input_ids", "dtype": index_dtype, "shape": shape},
                   {"name": "attention_mask", "dtype": index_dtype, "shape": shape}],
        "outputs": [{"name": "embeddings", "dtype": "float16" if precision == "fp16" else "float32",
                     "shape": shape + [dim]}],
        "max_batch": max_batch,
        "max_sequence": max_sequence,
    }


class Int32Inputs(nn.Module):
    """int32 ids and mask in, as Android and Core ML feed them; the encoder takes int64."""

    def __init__(self, encoder: nn.Module, output: str | None = None):
        super().__init__()
        self.encoder = encoder
        self.output = output  # a name for the output where the converter takes it from a dict

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        vectors = self.encoder(input_ids.long(), attention_mask.long())
        return {self.output: vectors} if self.output else vectors


def target_module(name: str) -> ModuleType:
    return importlib.import_module(TARGETS[name])
