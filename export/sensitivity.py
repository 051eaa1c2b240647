"""Which int8 Linear layers cost the most fidelity, for the export's fallback when int8 misses its tier.

Each layer is measured one at a time: the whole encoder in int8 except that layer, in PyTorch, on the
parity gate's texts, against the fp32 reference. The layer whose float copy leaves the smallest MaxSim
error is the most sensitive. Weights with sharper outliers than the ones int8 was tuned on (say, the real
mxbai weights against MiniLM's) show up here as one or two layers far ahead of the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from runtimes.colbert import ColbertRuntime, ColbertTokenizer

from . import int8, parity, parity_texts
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
    errors = []
    for name in weights:
        model = int8.quantize_encoder(encoder, {k: w for k, w in weights.items() if k != name})
        errors.append((name, parity.compare(reference, _outputs(model, tokenizer))["maxsim_rel_err_p99"]))
    return sorted(errors, key=lambda e: e[1])
