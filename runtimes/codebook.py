"""The compressed index's codebook (spec/bundle.md, "Compressed index file"): k-means centroids over a seeded
sample of the corpus's token vectors, each vector's nearest centroid, and the residual buckets. Deterministic for
a seed on one machine; memory bounded by the sample and by CHUNK vectors at a time, never by the corpus."""
from __future__ import annotations

import numpy as np

CHUNK = 16384  # vectors assigned per matrix product: [CHUNK, K] similarities at a time
ITERATIONS = 10  # Lloyd steps: the centroids only seed the search, whose last step scores decompressed vectors
SAMPLE_PER_CENTROID = 64  # k-means sample: about this many vectors per centroid, at most the corpus
QUANTIZER_VALUES = 1 << 22  # residual values the quantizer is fitted on, at most
LLOYD_ITERATIONS = 100  # residual quantizer refinements; each is a few binary searches over the sorted sample


def default_centroids(vectors: int) -> int:
    """A power of two near 4 sqrt(V), 16 to 8192: enough that an inverted list holds a small share of the
    documents, few enough that training and assignment stay a minor cost beside encoding."""
    if vectors <= 0:
        return 1
    k = 1 << max(4, int(np.floor(np.log2(4 * np.sqrt(vectors)))))
    return int(min(k, 8192, vectors))


def sample_rows(total: int, count: int, seed: int) -> np.ndarray:
    """`count` distinct row numbers of `total`, ascending, fixed by the seed."""
    count = min(count, total)
    return np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid by L2 (argmax of 2 x.c - |c|^2; ties to the lower id), as uint32."""
    bias = (centroids.astype(np.float32) ** 2).sum(axis=1)
    out = np.empty(len(vectors), dtype=np.uint32)
    for start in range(0, len(vectors), CHUNK):
        block = np.asarray(vectors[start:start + CHUNK], dtype=np.float32)
        out[start:start + len(block)] = np.argmax(2 * block @ centroids.T - bias, axis=1)
    return out


def train_centroids(sample: np.ndarray, k: int, seed: int, iterations: int = ITERATIONS) -> np.ndarray:
    """k-means (Lloyd) on `sample` [n, dim], started from k distinct sample rows; an emptied centroid keeps
    its place. float32 [min(k, n), dim]."""
    sample = np.asarray(sample, dtype=np.float32)
    k = min(k, len(sample))
    centroids = sample[sample_rows(len(sample), k, seed)].copy()
    for _ in range(iterations):
        codes = nearest(sample, centroids)
        counts = np.bincount(codes, minlength=k)
        sums = np.zeros_like(centroids, dtype=np.float64)
        np.add.at(sums, codes, sample)
        filled = counts > 0
        centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return centroids


def residual_buckets(residuals: np.ndarray, bits: int, iterations: int = LLOYD_ITERATIONS) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """Cutoffs (2^bits - 1, ascending) and weights (2^bits) of the scalar quantizer of least squared error over
    the residual values (Lloyd-Max): started at the quantiles, then each weight the mean of its bucket's values
    and each cutoff the midpoint of its neighbours' weights. On trained vectors this has a third of the squared
    error of the quantiles' middles, whose outer buckets sit far inside the tails."""
    values = np.asarray(residuals, dtype=np.float32).ravel()
    values = np.sort(values[::max(1, -(-values.size // QUANTIZER_VALUES))])  # an even stride: deterministic, bounded
    levels = 1 << bits
    if values.size == 0:
        return np.zeros(levels - 1, np.float32), np.zeros(levels, np.float32)
    sums = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    cutoffs = np.quantile(values, np.arange(1, levels) / levels)
    weights = np.quantile(values, (np.arange(levels) + 0.5) / levels)
    for _ in range(iterations):
        edges = np.concatenate([[0], np.searchsorted(values, cutoffs, side="left"), [values.size]])
        counts = np.diff(edges)
        means = (sums[edges[1:]] - sums[edges[:-1]]) / np.maximum(counts, 1)
        weights = np.where(counts > 0, means, weights)  # an empty bucket keeps its weight
        moved = (weights[1:] + weights[:-1]) / 2
        if np.array_equal(moved, cutoffs):
            break
        cutoffs = moved
    return cutoffs.astype(np.float32), weights.astype(np.float32)
