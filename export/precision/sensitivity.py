"""Which int8 Linear layers, or which fp16 blocks, cost the most fidelity: for the export's fallbacks when a
bundle misses its tier, or holds it without margin.

Each is measured one at a time: the whole encoder in int8 (or in an fp16 form, export/precision/fp16.py) except that
layer or block, in PyTorch, on the parity gate's texts, against the fp32 reference. The one whose float copy
leaves the smallest MaxSim error is the most sensitive. Weights with sharper outliers than the ones int8 was
tuned on (say, the real mxbai weights against MiniLM's) show up here as one or two layers far ahead of the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from runtimes.colbert import ColbertRuntime, ColbertTokenizer

from . import fp16, int8
from ..gate import parity, parity_texts
from .int8 import QuantizedWeight
from ..gate.parity import Encoded
from . import TABLE, Precision


BATCH = 16  # the gate's texts in length-sorted batches: the encoder masks padding exactly


@dataclass
class _Eager:
    """A PyTorch encoder as a runtime engine."""

    model: nn.Module

    @torch.inference_mode()
    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray:
        return self.model(torch.from_numpy(input_ids).long(), torch.from_numpy(attention_mask).long()).numpy()


def _outputs(model: nn.Module, tokenizer: ColbertTokenizer) -> Encoded:
    runtime = ColbertRuntime(tokenizer, _Eager(model), batch_size=BATCH)
    return Encoded(runtime.encode_queries(parity_texts.queries()), runtime.encode_documents(parity_texts.documents()))


def rank_layers(encoder: nn.Module, weights: dict[str, QuantizedWeight], tokenizer: ColbertTokenizer,
                reference: Encoded) -> list[tuple[str, float]]:
    """(layer, MaxSim p99 with every other layer int8), most sensitive first."""
    errors = _one_at_a_time(encoder, TABLE["int8"], "", list(weights), weights, tokenizer, reference,
                            "maxsim_rel_err_p99")
    return sorted(errors, key=lambda e: e[1])


def _fp16_model(encoder: nn.Module, form: str, kept: tuple[str, ...]) -> nn.Module:
    return fp16.rounded_weights(encoder, kept) if form == "weights" else fp16.rounded_compute(encoder, kept)


def rank_blocks(encoder: nn.Module, form: str, tokenizer: ColbertTokenizer, reference: Encoded) -> list[tuple[str, float]]:
    """(block, MaxSim max with every other block in the fp16 `form`), most sensitive first."""
    if form not in fp16.FORMS:
        raise ValueError(f"unknown fp16 form {form!r}; choose from {', '.join(fp16.FORMS)}")
    errors = _one_at_a_time(encoder, TABLE["fp16"], form, fp16.blocks(encoder), {}, tokenizer, reference,
                            "maxsim_rel_err_max")
    return sorted(errors, key=lambda e: e[1])


def simulate(encoder: nn.Module, precision: Precision, form: str, kept: tuple[str, ...],
             weights: dict[str, QuantizedWeight], tokenizer: ColbertTokenizer, reference: Encoded) -> dict[str, float]:
    """The gate's metrics of the PyTorch form of `precision` with `kept` in float (int8: Linear layers; fp16:
    blocks in `form`): what the fallback predicts a retry from, before exporting it."""
    return parity.compare(reference, _outputs(_model(encoder, precision, form, kept, weights), tokenizer))


def _model(encoder: nn.Module, precision: Precision, form: str, kept: tuple[str, ...],
           weights: dict[str, QuantizedWeight]) -> nn.Module:
    if precision.uses_int8_encoder:
        return int8.quantize_encoder(encoder, {k: w for k, w in weights.items() if k not in kept})
    return _fp16_model(encoder, form, kept)


# ---------------------------------------------------------------- one at a time, from the shared prefix

LAYER = re.compile(r"^backbone\.(?:encoder\.layer|layers)\.(\d+)\.")


def _layers(model: nn.Module) -> nn.ModuleList:
    backbone = model.backbone
    return backbone.encoder.layer if hasattr(backbone, "encoder") else backbone.layers


class _Replay(nn.Module):
    """Gives back, call by call, what a module of the all-int8 (or all-fp16) model gave on the same batches."""

    def __init__(self, outputs: list[torch.Tensor], kind: str | None):
        super().__init__()
        self.outputs = outputs
        self.kind = kind  # ModernBERT's backbone picks each layer's attention mask by it
        self.calls = 0

    def forward(self, *args, **kwargs) -> torch.Tensor:
        out = self.outputs[self.calls]
        self.calls += 1
        return out


def _recorded(model: nn.Module, tokenizer: ColbertTokenizer) -> list[list[torch.Tensor]]:
    """The embeddings' output, then each layer's, per batch of the gate's texts."""
    stages = [model.backbone.embeddings, *_layers(model)]
    outputs: list[list[torch.Tensor]] = [[] for _ in stages]
    hooks = [stage.register_forward_hook(lambda _m, _i, out, n=n: outputs[n].append(out)) for n, stage in enumerate(stages)]
    try:
        _outputs(model, tokenizer)
    finally:
        for hook in hooks:
            hook.remove()
    return outputs


def _one_at_a_time(encoder: nn.Module, precision: Precision, form: str, names: list[str],
                   weights: dict[str, QuantizedWeight], tokenizer: ColbertTokenizer, reference: Encoded,
                   metric: str) -> list[tuple[str, float]]:
    """`metric` of the model with everything in `precision` but each name, in turn. A name inside layer i
    leaves the embeddings and layers before i as they are in the all-`precision` model, so those stages'
    outputs are recorded once and given back instead of computed again: the same numbers as a full pass
    (tests/test_sensitivity.py), at about 60% of the cost on a 6-layer BERT."""
    recorded = _recorded(_model(encoder, precision, form, (), weights), tokenizer)
    errors = []
    for name in names:
        model = _model(encoder, precision, form, (name,), weights)
        found = LAYER.match(name)
        if found:
            layers = _layers(model)
            model.backbone.embeddings = _Replay(recorded[0], None)
            for j in range(int(found.group(1))):
                layers[j] = _Replay(recorded[j + 1], getattr(layers[j], "kind", None))
        errors.append((name, parity.compare(reference, _outputs(model, tokenizer))[metric]))
    return errors
