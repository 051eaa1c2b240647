"""ONNX: torch.onnx (dynamo) export with dynamic batch and sequence, in fp32, fp16 and int8."""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ..gptq import GROUP, QuantizedWeight, linears, round_to_nearest
from . import Artifact, ExportContext, io_spec

NAME = "onnx"
PRECISIONS = ("fp32", "fp16", "int8")
TOOL_PACKAGES = ("onnx", "onnxruntime", "onnxscript")
MODEL_FILE = "model.onnx"
OPSET = 18
EXAMPLE_LENGTH = 160  # past the 128-token window, so tracing sees the sliding-window branch

INT8_RECIPES = {
    "gptq": "GPTQ int8 weights (groups of 32, fp16 scales) dequantized by constant ops that onnxruntime "
            "folds at load, fp32 compute",
    "rtn": "round-to-nearest int8 weights (groups of 32, fp16 scales), folded at load, fp32 compute",
    "gptq-int8-compute": "GPTQ int8 weights as block DequantizeLinear, which onnxruntime fuses into "
                         "MatMulNBits with int8 activations (accuracy level 4)",
    "dynamic": "onnxruntime quantize_dynamic of every MatMul (per-tensor weights and activations)",
    "dynamic-per-channel": "onnxruntime quantize_dynamic of every MatMul (per-channel weights)",
}
INT8_RECIPE = "gptq"


def _torch_export(encoder: torch.nn.Module, path: Path) -> None:
    ids = torch.randint(1000, 2000, (2, EXAMPLE_LENGTH))
    mask = torch.ones_like(ids)
    dims = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    # torch.onnx prints its own progress to stdout, where the summary table goes
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, (ids, mask), str(path), dynamo=True, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
            dynamic_shapes={"input_ids": dims, "attention_mask": dims},
            optimize=True, external_data=False, verbose=False,
        )


def _fp32_model(context: ExportContext) -> Path:
    """The fp32 export, made once per run and shared by fp32 and int8."""
    path = context.workdir / "onnx-fp32.onnx"
    if not path.is_file():
        _torch_export(context.encoder, path)
    return path


# ------------------------------------------------------------------------------------ int8


def _initializer(graph: onnx.GraphProto, array: np.ndarray, name: str) -> str:
    graph.initializer.append(numpy_helper.from_array(array, name))
    return name


def _dequantize_nodes(graph: onnx.GraphProto, name: str, weight: QuantizedWeight, output: str,
                      values_input: str | None = None, scale_input: str | None = None) -> list[onnx.NodeProto]:
    """int8 values [..., n] * fp16 scales per GROUP along the last axis -> fp32 `output`.

    With constant inputs every node folds away when onnxruntime loads the model, so the file is
    int8 while compute stays fp32. For a gathered table, values_input/scale_input are the rows.
    """
    values = values_input or _initializer(graph, weight.values, name + "_int8")
    scales = scale_input or _initializer(graph, weight.scale.astype(np.float16), name + "_scale")
    grouped = _initializer(graph, np.array([0] * (2 if values_input else 1) + [-1, GROUP], np.int64), name + "_grouped")
    flat = _initializer(graph, np.array([0] * (2 if values_input else 1) + [-1], np.int64), name + "_flat")
    axes = _initializer(graph, np.array([-1], np.int64), name + "_axes")
    return [
        helper.make_node("Cast", [values], [name + "_f"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", [name + "_f", grouped], [name + "_g"]),
        helper.make_node("Cast", [scales], [name + "_s32"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", [name + "_s32", axes], [name + "_s"]),
        helper.make_node("Mul", [name + "_g", name + "_s"], [name + "_m"]),
        helper.make_node("Reshape", [name + "_m", flat], [output]),
    ]


def _replace(graph: onnx.GraphProto, node: onnx.NodeProto, new_nodes: list[onnx.NodeProto]) -> None:
    index = list(graph.node).index(node)
    graph.node.remove(node)
    for offset, new in enumerate(new_nodes):
        graph.node.insert(index + offset, new)


def _quantize_token_embedding(model: onnx.ModelProto) -> str:
    """The token table as int8 rows with a scale per 32 values; only looked-up rows are dequantized."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    node = next((n for n in graph.node if n.op_type == "Gather" and n.input[1] == "input_ids" and n.input[0] in inits), None)
    if node is None:
        raise RuntimeError("no token-embedding Gather on input_ids found in the exported graph")
    name, out = node.input[0], node.output[0]
    table = numpy_helper.to_array(inits[name])
    graph.initializer.remove(inits[name])
    q = round_to_nearest(table)
    values = _initializer(graph, q.values, name + "_int8")
    scales = _initializer(graph, q.scale.astype(np.float16), name + "_scale")
    gathers = [
        helper.make_node("Gather", [values, "input_ids"], [name + "_rows"], axis=0),
        helper.make_node("Gather", [scales, "input_ids"], [name + "_row_scales"], axis=0),
    ]
    _replace(graph, node, gathers + _dequantize_nodes(graph, name + "_dq", q, out, name + "_rows", name + "_row_scales"))
    return f"{name} {list(table.shape)}"


def _weight_digest(array: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def _quantize_matmuls(model: onnx.ModelProto, encoder: torch.nn.Module, weights: dict[str, QuantizedWeight],
                      block_dequantize: bool) -> int:
    """Swap each MatMul's fp32 weight for its int8 form, found by matching the exported values.

    block_dequantize: emit DequantizeLinear(block_size=GROUP), which onnxruntime turns into
    MatMulNBits with int8 activations; otherwise plain ops that fold back to fp32 at load.
    """
    graph = model.graph
    by_digest = {_weight_digest(m.weight.detach().numpy().T): n for n, m in linears(encoder).items()}
    inits = {i.name: i for i in graph.initializer}
    done = 0
    for node in list(graph.node):
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        name = node.input[1]
        linear = by_digest.get(_weight_digest(numpy_helper.to_array(inits[name])))
        if linear is None:
            raise RuntimeError(f"MatMul weight {name} matches no Linear of the encoder")
        q = weights[linear]
        transposed = QuantizedWeight(np.ascontiguousarray(q.values.T), np.ascontiguousarray(q.scale.T))  # [in, out]
        graph.initializer.remove(inits[name])
        if block_dequantize:
            values = _initializer(graph, transposed.values, name + "_int8")
            scales = _initializer(graph, transposed.scale, name + "_scale")
            new = [helper.make_node("DequantizeLinear", [values, scales], [name], axis=0, block_size=GROUP)]
        else:
            # [in, out] grouped along `in`: transpose to group the last axis, dequantize, transpose back
            new = _dequantize_nodes(graph, name + "_dq", q, name + "_t") + [
                helper.make_node("Transpose", [name + "_t"], [name], perm=[1, 0])]
        _replace(graph, node, new + [node])
        done += 1
    return done


def _set_opset(model: onnx.ModelProto, version: int) -> None:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = max(entry.version, version)


def quantize_int8(context: ExportContext, dst: Path, recipe: str) -> dict:
    src = _fp32_model(context)
    if recipe.startswith("dynamic"):
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice at WARNING on the root logger
        quantize_dynamic(src, dst, op_types_to_quantize=["MatMul"], per_channel=recipe.endswith("per-channel"),
                         weight_type=QuantType.QInt8)
        model = onnx.load(str(dst))
        matmuls = sum(n.op_type == "MatMulInteger" for n in model.graph.node)
    else:
        model = onnx.load(str(src))
        method = "rtn" if recipe == "rtn" else "gptq"
        block = recipe == "gptq-int8-compute"
        matmuls = _quantize_matmuls(model, context.encoder, context.int8_weights(method), block)
        if block:
            _set_opset(model, 21)  # DequantizeLinear with block_size
    embedding = _quantize_token_embedding(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return {"int8_recipe": recipe, "int8_matmuls": matmuls, "int8_embedding": embedding, "int8_group": GROUP}


# ------------------------------------------------------------------------------------ the target


def export(context: ExportContext, precision: str, out_dir: Path, int8_recipe: str = INT8_RECIPE) -> Artifact:
    path = Path(out_dir) / MODEL_FILE
    details: dict = {"opset": OPSET}
    if precision == "fp32":
        shutil.copyfile(_fp32_model(context), path)
        recipe = "torch.onnx dynamo export, fp32"
    elif precision == "fp16":
        _torch_export(copy.deepcopy(context.encoder).half(), path)
        recipe = "fp16 weights and compute (RoPE angles, softmax and L2 scaling in fp32)"
    elif precision == "int8":
        if int8_recipe not in INT8_RECIPES:
            raise ValueError(f"unknown int8 recipe {int8_recipe!r}; choose from {', '.join(INT8_RECIPES)}")
        details |= quantize_int8(context, path, int8_recipe)
        recipe = INT8_RECIPES[int8_recipe] + "; token embeddings int8 in groups of 32"
    else:
        raise ValueError(f"onnx cannot build {precision}; choose from {', '.join(PRECISIONS)}")
    io = io_spec(context.settings.dim, precision, "batch", context.max_sequence)
    return Artifact(MODEL_FILE, io, recipe, details)
