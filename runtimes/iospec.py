"""The encoder artifact's inputs and outputs, as colbert.json's `io` records them for apps and runtimes."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embeddings"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy name: int64, int32, float32, float16
    shape: list[int | str]  # a string names a dynamic dimension


@dataclass(frozen=True)
class Bucket:
    """A fixed-shape entry point (a TFLite signature): the kind of input it takes and its length."""

    kind: str  # "query" or "document"
    length: int


@dataclass(frozen=True)
class IoSpec:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    max_batch: int | None  # None: any batch in one call; else the engine splits larger batches
    max_sequence: int  # the export bound: longer inputs are refused
    min_sequence: int = 1
    buckets: dict[str, Bucket] = field(default_factory=dict)  # name -> fixed shape; empty when the sequence is dynamic

    @classmethod
    def encoder(cls, dim: int, index_dtype: str, max_batch: int | None, max_sequence: int, min_sequence: int = 1,
                buckets: dict[str, Bucket] | None = None) -> "IoSpec":
        """ids and mask in, fp32 unit vectors out (every precision: the head and L2 norm run in fp32)."""
        batch = "batch" if max_batch is None else max_batch
        shape = [batch, "sequence"]
        return cls([TensorSpec(name, index_dtype, shape) for name in INPUTS],
                   [TensorSpec(OUTPUT, "float32", shape + [dim])], max_batch, max_sequence, min_sequence,
                   buckets or {})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IoSpec":
        return cls(
            inputs=[TensorSpec(**t) for t in data["inputs"]],
            outputs=[TensorSpec(**t) for t in data["outputs"]],
            max_batch=data["max_batch"],
            max_sequence=data["max_sequence"],
            min_sequence=data["min_sequence"],
            buckets={name: Bucket(**b) for name, b in data["buckets"].items()},
        )

    def index_dtype(self) -> str:
        return self.inputs[0].dtype

    def bucket_for(self, length: int, is_query: bool) -> tuple[str, int]:
        """The smallest fixed shape of the input's kind that holds `length` tokens: its name and length."""
        kind = "query" if is_query else "document"
        fitting = sorted((b.length, name) for name, b in self.buckets.items() if b.kind == kind and b.length >= length)
        if not fitting:
            largest = max((b.length for b in self.buckets.values() if b.kind == kind), default=0)
            raise ValueError(f"{kind} of {length} tokens is past this bundle's largest {kind} shape of {largest}; "
                             f"truncate to the {kind} length first")
        bucket, name = fitting[0]
        return name, bucket
