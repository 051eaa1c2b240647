"""fp16 blocks: the units the fp16 fallback keeps in fp32, and the two forms targets give fp16.

A block is the token embedding's module or a module that holds Linear layers of the backbone itself (an
attention, its output projection, an MLP). Targets reach fp16 in one of two forms:
- "weights": fp16 weights widened to fp32 at use, fp32 compute (ONNX, ExecuTorch, TFLite). Summing a GEMM's
  products in fp16, as onnxruntime's and XNNPACK's fp16 kernels do on ARM64 phones, puts a trained MiniLM's
  MaxSim 2.8x past the fp16 tier (`python -m export.tools.fp16_sources`), and a gate run on a CPU without fp16
  arithmetic never sees it: so no target computes a GEMM in fp16 on a CPU;
- "compute": fp16 weights and arithmetic, with LayerNorm, softmax, logits, residual adds and the head in fp32
  (Core ML's fp16 compute precision, for the Neural Engine and the GPU).
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


def is_ffn(block: str) -> bool:
    """A feed-forward block: BERT's `intermediate` and (FFN) `output`, ModernBERT's `mlp`."""
    last = block.rpartition(".")[2]
    return last in ("intermediate", "mlp") or (last == "output" and not block.endswith("attention.output"))


def groups(model: nn.Module) -> list[tuple[str, tuple[str, ...]]]:
    """The fallback's last steps, whole groups of blocks kept in fp32: every feed-forward block, then every
    block holding Linear layers. Where fp16's error is spread over every layer rather than one block, as in
    Core ML's fp16 compute on trained weights, keeping a few blocks moves MaxSim's worst pair either way, and
    only a group lowers it (docs/targets.md)."""
    linear = [b for b in blocks(model) if any(isinstance(m, nn.Linear) for m in model.get_submodule(b).modules())]
    return [("every feed-forward block", tuple(b for b in linear if is_ffn(b))),
            ("every block with Linear layers", tuple(linear))]


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


class Fp16WeightLinear(nn.Module):
    """A Linear whose weight is stored in fp16 and widened to fp32 where it is used: the "weights" form."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().to(torch.float16))
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight.float(), self.bias)


class Fp16WeightEmbedding(nn.Module):
    """The token table stored in fp16; only the looked-up rows are widened to fp32."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.register_buffer("weight", embedding.weight.detach().to(torch.float16))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(ids, self.weight).float()


def stored_weights(model: nn.Module, kept: tuple[str, ...] = (), linear=Fp16WeightLinear,
                   embedding=Fp16WeightEmbedding) -> nn.Module:
    """A copy holding the backbone's Linear weights and the token table in fp16 but those of `kept` blocks;
    a target that needs another module form passes its own `linear` / `embedding`."""
    check_blocks(model, kept)
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if in_blocks(name, kept):
            continue
        if isinstance(module, nn.Linear) and name.startswith("backbone."):
            model.set_submodule(name, linear(module))
        elif int8.is_token_embedding(module, name):
            model.set_submodule(name, embedding(module))
    return model
