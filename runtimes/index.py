"""The portable index file (spec/bundle.md, "Index file"): a corpus encoded once, searched by any runtime.

Little-endian throughout:

    offset  size        field
    0       8           magic b"CBINDEX\\0"
    8       4  u32      format version (1)
    12      4  u32      dtype: 0 float32, 1 float16
    16      4  u32      dim
    20      4  u32      flags (0)
    24      8  u64      documents N
    32      8  u64      vectors V (all documents' kept token vectors)
    40      8  u64      metadata length M (bytes)
    48      32          model digest: sha256 of the bundle's model files (runtimes.manifest.model_digest)
    80      8(N+1) u64  offsets: document i owns vectors offsets[i] .. offsets[i+1]; offsets[0] 0, offsets[N] V
    ...     V*dim*size  the vectors, row-major
    ...     M           metadata: UTF-8 JSON, an array of N values (ids, texts, objects)
    ...     32          sha256 of every byte before it
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

MAGIC = b"CBINDEX\0"
VERSION = 1
COMPRESSED_VERSION = 3  # runtimes.compressed_index; 2 was that format before its vectors were normalised
DTYPES = {"float32": 0, "float16": 1}
HEADER = struct.Struct("<8sIIIIQQQ32s")  # 80 bytes
CHECKSUM = 32
CHUNK = 65536  # vectors scored per matrix product: the similarities stay in cache for the per-document max


INDEX_ERRORS = ("corrupt", "unknown_version", "other_model", "unreadable")


class IndexFileError(Exception):
    """An index file that cannot be used; `kind` is one of INDEX_ERRORS, the message one line saying what to do."""

    def __init__(self, message: str, kind: str = "corrupt"):
        assert kind in INDEX_ERRORS, kind
        super().__init__(message)
        self.kind = kind


def save_atomically(path: Path, data: bytes) -> None:
    """Written beside `path` and renamed into place: a crash never leaves half an index."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_offsets(data: bytes, at: int, n: int, v: int, corrupt) -> np.ndarray:
    """The N + 1 u64 document offsets at `at`: from 0 to V, never decreasing (both index kinds)."""
    offsets = np.frombuffer(data, "<u8", n + 1, at).astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != v or np.any(np.diff(offsets) < 0):
        raise corrupt("document offsets out of order")
    return offsets


def read_metadata(raw: bytes, n: int, corrupt) -> list:
    """The metadata: UTF-8 JSON, an array of one value per document (both index kinds)."""
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise corrupt("metadata is not UTF-8 JSON") from None
    if not isinstance(metadata, list) or len(metadata) != n:
        raise corrupt("metadata is not one entry per document")
    return metadata


def _columns(rows: np.ndarray) -> np.ndarray:
    """[V, dim] float32, stored column-major: a search multiplies the query with runs of columns."""
    return np.ascontiguousarray(rows.T, dtype=np.float32).T


@dataclass(frozen=True)
class Hit:
    index: int  # the document's position in the corpus
    score: float  # MaxSim, fp32 sums
    metadata: object


@dataclass(frozen=True)
class Index:
    dim: int
    dtype: str  # how the vectors are stored: float32, or float16 for half the size
    model_digest: str  # hex sha256; a search refuses queries from another model
    offsets: np.ndarray  # int64 [N + 1]
    vectors: np.ndarray  # float32 [V, dim], column-major (each dimension contiguous, as search reads it)
    metadata: list

    @classmethod
    def build(cls, documents: Sequence[np.ndarray], metadata: Sequence, model_digest: str,
              dtype: str = "float32") -> "Index":
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r}: choose float32 or float16")
        if len(documents) != len(metadata):
            raise ValueError(f"{len(documents)} documents but {len(metadata)} metadata entries")
        dims = {d.shape[1] for d in documents if d.ndim == 2}
        if len(dims) > 1 or any(d.ndim != 2 for d in documents):
            raise ValueError("every document must be a [n, dim] array of one dim")
        dim = dims.pop() if dims else 0
        counts = np.array([0] + [len(d) for d in documents], dtype=np.int64)
        stacked = np.concatenate(documents) if documents else np.zeros((0, dim), np.float32)
        vectors = _columns(stacked.astype(dtype))  # what a reader gets back
        return cls(dim, dtype, model_digest, np.cumsum(counts), vectors, list(metadata))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def to_bytes(self) -> bytes:
        meta = json.dumps(self.metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        header = HEADER.pack(MAGIC, VERSION, DTYPES[self.dtype], self.dim, 0, len(self), len(self.vectors),
                             len(meta), bytes.fromhex(self.model_digest))
        stored = self.vectors.astype("<f4" if self.dtype == "float32" else "<f2")
        body = header + self.offsets.astype("<u8").tobytes() + stored.tobytes() + meta
        return body + hashlib.sha256(body).digest()

    def save(self, path: Path) -> None:
        save_atomically(path, self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "index") -> "Index":
        def corrupt(reason: str) -> IndexFileError:
            return IndexFileError(f"{where} is not a usable index ({reason}); rebuild it")

        if len(data) < HEADER.size + 8 + CHECKSUM:
            raise corrupt("truncated header" if data[:8] == MAGIC or len(data) < 8 else "not an index file")
        magic, version, dtype, dim, flags, n, v, m, digest = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise corrupt("not an index file")
        if version != VERSION:
            raise IndexFileError(f"{where} is index format {version}; this runtime reads 1 (exact) and 3 (compressed): "
                                 "rebuild the index or upgrade the runtime", "unknown_version")
        if dtype not in DTYPES.values() or flags != 0 or dim == 0:
            raise corrupt("unknown dtype, flags or dim")
        item = 4 if dtype == 0 else 2
        expected = HEADER.size + 8 * (n + 1) + v * dim * item + m + CHECKSUM
        if len(data) != expected:
            raise corrupt(f"{len(data)} bytes where the header says {expected}: truncated or extended")
        if hashlib.sha256(data[:-CHECKSUM]).digest() != data[-CHECKSUM:]:
            raise corrupt("checksum mismatch")
        start = HEADER.size
        offsets = read_offsets(data, start, n, v, corrupt)
        start += 8 * (n + 1)
        vectors = _columns(np.frombuffer(data, "<f4" if item == 4 else "<f2", v * dim, start).reshape(v, dim))
        start += v * dim * item
        metadata = read_metadata(data[start:start + m], n, corrupt)
        name = "float32" if dtype == 0 else "float16"
        return cls(int(dim), name, digest.hex(), offsets, vectors, metadata)

    @classmethod
    def load(cls, path: Path, model_digest: str | None = None) -> "Index":
        """Read and check an exact index (format 1); load_index reads either kind."""
        index = load_index(path, model_digest)
        if not isinstance(index, cls):
            raise IndexFileError(f"{path} is a compressed index; read it with load_index", "unknown_version")
        return index

    def scores(self, query: np.ndarray) -> np.ndarray:
        """MaxSim of `query` [n, dim] with every document, fp32; 0 for an empty query or document."""
        query = np.asarray(query, dtype=np.float32)
        if query.ndim != 2 or (query.size and query.shape[1] != self.dim):
            raise ValueError(f"query vectors must be [n, {self.dim}], not {list(query.shape)}")
        out = np.zeros(len(self), dtype=np.float32)
        filled = np.flatnonzero(np.diff(self.offsets))  # documents with vectors; the others score 0
        if len(query) == 0 or len(filled) == 0:
            return out
        starts, ends, columns = self.offsets[filled], self.offsets[filled + 1], self.vectors.T
        i = 0
        while i < len(filled):  # whole documents, about CHUNK vectors at a time
            j = max(int(np.searchsorted(starts, starts[i] + CHUNK)), i + 1)
            sims = query @ columns[:, starts[i]:ends[j - 1]]  # [query vectors, chunk vectors]
            best = np.maximum.reduceat(sims, starts[i:j] - starts[i], axis=1)  # each document's best per row
            out[filled[i:j]] = best.sum(axis=0, dtype=np.float32)
            i = j
        return out

    def search(self, query: np.ndarray, k: int = 10) -> list[Hit]:
        """The k best documents, best first; equal scores in corpus order (runtimes.top_k's rule)."""
        scores = self.scores(query)
        order = np.lexsort((np.arange(len(scores)), -scores))[: max(k, 0)]
        return [Hit(int(i), float(scores[i]), self.metadata[i]) for i in order]


def index_from_bytes(data: bytes, where: str = "index"):
    """An exact index (format 1) or a compressed one (format 3, runtimes.compressed_index), by the version field."""
    if len(data) >= 12 and data[:8] == MAGIC and struct.unpack_from("<I", data, 8)[0] == COMPRESSED_VERSION:
        from .compressed_index import CompressedIndex  # it builds on this module

        return CompressedIndex.from_bytes(data, where)
    return Index.from_bytes(data, where)


def load_index(path: Path, model_digest: str | None = None):
    """Read and check an index file of either kind; with `model_digest`, refuse one built with another model."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise IndexFileError(f"{path}: cannot read it ({e.strerror})", "unreadable") from None
    index = index_from_bytes(data, str(path))
    if model_digest is not None and index.model_digest != model_digest:
        raise IndexFileError(f"{path} was built with another model (digest {index.model_digest[:12]}, this "
                             f"bundle's is {model_digest[:12]}); rebuild it with this bundle", "other_model")
    return index
