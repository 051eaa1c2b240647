"""The conformance vectors' expected values, written from spec/bundle.md's text alone.

spec/generate.py takes every expected value from here: preprocessing and the steps around the tokenizer
("Encoding a text"), MaxSim and rank ("Scoring"), the golden rule's steps 2 to 5 ("The golden rule"), and index
files and their search ("Index file", "Compressed index file"). It imports nothing from the runtime (`runtimes/`) or the exporter
(`export/`): the vectors test the runtime, so they must not be computed by it. Token ids themselves come
from Hugging Face `tokenizers`, which the spec names as the reference.

Plain numpy and loops on purpose: slow, small and easy to hold against the spec's sentences.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

# ---------------------------------------------------------------- encoding a text

def preprocess(text: str, strip_codepoints: Sequence[int], do_lower_case: bool) -> str:
    """Encoding steps 1 and 2: strip `strip_codepoints` from both ends, then Python's str.lower() when
    do_lower_case."""
    stripped = text.strip("".join(map(chr, strip_codepoints)))
    return stripped.lower() if do_lower_case else stripped


def load_tokenizer(path: str) -> Tokenizer:
    """tokenizer.json read by `tokenizers` itself. "The file's truncation and padding blocks are ignored"."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def token_ids(tokenizer: Tokenizer, settings: dict, text: str, is_query: bool) -> list[int]:
    """Encoding steps 1 to 4: preprocess; tokenise (by `tokenizers`, from load_tokenizer) to at most `budget`
    tokens, the kind's length less one when it has a prefix id: encode without special tokens, keep the first
    `budget - specials` (2 for a [CLS] A [SEP] template), add the template's specials; insert the prefix id
    after the first token."""
    length = settings["query_length"] if is_query else settings["document_length"]
    prefix_id = settings["query_prefix_id"] if is_query else settings["document_prefix_id"]
    budget = length - 1 if prefix_id is not None else length
    encoding = tokenizer.encode(preprocess(text, settings["strip_codepoints"], settings["do_lower_case"]),
                                add_special_tokens=False)
    encoding.truncate(budget - tokenizer.num_special_tokens_to_add(is_pair=False))
    ids = tokenizer.post_process(encoding).ids
    return ids[:1] + [prefix_id] + ids[1:] if prefix_id is not None else ids


def pad_alone(settings: dict, ids: list[int], is_query: bool) -> tuple[list[int], list[int]]:
    """Encoding step 5 for a text alone (a batch of one): a query with do_query_expansion is padded to
    query_length with mask_token_id, attention 0 there, or 1 with attend_to_expansion_tokens; any other row
    keeps its length. Returns input_ids and attention_mask."""
    if not (is_query and settings["do_query_expansion"]):
        return list(ids), [1] * len(ids)
    padding = settings["query_length"] - len(ids)
    attend = 1 if settings["attend_to_expansion_tokens"] else 0
    return list(ids) + [settings["mask_token_id"]] * padding, [1] * len(ids) + [attend] * padding


def kept_positions(settings: dict, ids: list[int], mask: list[int], is_query: bool) -> list[int]:
    """Encoding step 6: a query keeps every position with attention 1, every position with
    do_query_expansion; a document keeps positions with attention 1 whose id is not in skiplist_ids."""
    if is_query:
        return [p for p, m in enumerate(mask) if m == 1 or settings["do_query_expansion"]]
    skip = set(settings["skiplist_ids"])
    return [p for p, (i, m) in enumerate(zip(ids, mask)) if m == 1 and i not in skip]


def bucket_for(settings: dict, length: int, is_query: bool) -> str | None:
    """"The smallest bucket of the row's kind whose length holds the row" (io.buckets); None without buckets.
    A row longer than every bucket of its kind is refused (ValueError)."""
    buckets = settings["io"]["buckets"]
    if not buckets:
        return None
    kind = "query" if is_query else "document"
    holding = [(b["length"], name) for name, b in buckets.items() if b["kind"] == kind and b["length"] >= length]
    if not holding:
        raise ValueError(f"a {kind} of {length} tokens is longer than every {kind} bucket")
    return min(holding)[1]


def tokenize(tokenizer: Tokenizer, settings: dict, text: str, is_query: bool) -> dict:
    """A text tokenised alone as its kind (steps 1 to 6) and the bucket a bucketed target runs it through."""
    ids, mask = pad_alone(settings, token_ids(tokenizer, settings, text, is_query), is_query)
    return {"input_ids": ids, "attention_mask": mask, "kept_positions": kept_positions(settings, ids, mask, is_query),
            "bucket": bucket_for(settings, len(ids), is_query)}


# ---------------------------------------------------------------- scoring

def fp32_sum(values: Sequence) -> np.float32:
    """A sum in fp32: from +0, left to right, every partial sum rounded to fp32."""
    total = np.float32(0.0)
    for value in np.asarray(values, dtype=np.float32).ravel():
        total = np.float32(total + value)
    return total


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """Scoring, MaxSim: the sum over q in Q of max over d in D of q.d, in fp32; 0 when either has no vectors."""
    query, document = np.asarray(query, np.float32), np.asarray(document, np.float32)
    if len(query) == 0 or len(document) == 0:
        return 0.0
    best = [max(fp32_sum(q * d) for d in document) for q in query]  # q * d: fp32 products
    return float(fp32_sum(best))


def rank(scores: Sequence[float], k: int) -> list[int]:
    """Scoring, Rank: document indices by score, highest first, equal scores in corpus order (a stable sort);
    at most k."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable
    return order[:max(k, 0)]


# ---------------------------------------------------------------- the golden rule

METRICS = ("cosine_min", "cosine_mean", "maxsim_rel_err_max", "maxsim_rel_err_p99", "top10_agreement")
COSINE_NORM_FLOOR = 1e-12  # step 2: a.b / max(|a| |b|, 1e-12)
SCORE_FLOOR = 1.0  # step 3: |got - expected| / max(|expected|, 1)
DEFAULT_TOP_K = 10  # golden.json: "k of top10_agreement (10 when absent)"


@dataclass(frozen=True)
class Golden:
    """The golden.json fields the rule reads."""

    queries: list[list[list[float]]]  # each entry's `vectors`
    documents: list[list[list[float]]]
    scores: list[list[float]]  # [queries][documents]
    tolerance: dict[str, tuple[str, float]]  # metric -> (op, bound)
    top_k: int


class VectorCountError(ValueError):
    """Step 2: a text's encoded kept vectors are not as many as its entry's `vectors`."""


def read_golden(data: dict) -> Golden:
    """golden.json's table: entries' vectors, `scores` [queries][documents], `tolerance` metric -> {op, value} over
    the rule's metrics, `top_k` a positive integer, 10 when absent. AssertionError on a field that breaks it."""
    queries = [entry["vectors"] for entry in data["queries"]]
    documents = [entry["vectors"] for entry in data["documents"]]
    scores = data["scores"]
    assert len(scores) == len(queries) and all(len(row) == len(documents) for row in scores), "scores' shape"
    tolerance = {}
    for metric, bound in data["tolerance"].items():
        assert metric in METRICS and bound["op"] in (">=", "<=") and isinstance(bound["value"], (int, float)), metric
        tolerance[metric] = (bound["op"], float(bound["value"]))
    top_k = data.get("top_k", DEFAULT_TOP_K)
    assert isinstance(top_k, int) and not isinstance(top_k, bool) and top_k >= 1, "top_k"
    return Golden(queries, documents, scores, tolerance, top_k)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Step 2: one pair's cosine in float64, a.b / max(|a| |b|, 1e-12)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = math.sqrt((a * a).sum()) * math.sqrt((b * b).sum())
    return float((a * b).sum() / max(norms, COSINE_NORM_FLOOR))


def cosines(golden: Golden, queries: Sequence[np.ndarray], documents: Sequence[np.ndarray]) -> list[float]:
    """Step 2: the cosine of every kept vector of every text with its reference; VectorCountError when a
    text's count differs. Encoded vectors are the encoder's fp32 output; references are golden.json's numbers."""
    references, encoded = golden.queries + golden.documents, list(queries) + list(documents)
    if len(references) != len(encoded):
        raise VectorCountError(f"{len(encoded)} texts encoded, golden.json has {len(references)}")
    out = []
    for reference, got in zip(references, encoded):
        got = np.asarray(got, np.float32)
        if len(got) != len(reference):
            raise VectorCountError(f"{len(got)} vectors where golden.json has {len(reference)}")
        out += [cosine(g, r) for g, r in zip(got, reference)]
    return out


def relative_error(got: float, expected: float) -> float:
    """Step 3: |got - expected| / max(|expected|, 1), in float64."""
    return abs(got - expected) / max(abs(expected), SCORE_FLOOR)


def p99(values: Sequence[float]) -> float:
    """Step 3: the 99th percentile with linear interpolation between closest ranks, numpy's default."""
    return float(np.percentile(np.asarray(values, np.float64), 99, method="linear"))


def top_k_agreement(expected: list[list[float]], got: list[list[float]], top_k: int) -> float:
    """Step 4: per query, k = min(top_k, documents); the share of the top k by `scores` also in the top k by the
    encoded scores, both ranked as in Rank; the mean over queries; 1 without queries or documents."""
    documents = len(expected[0]) if expected else 0
    k = min(top_k, documents)
    if k == 0:
        return 1.0
    shares = [len(set(rank(e, k)) & set(rank(g, k))) / k for e, g in zip(expected, got)]
    return float(np.mean(shares))


def golden_metrics(golden: Golden, queries: Sequence[np.ndarray], documents: Sequence[np.ndarray]) -> dict[str, float]:
    """Steps 2 to 4 on a port's encoded kept vectors; VectorCountError where a count differs."""
    cos = cosines(golden, queries, documents)
    got = [[maxsim(q, d) for d in documents] for q in queries]
    errors = [relative_error(g, e) for got_row, row in zip(got, golden.scores) for g, e in zip(got_row, row)]
    return {
        "cosine_min": min(cos) if cos else 1.0,  # "both 1 when there are none"
        "cosine_mean": float(np.mean(cos)) if cos else 1.0,
        "maxsim_rel_err_max": max(errors) if errors else 0.0,  # "both 0 when there are no pairs"
        "maxsim_rel_err_p99": p99(errors) if errors else 0.0,
        "top10_agreement": top_k_agreement(golden.scores, got, golden.top_k),
    }


def failures(golden: Golden, metrics: dict[str, float]) -> list[str]:
    """Step 5: the metrics named in `tolerance` that miss their bound (>= or <=) or are not finite, sorted."""
    missed = []
    for metric, (op, bound) in golden.tolerance.items():
        value = metrics[metric]
        held = value >= bound if op == ">=" else value <= bound
        if not math.isfinite(value) or not held:
            missed.append(metric)
    return sorted(missed)


# ---------------------------------------------------------------- index file

INDEX_MAGIC = b"CBINDEX\0"
INDEX_VERSION = 1
INDEX_DTYPES = {"float32": (0, "<f4"), "float16": (1, "<f2")}  # dtype field, little-endian storage


def index_bytes(documents: Sequence[np.ndarray], metadata: list, model_digest: str, dtype: str, dim: int) -> bytes:
    """An index file as the table lays it out: the 80-byte header, N + 1 u64 offsets, V x dim vectors row-major,
    the metadata (UTF-8 JSON array, compact), then the sha256 of every byte before it."""
    code, stored = INDEX_DTYPES[dtype]
    counts = [len(d) for d in documents]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype("<u8")
    vectors = np.concatenate([np.asarray(d, np.float32).reshape(-1, dim) for d in documents]).astype(stored)
    meta = json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = (INDEX_MAGIC + struct.pack("<IIII", INDEX_VERSION, code, dim, 0)
              + struct.pack("<QQQ", len(documents), int(offsets[-1]), len(meta)) + bytes.fromhex(model_digest))
    body = header + offsets.tobytes() + vectors.tobytes() + meta
    return body + hashlib.sha256(body).digest()


def search(query: np.ndarray, documents: Sequence[np.ndarray], k: int,
           dtype: str = "float32") -> list[tuple[int, float]]:
    """Index search: vectors stored as `dtype` are widened to fp32, every document is scored by MaxSim and
    ranked as in Rank; (index, score) of at most k."""
    widened = [np.asarray(d, np.float32).astype(INDEX_DTYPES[dtype][1]).astype(np.float32) for d in documents]
    scores = [maxsim(query, d) for d in widened]
    return [(i, scores[i]) for i in rank(scores, k)]


# ---------------------------------------------------------------- compressed index file

COMPRESSED_VERSION = 3
ALIGN = 64


@dataclass(frozen=True)
class Codebook:
    """What a compressed file stores besides the documents: chosen by the builder, here given."""
    centroids: np.ndarray  # [K, dim], values exact in fp16
    cutoffs: list[float]  # 2^b - 1, never decreasing
    weights: list[float]  # 2^b
    bits: int
    nprobe: int
    candidates: int


def bucket_of(value: float, cutoffs: Sequence[float]) -> int:
    """The number of cutoffs at or below the residual."""
    return sum(1 for c in cutoffs if c <= value)


def compress(documents: Sequence[np.ndarray], codes: Sequence[Sequence[int]], book: Codebook) -> list[list[list[int]]]:
    """Each document's vectors as per-dimension bucket numbers of their residual from the given centroid."""
    centroids = np.asarray(book.centroids, np.float16).astype(np.float32)
    return [[[bucket_of(float(np.float32(x) - centroids[c][j]), book.cutoffs) for j, x in enumerate(vector)]
             for vector, c in zip(np.asarray(doc, np.float32), doc_codes)] for doc, doc_codes in zip(documents, codes)]


def decompress(code: int, buckets: Sequence[int], book: Codebook) -> np.ndarray:
    """Decompressing: the centroid's values widened to fp32, plus the bucket's weight, one fp32 addition each;
    then each divided by the vector's length (squares summed in order, all in fp32), unless that is 0."""
    centroid = np.asarray(book.centroids[code], np.float16).astype(np.float32)
    y = [np.float32(centroid[j] + np.float32(book.weights[b])) for j, b in enumerate(buckets)]
    length = np.float32(0)
    for value in y:
        length = np.float32(length + np.float32(value * value))
    length = np.float32(np.sqrt(length))
    return np.array([value / length if length > 0 else value for value in y], np.float32)


def _pad(out: bytearray) -> None:
    out += bytes(-len(out) % ALIGN)


def compressed_index_bytes(codes: Sequence[Sequence[int]], buckets: Sequence[Sequence[Sequence[int]]],
                           book: Codebook, metadata: list, model_digest: str) -> bytes:
    """A compressed file as its tables lay it out, from each document's codes and bucket numbers."""
    k, dim = np.asarray(book.centroids).shape
    n = len(codes)
    v = sum(len(c) for c in codes)
    lists = [[d for d in range(n) if c in codes[d]] for c in range(k)]
    p = sum(len(entries) for entries in lists)
    meta = json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    out = bytearray(INDEX_MAGIC + struct.pack("<IIII", COMPRESSED_VERSION, dim, book.bits, 0)
                    + struct.pack("<QQQ", n, v, len(meta)) + bytes.fromhex(model_digest)
                    + struct.pack("<IIIIQ", k, book.nprobe, book.candidates, 0, p) + bytes(24))
    _pad(out)
    out += np.asarray(book.centroids, np.float16).astype("<f2").tobytes()
    _pad(out)
    out += np.array(list(book.cutoffs) + list(book.weights), "<f4").tobytes()
    _pad(out)
    out += np.concatenate([[0], np.cumsum([len(c) for c in codes])]).astype("<u8").tobytes()
    _pad(out)
    out += np.array([c for doc in codes for c in doc], "<u2").tobytes()
    _pad(out)
    for doc in buckets:
        for vector in doc:
            row = bytearray(dim * book.bits // 8)
            for j, b in enumerate(vector):
                row[j * book.bits // 8] |= b << (j * book.bits % 8)
            out += row
    _pad(out)
    out += np.concatenate([[0], np.cumsum([len(entries) for entries in lists])]).astype("<u8").tobytes()
    _pad(out)
    out += np.array([d for entries in lists for d in entries], "<u4").tobytes()
    _pad(out)
    out += meta
    return bytes(out) + hashlib.sha256(bytes(out)).digest()


def compressed_search(query: np.ndarray, codes: Sequence[Sequence[int]], buckets: Sequence[Sequence[Sequence[int]]],
                      book: Codebook, k: int, nprobe: int, candidates: int) -> list[tuple[int, float]]:
    """Search, steps 1 to 5, one loop each; (index, score) of at most k."""
    query = np.asarray(query, np.float32)
    if len(query) == 0 or k <= 0:
        return []
    centroids = np.asarray(book.centroids, np.float16).astype(np.float32)
    kk = len(centroids)
    s = [[fp32_sum(q * centroids[c]) for c in range(kk)] for q in query]  # step 1
    probes = [sorted(range(kk), key=lambda c: -row[c])[:min(nprobe, kk)] for row in s]  # step 2, stable
    listed = [d for d in range(len(codes)) if any(c in codes[d] for probe in probes for c in probe)]
    score = {d: np.float32(0) for d in listed}
    for i, probe in enumerate(probes):  # step 3
        for d in listed:
            held = [s[i][c] for c in probe if c in codes[d]]
            score[d] = np.float32(score[d] + np.float32(max(held) if held else s[i][probe[-1]]))
    found = sorted(score, key=lambda d: (-score[d], d))[:candidates]  # step 4
    scored = [(d, maxsim(query, np.array([decompress(c, b, book) for c, b in zip(codes[d], buckets[d])],
                                         np.float32).reshape(-1, centroids.shape[1]))) for d in found]  # step 5
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:k]
