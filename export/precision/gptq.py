"""GPTQ int8 weights for every nn.Linear of the encoder (Frantar et al., 2022).

Round-to-nearest int8 of every weight adds small errors in ~40 layers that accumulate; on a
trained MiniLM they put MaxSim off by ~2% (the int8 tier allows 2% at p99). GPTQ quantizes
each weight column in turn and pushes its rounding error onto the columns not yet quantized,
weighted by the inverse Hessian of the layer's inputs on calibration text, so the layer's
output, not its weights, stays close. Scales are symmetric, one per output row and group of 32
inputs: per-channel scales alone cost the trained MiniLM ~2x the MaxSim error.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from runtimes.colbert import ColbertTokenizer

from .calibration_texts import CALIBRATION_TEXTS
from .int8 import GROUP, QMAX, QuantizedWeight, check_width

BLOCK = 128  # columns updated together (speed only)
DAMPING = 0.01


def input_hessians(encoder: nn.Module, tokenizer: ColbertTokenizer) -> dict[str, torch.Tensor]:
    """X^T X / n of each Linear's inputs over the real (unpadded) tokens of the calibration texts."""
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    current_mask: list[torch.Tensor] = []

    def hook(name: str):
        def record(_module, inputs, _output):
            x = inputs[0].detach().double()
            x = x[current_mask[0].bool()]  # [tokens, in]
            sums[name] = sums.get(name, 0) + x.T @ x
            counts[name] = counts.get(name, 0) + len(x)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in encoder.named_modules() if isinstance(m, nn.Linear)]
    try:
        with torch.inference_mode():
            for is_query in (False, True):
                for text in CALIBRATION_TEXTS:
                    ids, mask = tokenizer.encode([text], is_query)
                    current_mask[:] = [torch.from_numpy(mask)]
                    encoder(torch.from_numpy(ids), torch.from_numpy(mask))
    finally:
        for h in handles:
            h.remove()
    return {name: sums[name] / counts[name] for name in sums}


def gptq(weight: torch.Tensor, hessian: torch.Tensor) -> QuantizedWeight:
    """Quantize W [out, in] to int8 with a scale per row and group of GROUP inputs, compensating
    rounding errors through H [in, in]. A group's scale is set when GPTQ reaches it, from the
    already-updated weights, as in the reference implementation."""
    w = weight.detach().double().clone()
    h = hessian.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += DAMPING * torch.mean(torch.diag(h)) * torch.eye(len(h), dtype=h.dtype)
    check_width(w.shape[1])
    scales = torch.zeros(w.shape[0], w.shape[1] // GROUP, dtype=w.dtype)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    columns = w.shape[1]
    for start in range(0, columns, BLOCK):
        end = min(start + BLOCK, columns)
        block = w[:, start:end].clone()
        errors = torch.zeros_like(block)
        hblock = hinv[start:end, start:end]
        for i in range(end - start):
            if (start + i) % GROUP == 0:
                group = block[:, i : i + GROUP]
                # the fp16 scale that ships, so that GPTQ compensates for its rounding too
                scale = (group.abs().amax(dim=1) / QMAX).clamp(min=1e-12).half().double()
                scales[:, (start + i) // GROUP] = scale
            column = block[:, i]
            quantized = torch.clamp(torch.round(column / scale), -QMAX, QMAX)
            q[:, start + i] = quantized
            error = (column - quantized * scale) / hblock[i, i]
            block[:, i:] -= error[:, None] * hblock[i, i:][None, :]
            errors[:, i] = error
        w[:, end:] -= errors @ hinv[start:end, end:]
    return QuantizedWeight(q.to(torch.int8).numpy(), scales.half().numpy())


def linears(encoder: nn.Module) -> dict[str, nn.Linear]:
    return {name: m for name, m in encoder.named_modules() if isinstance(m, nn.Linear)}


def quantize_linears(encoder: nn.Module, tokenizer: ColbertTokenizer) -> dict[str, QuantizedWeight]:
    """int8 for every Linear of the encoder, by module name: GPTQ on calibration text."""
    hessians = input_hessians(encoder, tokenizer)
    with _one_thread():
        return {name: gptq(m.weight, hessians[name]) for name, m in linears(encoder).items()}


@contextmanager
def _one_thread():
    """GPTQ's column loop is thousands of small ops, where a second thread costs more in handoffs than it
    gives; the values are the same."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
