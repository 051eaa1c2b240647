"""A reference interpreter, in numpy, for Core ML ML Programs: runs an .mlpackage on any OS.

It reads the package itself (the program in Data/com.apple.CoreML/model.mlmodel and the weights
in weights/weight.bin) and executes one function op by op (`main`, or a multifunction model's named
or default function):

- every value is held in the dtype the program declares for it, so an fp16 program's tensors
  are fp16 between ops; inside an op, fp16 inputs are computed in fp32 and the result is
  rounded to fp16 (as GPU and Neural Engine accumulators do);
- constexpr_* weight ops (quantized weights) are dequantized once, at load;
- an op type it does not implement fails at load, naming the op, before anything runs.

The protobuf classes come from coremltools' generated `proto` package, loaded on their own so
that reading a model does not import coremltools (and torch).
"""
from __future__ import annotations

import functools
import importlib.util
import math
import struct
import sys
import types
from pathlib import Path
from typing import Any, Callable

import numpy as np

MODEL_SPEC = Path("Data/com.apple.CoreML/model.mlmodel")
BLOB_SENTINEL = 0xDEADBEEF
BLOB_DTYPES = {1: np.float16, 2: np.float32, 3: np.uint8, 4: np.int8}  # MIL blob storage dtype codes
NUMPY = {"FLOAT16": np.float16, "FLOAT32": np.float32, "FLOAT64": np.float64, "INT8": np.int8, "UINT8": np.uint8,
         "INT16": np.int16, "UINT16": np.uint16, "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_}
CAST_DTYPES = {"fp16": np.float16, "fp32": np.float32, "int32": np.int32, "int8": np.int8, "uint8": np.uint8,
               "uint16": np.uint16,
               "int16": np.int16, "bool": np.bool_}


class MilError(Exception):
    """The package cannot be interpreted: an unknown op, a corrupt blob, a malformed program."""


def _proto_modules() -> types.ModuleType:
    """coremltools/proto as a standalone package (its generated *_pb2 modules import each other relatively)."""
    name = "_coreml_proto"
    if name not in sys.modules:
        spec = importlib.util.find_spec("coremltools")
        if spec is None or not spec.submodule_search_locations:
            raise MilError("reading Core ML packages needs the coremltools package installed (pip install coremltools)")
        package = types.ModuleType(name)
        package.__path__ = [str(Path(list(spec.submodule_search_locations)[0]) / "proto")]
        sys.modules[name] = package
    return importlib.import_module(f"{name}.Model_pb2")


def read_spec(package: Path):
    path = Path(package) / MODEL_SPEC
    if not path.is_file():
        raise MilError(f"{package}: no {MODEL_SPEC} inside; not an .mlpackage")
    spec = _proto_modules().Model()
    try:
        spec.ParseFromString(path.read_bytes())
    except Exception as e:  # protobuf's DecodeError
        raise MilError(f"{path}: not a Core ML model spec ({e})") from None
    if not spec.HasField("mlProgram"):
        raise MilError(f"{package}: not an ML Program (neural network models are not supported)")
    return spec


# ---------------------------------------------------------------- values


def _dtype_name(data_type: int) -> str:
    from _coreml_proto import MIL_pb2

    return MIL_pb2.DataType.Name(data_type)


def _numpy_dtype(data_type: int) -> type:
    name = _dtype_name(data_type)
    if name not in NUMPY:
        raise MilError(f"unsupported MIL data type {name}")
    return NUMPY[name]


def _shape(tensor_type) -> list[int | None]:
    return [d.constant.size if d.HasField("constant") else None for d in tensor_type.dimensions]


class Weights:
    """weights/weight.bin: a 64-byte header, then per blob 64 bytes of metadata and the data."""

    def __init__(self, package: Path):
        self.root = Path(package) / "Data/com.apple.CoreML"
        self._files: dict[str, bytes] = {}

    def _file(self, name: str) -> bytes:
        if name not in self._files:
            path = self.root / name.replace("@model_path/", "")
            if not path.is_file():
                raise MilError(f"weight blob {path} is missing")
            self._files[name] = path.read_bytes()
        return self._files[name]

    def read(self, file_name: str, offset: int, dtype: type, shape: list[int]) -> np.ndarray:
        data = self._file(file_name)
        if offset + 24 > len(data):
            raise MilError(f"{file_name}: blob at {offset} is past the end of the file")
        sentinel, code, size, start = struct.unpack_from("<IIQQ", data, offset)
        count = int(np.prod(shape))
        if sentinel != BLOB_SENTINEL:
            raise MilError(f"{file_name}: corrupt blob metadata at offset {offset}")
        if BLOB_DTYPES.get(code) != dtype or size != count * np.dtype(dtype).itemsize or start + size > len(data):
            raise MilError(f"{file_name}: blob at {offset} holds {size} bytes of type {code}, "
                           f"the program expects {count} x {np.dtype(dtype).name}")
        return np.frombuffer(data, dtype, count, start).reshape(shape)


def _immediate(value, dtype: type, shape: list[int]) -> np.ndarray:
    t = value.immediateValue.tensor
    kind = t.WhichOneof("value")
    if kind is None:
        return np.zeros(shape, dtype)
    if kind == "bytes":
        return np.frombuffer(t.bytes.values, dtype).reshape(shape)
    if kind == "strings":
        return np.array(list(t.strings.values), dtype=object).reshape(shape)
    return np.array(list(getattr(t, kind).values), dtype=dtype).reshape(shape)


def _value(value, weights: Weights) -> Any:
    """A MIL Value (immediate or blob file) as a numpy array (or a str for string scalars)."""
    tensor_type = value.type.tensorType
    dtype_name = _dtype_name(tensor_type.dataType)
    shape = _shape(tensor_type)
    if dtype_name == "STRING":
        strings = list(value.immediateValue.tensor.strings.values)
        return strings[0] if not shape else np.array(strings, dtype=object)
    dtype = _numpy_dtype(tensor_type.dataType)
    if value.HasField("blobFileValue"):
        return weights.read(value.blobFileValue.fileName, value.blobFileValue.offset, dtype, shape)
    return _immediate(value, dtype, shape)


# ---------------------------------------------------------------- ops


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _axes(axes, rank: int) -> tuple[int, ...]:
    return tuple(int(a) % rank for a in np.atleast_1d(axes))


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 is only good to 1.5e-7; erf to double precision, then fp32
    return _double_erf()(x.astype(np.float64)).astype(np.float32)


@functools.cache
def _double_erf() -> Callable[[np.ndarray], np.ndarray]:
    """scipy's erf where installed (a ufunc), else math.erf element by element: the same fp32
    results (tests/test_mil.py), so scipy is a speed-up only, not a dependency."""
    try:
        from scipy.special import erf
    except ImportError:
        return np.vectorize(math.erf, otypes=[np.float64])
    return erf


def _gelu(x, mode="EXACT"):
    x = _f32(x)
    if mode == "EXACT":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x / (1.0 + np.exp(-1.702 * x))
    raise MilError(f"gelu mode {mode!r} is not supported")


def _layer_norm(x, axes, gamma=None, beta=None, epsilon=1e-5):
    x = _f32(x)
    axes = _axes(axes, x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(epsilon))
    if gamma is not None:
        y = y * _f32(gamma)
    if beta is not None:
        y = y + _f32(beta)
    return y


def _softmax(x, axis=-1):
    x = _f32(x)
    e = np.exp(x - x.max(axis=int(axis), keepdims=True))
    return e / e.sum(axis=int(axis), keepdims=True)


def _reshape(x, shape):
    shape = [int(s) for s in shape]
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _slice_by_index(x, begin, end, stride=None, begin_mask=None, end_mask=None, squeeze_mask=None):
    rank = x.ndim
    stride = np.ones(rank, int) if stride is None else stride
    index = []
    for i in range(rank):
        b = None if begin_mask is not None and begin_mask[i] else int(begin[i])
        e = None if end_mask is not None and end_mask[i] else int(end[i])
        if squeeze_mask is not None and squeeze_mask[i]:
            index.append(int(begin[i]))
        else:
            index.append(slice(b, e, int(stride[i])))
    return x[tuple(index)]


def _slice_by_size(x, begin, size):
    return x[tuple(slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size))]


def _split(x, axis, num_splits=None, split_sizes=None):
    axis = int(axis)
    if split_sizes is not None:
        return tuple(np.split(x, np.cumsum(split_sizes)[:-1].astype(int), axis=axis))
    return tuple(np.split(x, int(num_splits), axis=axis))


def _gather(x, indices, axis=0, batch_dims=0, validate_indices=False):
    if int(batch_dims):
        raise MilError("gather with batch_dims is not supported")
    return np.take(x, indices.astype(np.int64), axis=int(axis))


def _matmul(x, y, transpose_x=False, transpose_y=False):
    x, y = _f32(x), _f32(y)
    if transpose_x:
        x = np.swapaxes(x, -1, -2)
    if transpose_y:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def _linear(x, weight, bias=None):
    y = _f32(x) @ _f32(weight).T
    return y if bias is None else y + _f32(bias)


def _reduce(fn: Callable) -> Callable:
    def run(x, axes=None, keep_dims=False):
        x = _f32(x)
        return fn(x, axis=None if axes is None else _axes(axes, x.ndim), keepdims=bool(keep_dims))
    return run


def _expand_dims(x, axes):
    rank = x.ndim + len(np.atleast_1d(axes))
    for a in sorted(int(a) % rank for a in np.atleast_1d(axes)):
        x = np.expand_dims(x, a)
    return x


def _squeeze(x, axes=None):
    return np.squeeze(x) if axes is None else np.squeeze(x, axis=_axes(axes, x.ndim))


def _affine_dequantize(quantized_data, zero_point, scale, axis):
    shape = [1] * quantized_data.ndim
    shape[int(axis)] = -1
    zero = np.reshape(_f32(zero_point.astype(np.float32)), shape if np.size(zero_point) > 1 else [])
    return (quantized_data.astype(np.float32) - zero) * np.reshape(_f32(scale), shape if np.size(scale) > 1 else [])


def _expand_blocks(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    for axis, (n, m) in enumerate(zip(shape, values.shape)):
        if n % m:
            raise MilError(f"block scale of shape {values.shape} does not tile data of shape {shape}")
        values = np.repeat(values, n // m, axis=axis)
    return values


def _blockwise_shift_scale(data, scale, offset=None):
    x = data.astype(np.float32)
    if offset is not None:
        x = x - _expand_blocks(offset.astype(np.float32), data.shape)
    return x * _expand_blocks(_f32(scale), data.shape)


def _binary(fn: Callable) -> Callable:
    return lambda x, y: fn(_f32(x), _f32(y))


def _unary(fn: Callable) -> Callable:
    return lambda x: fn(_f32(x))


OPS: dict[str, Callable] = {
    "add": _binary(np.add), "sub": _binary(np.subtract), "mul": _binary(np.multiply),
    "real_div": _binary(np.divide), "maximum": _binary(np.maximum), "minimum": _binary(np.minimum),
    "pow": _binary(np.power), "floor_div": _binary(np.floor_divide),
    "greater": _binary(np.greater), "greater_equal": _binary(np.greater_equal), "less": _binary(np.less),
    "less_equal": _binary(np.less_equal), "equal": _binary(np.equal), "not_equal": _binary(np.not_equal),
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_not": np.logical_not,
    "abs": _unary(np.abs), "cos": _unary(np.cos), "sin": _unary(np.sin), "sqrt": _unary(np.sqrt),
    "exp": _unary(np.exp), "tanh": _unary(np.tanh), "erf": _unary(_erf), "square": _unary(np.square),
    "sigmoid": _unary(lambda x: 1.0 / (1.0 + np.exp(-x))),
    "rsqrt": lambda x, epsilon=1e-12: 1.0 / np.sqrt(_f32(x) + np.float32(epsilon)),
    "inverse": lambda x, epsilon=1e-4: 1.0 / (_f32(x) + np.float32(epsilon)),
    "relu": _unary(lambda x: np.maximum(x, 0)),
    "clip": lambda x, alpha, beta: np.clip(_f32(x), _f32(alpha), _f32(beta)),
    "select": lambda cond, a, b: np.where(cond, a, b),
    "cast": lambda x, dtype: x.astype(CAST_DTYPES[str(dtype)]),
    "shape": lambda x: np.array(x.shape, np.int32),
    "range_1d": lambda end, start, step: np.arange(start, end, step),
    "fill": lambda shape, value=0.0: np.full([int(s) for s in shape], value),
    "expand_dims": _expand_dims, "squeeze": _squeeze, "reshape": _reshape,
    "transpose": lambda x, perm: np.transpose(x, [int(p) for p in perm]),
    "concat": lambda values, axis, interleave=False: np.concatenate(values, axis=int(axis)),
    "tile": lambda x, reps: np.tile(x, [int(r) for r in reps]),
    "split": _split, "slice_by_index": _slice_by_index, "slice_by_size": _slice_by_size, "gather": _gather,
    "matmul": _matmul, "linear": _linear, "softmax": _softmax, "gelu": _gelu, "layer_norm": _layer_norm,
    "reduce_max": _reduce(np.max), "reduce_min": _reduce(np.min), "reduce_sum": _reduce(np.sum),
    "reduce_mean": _reduce(np.mean),
    "constexpr_affine_dequantize": _affine_dequantize,
    "constexpr_blockwise_shift_scale": _blockwise_shift_scale,
}
VARIADIC = {"concat": {"values"}}  # parameters that take a list of values


# ---------------------------------------------------------------- the program


def function_names(spec) -> list[str]:
    """A multifunction model's functions, or ["main"]."""
    return [f.name for f in spec.description.functions] or ["main"]


def _input_specs(spec, function: str) -> dict:
    described = {f.name: f for f in spec.description.functions}
    inputs = described[function].input if described else spec.description.input
    return {i.name: i for i in inputs}


def check_ops(spec, package: Path) -> None:
    """Every function's ops are ones this interpreter runs: a package fails at load, not at its first long input."""
    for name, function in spec.mlProgram.functions.items():
        for op in function.block_specializations[function.opset].operations:
            if op.type != "const" and op.type not in OPS:
                raise MilError(f"{package}: unsupported MIL op '{op.type}' (in {op.outputs[0].name}, function "
                               f"{name}); the reference interpreter cannot run this program")
            if op.blocks:
                raise MilError(f"{package}: op '{op.type}' has nested blocks, which are not supported")


class MilProgram:
    """One function of an .mlpackage, ready to run: `function`, else the model's default (or `main`)."""

    def __init__(self, package: str | Path, function: str | None = None):
        self.package = Path(package)
        spec = read_spec(self.package)
        self.function = function or spec.description.defaultFunctionName or "main"
        functions = spec.mlProgram.functions
        if self.function not in functions or self.function not in function_names(spec):
            raise MilError(f"{self.package}: the program has no function {self.function!r} "
                           f"(it has {', '.join(function_names(spec))})")
        body = functions[self.function]
        self.opset = body.opset
        block = body.block_specializations[body.opset]
        self.input_specs = _input_specs(spec, self.function)
        self.outputs = list(block.outputs)
        self.operations = list(block.operations)
        check_ops(spec, self.package)
        self._constants = self._load_constants()

    def op_types(self) -> list[str]:
        return sorted({op.type for op in self.operations})

    def _load_constants(self) -> dict[str, Any]:
        """const values, and constexpr ops' outputs (dequantized weights), computed once."""
        weights = Weights(self.package)
        env: dict[str, Any] = {}
        for op in self.operations:
            if op.type == "const":
                env[op.outputs[0].name] = _value(op.attributes["val"], weights)
            elif op.type.startswith("constexpr_"):
                self._run_op(op, env, weights)
        return env

    def _arguments(self, op, env: dict[str, Any], weights: Weights | None) -> dict[str, Any]:
        args = {}
        for key, argument in op.inputs.items():
            values = []
            for binding in argument.arguments:
                if binding.HasField("value"):
                    values.append(_value(binding.value, weights))
                elif binding.name in env:
                    values.append(env[binding.name])
                else:
                    raise MilError(f"op {op.outputs[0].name}: input {binding.name} is not defined before it")
            args[key] = values if key in VARIADIC.get(op.type, ()) else values[0]
        for key, value in op.attributes.items():  # iOS 16/17 constexpr ops take their data as attributes
            if key != "name" and op.type != "const":
                args[key] = _value(value, weights)
        return args

    def _run_op(self, op, env: dict[str, Any], weights: Weights | None = None) -> None:
        args = self._arguments(op, env, weights)
        try:
            result = OPS[op.type](**args)
        except MilError:
            raise
        except Exception as e:
            raise MilError(f"op {op.type} ({op.outputs[0].name}) failed: {e}") from None
        results = result if isinstance(result, tuple) else (result,)
        if len(results) != len(op.outputs):
            raise MilError(f"op {op.type} ({op.outputs[0].name}) gave {len(results)} outputs, "
                           f"the program declares {len(op.outputs)}")
        for declared, value in zip(op.outputs, results):
            dtype = _numpy_dtype(declared.type.tensorType.dataType)
            env[declared.name] = np.asarray(value).astype(dtype, copy=False)

    def _check_input(self, name: str, value: np.ndarray) -> np.ndarray:
        if name not in self.input_specs:
            raise ValueError(f"unknown input {name!r}; the program takes {', '.join(self.input_specs)}")
        array = self.input_specs[name].type.multiArrayType
        ranges = array.shapeRange.sizeRanges
        for axis, (n, r) in enumerate(zip(value.shape, ranges)):
            upper = r.upperBound if r.upperBound >= 0 else None
            if n < r.lowerBound or (upper is not None and n > upper):
                raise ValueError(f"{name}: dimension {axis} is {n}, the program takes {r.lowerBound}..{upper}")
        if not ranges and list(value.shape) != list(array.shape):
            raise ValueError(f"{name}: shape {list(value.shape)}, the function {self.function} takes {list(array.shape)}")
        return value.astype(NUMPY[_proto_modules().ArrayFeatureType.ArrayDataType.Name(array.dataType)])

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env = dict(self._constants)
        missing = set(self.input_specs) - set(inputs)
        if missing:
            raise ValueError(f"missing input(s) {', '.join(sorted(missing))}")
        env.update({name: self._check_input(name, np.asarray(v)) for name, v in inputs.items()})
        for op in self.operations:
            if op.type != "const" and not op.type.startswith("constexpr_"):
                self._run_op(op, env)
        return {name: env[name] for name in self.outputs}
