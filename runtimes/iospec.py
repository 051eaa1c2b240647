"""The encoder artifact's inputs and outputs, as colbert.json's `io` records them for apps and runtimes."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .fields import integer, list_of, obj, optional, require, string

INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embeddings"


class InputPastBound(ValueError):
    """An input, not a bundle, the bundle cannot take (spec/bundle.md, "Errors")."""

    kind = "input_past_bound"


def check_sequence_bound(length: int, bound: int, is_query: bool) -> None:
    """Every engine's one refusal of a sequence longer than it takes: io.max_sequence, or with buckets the
    largest bucket of the kind."""
    if length > bound:
        kind = "query" if is_query else "document"
        raise InputPastBound(f"{kind} of {length} tokens is past this bundle's export bound of {bound}; "
                             f"truncate to {kind}_length first")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy name: int64, int32, float32, float16
    shape: list[int | str]  # a string names a dynamic dimension


@dataclass(frozen=True)
class Bucket:
    """A bucket: one fixed-shape entry point of the model (a TFLite signature, a Core ML function), for
    one kind of input and one length."""

    kind: str  # "query" or "document"
    length: int


@dataclass(frozen=True)
class IoSpec:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    max_batch: int | None  # None: any batch in one call; else the engine splits larger batches
    max_sequence: int  # the export bound: longer inputs are refused
    min_sequence: int = 1
    buckets: dict[str, Bucket] = field(default_factory=dict)  # name -> bucket; empty when the sequence is dynamic

    @classmethod
    def encoder(cls, dim: int, ids_dtype: str, max_batch: int | None, max_sequence: int, min_sequence: int = 1,
                buckets: dict[str, Bucket] | None = None) -> "IoSpec":
        """ids and mask in, fp32 unit vectors out (every precision: the head and L2 norm run in fp32)."""
        batch = "batch" if max_batch is None else max_batch
        shape = [batch, "sequence"]
        return cls([TensorSpec(name, ids_dtype, shape) for name in INPUTS],
                   [TensorSpec(OUTPUT, "float32", shape + [dim])], max_batch, max_sequence, min_sequence,
                   buckets or {})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "io") -> "IoSpec":
        require(data, IO_FIELDS, where)
        tensors = {key: [TensorSpec(**require(t, TENSOR_FIELDS, f"{where}[{key!r}]")) for t in data[key]]
                   for key in ("inputs", "outputs")}
        buckets = {}
        for name, b in data["buckets"].items():
            require(b, BUCKET_FIELDS, f"{where}['buckets'][{name!r}]")
            buckets[name] = Bucket(b["kind"], b["length"])
        return cls(tensors["inputs"], tensors["outputs"], data["max_batch"], data["max_sequence"],
                   data["min_sequence"], buckets)

    def bucket_for(self, length: int, is_query: bool) -> tuple[str, int]:
        """The smallest bucket of the input's kind that holds `length` tokens: its name and length."""
        kind = "query" if is_query else "document"
        check_sequence_bound(length, max((b.length for b in self.buckets.values() if b.kind == kind), default=0),
                             is_query)
        bucket, name = min((b.length, name) for name, b in self.buckets.items() if b.kind == kind and b.length >= length)
        return name, bucket


def _is_kind(value) -> bool:
    return value in ("query", "document")


TENSOR_FIELDS = {"name": string, "dtype": string,
                 "shape": list_of(lambda d: integer(d) or string(d))}
BUCKET_FIELDS = {"kind": _is_kind, "length": integer}
IO_FIELDS = {"inputs": list_of(obj), "outputs": list_of(obj), "max_batch": optional(integer),
             "max_sequence": integer, "min_sequence": integer, "buckets": obj}
