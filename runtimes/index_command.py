"""`python -m runtimes index --bundle DIR --corpus FILE --out INDEX` (and its alias `python -m export index BUNDLE
...`): encode a corpus once into a portable index file.

The corpus is JSON Lines (each line a string, or an object with a "text" field) or one JSON array of the
same. Each document's metadata in the index is its line: the string itself, or the whole object.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import build_index, load
from .index import DTYPES

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


def run_index(bundle: Path, corpus: Path, out: Path, dtype: str, threads: int = 0) -> int:
    """Exit 0 with the index written and a summary table printed; CorpusError, BundleError or IndexFileError
    leaves nothing behind."""
    if dtype not in DTYPES:
        raise CorpusError(f"--dtype {dtype}: choose {' or '.join(DTYPES)}")
    if not Path(out).parent.is_dir():
        raise CorpusError(f"--out {out}: its directory does not exist")
    if Path(out).is_dir():
        raise CorpusError(f"--out {out} is a directory; give the index file's path")
    texts, metadata = read_corpus(corpus)
    runtime = load(bundle, threads=threads)
    started = time.perf_counter()
    index = build_index(runtime, texts, metadata, dtype, progress=ProgressBar(len(texts)))
    try:
        index.save(out)
    except OSError as e:
        raise CorpusError(f"--out {out}: cannot write it ({e.strerror})") from None
    seconds = time.perf_counter() - started
    rows = [[str(out), str(len(index)), str(len(index.vectors)), f"{index.dim} {dtype}",
             f"{Path(out).stat().st_size / 1e6:.2f}", f"{len(texts) / seconds:.1f}", index.model_digest[:12]]]
    print(format_table(rows, ["index", "documents", "vectors", "dim", "MB", "docs/s", "model digest"]))
    return 0
