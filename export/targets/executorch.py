"""ExecuTorch: torch.export -> XNNPACK lowering -> .pte, batch 1 and a dynamic sequence up to the bound.

XNNPACK's reshape takes one dynamic dimension, and attention reshapes [batch, seq, ...]: a dynamic batch
gets specialised silently, so the batch is fixed at 1 and the runtime loops. The manifest records the
ExecuTorch version (.pte files do not work across versions) and how much XNNPACK runs; an encoder
matmul left to portable kernels fails the export.
"""
from __future__ import annotations

import copy
from importlib.metadata import version
from pathlib import Path

import torch
from torch import nn

from runtimes.iospec import IoSpec

from ..precision import fp16, int8
from ..model.encoder import Attention, attend
from ..precision import Precision
from . import EXAMPLE_LENGTH, MIN_SEQUENCE, ExportContext, ExportTarget, example_inputs, quiet, \
    sequence_shapes

MAX_BATCH = 1
# Ops that must run inside the XNNPACK delegate: a portable fallback of these is a failure.
HEAVY_OPS = ("mm", "bmm", "addmm", "linear", "matmul", "convolution")  # edge op names: aten_<op>_<overload>
# Bookkeeping ops that stay outside any delegate and do no arithmetic.
NON_COMPUTE = ("getitem", "sym_size", "executorch_call_delegate", "view_copy", "squeeze_copy", "unsqueeze_copy",
               "expand_copy", "slice_copy", "split_with_sizes_copy", "_to_dim_order_copy", "permute_copy",
               "select_copy", "alias_copy", "clone")


def _register_quantized_ops() -> None:
    from executorch.kernels import quantized  # noqa: F401  out variants of the kernels below
    from torch.ao.quantization.fx._decomposed import quantized_decomposed_lib  # noqa: F401  the ops themselves


class _DequantBmmLinear(nn.Module):
    """An Int8Linear as ExecuTorch runs it: dequantized on every call by ExecuTorch's per-channel kernel,
    then an XNNPACK batched matmul.

    XNNPACK in ExecuTorch 1.5.1 has no weight-only int8 linear: a dequantized weight feeding a linear is
    taken for static quantization and returns garbage, and a linear whose weight is computed is left to
    portable kernels. A bmm takes a computed operand; [rows * groups, 32] values with one scale per row
    are exactly group-32 scales. The weight is viewed as [1, rows, cols] and transposed inside the bmm's
    delegate: an expand or transpose outside it would copy the fp32 weight into the planned buffers."""

    def __init__(self, module: int8.Int8Linear):
        super().__init__()
        self.shape = tuple(module.values.shape)
        self.register_buffer("values", module.values.reshape(-1, int8.GROUP))
        self.register_buffer("scale", module.scale.reshape(-1).float())
        self.bias = module.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.ops.quantized_decomposed.dequantize_per_channel(
            self.values, self.scale, None, 0, -int8.QMAX, int8.QMAX, torch.int8).view(MAX_BATCH, *self.shape)
        y = torch.bmm(x, weight.transpose(1, 2))
        return y if self.bias is None else y + self.bias


class _ByteEmbedding(nn.Module):
    """An Int8Embedding as ExecuTorch's quantized embedding kernel takes it (group scales per row)."""

    def __init__(self, module: int8.Int8Embedding):
        super().__init__()
        self.register_buffer("values", module.values)
        self.register_buffer("scale", module.scale.float())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized_decomposed.embedding_byte(self.values, self.scale, None, -int8.QMAX, int8.QMAX, ids)


class _Fp16WeightLinear(nn.Module):
    """A Linear as ExecuTorch fp16 runs it: the weight stored in fp16 (half the file), widened to fp32 on
    every call next to an XNNPACK fp32 batched matmul (a bmm takes a computed operand, as for int8).

    XNNPACK's fp16 matmuls accumulate in fp16 wherever the CPU has fp16 arithmetic (ARMv8.2 phones, x86 with
    AVX512-FP16); on the trained MiniLM that put MaxSim 4x past the fp16 tier. CPUs without it (AVX2) widen
    to fp32 inside XNNPACK, so a gate run there never saw what phones compute."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().to(torch.float16)[None])  # [1, out, in]
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.bmm(x, self.weight.float().transpose(1, 2))
        return y if self.bias is None else y + self.bias


class _BatchOneAttention(nn.Module):
    """The encoder's attention for batch 1, in [heads, seq, head_dim]: the same arithmetic, bit for bit.
    Matmuls over 4-D tensors decompose into views and expands that XNNPACK leaves outside its delegates, so
    each layer's [heads, seq, seq] scores, their softmax and an expanded copy would cross delegate boundaries
    and sit in the planned buffers, which are allocated whole at load for the longest sequence. In 3-D the
    chain is one delegate, and XNNPACK holds the scores at the length run (docs/benchmarks.md)."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return attend(q[0], k[0], v[0], bias[0], torch.bmm).transpose(0, 1).flatten(1)[None]


def _with_batch_one_attention(model: nn.Module) -> nn.Module:
    model = copy.deepcopy(model)  # the context's encoder serves the other targets too
    for name, module in list(model.named_modules()):
        if isinstance(module, Attention):
            model.set_submodule(name, _BatchOneAttention())
    return model


WIDENING_OPS = ("dequantize_per_channel", "_to_copy", "_to_dim_order_copy")  # int8 and fp16 weights to fp32


def _widen_where_used(graph_module: torch.fx.GraphModule) -> None:
    """Move each weight's widening to fp32 (int8 dequantization, fp16 cast) to just before its first use.
    Partitioning hoists these constant-only ops to the top of the graph, and the memory planner then keeps
    every widened fp32 weight alive at once (the 17m's arena doubles); next to its matmul, one weight's buffer
    is reused by the next."""
    order = {node: n for n, node in enumerate(graph_module.graph.nodes)}
    constants = {n for n in graph_module.graph.nodes if n.op in ("placeholder", "get_attr")}
    for node in list(graph_module.graph.nodes):
        widening = node.op == "call_function" and any(op in str(node.target) for op in WIDENING_OPS)
        if widening and node.users and set(node.all_input_nodes) <= constants:
            first_user = min(node.users, key=order.__getitem__)
            first_user.prepend(node)
    graph_module.graph.lint()
    graph_module.recompile()


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


def check_matmuls_delegated(report: dict) -> None:
    fallen = [op for op in report["portable_compute_ops"] if any(op.startswith(f"aten_{h}_") for h in HEAVY_OPS)]
    if fallen:
        raise RuntimeError(f"encoder matmuls fell back to portable kernels ({', '.join(fallen)}); "
                           "the XNNPACK partitioner did not take them")


RECIPES = {
    "fp32": "XNNPACK fp32",
    "fp16": "fp16 Linear weights and token table, widened to fp32 next to each XNNPACK fp32 matmul (fp32 compute: "
            "XNNPACK's fp16 matmuls accumulate in fp16 on CPUs with fp16 arithmetic)",
    "int8": "GPTQ int8 Linear weights, one scale per 32 inputs, dequantized on every call by ExecuTorch's "
            "quantized kernel, fp32 XNNPACK matmul; int8 token embedding in groups of 32 (quantized "
            "embedding kernel)",
}


class Executorch(ExportTarget):
    def lower_int8(self, model: nn.Module) -> nn.Module:
        _register_quantized_ops()
        return int8.lower(model, linear=_DequantBmmLinear, embedding=_ByteEmbedding)

    def convert(self, context: ExportContext, model: nn.Module, precision: Precision,
                path: Path) -> tuple[IoSpec, dict]:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower
        from executorch.exir.passes.sym_shape_eval_pass import ConstraintBasedSymShapeEvalPass

        if precision.uses_fp16_form:  # before the attention swap: block names are the encoder's
            model = fp16.stored_weights(model, context.kept, linear=_Fp16WeightLinear)
        model = _with_batch_one_attention(model)
        example = example_inputs(min(EXAMPLE_LENGTH, context.max_sequence))
        with quiet():
            program = torch.export.export(model, example, dynamic_shapes=sequence_shapes(context.max_sequence))
            edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
            report = delegation(edge.exported_program().graph_module)
            check_matmuls_delegated(report)
            _widen_where_used(edge.exported_program().graph_module)
            # plan memory for the declared upper bounds, not for the example's shape
            config = ExecutorchBackendConfig(sym_shape_eval_pass=ConstraintBasedSymShapeEvalPass())
            lowered = edge.to_executorch(config)
            path.write_bytes(lowered.buffer)
        io_spec = IoSpec.encoder(context.settings.dim, "int64", MAX_BATCH,
                                 context.max_sequence, MIN_SEQUENCE)
        planned = sum(lowered.executorch_program.execution_plan[0].non_const_buffer_sizes)
        return io_spec, {"executorch_version": version("executorch"), "delegation": report,
                         "planned_memory_bytes": planned}


TARGET = Executorch("executorch", "model.pte", ("executorch",), RECIPES, fp16_form="weights")
