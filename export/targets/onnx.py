"""ONNX: torch.onnx (dynamo) export with dynamic batch and sequence, in fp32, fp16 and int8."""
from __future__ import annotations

import copy
import shutil
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from runtimes.colbert import ColbertSettings

from . import Artifact

NAME = "onnx"
PRECISIONS = ("fp32", "fp16", "int8")
TOOL_PACKAGES = ("onnx", "onnxruntime", "onnxscript")
MODEL_FILE = "model.onnx"
OPSET = 18
EXAMPLE_LENGTH = 160  # past the 128-token window, so tracing sees the sliding-window branch


def _torch_export(encoder: torch.nn.Module, path: Path) -> None:
    ids = torch.randint(1000, 2000, (2, EXAMPLE_LENGTH))
    mask = torch.ones_like(ids)
    dims = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, (ids, mask), str(path), dynamo=True, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
            dynamic_shapes={"input_ids": dims, "attention_mask": dims},
            optimize=True, external_data=False, verbose=False,
        )


def _fp32_model(encoder: torch.nn.Module, workdir: Path) -> Path:
    """The fp32 export, made once per run and shared by fp32 and int8."""
    path = workdir / "fp32.onnx"
    if not path.is_file():
        _torch_export(encoder, path)
    return path


# ------------------------------------------------------------------------------------ int8 recipes


def _quantize_embeddings(model: onnx.ModelProto, min_elements: int = 1 << 16) -> list[str]:
    """Row-wise symmetric int8 for every large Gather table: Gather int8 rows and their scales, then Mul.

    Only the rows a batch looks up are dequantized, so this costs nothing per call.
    """
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    done = []
    for node in list(graph.node):
        if node.op_type != "Gather" or node.input[0] not in inits:
            continue
        table = numpy_helper.to_array(inits[node.input[0]])
        if table.ndim != 2 or table.size < min_elements or table.dtype != np.float32:
            continue
        scale = np.maximum(np.abs(table).max(axis=1, keepdims=True), 1e-12) / 127.0
        q = np.clip(np.round(table / scale), -127, 127).astype(np.int8)
        name = node.input[0]
        graph.initializer.remove(inits[name])
        graph.initializer.extend([
            numpy_helper.from_array(q, name + "_int8"),
            numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
        ])
        out = node.output[0]
        ids = node.input[1]
        index = list(graph.node).index(node)
        graph.node.remove(node)
        new_nodes = [
            helper.make_node("Gather", [name + "_int8", ids], [out + "_q"], axis=0),
            helper.make_node("Cast", [out + "_q"], [out + "_f"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Gather", [name + "_scale", ids], [out + "_s"], axis=0),
            helper.make_node("Mul", [out + "_f", out + "_s"], [out]),
        ]
        for offset, new in enumerate(new_nodes):
            graph.node.insert(index + offset, new)
        done.append(f"{name} {list(table.shape)}")
    return done


def _dynamic(per_channel: bool) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(src, dst, op_types_to_quantize=["MatMul"], per_channel=per_channel,
                         weight_type=QuantType.QInt8)
    return run


def _matmul_nbits(bits: int, block: int, accuracy_level: int) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), bits=bits, block_size=block, is_symmetric=True,
                                         accuracy_level=accuracy_level)
        quantizer.process()
        quantizer.model.save_model_to_file(str(dst), use_external_data_format=False)
    return run


# name -> (MatMul quantizer, description). Every recipe also quantizes the embedding tables row-wise.
INT8_RECIPES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "dynamic": (_dynamic(False), "dynamic int8 MatMul (per-tensor weights, per-tensor activations)"),
    "dynamic-per-channel": (_dynamic(True), "dynamic int8 MatMul (per-channel weights, per-tensor activations)"),
    "nbits8-fp32": (_matmul_nbits(8, 32, 0), "MatMulNBits int8 weights, block 32, fp32 compute"),
    "nbits8-int8": (_matmul_nbits(8, 32, 4), "MatMulNBits int8 weights, block 32, int8 compute on blocks of 32 activations"),
}
INT8_RECIPE = "nbits8-int8"


def quantize_int8(src: Path, dst: Path, recipe: str = INT8_RECIPE) -> dict:
    quantize_matmuls, description = INT8_RECIPES[recipe]
    staged = dst.with_suffix(".matmul.onnx")
    quantize_matmuls(src, staged)
    model = onnx.load(str(staged))
    embeddings = _quantize_embeddings(model)
    onnx.save(model, str(dst))
    staged.unlink()
    return {"int8_recipe": recipe, "int8_description": description, "embeddings_int8_rowwise": embeddings}


# ------------------------------------------------------------------------------------ the target


def io_spec(settings: ColbertSettings, precision: str, max_sequence: int | None) -> dict:
    seq = ["batch", "sequence"]
    return {
        "inputs": [{"name": "input_ids", "dtype": "int64", "shape": seq},
                   {"name": "attention_mask", "dtype": "int64", "shape": seq}],
        "outputs": [{"name": "embeddings", "dtype": "float16" if precision == "fp16" else "float32",
                     "shape": seq + [settings.dim]}],
        "max_sequence": max_sequence,
    }


def export(encoder: torch.nn.Module, precision: str, out_dir: Path, workdir: Path, settings: ColbertSettings,
           max_sequence: int | None = None, int8_recipe: str = INT8_RECIPE) -> Artifact:
    path = Path(out_dir) / MODEL_FILE
    details: dict = {"opset": OPSET}
    if precision == "fp32":
        shutil.copyfile(_fp32_model(encoder, workdir), path)
        recipe = "torch.onnx dynamo export, fp32"
    elif precision == "fp16":
        _torch_export(copy.deepcopy(encoder).half(), path)
        recipe = "fp16 weights and compute (RoPE angles, softmax and L2 scaling in fp32)"
    elif precision == "int8":
        details |= quantize_int8(_fp32_model(encoder, workdir), path, int8_recipe)
        recipe = details["int8_description"] + "; embedding tables int8 row-wise"
    else:
        raise ValueError(f"onnx cannot build {precision}; choose from {', '.join(PRECISIONS)}")
    return Artifact(MODEL_FILE, io_spec(settings, precision, max_sequence), recipe, details)
