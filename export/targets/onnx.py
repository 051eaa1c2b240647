"""ONNX: torch.onnx (dynamo) export with a dynamic batch and a sequence up to the bound; runs in onnxruntime.

int8 needs no lowering: the int8 modules' plain dequantizing ops (cast, multiply) are exported as they
are and onnxruntime folds them into fp32 weights when it loads the model, so the file is int8 and
compute fp32. (A block DequantizeLinear instead would be fused by onnxruntime into MatMulNBits with
int8 activations, which misses the int8 tier on trained weights.)
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from runtimes.iospec import INPUTS, OUTPUT, IoSpec

from . import EXAMPLE_LENGTH, MIN_SEQUENCE, ExportContext, ExportTarget, example_inputs, quiet

OPSET = 18
# onnxscript folds constant subgraphs with outputs up to 262144 values at export: that would turn the
# 17m's int8 weights back into fp32 in the file (the 32m's are just too large). Fold only small ones.
FOLD_OUTPUT_LIMIT = 4096


RECIPES = {
    "fp32": "torch.onnx dynamo export, fp32",
    "fp16": "fp16 weights and compute (RoPE angles, LayerNorm, softmax and L2 scaling in fp32)",
    "int8": "GPTQ int8 Linear weights and an int8 token embedding, one fp16 scale per 32 inputs, dequantized "
            "by constant ops that onnxruntime folds at load (the embedding per looked-up row); fp32 compute",
}


class Onnx(ExportTarget):
    def convert(self, context: ExportContext, model: nn.Module, precision: str, path: Path) -> tuple[IoSpec, dict]:
        import onnxscript.optimizer

        if precision == "fp16":
            model = model.to_fp16()
        ids, mask = (t.repeat(2, 1) for t in example_inputs(min(EXAMPLE_LENGTH, context.max_sequence)))
        dims = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim("sequence", min=MIN_SEQUENCE, max=context.max_sequence)}
        with quiet("torch.onnx"):
            program = torch.onnx.export(model, (ids, mask), dynamo=True, opset_version=OPSET, input_names=list(INPUTS),
                                        output_names=[OUTPUT], dynamic_shapes={name: dims for name in INPUTS},
                                        optimize=False, verbose=False)
            onnxscript.optimizer.optimize(program.model, output_size_limit=FOLD_OUTPUT_LIMIT)
            program.save(str(path), external_data=False)
        io_spec = IoSpec.encoder(context.settings.dim, "int64", None, context.max_sequence,
                                 MIN_SEQUENCE)
        return io_spec, {"opset": OPSET}


TARGET = Onnx("onnx", "model.onnx", ("onnx", "onnxruntime", "onnxscript"), RECIPES)
