"""The one int8 format every target ships: int8 values with one fp16 scale per row and group of 32 inputs.

Linear weights are GPTQ-quantized (export/precision/gptq.py) and the token embedding round-to-nearest; both
become torch modules that hold the int8 values and scales, swapped into a copy of the encoder by one
loop. Their forward dequantizes with plain ops (cast, multiply), which is how ONNX and TFLite carry
them; a target whose converter needs another form lowers each module in one place (`lower`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

QMAX = 127
GROUP = 32  # inputs sharing one scale


@dataclass
class QuantizedWeight:
    values: np.ndarray  # int8 [rows, cols]
    scale: np.ndarray  # float16 [rows, cols / GROUP]

    def dequantized(self) -> np.ndarray:
        return self.values.astype(np.float32) * np.repeat(self.scale.astype(np.float32), GROUP, axis=1)


def check_width(cols: int) -> None:
    if cols % GROUP:
        raise ValueError(f"width {cols} is not a multiple of the group size {GROUP}")


def round_to_nearest(weight: np.ndarray) -> QuantizedWeight:
    """Symmetric int8 of W [rows, cols] with a scale per row and group of GROUP columns."""
    rows, cols = weight.shape
    check_width(cols)
    groups = weight.astype(np.float32).reshape(rows, cols // GROUP, GROUP)
    scale = (np.maximum(np.abs(groups).max(axis=2), 1e-12) / QMAX).astype(np.float16)
    values = np.clip(np.round(groups / scale[:, :, None].astype(np.float32)), -QMAX, QMAX).astype(np.int8)
    return QuantizedWeight(values.reshape(rows, cols), scale)


def dequantize(values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """int8 [..., n] and fp16 scales [..., n / GROUP] -> fp32 [..., n]."""
    grouped = values.float().unflatten(-1, (-1, GROUP))
    return (grouped * scale.float()[..., None]).flatten(-2)


class Int8Linear(nn.Module):
    """A Linear whose weight is held as int8 values and fp16 group scales."""

    def __init__(self, q: QuantizedWeight, bias: nn.Parameter | None):
        super().__init__()
        self.register_buffer("values", torch.from_numpy(q.values))
        self.register_buffer("scale", torch.from_numpy(q.scale))
        self.bias = bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, dequantize(self.values, self.scale), self.bias)


class Int8Embedding(nn.Module):
    """The token table as int8 rows with fp16 group scales: only the looked-up rows are dequantized."""

    def __init__(self, q: QuantizedWeight):
        super().__init__()
        self.register_buffer("values", torch.from_numpy(q.values))
        self.register_buffer("scale", torch.from_numpy(q.scale))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return dequantize(self.values[ids], self.scale[ids])


TOKEN_EMBEDDING_NAMES = ("embeddings.tok_embeddings", "embeddings.word_embeddings")


def is_token_embedding(module: nn.Module, name: str) -> bool:
    """The vocabulary table (most of a small model's parameters), not position or segment tables."""
    return isinstance(module, nn.Embedding) and name.endswith(TOKEN_EMBEDDING_NAMES)


def quantize_encoder(encoder: nn.Module, weights: dict[str, QuantizedWeight]) -> nn.Module:
    """A copy of the encoder with every Linear in `weights` and the token embedding held in int8."""
    model = copy.deepcopy(encoder)
    for name, module in list(model.named_modules()):
        if name in weights:
            model.set_submodule(name, Int8Linear(weights[name], module.bias))
        elif is_token_embedding(module, name):
            model.set_submodule(name, Int8Embedding(round_to_nearest(module.weight.detach().numpy())))
    return model


Lowering = Callable[[nn.Module], nn.Module]


def lower(model: nn.Module, linear: Lowering | None = None, embedding: Lowering | None = None) -> nn.Module:
    """Replace each Int8Linear / Int8Embedding of `model` (in place) by what a target's converter takes."""
    for name, module in list(model.named_modules()):
        if isinstance(module, Int8Linear) and linear:
            model.set_submodule(name, linear(module))
        elif isinstance(module, Int8Embedding) and embedding:
            model.set_submodule(name, embedding(module))
    return model


def as_float_linear(module: Int8Linear) -> nn.Linear:
    """An fp32 Linear holding exactly the dequantized int8 weight (for converters that re-derive the grid)."""
    out_features, in_features = module.values.shape
    linear = nn.Linear(in_features, out_features, bias=module.bias is not None)
    linear.weight.data = dequantize(module.values, module.scale)
    if module.bias is not None:
        linear.bias.data = module.bias.data
    return linear

