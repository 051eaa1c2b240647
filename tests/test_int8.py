"""The one int8 format: its modules, GPTQ against round-to-nearest, and grids that survive a converter."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from export.precision import TABLE, int8
from export.precision.gptq import gptq


class Tiny(nn.Module):
    """The names export.precision.int8 looks for: a token table and Linears."""

    def __init__(self):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.tok_embeddings = nn.Embedding(100, 64)
        self.proj = nn.Linear(64, 32, bias=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.proj(self.embeddings.tok_embeddings(input_ids)) * attention_mask[..., None].float()


def test_round_to_nearest_groups_of_32_with_fp16_scales():
    weight = np.random.default_rng(0).standard_normal((8, 96)).astype(np.float32)
    weight[3, 40] = 30.0  # an outlier widens only its own group's scale
    q = int8.round_to_nearest(weight)
    assert q.values.dtype == np.int8 and q.scale.dtype == np.float16 and q.scale.shape == (8, 3)
    assert np.abs(q.values).max() == 127
    error = np.abs(q.dequantized() - weight)
    assert (error <= np.repeat(q.scale.astype(np.float32), 32, axis=1) / 2 + 1e-6).all()
    assert q.scale[3, 1] > 4 * q.scale[3, 0]
    with pytest.raises(ValueError, match="multiple of the group size 32"):
        int8.round_to_nearest(weight[:, :40])


def test_gptq_keeps_a_layers_output_closer_than_round_to_nearest():
    rng = np.random.default_rng(1)
    mixing = rng.standard_normal((64, 64))
    x = torch.from_numpy(rng.standard_normal((2000, 64)) @ mixing).float()  # correlated inputs, as in a model
    weight = torch.from_numpy(rng.standard_normal((48, 64))).float()
    hessian = (x.double().T @ x.double()) / len(x)
    output = x @ weight.T

    def error(q: int8.QuantizedWeight) -> float:
        return float((x @ torch.from_numpy(q.dequantized()).T - output).pow(2).mean())

    ours, rtn = gptq(weight, hessian), int8.round_to_nearest(weight.numpy())
    assert ours.scale.dtype == np.float16
    assert error(ours) < 0.7 * error(rtn)


def test_gptq_gives_the_same_values_on_one_thread():
    """quantize_linears runs GPTQ's column loop on one thread, for speed only."""
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.standard_normal((3000, 384)) @ rng.standard_normal((384, 384))).double()
    weight = torch.from_numpy(rng.standard_normal((1536, 384))).float()
    hessian = x.T @ x / len(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(2, threads))
    try:
        many = gptq(weight, hessian)
        torch.set_num_threads(1)
        one = gptq(weight, hessian)
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(many.values, one.values) and np.array_equal(many.scale, one.scale)


def test_quantize_encoder_swaps_every_linear_and_the_token_table_in_one_copy():
    model = Tiny().eval()
    weights = {"proj": int8.round_to_nearest(model.proj.weight.detach().numpy())}
    quantized = int8.quantize_encoder(model, weights)
    assert isinstance(quantized.proj, int8.Int8Linear)
    assert isinstance(quantized.embeddings.tok_embeddings, int8.Int8Embedding)
    assert isinstance(model.proj, nn.Linear)  # the original is untouched
    ids, mask = torch.tensor([[1, 5, 99]]), torch.ones(1, 3, dtype=torch.long)
    table = torch.from_numpy(int8.round_to_nearest(model.embeddings.tok_embeddings.weight.detach().numpy()).dequantized())
    expected = F.linear(table[ids], torch.from_numpy(weights["proj"].dequantized()))
    torch.testing.assert_close(quantized(ids, mask), expected)
    lowered = int8.lower(quantized, linear=int8.as_float_linear)
    assert isinstance(lowered.proj, nn.Linear) and isinstance(lowered.embeddings.tok_embeddings, int8.Int8Embedding)
    torch.testing.assert_close(lowered(ids, mask), expected)


@pytest.mark.export  # converts in-process: not the fast tier
def test_int8_grid_survives_core_mls_blockwise_quantizer(tmp_path):
    """Core ML re-derives the Linear grid from the baked weights: every value must come back on it. The token
    table is not re-derived (coremltools would block it along its rows): its own int8 rows must be there."""
    from export.targets.coreml import TARGET, _blockwise_int8, _convert
    from runtimes.mil import MilProgram

    torch.manual_seed(0)
    model = Tiny().eval()
    weights = {"proj": int8.round_to_nearest(model.proj.weight.detach().numpy())}
    lowered = TARGET.lower_int8(int8.quantize_encoder(model, weights))
    package, _ = _convert(lowered, 16, TABLE["int8"])
    package = _blockwise_int8(package, [])
    package.save(str(tmp_path / "tiny.mlpackage"))
    program = MilProgram(tmp_path / "tiny.mlpackage")
    (linear,) = [program._constants[op.outputs[0].name].astype(np.float32) for op in program.operations
                 if op.type == "constexpr_blockwise_shift_scale"]
    # fp16 rounding of a product moves it by at most 127 * 2^-11 = 0.062 steps; a re-derived scale off by 1%
    # moves the group's extremes by 1.27 steps
    q = weights["proj"]
    step = np.repeat(q.scale.astype(np.float32), int8.GROUP, axis=1)
    assert (np.abs(linear - q.dequantized()) <= 0.1 * step).all()
    table = int8.round_to_nearest(model.embeddings.tok_embeddings.weight.detach().numpy())
    int8_constants = [c for c in program._constants.values() if getattr(c, "dtype", None) == np.int8]
    assert any(c.shape == (100, 64) and (c == table.values).all() for c in int8_constants)


@pytest.mark.export  # converts in-process: not the fast tier
def test_core_ml_keeps_a_layer_meant_to_stay_float_in_float(tmp_path):
    """The int8 fallback's float layers: coremltools' quantizer must skip them (found by their const names)."""
    from export.targets.coreml import _blockwise_int8, _convert
    from runtimes.mil import MilProgram

    torch.manual_seed(0)
    package, consts = _convert(Tiny().eval(), 16, TABLE["int8"])
    assert set(consts) == {"embeddings.tok_embeddings.weight", "proj.weight"}
    for kept, quantized in (([], 1), ([consts["proj.weight"]], 0)):
        path = tmp_path / f"tiny{quantized}.mlpackage"
        _blockwise_int8(package, kept).save(str(path))
        ops = [op.type for op in MilProgram(path).operations]
        assert ops.count("constexpr_blockwise_shift_scale") == quantized


@pytest.mark.export  # converts in-process: not the fast tier
@pytest.mark.parametrize("kept", [False, True])
def test_tflite_keeps_a_layer_meant_to_stay_float_in_float(tmp_path, kept):
    """The int8 fallback's float layers: ai-edge-quantizer must leave their FULLY_CONNECTED weights float."""
    from ai_edge_litert.interpreter import Interpreter
    from export.targets.tflite import TARGET, _convert, _quantize
    from runtimes.iospec import Bucket

    torch.manual_seed(0)
    model = Tiny().eval()
    weights = {} if kept else {"proj": int8.round_to_nearest(model.proj.weight.detach().numpy())}
    lowered = TARGET.lower_int8(int8.quantize_encoder(model, weights))
    _convert(lowered, {"encode_query": Bucket("query", 8)}, tmp_path / "float.tflite")
    _quantize(tmp_path / "float.tflite", TABLE["int8"], tmp_path / "int8.tflite")
    tensors = Interpreter(str(tmp_path / "int8.tflite")).get_tensor_details()
    float_weight = [t for t in tensors if tuple(t["shape"]) == (32, 64) and t["dtype"] == np.float32]
    int8_parts = [t for t in tensors if tuple(t["shape"]) == (32, 32) and t["dtype"] == np.int8]
    assert (len(float_weight), len(int8_parts)) == ((1, 0) if kept else (0, 2))
