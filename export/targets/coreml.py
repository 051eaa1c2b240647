"""Core ML: torch.export -> coremltools ML Program (.mlpackage), int32 inputs, flexible sequence length.

The sequence is a RangeDim up to document_length. Two inputs with EnumeratedShapes need iOS 18,
so no shape is on a fixed (Neural Engine friendly) path; the manifest says so. fp16 is Core ML's
fp16 compute precision; int8 is block-32 int8 weights, which needs iOS 18's
constexpr_blockwise_shift_scale (per-channel int8, the iOS 17 option, misses the int8 tier).
"""
from __future__ import annotations

import contextlib
import io
import logging
import shutil
import warnings
from pathlib import Path

import torch

from ..gptq import GROUP, with_int8_values
from . import Artifact, ExportContext, Int32Inputs, io_spec

NAME = "coreml"
PRECISIONS = ("fp32", "fp16", "int8")
TOOL_PACKAGES = ("coremltools",)
MODEL_FILE = "model.mlpackage"
EXAMPLE_LENGTH = 160  # past the 128-token window
MIN_LENGTH = 2

INT8_RECIPES = {
    "gptq": "GPTQ int8 Linear weights and round-to-nearest int8 embedding, one fp16 scale per 32 inputs "
            "(constexpr_blockwise_shift_scale, iOS 18), fp16 compute",
    "rtn": "round-to-nearest int8 weights and embedding in blocks of 32 (iOS 18), fp16 compute",
    "per-channel": "coremltools linear_quantize_weights, int8 per output channel (constexpr_affine_dequantize, "
                   "iOS 17), fp16 compute",
}
INT8_RECIPE = "gptq"


def _deployment_target(precision: str, int8_recipe: str):
    import coremltools as ct

    return ct.target.iOS18 if precision == "int8" and int8_recipe != "per-channel" else ct.target.iOS17


def _convert(encoder: torch.nn.Module, max_sequence: int, precision: str, target):
    import coremltools as ct

    ids = torch.randint(1000, 2000, (1, min(EXAMPLE_LENGTH, max_sequence)), dtype=torch.int32)
    sequence = torch.export.Dim("sequence", min=MIN_LENGTH, max=max_sequence)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(Int32Inputs(encoder).eval(), (ids, torch.ones_like(ids)),
                                      dynamic_shapes={"input_ids": {1: sequence}, "attention_mask": {1: sequence}})
        program = program.run_decompositions({})
        compute = ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16
        return ct.convert(program, outputs=[ct.TensorType("embeddings")], convert_to="mlprogram",
                          minimum_deployment_target=target, compute_precision=compute)


def _quantize_weights(model, recipe: str):
    import coremltools.optimize.coreml as cto

    granularity = dict(granularity="per_channel") if recipe == "per-channel" else dict(granularity="per_block", block_size=GROUP)
    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8",
                                                                               weight_threshold=GROUP, **granularity))
    return cto.linear_quantize_weights(model, config)


def export(context: ExportContext, precision: str, out_dir: Path, int8_recipe: str = INT8_RECIPE) -> Artifact:
    s = context.settings
    max_sequence = min(context.max_sequence or s.document_length, s.document_length)
    target = _deployment_target(precision, int8_recipe)
    encoder = context.encoder
    if precision == "int8" and int8_recipe != "per-channel":
        encoder = with_int8_values(encoder, context.int8_weights(int8_recipe))
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    # coremltools draws progress bars on stderr and prints to stdout, where the summary table goes
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        model = _convert(encoder, max_sequence, precision, target)
        if precision == "int8":
            model = _quantize_weights(model, int8_recipe)
    path = Path(out_dir) / MODEL_FILE
    shutil.rmtree(path, ignore_errors=True)
    model.save(str(path))
    io_ = io_spec(s.dim, precision, 1, max_sequence, 1, index_dtype="int32")
    io_["outputs"][0]["dtype"] = "float32"  # Core ML hands fp16 programs' outputs back as fp32
    io_["min_sequence"] = MIN_LENGTH
    recipe = {"fp32": "ML Program, fp32 compute", "fp16": "ML Program, fp16 compute precision"}.get(
        precision, INT8_RECIPES[int8_recipe])
    details = {
        "minimum_deployment_target": target.name,
        "flexible_shape": f"RangeDim [1, {MIN_LENGTH}..{max_sequence}]",
        "neural_engine_fixed_shapes": [],  # EnumeratedShapes on two inputs need iOS 18; none here
        **({"int8_recipe": int8_recipe} if precision == "int8" else {}),
    }
    return Artifact(MODEL_FILE, io_, recipe, details)
