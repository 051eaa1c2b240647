"""Torch-free reference runtimes: load a bundle, encode, score and rank as an app would."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from .bundle import OpenBundle, open_bundle
from .colbert import ColbertRuntime, ColbertSettings, maxsim, top_k
from .index import Hit, Index, IndexFileError
from .iospec import InputPastBound
from .manifest import BundleError, model_digest
from .targets import engine_module

__all__ = ["load", "open_bundle", "OpenBundle", "BundleError", "ColbertRuntime", "ColbertSettings", "Hit", "Index",
           "IndexFileError", "InputPastBound", "build_index", "search", "maxsim", "top_k"]


def load(bundle_dir: str | Path, batch_size: int = 16, threads: int = 0) -> ColbertRuntime:
    """Open a bundle as spec/bundle.md says (manifest and format, every hash, colbert.json, tokenizer.json,
    golden.json, then the model) and return a runtime for it (threads 0: the engine's default)."""
    bundle = open_bundle(bundle_dir)
    engine = engine_module(bundle.manifest["target"]).load_engine(bundle.path, bundle.settings, bundle.manifest,
                                                                  threads)
    return ColbertRuntime(bundle.tokenizer, engine, batch_size=batch_size, model_digest=model_digest(bundle.manifest),
                          golden=bundle.golden)


def build_index(runtime: ColbertRuntime, texts: Sequence[str], metadata: Sequence | None = None,
                dtype: str = "float32", progress: Callable[[int], None] | None = None, chunk: int = 64) -> Index:
    """Encode `texts` as documents into an index tied to the runtime's model (metadata defaults to the texts);
    `progress` is called with the number of documents encoded so far."""
    vectors = []
    for start in range(0, len(texts), chunk):
        vectors += runtime.encode_documents(list(texts[start:start + chunk]))
        if progress:
            progress(len(vectors))
    return Index.build(vectors, list(texts) if metadata is None else list(metadata), runtime.model_digest, dtype)


def search(runtime: ColbertRuntime, index: Index, query: str, k: int = 10) -> list[Hit]:
    """The k best documents of `index` for one query; refuses an index built with another model."""
    if index.model_digest != runtime.model_digest:
        raise IndexFileError(f"the index was built with another model (digest {index.model_digest[:12]}, this "
                             f"bundle's is {runtime.model_digest[:12]}); rebuild it with this bundle", "other_model")
    (q,) = runtime.encode_queries([query])
    return index.search(q, k)
