"""`python -m runtimes index --bundle DIR --corpus FILE --out INDEX` (and its alias `python -m export index BUNDLE
...`): encode a corpus once into a portable index file.

The corpus is JSON Lines (each line a string, or an object with a "text" field) or one JSON array of the
same. Each document's metadata in the index is its line: the string itself, or the whole object.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import build_index, load
from .compressed_index import BITS, DEFAULT_CANDIDATES, DEFAULT_NPROBE, MAX_CENTROIDS, SEED, CompressedIndex
from .index import DTYPES, Index
from .table import format_table


class CorpusError(Exception):
    """A corpus file that cannot be indexed; the message names the line."""


def _entries(path: Path) -> list:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"{path}: cannot read it as UTF-8 text ({getattr(e, 'strerror', None) or e})") from None
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}: not a JSON array ({e.msg} at line {e.lineno})") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{number}: not JSON ({e.msg})") from None
    return entries


def read_corpus(path: Path) -> tuple[list[str], list]:
    """The texts to encode and each one's metadata."""
    texts = []
    entries = _entries(Path(path))
    for number, entry in enumerate(entries, 1):
        text = entry.get("text") if isinstance(entry, dict) else entry
        if not isinstance(text, str):
            raise CorpusError(f"{path}: document {number} is neither a string nor an object with a \"text\" string")
        texts.append(text)
    if not texts:
        raise CorpusError(f"{path} holds no documents")
    return texts, entries


class ProgressBar:
    """One self-overwriting line on stderr: documents done, rate, time left."""

    def __init__(self, total: int, width: int = 30):
        self.total, self.width, self.started = total, width, time.perf_counter()

    def __call__(self, done: int) -> None:
        elapsed = time.perf_counter() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= self.total else ""
        print(f"\r[{bar}] {done}/{self.total} documents, {rate:.1f}/s, {left:.0f} s left ", end=end,
              file=sys.stderr, flush=True)


@dataclass(frozen=True)
class IndexOptions:
    """What `index` builds: the exact file (format 1, float32 or float16 vectors) or the compressed one (format 3)."""
    kind: str = "exact"
    dtype: str = "float32"
    bits: int = 4
    centroids: int | None = None  # None: codebook.default_centroids
    nprobe: int = DEFAULT_NPROBE
    candidates: int = DEFAULT_CANDIDATES
    seed: int = SEED
    queries: Path | None = None  # texts to measure the compressed index's agreement with; default sampled


KINDS = ("exact", "compressed")
AGREEMENT_QUERIES = 100  # corpus texts sampled as queries when --queries is not given


def add_index_options(parser) -> None:
    """The options both `python -m runtimes index` and its alias `python -m export index` take."""
    parser.add_argument("--kind", default="exact", choices=KINDS,
                        help="exact: every vector (format 1, the reference); compressed: centroid ids and residuals "
                             "(format 3, about 1/7 the size at 4 bits; searched centroids first)")
    parser.add_argument("--dtype", default="float32", help="exact: float32 (default) or float16 (half the size)")
    parser.add_argument("--bits", type=int, default=4, choices=BITS, help="compressed: residual bits: 2, 4 (default) or 8 (about 1/4 the size, the closest to exact)")
    parser.add_argument("--centroids", type=int, help="compressed: k-means centroids (default: near 4 sqrt(vectors))")
    parser.add_argument("--nprobe", type=int, default=DEFAULT_NPROBE,
                        help=f"compressed: centroids probed per query vector, stored as the default (default {DEFAULT_NPROBE})")
    parser.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES,
                        help=f"compressed: documents scored in full, stored as the default (default {DEFAULT_CANDIDATES})")
    parser.add_argument("--seed", type=int, default=SEED, help="compressed: the k-means seed (default 0)")
    parser.add_argument("--queries", type=Path,
                        help="compressed: queries (JSON Lines or array, like --corpus) to measure top-10 agreement with "
                             f"exact MaxSim on (default: {AGREEMENT_QUERIES} corpus texts, seeded)")


def options_from(args) -> IndexOptions:
    return IndexOptions(args.kind, args.dtype, args.bits, args.centroids, args.nprobe, args.candidates, args.seed,
                        args.queries)


def _check(options: IndexOptions, out: Path) -> None:
    if options.kind not in KINDS:
        raise CorpusError(f"--kind {options.kind}: choose exact or compressed")
    if options.dtype not in DTYPES:
        raise CorpusError(f"--dtype {options.dtype}: choose {' or '.join(DTYPES)}")
    if options.bits not in BITS:
        raise CorpusError(f"--bits {options.bits}: choose 2, 4 or 8")
    if options.centroids is not None and not 1 <= options.centroids <= MAX_CENTROIDS:
        raise CorpusError(f"--centroids {options.centroids}: choose 1 to {MAX_CENTROIDS}")
    if options.nprobe < 1 or options.candidates < 1:
        raise CorpusError("--nprobe and --candidates must be at least 1")
    if options.queries is not None and not options.queries.is_file():
        raise CorpusError(f"--queries {options.queries}: no such file")
    if not Path(out).parent.is_dir():
        raise CorpusError(f"--out {out}: its directory does not exist")
    if Path(out).is_dir():
        raise CorpusError(f"--out {out} is a directory; give the index file's path")


def agreement(runtime, exact: Index, compressed: CompressedIndex, queries: list[str], k: int = 10) -> float:
    """Mean share of exact MaxSim's top k that the compressed search also returns (1 without documents)."""
    shares = []
    for query in runtime.encode_queries(queries):
        want = {h.index for h in exact.search(query, k)}
        got = {h.index for h in compressed.search(query, k)}
        shares.append(len(want & got) / len(want) if want else 1.0)
    return float(np.mean(shares)) if shares else 1.0


def _agreement_queries(options: IndexOptions, texts: list[str]) -> tuple[list[str], str]:
    if options.queries is not None:
        queries, _ = read_corpus(options.queries)
        return queries, str(options.queries)
    rows = np.random.default_rng(options.seed).permutation(len(texts))[:AGREEMENT_QUERIES]
    return [texts[i] for i in sorted(rows)], f"{len(rows)} corpus texts"


def run_index(bundle: Path, corpus: Path, out: Path, options: IndexOptions = IndexOptions(), threads: int = 0) -> int:
    """Exit 0 with the index written and a summary table printed; CorpusError, BundleError or IndexFileError
    leaves nothing behind."""
    _check(options, out)
    texts, metadata = read_corpus(corpus)
    runtime = load(bundle, threads=threads)
    started = time.perf_counter()
    exact = build_index(runtime, texts, metadata, options.dtype if options.kind == "exact" else "float32",
                        progress=ProgressBar(len(texts)))
    encoded = time.perf_counter()
    index, measured = exact, "-"
    if options.kind == "compressed":
        print("compressing: k-means centroids, residuals, inverted lists ...", file=sys.stderr, flush=True)
        documents = [exact.vectors[a:b] for a, b in zip(exact.offsets[:-1], exact.offsets[1:])]
        try:
            index = CompressedIndex.build(documents, metadata, runtime.model_digest, options.bits, options.centroids,
                                          options.nprobe, options.candidates, options.seed)
        except ValueError as e:
            raise CorpusError(f"{corpus}: {e}") from None
        queries, source = _agreement_queries(options, texts)
        measured = f"{agreement(runtime, exact, index, queries):.3f} ({source})"
    try:
        index.save(out)
    except OSError as e:
        raise CorpusError(f"--out {out}: cannot write it ({e.strerror})") from None
    built = time.perf_counter()
    kind = options.dtype if options.kind == "exact" else \
        f"compressed {options.bits}-bit, {len(index.centroids)} centroids"
    rows = [[str(out), kind, str(len(index)), str(exact.vectors.shape[0]), str(index.dim),
             f"{Path(out).stat().st_size / 1e6:.2f}", f"{len(texts) / (encoded - started):.1f}",
             f"{built - encoded:.1f}", measured, index.model_digest[:12]]]
    print(format_table(rows, ["index", "kind", "documents", "vectors", "dim", "MB", "docs/s", "build s",
                              "top-10 vs exact", "model digest"]))
    return 0
