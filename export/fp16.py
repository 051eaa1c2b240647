"""fp16 blocks: the units the fp16 fallback keeps in fp32, and the two forms targets give fp16.

A block is the token embedding's module or a module that holds Linear layers of the backbone itself (an
attention, its output projection, an MLP). Targets reach fp16 in one of two forms:
- "weights": fp16 weights widened to fp32 at use, fp32 compute (ExecuTorch, TFLite);
- "compute": fp16 weights and arithmetic, with LayerNorm, softmax, logits and the head in fp32 (ONNX, Core ML).
A block kept in fp32 keeps its weights in fp32 in either form, and its arithmetic too in the second.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from . import int8

FORMS = ("weights", "compute")


def _backbone_linears(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and name.startswith("backbone.")]


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def blocks(model: nn.Module) -> list[str]:
    """The encoder's blocks in execution order: the token embedding's module, then each module holding
    backbone Linear layers."""
    embedding = [_parent(n) for n, m in model.named_modules() if int8.is_token_embedding(m, n)]
    return list(dict.fromkeys(embedding + [_parent(n) for n in _backbone_linears(model)]))


def in_blocks(name: str, kept: tuple[str, ...]) -> bool:
    """Whether module `name` lies inside one of the `kept` blocks."""
    return any(name == b or name.startswith(b + ".") for b in kept)


def check_blocks(model: nn.Module, kept: tuple[str, ...]) -> None:
    unknown = sorted(set(kept) - set(blocks(model)))
    if unknown:
        raise ValueError(f"not fp16 blocks of this encoder: {', '.join(unknown)}")


def rounded_weights(model: nn.Module, kept: tuple[str, ...] = ()) -> nn.Module:
    """The "weights" form in PyTorch: every backbone Linear weight and the token table rounded to fp16 but
    those of `kept` blocks; fp32 arithmetic."""
    check_blocks(model, kept)
    model = copy.deepcopy(model)
    for name, module in model.named_modules():
        fp16_linear = isinstance(module, nn.Linear) and name.startswith("backbone.")
        if (fp16_linear or int8.is_token_embedding(module, name)) and not in_blocks(name, kept):
            module.weight.data = module.weight.data.half().float()
    return model


def _round_output(module: nn.Module, inputs, output):
    return output.half().float() if torch.is_tensor(output) and output.is_floating_point() else output


def rounded_compute(model: nn.Module, kept: tuple[str, ...] = ()) -> nn.Module:
    """The "compute" form as the fallback measures it, in fp32 arithmetic: the "weights" form plus every backbone
    Linear's and block's output rounded to fp16 outside `kept` blocks. It ranks blocks as fp16 arithmetic does
    at a fraction of its cost (PyTorch's fp16 on a CPU without fp16 units is ~10x slower); every retry is then
    measured on the real target."""
    model = rounded_weights(model, kept)
    names = set(blocks(model))
    for name, module in model.named_modules():
        linear = isinstance(module, nn.Linear) and name.startswith("backbone.")
        if (linear or name in names) and not in_blocks(name, kept):
            module.register_forward_hook(_round_output)
    return model


class Fp32Block(nn.Module):
    """A block of an fp16 model computed in fp32: floating inputs widened, the output narrowed back."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.block = copy.deepcopy(module).float()

    def forward(self, *args):
        dtypes = [a.dtype for a in args if torch.is_tensor(a) and a.is_floating_point()]
        wide = [a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
        out = self.block(*wide)
        return out.to(dtypes[0]) if dtypes else out.half()


def half_compute(model: nn.Module, kept: tuple[str, ...] = ()) -> nn.Module:
    """The "compute" form: an fp16 backbone, `kept` blocks in fp32, and the head in fp32 (the projection and
    the L2 norm are a sliver of the compute, and XNNPACK's fp16 matmuls put a trained MiniLM's MaxSim 17% past
    the fp16 tier)."""
    check_blocks(model, kept)
    fp32 = {name: module for name, module in model.named_modules() if name in kept}
    half = copy.deepcopy(model).half()
    half.dense.float()
    for name, module in fp32.items():
        half.set_submodule(name, Fp32Block(module))
    return half
