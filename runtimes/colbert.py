"""PyLate's ColBERT conventions, shared by every target: tokenise, filter, MaxSim, rank.

Torch-free on purpose: this is what an app does, and the parity gate runs through it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from tokenizers import Tokenizer

from .fields import boolean, integer, list_of, optional, require, string
from .iospec import IoSpec
from .manifest import BundleError, first_line, read_json_file
from .tokenizer_kinds import check_tokenizer


@dataclass(frozen=True)
class ColbertSettings:
    """Everything an app needs to turn text into the encoder's inputs and its outputs into vectors."""

    query_prefix: str
    document_prefix: str
    query_prefix_id: int | None  # None when the prefix is empty: PyLate then inserts nothing
    document_prefix_id: int | None
    query_length: int
    document_length: int
    do_query_expansion: bool
    attend_to_expansion_tokens: bool
    do_lower_case: bool  # after stripping: Unicode full lowercase mapping (Python's str.lower)
    strip_codepoints: list[int]  # stripped from both ends of every text before anything else
    skiplist_words: list[str]
    skiplist_ids: list[int]
    mask_token_id: int
    pad_token_id: int
    dim: int
    io: IoSpec | None = None  # the artifact's inputs and outputs; set when a bundle is written

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_file(cls, path: Path) -> "ColbertSettings":
        data = require(read_json_file(path), SETTINGS_FIELDS, str(path))
        known = {name: data[name] for name in SETTINGS_FIELDS}
        if data.get("io") is None:
            raise BundleError(f"{path} has no io section; re-export the bundle", "malformed")
        return cls(**{**known, "io": IoSpec.from_dict(data["io"], f"{path}['io']")})


SETTINGS_FIELDS = {
    "query_prefix": string, "document_prefix": string,
    "query_prefix_id": optional(integer), "document_prefix_id": optional(integer),
    "query_length": integer, "document_length": integer,
    "do_query_expansion": boolean, "attend_to_expansion_tokens": boolean, "do_lower_case": boolean,
    "strip_codepoints": list_of(integer), "skiplist_words": list_of(string), "skiplist_ids": list_of(integer),
    "mask_token_id": integer, "pad_token_id": integer, "dim": integer,
}


Batch = tuple[np.ndarray, np.ndarray]  # input_ids, attention_mask: int64 [batch, seq]


class ColbertTokenizer:
    """Tokenises exactly as PyLate's ColBERT.tokenize does, and says which positions to keep.

    Safe to call from several threads: its one tokenizer is configured once and never changed after.
    Each kind truncates to its own length with tokenizers' own steps (encode, Encoding.truncate, then
    post_process for the special tokens), so one parsed copy serves both kinds (each costs ~10 MB)."""

    def __init__(self, tokenizer_json: Path, settings: ColbertSettings):
        self.settings = settings
        text = check_tokenizer(Path(tokenizer_json))
        try:
            self._tokenizer = Tokenizer.from_str(text)
        except Exception as e:  # tokenizers raises a bare Exception with serde's message
            raise BundleError(f"{tokenizer_json} cannot be parsed ({first_line(e)}); re-export the bundle",
                              "malformed") from None
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._special = self._tokenizer.num_special_tokens_to_add(is_pair=False)
        self._skip = np.array(sorted(set(settings.skiplist_ids)), dtype=np.int64)
        self._strip = "".join(map(chr, settings.strip_codepoints))

    def preprocess(self, text: str) -> str:
        """What sentence-transformers does to a text before PyLate tokenises it: strip, then lowercase."""
        text = text.strip(self._strip)
        return text.lower() if self.settings.do_lower_case else text

    def _prefix_id(self, is_query: bool) -> int | None:
        return self.settings.query_prefix_id if is_query else self.settings.document_prefix_id

    def _budget(self, is_query: bool) -> int:
        """Tokens the tokenizer may produce: the kind's length, less one for the prefix PyLate inserts."""
        length = self.settings.query_length if is_query else self.settings.document_length
        return length - 1 if self._prefix_id(is_query) is not None else length

    def rows(self, texts: Sequence[str], is_query: bool) -> list[list[int]]:
        """Each text's token ids, prefix inserted, before padding."""
        prefix_id = self._prefix_id(is_query)
        content = self._budget(is_query) - self._special  # what enable_truncation would leave the text
        rows = []
        for encoding in self._tokenizer.encode_batch([self.preprocess(t) for t in texts], add_special_tokens=False):
            encoding.truncate(content)
            rows.append(self._tokenizer.post_process(encoding).ids)
        return [row[:1] + [prefix_id] + row[1:] for row in rows] if prefix_id is not None else rows

    def pad(self, rows: Sequence[list[int]], is_query: bool) -> Batch:
        """Rows padded into one batch, as PyLate pads them."""
        s = self.settings
        expand = is_query and s.do_query_expansion
        width = s.query_length if expand else max(len(r) for r in rows)
        # Queries with expansion pad with [MASK] (PyLate sets pad = mask); the id of other padding
        # never reaches an output because it is masked out and its vectors are dropped.
        pad_id = s.mask_token_id if expand else s.pad_token_id
        ids = np.full((len(rows), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        if expand and s.attend_to_expansion_tokens:
            mask[:] = 1
        return ids, mask

    def encode(self, texts: Sequence[str], is_query: bool) -> Batch:
        return self.pad(self.rows(texts, is_query), is_query)

    def keep(self, ids: np.ndarray, mask: np.ndarray, is_query: bool) -> np.ndarray:
        """Boolean [batch, seq]: which output vectors PyLate returns."""
        if is_query:
            if self.settings.do_query_expansion:
                return np.ones(ids.shape, dtype=bool)
            return mask.astype(bool)
        return mask.astype(bool) & ~np.isin(ids, self._skip)


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """Sum over query vectors of the best dot product with any document vector, in fp32."""
    if len(query) == 0 or len(document) == 0:
        return 0.0
    sims = query.astype(np.float32) @ document.astype(np.float32).T
    return float(sims.max(axis=1).sum(dtype=np.float32))


class Engine(Protocol):
    """A target's compiled encoder: token ids in, one vector per position out. `is_query` lets an
    engine with buckets (TFLite, Core ML) pick one; the others ignore it."""

    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray, is_query: bool = False) -> np.ndarray: ...


class ColbertRuntime:
    """What an app does: tokenise, encode in batches, filter, score and rank."""

    def __init__(self, tokenizer: ColbertTokenizer, engine: Engine, batch_size: int = 16, model_digest: str = "",
                 golden=None):
        self.tokenizer = tokenizer
        self.settings = tokenizer.settings
        self.engine = engine
        self.batch_size = batch_size
        self.model_digest = model_digest  # runtimes.manifest.model_digest: what an index built with it records
        self.golden = golden  # runtimes.golden.Golden of the bundle: its self-test

    def encode_queries(self, texts: Sequence[str], batch_size: int | None = None) -> list[np.ndarray]:
        return self._encode(texts, is_query=True, batch_size=batch_size)

    def encode_documents(self, texts: Sequence[str], batch_size: int | None = None) -> list[np.ndarray]:
        return self._encode(texts, is_query=False, batch_size=batch_size)

    def _encode(self, texts: Sequence[str], is_query: bool, batch_size: int | None) -> list[np.ndarray]:
        """Batches of texts of similar length (sorted by token count, as sentence-transformers sorts by
        length), so little padding is computed; the vectors come back in the texts' order."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        size = batch_size or self.batch_size
        rows = self.tokenizer.rows(texts, is_query)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out: list[np.ndarray | None] = [None] * len(rows)
        for start in range(0, len(order), size):
            members = order[start : start + size]
            ids, mask = self.tokenizer.pad([rows[i] for i in members], is_query)
            vectors = np.asarray(self.engine.encode(ids, mask, is_query), dtype=np.float32)
            keep = self.tokenizer.keep(ids, mask, is_query)
            for row, i in enumerate(members):
                out[i] = vectors[row][keep[row]]
        return out

    @staticmethod
    def maxsim(query: np.ndarray, document: np.ndarray) -> float:
        return maxsim(query, document)

    def rank(self, query: str, documents: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        """The k best documents for one query, as (index into documents, MaxSim score)."""
        (q,) = self.encode_queries([query])
        scores = [maxsim(q, d) for d in self.encode_documents(documents)]
        return top_k(scores, k)


def top_k(scores: Sequence[float], k: int) -> list[tuple[int, float]]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [(i, float(scores[i])) for i in order[:max(k, 0)]]  # at most k: a negative k slices from the end

