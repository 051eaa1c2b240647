"""The compressed index's codebook (spec/bundle.md, "Compressed index file"): k-means centroids over a seeded
sample of the corpus's token vectors, each vector's nearest centroid, and the residual buckets. Deterministic for
a seed on one machine; memory bounded by the sample and by CHUNK vectors at a time, never by the corpus."""
from __future__ import annotations

import numpy as np

CHUNK = 16384  # vectors assigned per matrix product: [CHUNK, K] similarities at a time
ITERATIONS = 10  # Lloyd steps: the centroids only seed the search, whose last step scores decompressed vectors
SAMPLE_PER_CENTROID = 64  # k-means sample: about this many vectors per centroid, at most the corpus


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


def residual_buckets(residuals: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Cutoffs (2^bits - 1, ascending) at the residual values' quantiles j / 2^bits, and each bucket's weight
    (2^bits) at its middle quantile (j + 1/2) / 2^bits: every bucket holds about as many values."""
    values = np.asarray(residuals, dtype=np.float64).ravel()
    levels = 1 << bits
    if values.size == 0:
        return np.zeros(levels - 1, np.float32), np.zeros(levels, np.float32)
    cutoffs = np.quantile(values, np.arange(1, levels) / levels).astype(np.float32)
    weights = np.quantile(values, (np.arange(levels) + 0.5) / levels).astype(np.float32)
    return cutoffs, weights
