"""Which int8 Linear layers, or which fp16 blocks, cost the most fidelity: for the export's fallbacks when a
bundle misses its tier, or holds it without margin.

Each is measured one at a time: the whole encoder in int8 (or in an fp16 form, export/fp16.py) except that
layer or block, in PyTorch, on the parity gate's texts, against the fp32 reference. The one whose float copy
leaves the smallest MaxSim error is the most sensitive. Weights with sharper outliers than the ones int8 was
tuned on (say, the real mxbai weights against MiniLM's) show up here as one or two layers far ahead of the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from runtimes.colbert import ColbertRuntime, ColbertTokenizer

from . import fp16, int8, parity, parity_texts
from .int8 import QuantizedWeight
from .parity import Encoded


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
    errors = [(name, simulate(encoder, "int8", "", (name,), weights, tokenizer, reference)["maxsim_rel_err_p99"])
              for name in weights]
    return sorted(errors, key=lambda e: e[1])


def _fp16_model(encoder: nn.Module, form: str, kept: tuple[str, ...]) -> nn.Module:
    return fp16.rounded_weights(encoder, kept) if form == "weights" else fp16.rounded_compute(encoder, kept)


def rank_blocks(encoder: nn.Module, form: str, tokenizer: ColbertTokenizer, reference: Encoded) -> list[tuple[str, float]]:
    """(block, MaxSim max with every other block in the fp16 `form`), most sensitive first."""
    if form not in fp16.FORMS:
        raise ValueError(f"unknown fp16 form {form!r}; choose from {', '.join(fp16.FORMS)}")
    errors = [(block, simulate(encoder, "fp16", form, (block,), {}, tokenizer, reference)["maxsim_rel_err_max"])
              for block in fp16.blocks(encoder)]
    return sorted(errors, key=lambda e: e[1])


def simulate(encoder: nn.Module, precision: str, form: str, kept: tuple[str, ...], weights: dict[str, QuantizedWeight],
             tokenizer: ColbertTokenizer, reference: Encoded) -> dict[str, float]:
    """The gate's metrics of the PyTorch form of `precision` with `kept` in float (int8: Linear layers; fp16:
    blocks in `form`): what the fallback predicts a retry from, before exporting it."""
    if precision == "int8":
        model = int8.quantize_encoder(encoder, {k: w for k, w in weights.items() if k not in kept})
    else:
        model = _fp16_model(encoder, form, kept)
    return parity.compare(reference, _outputs(model, tokenizer))
