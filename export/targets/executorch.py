"""ExecuTorch: torch.export -> XNNPACK lowering -> .pte, dynamic batch (bounded) and sequence."""
from __future__ import annotations

import copy
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import numpy as np

import torch
from torch import nn

from ..encoder import is_token_embedding
from ..gptq import GROUP, QMAX, QuantizedWeight
from . import Artifact, ExportContext, io_spec

NAME = "executorch"
PRECISIONS = ("fp32", "fp16", "int8")
TOOL_PACKAGES = ("executorch", "torchao")
MODEL_FILE = "model.pte"
# XNNPACK's reshape takes one dynamic dimension, and attention reshapes [batch, seq, ...]: a
# dynamic batch gets specialised silently. So the batch is fixed at 1 and the runtime loops.
MAX_BATCH = 1
EXAMPLE_LENGTH = 160
# Ops that must run inside the XNNPACK delegate: a portable fallback of these is a failure.
HEAVY_OPS = ("mm", "bmm", "addmm", "linear", "matmul", "convolution")  # edge op names: aten_<op>_<overload>
# Bookkeeping ops that stay outside any delegate and do no arithmetic.
NON_COMPUTE = ("getitem", "sym_size", "executorch_call_delegate", "view_copy", "squeeze_copy", "unsqueeze_copy",
               "expand_copy", "slice_copy", "split_with_sizes_copy", "_to_dim_order_copy", "permute_copy",
               "select_copy", "alias_copy", "clone")

INT8_RECIPES = {
    "8da8w": "torchao int8 dynamic per-token activations, int8 per-channel weights (XNNPACK qd8 GEMM); "
             "int8 embedding in groups of 32",
    "8da4w": "torchao int8 dynamic per-token activations, int4 weights in groups of 32; int8 embedding in groups of 32",
    "8da4w-emb4": "as 8da4w, with the embedding int4 in groups of 32",
    "gptq-w8": "GPTQ int8 Linear weights in groups of 32, dequantized on every call by ExecuTorch's quantized "
               "kernel, fp32 XNNPACK matmul; int8 embedding in groups of 32",
    "pt2e-dynamic": "PT2E XNNPACKQuantizer, dynamic per-tensor activations, per-channel int8 weights; "
                    "int8 embedding in groups of 32",
}
INT8_RECIPE = "gptq-w8"


class _DequantLinear(nn.Module):
    """int8 weights with a scale per row and group of 32 inputs, dequantized on every call.

    XNNPACK in ExecuTorch 1.5.1 has no weight-only int8 linear: a dequantized weight feeding a
    linear is taken for static quantization and returns garbage, and a linear whose weight is
    computed is left to portable kernels. A batched matmul takes a computed operand, so the
    weight goes through ExecuTorch's per-channel dequantize kernel ([rows * groups, 32] with one
    scale per row is exactly group-32 scales) and then an XNNPACK bmm."""

    def __init__(self, linear: nn.Linear, q: QuantizedWeight):
        super().__init__()
        self.shape = q.values.shape
        self.register_buffer("values", torch.from_numpy(q.values.reshape(-1, GROUP)))
        self.register_buffer("scale", torch.from_numpy(q.scale.reshape(-1).astype(np.float32)))
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.ops.quantized_decomposed.dequantize_per_channel(
            self.values, self.scale, None, 0, -QMAX, QMAX, torch.int8).view(self.shape)
        y = torch.bmm(x, weight.t()[None].expand(x.shape[0], -1, -1))
        return y if self.bias is None else y + self.bias


def _with_dequantized_linears(model: nn.Module, weights: dict[str, QuantizedWeight]) -> nn.Module:
    from executorch.kernels import quantized  # noqa: F401  the dequantize kernel's out variant
    from torch.ao.quantization.fx._decomposed import quantized_decomposed_lib  # noqa: F401  registers the op

    for name, q in weights.items():
        model.set_submodule(name, _DequantLinear(model.get_submodule(name), q))
    return model


def _quantize(model: nn.Module, recipe: str, example: tuple, dynamic_shapes: dict,
              weights: Callable[[], dict[str, QuantizedWeight]]) -> nn.Module:
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, IntxWeightOnlyConfig, quantize_
    from torchao.quantization.granularity import PerAxis, PerGroup

    if recipe == "pt2e-dynamic":
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantize_(model, IntxWeightOnlyConfig(weight_dtype=torch.int8, granularity=PerGroup(32)), filter_fn=is_token_embedding)
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))
        captured = torch.export.export(model, example, dynamic_shapes=dynamic_shapes).module()
        prepared = prepare_pt2e(captured, quantizer)
        prepared(*example)
        return convert_pt2e(prepared)
    embedding_dtype = torch.int4 if recipe == "8da4w-emb4" else torch.int8
    quantize_(model, IntxWeightOnlyConfig(weight_dtype=embedding_dtype, granularity=PerGroup(32)),
              filter_fn=is_token_embedding)
    if recipe == "gptq-w8":
        return _with_dequantized_linears(model, weights())
    # XNNPACK groups int4 weights only; int8 weights are per output channel
    linear = (dict(weight_dtype=torch.int8, weight_granularity=PerAxis(0)) if recipe == "8da8w"
              else dict(weight_dtype=torch.int4, weight_granularity=PerGroup(32)))
    quantize_(model, Int8DynamicActivationIntxWeightConfig(**linear))
    return model


def _dynamic_shapes(max_sequence: int) -> dict:
    sequence = torch.export.Dim("sequence", min=2, max=max_sequence)
    return {"input_ids": {1: sequence}, "attention_mask": {1: sequence}}


def _is_compute(op_type: str) -> bool:
    return not any(skip in op_type for skip in NON_COMPUTE)


def delegation(graph_module: torch.fx.GraphModule) -> dict:
    """How much of the lowered graph XNNPACK runs, and which compute ops it leaves to portable kernels."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    table = info.get_operator_delegation_dataframe()
    rows = [r for r in table.to_dict("records") if r["op_type"] != "Total" and _is_compute(r["op_type"])]
    delegated = sum(int(r["occurrences_in_delegated_graphs"]) for r in rows)
    portable = {r["op_type"]: int(r["occurrences_in_non_delegated_graphs"]) for r in rows
                if int(r["occurrences_in_non_delegated_graphs"])}
    compute = delegated + sum(portable.values())
    total = info.num_delegated_nodes + info.num_non_delegated_nodes
    return {
        "delegated_subgraphs": info.num_delegated_subgraphs,
        "delegated_nodes": info.num_delegated_nodes,
        "non_delegated_nodes": info.num_non_delegated_nodes,
        "delegated_share": round(info.num_delegated_nodes / total, 4) if total else 0.0,
        "delegated_compute_share": round(delegated / compute, 4) if compute else 0.0,
        "portable_compute_ops": dict(sorted(portable.items())),
    }


def _check_matmuls_delegated(report: dict) -> None:
    fallen = [op for op in report["portable_compute_ops"] if any(op.startswith(f"aten_{h}_") for h in HEAVY_OPS)]
    if fallen:
        raise RuntimeError(f"encoder matmuls fell back to portable kernels ({', '.join(fallen)}); "
                           "the XNNPACK partitioner did not take them")


def export(context: ExportContext, precision: str, out_dir: Path, int8_recipe: str = INT8_RECIPE) -> Artifact:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes.sym_shape_eval_pass import ConstraintBasedSymShapeEvalPass

    max_sequence = context.max_sequence or context.settings.document_length
    shapes = _dynamic_shapes(max_sequence)
    ids = torch.randint(1000, 2000, (MAX_BATCH, min(EXAMPLE_LENGTH, max_sequence)))
    example = (ids, torch.ones_like(ids))
    model = copy.deepcopy(context.encoder)
    if precision == "fp16":
        model = model.half()
    elif precision == "int8":
        model = _quantize(model, int8_recipe, example, shapes, lambda: context.int8_weights("gptq"))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, example, dynamic_shapes=shapes)
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    report = delegation(edge.exported_program().graph_module)
    _check_matmuls_delegated(report)
    # plan memory for the declared upper bounds, not for the example's shape
    config = ExecutorchBackendConfig(sym_shape_eval_pass=ConstraintBasedSymShapeEvalPass(),
                                     do_quant_fusion_and_const_prop=True)  # quantized embedding kernels
    (Path(out_dir) / MODEL_FILE).write_bytes(edge.to_executorch(config).buffer)
    recipe = {"fp32": "XNNPACK fp32", "fp16": "XNNPACK fp16 (RoPE angles and softmax in fp32)"}.get(
        precision, INT8_RECIPES[int8_recipe])
    details = {"executorch_version": version("executorch"), "delegation": report,
               **({"int8_recipe": int8_recipe} if precision == "int8" else {})}
    io = io_spec(context.settings.dim, precision, MAX_BATCH, max_sequence, MAX_BATCH)
    return Artifact(MODEL_FILE, io, recipe, details)
