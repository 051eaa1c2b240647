"""TFLite / LiteRT: litert-torch conversion to one .tflite with a static-shape signature per length bucket.

litert-torch lowers through JAX, which needs concrete shapes (a dynamic sequence fails in its `view`
lowering), so the model carries one signature per bucket: `encode_query` at [1, query_length] and
`encode_document_<n>` at [1, n] up to the bound. Weights are shared between signatures. Inputs are
int32, as Android feeds them. Shorter inputs are padded with attention mask 0.

fp16 is made from the fp32 flatbuffer with ai-edge-quantizer (fp16 weights). int8 converts the int8
encoder with each Linear split per group of 32 inputs, then quantizes those parts weight-only per
channel; the embedding keeps its plain per-row dequantization, with fp32 scales. Compute stays fp32; XNNPACK runs it.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from runtimes.iospec import OUTPUT, Bucket, IoSpec

from ..precision import fp16, int8
from ..precision import Precision
from . import ExportContext, ExportTarget, Int32Inputs, example_inputs, length_buckets, quiet

def _convert(model: nn.Module, signatures: dict[str, Bucket], path: Path) -> None:
    import litert_torch

    wrapped = Int32Inputs(model, OUTPUT).eval()
    converter = litert_torch.Converter()
    for name, bucket in signatures.items():
        ids, mask = example_inputs(bucket.length, torch.int32)
        converter.add_signature(name, wrapped, sample_kwargs={"input_ids": ids, "attention_mask": mask})
    with quiet("absl"):
        converter.convert().export(str(path))


class _GroupedLinear(nn.Module):
    """An Int8Linear as one Linear per group of 32 inputs, summed. Each part's weight has one scale per
    output row, so per-channel weight-only int8 (a DEQUANTIZE that XNNPACK folds at load) carries group-32
    scales. LiteRT 2.3 has no DEQUANTIZE for block scales (a blockwise int8 weight-only model from
    ai-edge-quantizer segfaults the interpreter)."""

    def __init__(self, module: int8.Int8Linear):
        super().__init__()
        weight = int8.dequantize(module.values, module.scale)
        self.parts = nn.ModuleList(nn.Linear(int8.GROUP, weight.shape[0], bias=False)
                                   for _ in range(weight.shape[1] // int8.GROUP))
        for part, columns in zip(self.parts, weight.split(int8.GROUP, dim=1)):
            part.weight.data = columns.contiguous()
        self.bias = module.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = sum(part(chunk) for part, chunk in zip(self.parts, x.split(int8.GROUP, dim=-1)))
        return y if self.bias is None else y + self.bias


def _fp32_scales(module: int8.Int8Embedding) -> int8.Int8Embedding:
    """LiteRT has no fp16 gather: the embedding's group scales are looked up as fp32 (the same values)."""
    module.scale = module.scale.float()
    return module


class _KeptFloatLinear(nn.Linear):
    """A Linear the int8 or fp16 fallback keeps in float. Its class name is in the scope of its TFLite ops,
    which the recipe leaves out (ai-edge-quantizer matches scopes by regex)."""


class _KeptFloatEmbedding(nn.Embedding):
    """The token table of an embedding block the fp16 fallback keeps in fp32 (its scope, as for the Linears)."""


FLOAT_SCOPE = "_KeptFloat"  # both classes' names start with it


def _quantization_recipe(precision: Precision) -> list[dict]:
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe_manager

    manager = recipe_manager.RecipeManager()
    if precision.uses_fp16_form:  # every weight but those of the blocks kept in fp32
        manager.add_weight_only_config(regex=f"^(?!.*{FLOAT_SCOPE})", num_bits=16,
                                       operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                                       algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
    else:  # the grouped Linears' parts, whose values already sit on an int8 grid; not the layers kept in float
        manager.add_weight_only_config(regex=f"^(?!.*{FLOAT_SCOPE})", num_bits=8,
                                       operation_name=qtyping.TFLOperationName.FULLY_CONNECTED)
    return manager.get_quantization_recipe()


def _quantize(float_model: Path, precision: Precision, path: Path) -> None:
    from ai_edge_quantizer import quantizer

    with quiet(""):  # its warnings go to the root logger: a line per weight shared between signatures
        q = quantizer.Quantizer(str(float_model))
        q.load_quantization_recipe(_quantization_recipe(precision))
        q.quantize().export_model(str(path), overwrite=True)


RECIPES = {
    "fp32": "fp32",
    "fp16": "fp16 weights (ai-edge-quantizer float casting), fp32 compute",
    "int8": "GPTQ int8 Linear weights as one per-channel weight-only Linear per 32 inputs (DEQUANTIZE folded "
            "by XNNPACK at load); int8 token embedding in groups of 32, dequantized per looked-up row; fp32 compute",
}


def _marked(module: nn.Module) -> nn.Module:
    """The same layer under a class whose name marks its ops' scope as kept in float."""
    if type(module) is nn.Linear:
        kept = _KeptFloatLinear(module.in_features, module.out_features, bias=module.bias is not None)
    else:
        kept = _KeptFloatEmbedding(module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx)
    kept.load_state_dict(module.state_dict())
    return kept


def _keep_float(model: nn.Module) -> nn.Module:
    """Mark the plain Linears of an int8 encoder (the layers kept in float) before the int8 ones are split."""
    for name, module in list(model.named_modules()):
        if type(module) is nn.Linear:
            model.set_submodule(name, _marked(module))
    return model


def _keep_blocks(model: nn.Module, kept: tuple[str, ...]) -> nn.Module:
    """A copy with the Linears and token table of the blocks the fp16 fallback keeps marked."""
    fp16.check_blocks(model, kept)
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        weighted = type(module) is nn.Linear or int8.is_token_embedding(module, name)
        if weighted and fp16.in_blocks(name, kept):
            model.set_submodule(name, _marked(module))
    return model


def _float_model_key(context: ExportContext, precision: Precision) -> str:
    """The float flatbuffer's name in the workdir, shared by the conversions that give the same one: fp16 with
    nothing kept casts the fp32 flatbuffer itself."""
    if not precision.uses_int8_encoder and not context.kept:
        return "fp32"
    return f"{precision.name}-{len(context.kept)}-{precision.fallback.unit.kept_in}"


class Tflite(ExportTarget):
    def lower_int8(self, model: nn.Module) -> nn.Module:
        return int8.lower(_keep_float(model), linear=_GroupedLinear, embedding=_fp32_scales)

    def convert(self, context: ExportContext, model: nn.Module, precision: Precision,
                path: Path) -> tuple[IoSpec, dict]:
        signatures = length_buckets(context.settings.query_length, context.max_sequence)
        float_model = context.workdir / f"tflite-{_float_model_key(context, precision)}.tflite"
        if not float_model.is_file():
            marked = _keep_blocks(model, context.kept) if precision.uses_fp16_form else model
            _convert(marked, signatures, float_model)
        if not precision.reduced:
            path.write_bytes(float_model.read_bytes())
        else:
            _quantize(float_model, precision, path)
        io_spec = IoSpec.encoder(context.settings.dim, "int32", 1, context.max_sequence,
                                 buckets=signatures)
        return io_spec, {}


TARGET = Tflite("tflite", "model.tflite", ("litert-torch", "ai-edge-quantizer", "ai-edge-litert"), RECIPES,
                fp16_form="weights")
