"""The shape every export target has: one `ExportTarget` subclass per module, found through `MODULES`.

The shared chain (`ExportTarget.export`) picks the model for a precision (the fp32 encoder, or its int8
form from export.precision.int8, lowered the target's way), asks the target to convert it, and describes the
artifact. A target says only what is its own: how it converts, how it lowers int8 modules, and its
io spec.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from runtimes.colbert import ColbertSettings
from runtimes.iospec import Bucket, IoSpec

from ..precision import int8
from ..precision.int8 import QuantizedWeight
from ..precision import Precision

EXAMPLE_LENGTH = 160  # past the 128-token window, so tracing sees the sliding-window branch
MIN_SEQUENCE = 2  # torch.export specialises a dimension of size 1
DOCUMENT_BUCKETS = (128, 256)  # fixed document lengths besides the bound itself
# target -> the module whose TARGET builds its bundles; the runtime's registry (runtimes.targets) names the same
# targets (tests/test_registry.py) but not these modules: an app ships the runtime without the exporter
MODULES = {
    "onnx": "export.targets.onnx",
    "executorch": "export.targets.executorch",
    "tflite": "export.targets.tflite",
    "coreml": "export.targets.coreml",
}


@dataclass
class ExportContext:
    """What every target and precision of one checkpoint shares."""

    encoder: nn.Module  # fp32, eval mode; targets copy it before changing it
    settings: ColbertSettings
    workdir: Path  # scratch space for this run, for intermediate files a target reuses
    max_sequence: int  # the one sequence bound of the checkpoint: document_length, capped by BERT's positions
    int8_weights: Callable[[], dict[str, QuantizedWeight]]  # GPTQ, computed once: Linear name -> int8 weight
    kept: tuple[str, ...] = ()  # what the precision's fallback keeps in higher precision (export.precision)

    def int8_encoder(self) -> nn.Module:
        """A copy of the encoder in the one int8 format (export.precision.int8), but for the Linear layers `kept` in float."""
        weights = {k: w for k, w in self.int8_weights().items() if k not in self.kept}
        return int8.quantize_encoder(self.encoder, weights)


@dataclass
class Artifact:
    file: str  # path relative to the bundle directory
    io: IoSpec
    recipe: str  # how the precision was reached, in a few words
    details: dict = field(default_factory=dict)


@dataclass
class ExportTarget:
    """One target: a subclass implements `convert` (and `lower_int8` where needed); its module's TARGET is
    an instance, named in MODULES."""

    name: str
    artifact: str  # the file (or directory) in the bundle
    tool_packages: tuple[str, ...]  # distributions whose versions go into the manifest
    recipes: dict[str, str]  # precision -> how it is reached, for the manifest and the help text
    fp16_form: str = "compute"  # export.precision.fp16.FORMS: what fp16 rounds, which the fallback measures blocks in

    def lower_int8(self, model: nn.Module) -> nn.Module:
        """The int8 encoder in the form this target's converter takes; plain dequantizing ops by default."""
        return model

    def convert(self, context: ExportContext, model: nn.Module, precision: Precision,
                path: Path) -> tuple[IoSpec, dict]:
        """Write the artifact for `model` (fp32, or lowered int8) to `path`; return its io spec and details."""
        raise NotImplementedError

    def export(self, context: ExportContext, precision: Precision, out_dir: Path) -> Artifact:
        model = self.lower_int8(context.int8_encoder()) if precision.uses_int8_encoder else context.encoder
        io_spec, details = self.convert(context, model, precision, Path(out_dir) / self.artifact)
        details = {**precision.recorded(context.kept, self.fp16_form), **details}
        return Artifact(self.artifact, io_spec, self.recipes[precision.name], details)


def example_inputs(length: int, dtype: torch.dtype = torch.int64) -> tuple[torch.Tensor, torch.Tensor]:
    """One row of ordinary token ids and a full mask, for tracing."""
    ids = torch.randint(1000, 2000, (1, length), dtype=dtype, generator=torch.Generator().manual_seed(0))
    return ids, torch.ones_like(ids)


def length_buckets(query_length: int, max_sequence: int) -> dict[str, Bucket]:
    """The buckets of a target that needs them (TFLite signatures, Core ML functions): bucket name ->
    the kind of input it takes and its length. Queries have one length; documents go to the smallest that fits."""
    out = {"encode_query": Bucket("query", query_length)}
    for n in [b for b in DOCUMENT_BUCKETS if b < max_sequence] + [max_sequence]:
        out[f"encode_document_{n}"] = Bucket("document", n)
    return out


def sequence_shapes(max_sequence: int) -> dict:
    """torch.export dynamic shapes: the sequence from MIN_SEQUENCE to the bound, batch fixed."""
    sequence = torch.export.Dim("sequence", min=MIN_SEQUENCE, max=max_sequence)
    return {"input_ids": {1: sequence}, "attention_mask": {1: sequence}}


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Converters print progress to stdout (where the summary table goes), draw bars on stderr, warn and
    log advice: silence them for this call only, and restore every logger's level after."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    try:
        for name in loggers:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class Int32Inputs(nn.Module):
    """int32 ids and mask in, as Android and Core ML feed them; the encoder takes int64."""

    def __init__(self, encoder: nn.Module, output: str | None = None):
        super().__init__()
        self.encoder = encoder
        self.output = output  # a name for the output where the converter takes it from a dict

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        vectors = self.encoder(input_ids.long(), attention_mask.long())
        return {self.output: vectors} if self.output else vectors


def target(name: str) -> ExportTarget:
    """A target's ExportTarget; imports its converter."""
    return importlib.import_module(MODULES[name]).TARGET
