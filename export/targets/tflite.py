"""TFLite / LiteRT: litert-torch conversion to one .tflite with a static-shape signature per length bucket.

litert-torch lowers through JAX, which needs concrete shapes (a dynamic sequence fails in its
`view` lowering), so the model carries one signature per bucket: `encode_query` at
[1, query_length] and `encode_document_<n>` at [1, n] up to document_length. Weights are shared
between signatures. Inputs are int32, as Android feeds them. Shorter inputs are padded with
attention mask 0; the parity gate checks that padding leaves the real tokens' vectors alone.

fp16 is made from the fp32 flatbuffer with ai-edge-quantizer (fp16 weights); int8 converts an
encoder whose Linears are split per group of 32 inputs (`_GroupedLinear`) and quantizes those
weight-only per channel. Compute stays fp32 either way, and XNNPACK runs it.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..encoder import is_token_embedding
from ..gptq import GROUP, QuantizedWeight, round_to_nearest
from . import Artifact, ExportContext, Int32Inputs, io_spec

NAME = "tflite"
PRECISIONS = ("fp32", "fp16", "int8")
TOOL_PACKAGES = ("litert-torch", "ai-edge-quantizer", "ai-edge-litert")
MODEL_FILE = "model.tflite"
DOCUMENT_BUCKETS = (128, 256)  # besides document_length itself
OUTPUT = "embeddings"

INT8_RECIPES = {
    "gptq": "GPTQ int8 Linear weights as one per-channel weight-only Linear per 32 inputs (DEQUANTIZE folded "
            "by XNNPACK at load); int8 embedding in groups of 32, dequantized per looked-up row; fp32 compute",
    "rtn": "as gptq, with round-to-nearest Linear weights",
    "weight-only-channel": "ai-edge-quantizer weight_only_wi8_afp32: per-channel int8 weights, fp32 compute",
    "dynamic": "ai-edge-quantizer dynamic_wi8_afp32: per-channel int8 weights, int8 activations at run time",
}
INT8_RECIPE = "gptq"


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def signatures(query_length: int, document_length: int) -> dict[str, dict]:
    """Signature name -> the kind of input it takes and its fixed length."""
    out = {"encode_query": {"kind": "query", "length": query_length}}
    for n in [b for b in DOCUMENT_BUCKETS if b < document_length] + [document_length]:
        out[f"encode_document_{n}"] = {"kind": "document", "length": n}
    return out


def _convert(encoder: nn.Module, buckets: dict[str, dict], path: Path) -> None:
    import litert_torch

    model = Int32Inputs(encoder, OUTPUT).eval()
    converter = litert_torch.Converter()
    for name, spec in buckets.items():
        ids = torch.randint(1000, 2000, (1, spec["length"]), dtype=torch.int32)
        converter.add_signature(name, model, sample_kwargs={"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    logging.getLogger("absl").setLevel(logging.ERROR)
    # litert-torch prints its progress to stdout, where the summary table goes
    with warnings.catch_warnings(), torch.no_grad(), _quiet():
        warnings.simplefilter("ignore")
        converter.convert().export(str(path))


class _GroupedLinear(nn.Module):
    """A Linear as one Linear per group of 32 inputs, summed. Each part's weight has one scale per
    output row, so per-channel weight-only int8 (a DEQUANTIZE that XNNPACK folds at load) carries
    group-32 scales. LiteRT 2.3 has no DEQUANTIZE for block scales (a blockwise int8 weight-only
    model from ai-edge-quantizer segfaults the interpreter), and per-channel scales alone miss the
    int8 tier."""

    def __init__(self, linear: nn.Linear, q: QuantizedWeight):
        super().__init__()
        weight = torch.from_numpy(q.dequantized())
        self.parts = nn.ModuleList(nn.Linear(GROUP, weight.shape[0], bias=False) for _ in range(weight.shape[1] // GROUP))
        for n, part in enumerate(self.parts):
            part.weight.data = weight[:, n * GROUP:(n + 1) * GROUP].contiguous()
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = x.split(GROUP, dim=-1)
        y = sum(part(chunk) for part, chunk in zip(self.parts, chunks))
        return y if self.bias is None else y + self.bias


class _Int8Embedding(nn.Module):
    """An int8 table in groups of 32: only the looked-up rows are dequantized."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        q = round_to_nearest(embedding.weight.detach().numpy())
        self.register_buffer("values", torch.from_numpy(q.values))
        self.register_buffer("scale", torch.from_numpy(q.scale.astype(np.float32)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.values[ids].float()  # [batch, seq, dim]
        scale = self.scale[ids]  # [batch, seq, dim / GROUP]
        return (rows.view(*ids.shape, -1, GROUP) * scale[..., None]).flatten(-2)


def _int8_model(context: ExportContext, method: str) -> nn.Module:
    """A copy of the encoder with every Linear (GPTQ or RTN) and the token embedding held in int8."""
    model = copy.deepcopy(context.encoder)
    weights = context.int8_weights(method)
    for name, module in list(model.named_modules()):
        if name in weights:
            model.set_submodule(name, _GroupedLinear(module, weights[name]))
        elif is_token_embedding(module, name):
            model.set_submodule(name, _Int8Embedding(module))
    return model


def _recipe(precision: str, int8_recipe: str) -> list[dict]:
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe, recipe_manager

    ops = qtyping.TFLOperationName
    if precision == "fp16":
        manager = recipe_manager.RecipeManager()
        manager.add_weight_only_config(regex=".*", operation_name=ops.ALL_SUPPORTED, num_bits=16,
                                       algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
        return manager.get_quantization_recipe()
    if int8_recipe == "dynamic":
        return recipe.dynamic_wi8_afp32()
    if int8_recipe == "weight-only-channel":
        return recipe.weight_only_wi8_afp32()
    # per-channel int8 of the grouped Linears' parts: their values already sit on an int8 grid
    manager = recipe_manager.RecipeManager()
    manager.add_weight_only_config(regex=".*", operation_name=ops.FULLY_CONNECTED, num_bits=8)
    return manager.get_quantization_recipe()


def _quantize(float_model: Path, quant_recipe, path: Path) -> None:
    from ai_edge_quantizer import quantizer

    with _quiet():  # its report goes to stdout and its progress bars to stderr
        q = quantizer.Quantizer(str(float_model))
        q.load_quantization_recipe(quant_recipe)
        q.quantize().export_model(str(path), overwrite=True)


def export(context: ExportContext, precision: str, out_dir: Path, int8_recipe: str = INT8_RECIPE) -> Artifact:
    s = context.settings
    longest = min(context.max_sequence or s.document_length, s.document_length)  # BERT's positions cap it
    buckets = signatures(s.query_length, longest)
    out = Path(out_dir) / MODEL_FILE
    float_model = context.workdir / "tflite-fp32.tflite"
    if not float_model.is_file():
        _convert(context.encoder, buckets, float_model)
    if precision == "fp32":
        out.write_bytes(float_model.read_bytes())
    elif precision == "fp16" or int8_recipe in ("dynamic", "weight-only-channel"):
        _quantize(float_model, _recipe(precision, int8_recipe), out)
    else:
        grouped = context.workdir / f"tflite-{int8_recipe}-grouped.tflite"
        _convert(_int8_model(context, int8_recipe), buckets, grouped)
        _quantize(grouped, _recipe(precision, int8_recipe), out)
    io = io_spec(s.dim, precision, 1, longest, 1, index_dtype="int32")
    io["signatures"] = buckets
    recipe = {"fp32": "fp32", "fp16": "fp16 weights (ai-edge-quantizer float casting), fp32 compute"}.get(
        precision, INT8_RECIPES[int8_recipe])
    return Artifact(MODEL_FILE, io, recipe, {"int8_recipe": int8_recipe} if precision == "int8" else {})
