"""Where fp16's error comes from, op by op: `python -m export.tools.fp16_sources --model DIR`.

A diagnostic for BERT-family checkpoints (the trained weights the tests have). Each row runs the PyTorch
encoder in fp32 with one kind of op carried out as fp16 hardware would, and measures the parity metrics
against fp32 on a subset of the gate's texts:
- "weights": every backbone Linear weight and the token table rounded to fp16 (fp32 arithmetic): what
  ExecuTorch's and TFLite's fp16 bundles compute;
- "gemm accumulation": the weights row, plus every backbone Linear summing its products in fp16, one rounding
  per multiply-add, as XNNPACK's fp16 GEMMs do on CPUs with fp16 arithmetic (ARMv8.2 phones, AVX512-FP16);
- "linear outputs": each Linear's result rounded to fp16 (fp32 sums), as fp16 storage between ops is;
- "residual adds": each residual sum rounded to fp16 before its LayerNorm;
- "gelu products": each GELU's output rounded to fp16;
- "attention value product": softmax weights and values in fp16, their product summed in fp16;
- "embedding layernorm": the embedding sum and its LayerNorm's output rounded to fp16.
The fp16 tier's bounds apply; the rows say which ops carry the error, not how a bundle scores.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
import types
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..gate import parity
from ..model.encoder import Attention, BertEmbeddings, BertIntermediate, BertResidual
from ..precision import TABLE
from runtimes.table import format_table

Rewrite = Callable[[nn.Module], None]


def _half(t: torch.Tensor) -> torch.Tensor:
    return t.half().float()


def accumulate_fp16(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x [..., K] @ weight[N, K].T with fp16 inputs and a running fp16 sum: one rounding per multiply-add."""
    flat = x.reshape(-1, x.shape[-1]).half()
    w = weight.half()
    acc = torch.zeros(flat.shape[0], w.shape[0], dtype=torch.float16)
    for k in range(flat.shape[1]):
        acc = torch.addcmul(acc, flat[:, k:k + 1], w[None, :, k])
    return acc.float().reshape(*x.shape[:-1], w.shape[0])


def _linears(model: nn.Module):
    return [m for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith("backbone.")]


def round_weights(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if (isinstance(module, nn.Linear) and name.startswith("backbone.")) or name.endswith("word_embeddings"):
            module.weight.data = _half(module.weight.data)


def gemm_accumulation(model: nn.Module) -> None:
    round_weights(model)
    for linear in _linears(model):
        def forward(self, x):
            y = accumulate_fp16(x, self.weight)
            return y if self.bias is None else _half(y + self.bias)
        linear.forward = types.MethodType(forward, linear)


def _round_outputs(modules) -> None:
    for module in modules:
        module.register_forward_hook(lambda m, i, out: _half(out))


def linear_outputs(model: nn.Module) -> None:
    _round_outputs(_linears(model))


def residual_adds(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, BertResidual):
            def forward(self, x, residual):
                return self.LayerNorm(_half(self.dense(x) + residual))
            module.forward = types.MethodType(forward, module)


def gelu_products(model: nn.Module) -> None:
    _round_outputs(m.act for m in model.modules() if isinstance(m, BertIntermediate))


def attention_value_product(model: nn.Module) -> None:
    def forward(self, q, k, v, bias):
        scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5) + bias
        weights = torch.softmax(scores, dim=-1)
        b, h, s, d = v.shape
        out = torch.stack([accumulate_fp16(weights[i, j], v[i, j].T) for i in range(b) for j in range(h)])
        return out.view(b, h, s, d).transpose(1, 2).flatten(2)
    for module in model.modules():
        if isinstance(module, Attention):
            module.forward = types.MethodType(forward, module)


def embedding_layernorm(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, BertEmbeddings):
            def forward(self, input_ids):
                positions = torch.arange(input_ids.shape[1])
                x = _half(self.word_embeddings(input_ids) + self.position_embeddings(positions)[None])
                return _half(self.LayerNorm(_half(x + self.token_type_embeddings.weight[0])))
            module.forward = types.MethodType(forward, module)


ROWS: dict[str, Rewrite] = {
    "weights": round_weights,
    "gemm accumulation": gemm_accumulation,
    "linear outputs": linear_outputs,
    "residual adds": residual_adds,
    "gelu products": gelu_products,
    "attention value product": attention_value_product,
    "embedding layernorm": embedding_layernorm,
}


def subset(texts: parity.Texts, queries: int, documents: int) -> parity.Texts:
    return parity.Texts(texts.queries[:queries], texts.documents[:documents])


def measure(checkpoint, queries: int = 14, documents: int = 30, log=print) -> list[tuple[str, dict]]:
    from runtimes.colbert import ColbertRuntime, ColbertTokenizer

    from ..model.encoder import load_encoder
    from ..model.reference import Reference
    from ..precision.sensitivity import _Eager

    encoder = load_encoder(checkpoint)
    if not any(isinstance(m, BertEmbeddings) for m in encoder.modules()):
        raise SystemExit("error: fp16_sources rewrites BERT-family encoders only; this checkpoint is "
                         f"{checkpoint.model_type}")
    tokenizer = ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)
    texts = subset(parity.gate_texts(), queries, documents)
    reference = parity.reference_outputs(Reference(checkpoint), tokenizer, texts)
    rows = []
    for name, rewrite in ROWS.items():
        started = time.perf_counter()
        model = copy.deepcopy(encoder)
        rewrite(model)
        runtime = ColbertRuntime(tokenizer, _Eager(model), batch_size=8)
        with torch.inference_mode():
            candidate = parity.Encoded(runtime.encode_queries(texts.queries), runtime.encode_documents(texts.documents))
        rows.append((name, parity.compare(reference, candidate)))
        log(f"{name}: {time.perf_counter() - started:.0f}s")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.tools.fp16_sources", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a local PyLate checkpoint with a BERT backbone")
    parser.add_argument("--queries", type=int, default=14, help="the gate's first N queries (default 14)")
    parser.add_argument("--documents", type=int, default=30, help="the gate's first N documents (default 30)")
    args = parser.parse_args(argv)
    from ..model.checkpoint import CheckpointError, read_checkpoint

    try:
        checkpoint = read_checkpoint(args.model, source=str(args.model))
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = measure(checkpoint, args.queries, args.documents, log=lambda m: print(m, file=sys.stderr))
    bound = TABLE["fp16"].tier["maxsim_rel_err_max"][1]
    print(format_table([[name, f"{m['cosine_min']:.6f}", f"{m['maxsim_rel_err_p99']:.2e}", f"{m['maxsim_rel_err_max']:.2e}",
                         f"{m['maxsim_rel_err_max'] / bound:.0%}", f"{m['top10_agreement']:.3f}"] for name, m in rows],
                       ["fp16 in", "cos min", "MaxSim p99", "MaxSim max", "of the fp16 bound", "top10"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
