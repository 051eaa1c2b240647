"""Core ML: torch.export -> coremltools ML Program (.mlpackage), int32 inputs, one function per bucket.

The Neural Engine runs a flexible (RangeDim) sequence only at its default length, so the package is a
multifunction model (iOS 18): the program is converted once with a flexible sequence, then materialized
into one fixed-shape function per bucket (the query length, and document buckets as TFLite has),
with the weights shared between functions. The batch is 1. fp16 is Core ML's fp16 compute precision.
int8 holds the int8 format's values as fp32 weights, from which coremltools' per-block quantizer
re-derives the same group-32 grid (`constexpr_blockwise_shift_scale`).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch import nn

from runtimes.iospec import INPUTS, OUTPUT, Bucket, IoSpec

from ..precision import fp16, int8
from ..precision import Precision
from . import EXAMPLE_LENGTH, ExportContext, ExportTarget, Int32Inputs, example_inputs, length_buckets, quiet, \
    sequence_shapes

DEFAULT_FUNCTION = "encode_query"


FP32_OPS = {"matmul", "softmax", "layer_norm"}
LOGIT_OPS = {"mul", "add", "sub", "real_div"}  # the scale and the mask bias applied to attention logits


def _feeds_on_logits(op) -> bool:
    """An elementwise op downstream of an attention matmul, before the softmax."""
    producers = [v.op for v in op.inputs.values() if getattr(v, "op", None) is not None]
    return any(p.op_type == "matmul" or (p.op_type in LOGIT_OPS and _feeds_on_logits(p)) for p in producers)


def _feeds_a_layer_norm(op) -> bool:
    """A residual add: its sum goes into LayerNorm."""
    return any(child.op_type == "layer_norm" for out in op.outputs for child in out.child_ops)


def _after_the_last_layer_norm(op) -> bool:
    """The Dense head and the L2 norm: every op past the backbone's final LayerNorm."""
    ops = list(op.enclosing_block.operations)
    last = max((i for i, o in enumerate(ops) if o.op_type == "layer_norm"), default=len(ops))
    return ops.index(op) > last


def _in_fp16(op) -> bool:
    """Core ML's fp16 precision casts every op; keep in fp32 what the encoder keeps in fp32 in every fp16 model
    (attention logits with their scale and mask, softmax, LayerNorm, the head and the L2 norm), and the
    residual adds: on trained weights, fp16 logits miss the fp16 tier, an fp16 head makes int8 miss the int8
    tier, and fp16 residual sums miss the fp16 tier through the buckets (docs/targets.md)."""
    return (op.op_type not in FP32_OPS and not (op.op_type in LOGIT_OPS and _feeds_on_logits(op))
            and not (op.op_type == "add" and _feeds_a_layer_norm(op)) and not _after_the_last_layer_norm(op))


def nodes_in_blocks(program, blocks: tuple[str, ...]) -> set[str]:
    """The graph nodes torch.export traced inside `blocks` (encoder module paths), which coremltools names
    its ops after."""
    paths = tuple(f"encoder.{b}" for b in blocks)
    return {node.name for node in program.graph.nodes
            if any(fp16.in_blocks(fqn, paths) for fqn, _ in (node.meta.get("nn_module_stack") or {}).values())}


def _op_names(op) -> set[str]:
    """An op's name and the names of what it produces (coremltools gives an op and its output either)."""
    return {op.name, *(out.name for out in op.outputs)}


def _convert(model: nn.Module, max_sequence: int, precision: Precision, kept: tuple[str, ...] = (),
             fp32_ops: Callable | None = None, fp32_output: bool = True):
    """The flexible-sequence ML Program, and the name of each parameter's const in it (the placeholder
    torch.export gave it, which coremltools keeps). The blocks the fp16 fallback `kept` stay fp32, and so do the
    MIL ops `fp32_ops` selects on top of `_in_fp16`'s (export/tools/coreml_fp16_sources.py tries op policies). The
    output is declared fp32 (`fp32_output`): coremltools otherwise casts an fp16 program's output to fp16, which
    rounds the fp32 head's unit vectors for nothing (12% of the fp16 tier's MaxSim room on trained weights)."""
    import coremltools as ct
    import numpy as np
    import torch

    fp16.check_blocks(model, kept)
    example = example_inputs(min(EXAMPLE_LENGTH, max_sequence), torch.int32)
    wrapped = Int32Inputs(model).eval()
    program = torch.export.export(wrapped, example, dynamic_shapes=sequence_shapes(max_sequence)).run_decompositions({})
    kept_nodes = nodes_in_blocks(program, kept)
    selector = lambda op: (_in_fp16(op) and not (_op_names(op) & kept_nodes)  # noqa: E731
                           and not (fp32_ops is not None and fp32_ops(op)))
    # every reduced precision computes in fp16 (int8 too: its weights are int8, its arithmetic fp16)
    compute = ct.transform.FP16ComputePrecision(op_selector=selector) if precision.reduced else ct.precision.FLOAT32
    output = ct.TensorType(OUTPUT, dtype=np.float32) if fp32_output else ct.TensorType(OUTPUT)
    package = ct.convert(program, outputs=[output], convert_to="mlprogram",
                         minimum_deployment_target=ct.target.iOS18, compute_precision=compute)
    consts = {fqn.removeprefix("encoder."): name for name, fqn in program.graph_signature.inputs_to_parameters.items()}
    return package, consts


def _blockwise_int8(model, float_weights: list[str]):
    """Per-block int8 of every Linear weight but `float_weights` (const names): the values already sit on the
    int8 format's group-32 grid, and 99.8% of GPTQ groups hold a +-127, which pins the re-derived scale
    (coremltools' symmetric range is -127..127). Gathers are skipped: coremltools blocks a gathered table
    along its rows, not the int8 format's groups, so the token table keeps its own int8 rows and fp16 scales."""
    import coremltools.optimize.coreml as cto

    config = cto.OptimizationConfig(
        global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_block",
                                                  block_size=int8.GROUP, weight_threshold=int8.GROUP),
        op_type_configs={"gather": None},
        # an fp16 program casts each weight const to a const named after it
        op_name_configs=dict.fromkeys(n for name in float_weights for n in (name, f"{name}_to_fp16")))
    return cto.linear_quantize_weights(model, config)


def _bucket_functions(model, buckets: dict[str, Bucket]):
    """The flexible program materialized into one fixed-shape function per bucket, without the flexible one.
    coremltools' own `materialize_dynamic_shape_mlmodel` re-runs its default passes including the fp16 cast,
    which would turn an fp32 program fp16; this runs them without it (the precision is already set)."""
    import coremltools as ct
    from coremltools.converters.mil.converter import mil_convert
    from coremltools.converters.mil.mil.passes.pass_pipeline import PassPipelineManager

    program = model._mil_program
    pipeline = ct.PassPipeline.DEFAULT
    pipeline.remove_passes({"common::add_fp16_cast"})
    pipeline.insert_pass(0, "common::materialize_symbolic_shape_program")
    shapes = {name: {i: (1, b.length) for i in INPUTS} for name, b in buckets.items()}
    pipeline.set_options("common::materialize_symbolic_shape_program",
                         {"function_name_to_materialization_map": shapes, "source_function_name": "main"})
    PassPipelineManager.apply_pipeline(program, pipeline)
    del program.functions["main"]
    program.default_function_name = DEFAULT_FUNCTION
    program.export_as_multifunction = True
    program.skip_all_passes = True
    return mil_convert(program, convert_from="milinternal", convert_to="mlprogram",
                       specification_version=ct.target.iOS18, compute_units=ct.ComputeUnit.CPU_ONLY,
                       skip_model_load=True)


RECIPES = {
    "fp32": "ML Program, fp32 compute",
    "fp16": "ML Program, fp16 compute precision",
    "int8": "GPTQ int8 Linear weights and int8 token embedding, one fp16 scale per 32 inputs "
            "(constexpr_blockwise_shift_scale), fp16 compute",
}


@dataclass
class Coreml(ExportTarget):
    fp32_ops: Callable | None = None  # MIL ops kept in fp32 besides `_in_fp16`'s: a diagnostic's op policy
    fp32_output: bool = True  # False: coremltools' fp16 output of an fp16 program (the diagnostic measures it)

    def lower_int8(self, model: nn.Module) -> nn.Module:
        return int8.lower(model, linear=int8.as_float_linear)

    def convert(self, context: ExportContext, model: nn.Module, precision: Precision,
                path: Path) -> tuple[IoSpec, dict]:
        buckets = length_buckets(context.settings.query_length, context.max_sequence)
        blocks = context.kept if precision.uses_fp16_form else ()  # int8 keeps Linear layers, not blocks
        with quiet("coremltools"):
            package, consts = _convert(model, context.max_sequence, precision, blocks, self.fp32_ops, self.fp32_output)
            if precision.uses_int8_encoder:
                package = _blockwise_int8(package, [consts[f"{layer}.weight"] for layer in context.kept])
            package = _bucket_functions(package, buckets)
            shutil.rmtree(path, ignore_errors=True)
            package.save(str(path))
        io_spec = IoSpec.encoder(context.settings.dim, "int32", 1, context.max_sequence, buckets=buckets)
        details = {
            "minimum_deployment_target": "iOS18",  # multifunction models; macOS 15
            "default_function": DEFAULT_FUNCTION,
        }
        return io_spec, details


TARGET = Coreml("coreml", "model.mlpackage", ("coremltools",), RECIPES)
