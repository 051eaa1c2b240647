"""The compressed index file (spec/bundle.md, "Compressed index file"): each token vector stored as its nearest
centroid's id and a 2-, 4- or 8-bit residual per dimension; a search scores centroids first, a few documents'
decompressed vectors last.

Little-endian; every section starts at a multiple of 64 bytes, so that each maps as an array as it is:

    offset  size            field
    0       8               magic b"CBINDEX\\0"
    8       4   u32         format version (3)
    12      4   u32         dim
    16      4   u32         bits per residual value: 2, 4 or 8
    20      4   u32         flags (0)
    24      8   u64         documents N
    32      8   u64         vectors V
    40      8   u64         metadata length M (bytes)
    48      32              model digest (runtimes.manifest.model_digest)
    80      4   u32         centroids K (1 to 65536)
    84      4   u32         nprobe: the search's default
    88      4   u32         candidates: the search's default
    92      4   u32         0
    96      8   u64         inverted-list entries P
    104     24              zeros
    128     K*dim*2  f16    centroids                   (each section from here padded to 64 bytes)
            (2^b-1)*4 f32   bucket cutoffs, then 2^b*4 f32 bucket weights
            (N+1)*8  u64    document offsets
            V*2      u16    each vector's centroid id
            V*dim*b/8       residual buckets, packed: value j in bits (j*b mod 8).. of byte j*b/8, low first
            (K+1)*8  u64    inverted-list offsets
            P*4      u32    inverted lists: for each centroid, the documents holding a vector of it, ascending
            M      (aligned)  metadata: UTF-8 JSON, an array of N values
            32              sha256 of every byte before it
"""
from __future__ import annotations

import functools
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import codebook
from .index import CHECKSUM, COMPRESSED_VERSION, MAGIC, Hit, IndexFileError, read_metadata, read_offsets, save_atomically

VERSION = COMPRESSED_VERSION
BITS = (2, 4, 8)
MAX_CENTROIDS = 65536  # ids are u16
HEADER = struct.Struct("<8sIIIIQQQ32sIIIIQ24x")  # 128 bytes
ALIGN = 64
DEFAULT_NPROBE = 8
DEFAULT_CANDIDATES = 256
SEED = 0


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _sections(dim: int, bits: int, n: int, v: int, k: int, p: int) -> list[tuple[str, int, int]]:
    """(name, offset, bytes) of each section after the header, in file order, each at a multiple of 64."""
    sizes = [("centroids", k * dim * 2), ("buckets", ((1 << bits) * 2 - 1) * 4), ("offsets", (n + 1) * 8),
             ("codes", v * 2), ("residuals", v * dim * bits // 8), ("ivf_offsets", (k + 1) * 8), ("ivf", p * 4)]
    out, at = [], HEADER.size
    for name, size in sizes:
        out.append((name, at, size))
        at = _aligned(at + size)
    return out


def _unpack_table(weights: np.ndarray, bits: int) -> np.ndarray:
    """[256, 8 / bits] float32: the weights of the values packed in each byte, low bits first."""
    per = 8 // bits
    mask = (1 << bits) - 1
    byte = np.arange(256)[:, None]
    return weights[(byte >> (np.arange(per) * bits)) & mask].astype(np.float32)


def pack(buckets: np.ndarray, bits: int) -> np.ndarray:
    """[T, dim] bucket numbers -> [T, dim * bits / 8] bytes, value j at bits (j*bits mod 8) of byte j*bits/8."""
    per = 8 // bits
    grouped = buckets.astype(np.uint8).reshape(len(buckets), -1, per)
    return np.bitwise_or.reduce(grouped << (np.arange(per, dtype=np.uint8) * bits), axis=2).astype(np.uint8)


def _best(scores: np.ndarray, count: int) -> np.ndarray:
    """Per row, the `count` columns of highest score, best first, ties to the lower column (step 2)."""
    if count >= scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")
    out = np.empty((len(scores), count), dtype=np.int64)
    for i, row in enumerate(scores):
        threshold = row[np.argpartition(-row, count - 1)[:count]].min()
        above = np.flatnonzero(row > threshold)
        chosen = np.concatenate([above, np.flatnonzero(row == threshold)[:count - len(above)]])
        out[i] = chosen[np.lexsort((chosen, -row[chosen]))]
    return out


@dataclass(frozen=True)
class CompressedIndex:
    dim: int
    bits: int
    model_digest: str
    centroids: np.ndarray  # float16 [K, dim]
    cutoffs: np.ndarray  # float32 [2^bits - 1]
    weights: np.ndarray  # float32 [2^bits]
    offsets: np.ndarray  # int64 [N + 1]
    codes: np.ndarray  # uint16 [V]
    residuals: np.ndarray  # uint8 [V, dim * bits / 8]
    ivf_offsets: np.ndarray  # int64 [K + 1]
    ivf: np.ndarray  # uint32 [P]
    metadata: list
    nprobe: int = DEFAULT_NPROBE
    candidates: int = DEFAULT_CANDIDATES

    dtype = "compressed"

    @classmethod
    def build(cls, documents: Sequence[np.ndarray], metadata: Sequence, model_digest: str, bits: int = 4,
              centroids: int | None = None, nprobe: int = DEFAULT_NPROBE, candidates: int = DEFAULT_CANDIDATES,
              seed: int = SEED) -> "CompressedIndex":
        if bits not in BITS:
            raise ValueError(f"bits {bits}: choose 2, 4 or 8")
        if len(documents) != len(metadata):
            raise ValueError(f"{len(documents)} documents but {len(metadata)} metadata entries")
        if any(d.ndim != 2 for d in documents) or len({d.shape[1] for d in documents}) != 1:
            raise ValueError("every document must be a [n, dim] array of one dim")
        dim = documents[0].shape[1]
        if dim * bits % 8:
            raise ValueError(f"dim {dim} at {bits} bits does not fill whole bytes")
        if nprobe < 1 or candidates < 1:
            raise ValueError("nprobe and candidates must be at least 1")
        counts = np.array([len(d) for d in documents], dtype=np.int64)
        stacked = np.concatenate(documents).astype(np.float32)
        if len(stacked) == 0:
            raise ValueError("the documents hold no vectors to index")
        k = min(centroids or codebook.default_centroids(len(stacked)), len(stacked), MAX_CENTROIDS)
        sample = stacked[codebook.sample_rows(len(stacked), k * codebook.SAMPLE_PER_CENTROID, seed)]
        stored = codebook.train_centroids(sample, k, seed).astype(np.float16)
        widened = stored.astype(np.float32)  # residuals against the centroids a reader gets back
        codes = codebook.nearest(stacked, widened)
        cutoffs, weights = codebook.residual_buckets(sample - widened[codebook.nearest(sample, widened)], bits)
        residuals = np.empty((len(stacked), dim * bits // 8), dtype=np.uint8)
        for start in range(0, len(stacked), codebook.CHUNK):
            end = start + codebook.CHUNK
            r = stacked[start:end] - widened[codes[start:end]]
            residuals[start:end] = pack(np.searchsorted(cutoffs, r, side="right"), bits)
        owner = np.repeat(np.arange(len(documents), dtype=np.int64), counts)
        pairs = np.unique(codes.astype(np.int64) * len(documents) + owner)  # (centroid, document), sorted
        ivf_offsets = np.concatenate([[0], np.cumsum(np.bincount(pairs // len(documents), minlength=k))])
        return cls(dim, bits, model_digest, stored, cutoffs, weights,
                   np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), codes.astype(np.uint16), residuals,
                   ivf_offsets.astype(np.int64), (pairs % len(documents)).astype(np.uint32), list(metadata),
                   nprobe, candidates)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def vector_count(self) -> int:
        return len(self.codes)

    def to_bytes(self) -> bytes:
        meta = json.dumps(self.metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        k = len(self.centroids)
        header = HEADER.pack(MAGIC, VERSION, self.dim, self.bits, 0, len(self), self.vector_count, len(meta),
                             bytes.fromhex(self.model_digest), k, self.nprobe, self.candidates, 0, len(self.ivf))
        payload = {"centroids": self.centroids.astype("<f2"),
                   "buckets": np.concatenate([self.cutoffs, self.weights]).astype("<f4"),
                   "offsets": self.offsets.astype("<u8"), "codes": self.codes.astype("<u2"),
                   "residuals": self.residuals, "ivf_offsets": self.ivf_offsets.astype("<u8"),
                   "ivf": self.ivf.astype("<u4")}
        out = bytearray(header)
        for name, at, size in _sections(self.dim, self.bits, len(self), self.vector_count, k, len(self.ivf)):
            out += bytes(at - len(out))
            data = payload[name].tobytes()
            assert len(data) == size, name
            out += data
        out += bytes(_aligned(len(out)) - len(out)) + meta
        return bytes(out) + hashlib.sha256(out).digest()

    def save(self, path) -> None:
        save_atomically(path, self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "index") -> "CompressedIndex":
        def corrupt(reason: str) -> IndexFileError:
            return IndexFileError(f"{where} is not a usable index ({reason}); rebuild it")

        if len(data) < HEADER.size + CHECKSUM:
            raise corrupt("truncated header")
        magic, version, dim, bits, flags, n, v, m, digest, k, nprobe, candidates, zero, p = HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            raise corrupt("not a compressed index file")
        if bits not in BITS or flags != 0 or zero != 0 or dim == 0 or dim * bits % 8 or not 1 <= k <= MAX_CENTROIDS:
            raise corrupt("unknown bits, flags, dim or centroid count")
        if nprobe < 1 or candidates < 1:
            raise corrupt("nprobe and candidates must be at least 1")
        sections = _sections(dim, bits, n, v, k, p)
        end = sections[-1][1] + sections[-1][2]
        meta_at = _aligned(end)
        if len(data) != meta_at + m + CHECKSUM:
            raise corrupt(f"{len(data)} bytes where the header says {meta_at + m + CHECKSUM}: truncated or extended")
        if hashlib.sha256(data[:-CHECKSUM]).digest() != data[-CHECKSUM:]:
            raise corrupt("checksum mismatch")
        at = {name: (offset, size) for name, offset, size in sections}

        def array(name: str, dtype: str, count: int) -> np.ndarray:
            return np.frombuffer(data, dtype, count, at[name][0])

        levels = 1 << bits
        buckets = array("buckets", "<f4", 2 * levels - 1)
        cutoffs, weights = buckets[:levels - 1], buckets[levels - 1:]
        if not np.all(np.isfinite(buckets)) or np.any(np.diff(cutoffs) < 0):
            raise corrupt("bucket cutoffs out of order")
        centroids = array("centroids", "<f2", k * dim).reshape(k, dim)
        if not np.all(np.isfinite(centroids)):
            raise corrupt("a centroid is not finite")
        offsets = read_offsets(data, at["offsets"][0], n, v, corrupt)
        codes = array("codes", "<u2", v)
        if v and int(codes.max()) >= k:
            raise corrupt("a centroid id past the centroids")
        residuals = array("residuals", "u1", v * dim * bits // 8).reshape(v, dim * bits // 8)
        ivf_offsets = array("ivf_offsets", "<u8", k + 1).astype(np.int64)
        if ivf_offsets[0] != 0 or ivf_offsets[-1] != p or np.any(np.diff(ivf_offsets) < 0):
            raise corrupt("inverted-list offsets out of order")
        ivf = array("ivf", "<u4", p)
        if p and int(ivf.max()) >= n:
            raise corrupt("an inverted list names a document past the corpus")
        rising = np.diff(ivf.astype(np.int64)) > 0
        rising[ivf_offsets[1:-1][(ivf_offsets[1:-1] > 0) & (ivf_offsets[1:-1] < p)] - 1] = True  # list boundaries
        if not np.all(rising):
            raise corrupt("an inverted list is not ascending")
        metadata = read_metadata(data[meta_at:meta_at + m], n, corrupt)
        return cls(int(dim), int(bits), digest.hex(), centroids, cutoffs, weights, offsets, codes, residuals,
                   ivf_offsets, ivf, metadata, int(nprobe), int(candidates))

    @functools.cached_property
    def _widened(self) -> np.ndarray:
        return self.centroids.astype(np.float32)

    @functools.cached_property
    def _table(self) -> np.ndarray:
        return _unpack_table(self.weights, self.bits)

    def decompress(self, rows: np.ndarray) -> np.ndarray:
        """The vectors `rows` as a search scores them: the widened centroid plus the bucket's weight, one fp32 add,
        then divided by the vector's length unless that is 0."""
        vectors = self._widened[self.codes[rows]] + self._table[self.residuals[rows]].reshape(len(rows), self.dim)
        lengths = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        np.divide(vectors, lengths[:, None], out=vectors, where=lengths[:, None] > 0)
        return vectors

    def candidates_for(self, query: np.ndarray, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps 1 to 3: the documents holding a probed centroid, and each one's centroid score (fp32): per query
        vector, its best probed centroid's score, or the lowest probed score where it holds none."""
        scores = query @ self._widened.T  # [query vectors, K]
        probes = _best(scores, min(nprobe, len(self.centroids)))
        approx = np.zeros(len(self), dtype=np.float32)
        touched = np.zeros(len(self), dtype=bool)
        for row, probe in zip(scores, probes):  # query vectors in order: each adds its best probed centroid's score
            lengths = self.ivf_offsets[probe + 1] - self.ivf_offsets[probe]
            docs = np.concatenate([self.ivf[self.ivf_offsets[c]:self.ivf_offsets[c + 1]] for c in probe])
            docs, first = np.unique(docs, return_index=True)  # probes run best first: the first is the best
            added = np.full(len(self), row[probe[-1]], dtype=np.float32)  # outside every probe: the lowest probed
            added[docs] = np.repeat(row[probe], lengths)[first]
            approx += added
            touched[docs] = True
        found = np.flatnonzero(touched)
        return found, approx[found]

    def scores_of(self, query: np.ndarray, documents: np.ndarray) -> np.ndarray:
        """Step 5: MaxSim of the query with each document's decompressed vectors, fp32 (0 without vectors)."""
        out = np.zeros(len(documents), dtype=np.float32)
        starts, ends = self.offsets[documents], self.offsets[documents + 1]
        filled = np.flatnonzero(ends > starts)
        if len(filled) == 0:
            return out
        lengths = ends[filled] - starts[filled]
        firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        rows = np.repeat(starts[filled] - firsts, lengths) + np.arange(lengths.sum())
        sims = query @ self.decompress(rows).T  # [query vectors, the candidates' vectors]
        out[filled] = np.maximum.reduceat(sims, firsts, axis=1).sum(axis=0, dtype=np.float32)
        return out

    def search(self, query: np.ndarray, k: int = 10, nprobe: int | None = None,
               candidates: int | None = None) -> list[Hit]:
        """The k best documents by MaxSim over decompressed vectors, among the `candidates` best by centroid
        score; best first, equal scores in corpus order."""
        query = np.asarray(query, dtype=np.float32)
        if query.ndim != 2 or (query.size and query.shape[1] != self.dim):
            raise ValueError(f"query vectors must be [n, {self.dim}], not {list(query.shape)}")
        if len(query) == 0 or k <= 0:
            return []
        found, approx = self.candidates_for(query, nprobe or self.nprobe)
        kept = found[np.lexsort((found, -approx))[:candidates or self.candidates]]
        scores = self.scores_of(query, kept)
        order = np.lexsort((kept, -scores))[:k]
        return [Hit(int(kept[i]), float(scores[i]), self.metadata[kept[i]]) for i in order]
