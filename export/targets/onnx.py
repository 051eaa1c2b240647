"""ONNX: torch.onnx (dynamo) export with a dynamic batch and a sequence up to the bound; runs in onnxruntime.

int8 stays int8 in memory: each Int8Linear becomes onnxruntime's `MatMulNBits` (8 bits, blocks of 32,
accuracy level 0: fp32 activations and accumulation, the weight dequantized block by block inside the
kernel) and the token table `GatherBlockQuantized`, which dequantizes only the looked-up rows. Both are
com.microsoft contrib ops, in every onnxruntime build. Plain dequantizing ops (cast, multiply) would be
folded into fp32 weights when onnxruntime loads the model: an int8 file with fp32's memory.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from runtimes.iospec import INPUTS, OUTPUT, IoSpec

from ..precision import fp16, int8
from ..precision import Precision
from . import EXAMPLE_LENGTH, MIN_SEQUENCE, ExportContext, ExportTarget, example_inputs, quiet

OPSET = 18
ZERO_POINT = 128  # MatMulNBits' and GatherBlockQuantized's default for 8-bit uint8 data without zero points
ACCURACY_LEVEL = 0  # fp32 activations: level 4 (int8 activations) misses the int8 tier on trained weights


def _as_unsigned(values: torch.Tensor) -> torch.Tensor:
    return (values.to(torch.int16) + ZERO_POINT).to(torch.uint8)


def _from_unsigned(data: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """uint8 [rows, groups * GROUP] and fp32 scales [rows, groups] -> fp32 [rows, groups * GROUP]."""
    signed = (data.to(torch.int16) - ZERO_POINT).to(torch.int8)
    return int8.dequantize(signed.flatten(1), scales)


@torch.library.custom_op("colbert_onnx::matmul_nbits", mutates_args=())
def matmul_nbits(x: torch.Tensor, blocks: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x [..., K] times the transposed weight held as uint8 blocks [N, K / GROUP, GROUP], scales [N * K / GROUP]."""
    return x @ _from_unsigned(blocks.flatten(1), scales.view(blocks.shape[0], -1)).t()


@matmul_nbits.register_fake
def _(x: torch.Tensor, blocks: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    return x.new_empty((*x.shape[:-1], blocks.shape[0]))


@torch.library.custom_op("colbert_onnx::gather_block_quantized", mutates_args=())
def gather_block_quantized(data: torch.Tensor, ids: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Rows `ids` of a uint8 table [rows, dim] with fp32 scales [rows, dim / GROUP], dequantized."""
    return _from_unsigned(data[ids.flatten()], scales[ids.flatten()]).view(*ids.shape, data.shape[1])


@gather_block_quantized.register_fake
def _(data: torch.Tensor, ids: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    return scales.new_empty((*ids.shape, data.shape[1]))


class _MatMulNBitsLinear(nn.Module):
    def __init__(self, module: int8.Int8Linear):
        super().__init__()
        rows, cols = module.values.shape
        self.register_buffer("blocks", _as_unsigned(module.values).view(rows, cols // int8.GROUP, int8.GROUP))
        self.register_buffer("scales", module.scale.float().flatten())
        self.bias = module.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = matmul_nbits(x, self.blocks, self.scales)
        return y if self.bias is None else y + self.bias


class _BlockQuantizedEmbedding(nn.Module):
    def __init__(self, module: int8.Int8Embedding):
        super().__init__()
        self.register_buffer("data", _as_unsigned(module.values))
        self.register_buffer("scales", module.scale.float())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return gather_block_quantized(self.data, ids, self.scales)


def _contrib_op(name: str, inputs: list[tuple[str, str]], attributes: list[str]):
    """An onnxscript op of the com.microsoft domain; onnx carries no schemas for contrib ops, so declare one."""
    import onnx
    import onnxscript

    Schema = onnx.defs.OpSchema
    types = {"T1": ["tensor(float)"], "T2": ["tensor(uint8)"], "T3": ["tensor(int64)"]}
    used = sorted({t for _, t in inputs} | {"T1"})
    schema = Schema(name, "com.microsoft", 1, inputs=[Schema.FormalParameter(n, t) for n, t in inputs],
                    outputs=[Schema.FormalParameter("Y", "T1")], type_constraints=[(t, types[t], "") for t in used],
                    attributes=[Schema.Attribute(a, Schema.AttrType.INT, "") for a in attributes])
    return onnxscript.values.Op(onnxscript.values.Opset("com.microsoft", 1), name, schema)


def _translations() -> dict:
    """onnxscript functions emitting onnxruntime's contrib ops for the two custom ops above."""
    matmul_op = _contrib_op("MatMulNBits", [("A", "T1"), ("B", "T2"), ("scales", "T1")],
                            ["K", "N", "bits", "block_size", "accuracy_level"])
    gather_op = _contrib_op("GatherBlockQuantized", [("data", "T2"), ("indices", "T3"), ("scales", "T1")],
                            ["gather_axis", "quantize_axis", "block_size", "bits"])

    def matmul(x, blocks, scales):
        n, groups, group = blocks.shape
        return matmul_op(x, blocks, scales, K=groups * group, N=n, bits=8, block_size=group,
                         accuracy_level=ACCURACY_LEVEL)

    def gather(data, ids, scales):
        return gather_op(data, ids, scales, gather_axis=0, quantize_axis=1, block_size=int8.GROUP, bits=8)

    return {torch.ops.colbert_onnx.matmul_nbits.default: matmul,
            torch.ops.colbert_onnx.gather_block_quantized.default: gather}


RECIPES = {
    "fp32": "torch.onnx dynamo export, fp32",
    "fp16": "fp16 Linear weights and token table, widened to fp32 where used; fp32 compute (onnxruntime's fp16 "
            "MatMul sums in fp16 on ARM64)",
    "int8": "GPTQ int8 Linear weights and an int8 token embedding, one fp32 scale per 32 inputs, kept int8 in "
            "memory: MatMulNBits (8 bits, fp32 activations) and GatherBlockQuantized (looked-up rows only)",
}


class Onnx(ExportTarget):
    def lower_int8(self, model: nn.Module) -> nn.Module:
        return int8.lower(model, linear=_MatMulNBitsLinear, embedding=_BlockQuantizedEmbedding)

    def convert(self, context: ExportContext, model: nn.Module, precision: Precision,
                path: Path) -> tuple[IoSpec, dict]:
        import onnxscript.optimizer

        if precision.uses_fp16_form:
            model = fp16.stored_weights(model, context.kept)
        ids, mask = (t.repeat(2, 1) for t in example_inputs(min(EXAMPLE_LENGTH, context.max_sequence)))
        dims = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim("sequence", min=MIN_SEQUENCE, max=context.max_sequence)}
        with quiet("torch.onnx"):
            program = torch.onnx.export(model, (ids, mask), dynamo=True, opset_version=OPSET, input_names=list(INPUTS),
                                        output_names=[OUTPUT], dynamic_shapes={name: dims for name in INPUTS},
                                        custom_translation_table=_translations(), optimize=False, verbose=False)
            onnxscript.optimizer.optimize(program.model)
            program.save(str(path), external_data=False)
        io_spec = IoSpec.encoder(context.settings.dim, "int64", None, context.max_sequence,
                                 MIN_SEQUENCE)
        return io_spec, {"opset": OPSET}


TARGET = Onnx("onnx", "model.onnx", ("onnx", "onnxruntime", "onnxscript"), RECIPES, fp16_form="weights")
