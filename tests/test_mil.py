"""The numpy MIL interpreter (runtimes.mil), op by op against torch, on programs built with coremltools.

Each case builds a one-op (or few-op) ML Program, saves it as an .mlpackage with no optimisation
passes, checks that the op under test is really in the saved program, runs it through the
interpreter and compares with torch.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from runtimes.mil import MilError, MilProgram

ct = pytest.importorskip("coremltools")
from coremltools.converters.mil import Builder as mb  # noqa: E402
from coremltools.converters.mil.mil import types  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 5, 8)).astype(np.float32)
Y = RNG.standard_normal((2, 5, 8)).astype(np.float32)
W = RNG.standard_normal((6, 8)).astype(np.float32)
B = RNG.standard_normal(6).astype(np.float32)
IDS = np.array([[3, 0, 7, 7, 1]], dtype=np.int32)
T = torch.from_numpy


def save(program, path, precision=ct.precision.FLOAT32, target=ct.target.iOS17):
    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=target,
                       compute_precision=precision, pass_pipeline=ct.PassPipeline.EMPTY)
    model.save(str(path))
    return MilProgram(path)


def unary_program(build, shape=X.shape, dtype=types.fp32, target=ct.target.iOS17):
    @mb.program(input_specs=[mb.TensorSpec(shape=shape, dtype=dtype)], opset_version=target)
    def program(x):
        return build(x)
    return program


def as_float(v):
    return mb.cast(x=v, dtype="fp32")


# op -> (program body on x [2, 5, 8] fp32, torch reference on X)
CASES = {
    "add": (lambda x: mb.add(x=x, y=Y), lambda x: x + T(Y)),
    "sub": (lambda x: mb.sub(x=x, y=Y[0]), lambda x: x - T(Y[0])),
    "mul": (lambda x: mb.mul(x=x, y=2.5), lambda x: x * 2.5),
    "real_div": (lambda x: mb.real_div(x=x, y=Y + 3.0), lambda x: x / (T(Y) + 3.0)),
    "maximum": (lambda x: mb.maximum(x=x, y=Y), lambda x: torch.maximum(x, T(Y))),
    "greater": (lambda x: as_float(mb.greater(x=x, y=0.1)), lambda x: (x > 0.1).float()),
    "greater_equal": (lambda x: as_float(mb.greater_equal(x=x, y=Y)), lambda x: (x >= T(Y)).float()),
    "abs": (lambda x: mb.abs(x=x), torch.abs),
    "cos": (lambda x: mb.cos(x=x), torch.cos),
    "sin": (lambda x: mb.sin(x=x), torch.sin),
    "sqrt": (lambda x: mb.sqrt(x=mb.abs(x=x)), lambda x: torch.sqrt(x.abs())),
    "exp": (lambda x: mb.exp(x=x), torch.exp),
    "tanh": (lambda x: mb.tanh(x=x), torch.tanh),
    "erf": (lambda x: mb.erf(x=x), torch.erf),
    "sigmoid": (lambda x: mb.sigmoid(x=x), torch.sigmoid),
    "gelu": (lambda x: mb.gelu(x=x, mode="EXACT"), torch.nn.functional.gelu),
    "gelu_tanh": (lambda x: mb.gelu(x=x, mode="TANH_APPROXIMATION"),
                  lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    "layer_norm": (lambda x: mb.layer_norm(x=x, axes=[-1], gamma=W[0] + 1, beta=W[1], epsilon=1e-5),
                   lambda x: torch.nn.functional.layer_norm(x, (8,), T(W[0] + 1), T(W[1]), 1e-5)),
    "softmax": (lambda x: mb.softmax(x=x, axis=-1), lambda x: torch.softmax(x, -1)),
    "linear": (lambda x: mb.linear(x=x, weight=W, bias=B), lambda x: x @ T(W).T + T(B)),
    "matmul": (lambda x: mb.matmul(x=x, y=Y, transpose_y=True), lambda x: x @ T(Y).transpose(-1, -2)),
    "reduce_max": (lambda x: mb.reduce_max(x=x, axes=[-1], keep_dims=True), lambda x: x.amax(-1, keepdim=True)),
    "reduce_sum": (lambda x: mb.reduce_sum(x=x, axes=[1], keep_dims=False), lambda x: x.sum(1)),
    "reduce_mean": (lambda x: mb.reduce_mean(x=x, axes=[-1], keep_dims=True), lambda x: x.mean(-1, keepdim=True)),
    "clip": (lambda x: mb.clip(x=x, alpha=-0.5, beta=0.7), lambda x: x.clamp(-0.5, 0.7)),
    "select": (lambda x: mb.select(cond=mb.greater(x=x, y=0.0), a=x, b=Y), lambda x: torch.where(x > 0, x, T(Y))),
    "gather": (lambda x: mb.gather(x=x, indices=np.array([4, 0, 4], np.int32), axis=1), lambda x: x[:, [4, 0, 4]]),
    "shape": (lambda x: as_float(mb.shape(x=x)), lambda x: torch.tensor(x.shape, dtype=torch.float32)),
    "range_1d": (lambda x: mb.add(x=as_float(mb.range_1d(start=0, end=mb.gather(x=mb.shape(x=x), indices=1), step=1)),
                                  y=mb.reduce_sum(x=x)),
                 lambda x: torch.arange(5).float() + x.sum()),
    "expand_dims": (lambda x: mb.expand_dims(x=x, axes=[1, -1]), lambda x: x[:, None, :, :, None]),
    "squeeze": (lambda x: mb.squeeze(x=mb.expand_dims(x=x, axes=[0]), axes=[0]), lambda x: x),
    "reshape": (lambda x: mb.reshape(x=x, shape=[2, -1, 4]), lambda x: x.reshape(2, -1, 4)),
    "transpose": (lambda x: mb.transpose(x=x, perm=[2, 0, 1]), lambda x: x.permute(2, 0, 1)),
    "split": (lambda x: mb.split(x=x, split_sizes=[3, 5], axis=-1)[1], lambda x: x[..., 3:]),
    "concat": (lambda x: mb.concat(values=[x, Y, x], axis=1), lambda x: torch.cat([x, T(Y), x], 1)),
    "slice_by_index": (lambda x: mb.slice_by_index(x=x, begin=[0, 1, 0], end=[1, 5, 8], stride=[1, 2, 1],
                                                   end_mask=[False, False, True], squeeze_mask=[True, False, False]),
                       lambda x: x[0, 1:5:2, :]),
    "slice_by_size": (lambda x: mb.slice_by_size(x=x, begin=[1, 0, 2], size=[1, -1, 3]), lambda x: x[1:2, :, 2:5]),
    "tile": (lambda x: mb.tile(x=x, reps=[1, 2, 1]), lambda x: x.repeat(1, 2, 1)),
    "cast": (lambda x: as_float(mb.cast(x=mb.mul(x=x, y=10.0), dtype="int32")), lambda x: (x * 10).int().float()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_torch(name, tmp_path):
    build, reference = CASES[name]
    program = save(unary_program(build), tmp_path / "op.mlpackage")
    op = name.split("_tanh")[0]
    assert op in program.op_types(), f"{op} is not in the saved program: the case tests nothing"
    (out,) = program.run({"x": X}).values()
    np.testing.assert_allclose(out, reference(T(X)).numpy(), rtol=1e-5, atol=1e-5)


def test_fp16_program_rounds_every_op_to_fp16(tmp_path):
    def build(x):  # what compute_precision=FLOAT16 makes: fp16 between the casts
        h = mb.linear(x=mb.cast(x=x, dtype="fp16"), weight=(W * 30).astype(np.float16), bias=B.astype(np.float16))
        return mb.cast(x=mb.softmax(x=h, axis=-1), dtype="fp32")

    program = save(unary_program(build), tmp_path / "fp16.mlpackage")
    (out,) = program.run({"x": X}).values()
    h = (T(X).half().float() @ T(W * 30).half().float().T + T(B).half().float()).half()
    expected = torch.softmax(h.float(), -1).half().float().numpy()
    np.testing.assert_allclose(out, expected, atol=1e-3)
    fp32 = torch.softmax(T(X) @ T(W * 30).T + T(B), -1).numpy()
    assert np.abs(out - fp32).max() > 1e-4  # it really computed in fp16


def test_int_inputs_and_embedding_gather(tmp_path):
    table = RNG.standard_normal((10, 4)).astype(np.float32)
    program = save(unary_program(lambda x: mb.gather(x=table, indices=x, axis=0), shape=IDS.shape, dtype=types.int32),
                   tmp_path / "gather.mlpackage")
    (out,) = program.run({"x": IDS}).values()
    np.testing.assert_array_equal(out, table[IDS])


def test_affine_dequantized_weights(tmp_path):
    q = RNG.integers(-127, 128, (6, 8)).astype(np.int8)
    scale = RNG.uniform(0.01, 0.1, 6).astype(np.float32)
    build = lambda x: mb.linear(x=x, weight=mb.constexpr_affine_dequantize(  # noqa: E731
        quantized_data=q, zero_point=np.int8(0), scale=scale, axis=0))
    program = save(unary_program(build), tmp_path / "affine.mlpackage")
    assert "constexpr_affine_dequantize" in program.op_types()
    (out,) = program.run({"x": X}).values()
    np.testing.assert_allclose(out, X @ (q * scale[:, None]).T, rtol=1e-5, atol=1e-5)


def test_blockwise_dequantized_weights(tmp_path):
    q = RNG.integers(-127, 128, (6, 64)).astype(np.int8)
    scale = RNG.uniform(0.01, 0.1, (6, 2)).astype(np.float32)
    x = RNG.standard_normal((3, 64)).astype(np.float32)
    build = lambda x: mb.linear(x=x, weight=mb.constexpr_blockwise_shift_scale(data=q, scale=scale))  # noqa: E731
    program = save(unary_program(build, shape=x.shape, target=ct.target.iOS18), tmp_path / "block.mlpackage",
                   target=ct.target.iOS18)
    assert "constexpr_blockwise_shift_scale" in program.op_types()
    (out,) = program.run({"x": x}).values()
    np.testing.assert_allclose(out, x @ (q * np.repeat(scale, 32, axis=1)).T, rtol=1e-5, atol=1e-5)


def _spec_path(package):
    return package / "Data/com.apple.CoreML/model.mlmodel"


def _weighted_package(tmp_path):
    big = RNG.standard_normal((64, 8)).astype(np.float32)  # large enough to be stored in weight.bin
    save(unary_program(lambda x: mb.linear(x=x, weight=big)), tmp_path / "w.mlpackage")
    return tmp_path / "w.mlpackage"


def test_unknown_op_fails_at_load(tmp_path):
    package = _weighted_package(tmp_path)
    spec = ct.utils.load_spec(str(package))
    op = next(op for op in spec.mlProgram.functions["main"].block_specializations["CoreML7"].operations
              if op.type == "linear")
    op.type = "linear_v9000"
    _spec_path(package).write_bytes(spec.SerializeToString())
    with pytest.raises(MilError, match="unsupported MIL op 'linear_v9000'"):
        MilProgram(package)


def test_corrupt_weight_blob_is_caught(tmp_path):
    package = _weighted_package(tmp_path)
    blob = package / "Data/com.apple.CoreML/weights/weight.bin"
    data = bytearray(blob.read_bytes())
    data[64] ^= 0xFF  # the first blob's metadata sentinel
    blob.write_bytes(bytes(data))
    with pytest.raises(MilError, match="corrupt blob metadata"):
        MilProgram(package)
    blob.write_bytes(bytes(data[:100]))
    with pytest.raises(MilError):
        MilProgram(package)
    blob.unlink()
    with pytest.raises(MilError, match="weight blob .* is missing"):
        MilProgram(package)


def test_inputs_are_checked(tmp_path):
    program = save(unary_program(lambda x: mb.abs(x=x)), tmp_path / "abs.mlpackage")
    with pytest.raises(ValueError, match="missing input"):
        program.run({})
    with pytest.raises(ValueError, match="unknown input 'y'"):
        program.run({"x": X, "y": X})


def test_erf_gives_math_erfs_fp32_values_with_or_without_scipy():
    """scipy's erf only speeds the interpreter up: on 3,000,000 points it rounds to math.erf's fp32 values."""
    import math

    from runtimes import mil

    pytest.importorskip("scipy", reason="the fast path needs scipy; the math.erf path is the one used then")
    x = np.concatenate([np.linspace(-8, 8, 2_000_001), np.random.default_rng(0).standard_normal(1_000_000) * 2,
                        [0.0, -0.0, np.inf, -np.inf, 1e-30, -1e-300]])
    exact = np.vectorize(math.erf, otypes=[np.float64])(x).astype(np.float32)
    assert np.array_equal(mil._erf(x), exact)
