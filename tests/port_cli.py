"""The checks every port's CLI must pass against the Python runtime (spec/bundle.md, "Command-line contract"),
shared by the port test files: each passes its own `cli(*args, stdin=None)` runner."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

import runtimes
from export.gate import parity_texts
from runtimes.colbert import maxsim, top_k
from tests.port_texts import SPECIAL_TEXTS, random_texts
from tests.test_index import SAMPLE_CORPUS

Cli = Callable[..., object]  # (*args, stdin=None) -> subprocess.CompletedProcess


def tokenizer_env(minilm_checkpoint: Path) -> dict[str, str]:
    """The environment every port's own test suite reads its two tokenizer files from (the vector files name them,
    with their sha256): mxbai's fixture and the MiniLM checkpoint PyLate saved."""
    from tests.conftest import FIXTURE_TOKENIZER

    return {**os.environ, "MXBAI_TOKENIZER": str(FIXTURE_TOKENIZER),
            "MINILM_TOKENIZER": str(minilm_checkpoint / "tokenizer.json")}


def tokenize_equals_the_python_runtime(cli: Cli, bundle: Path, seed: int) -> None:
    """Ids, masks and kept positions of thousands of texts, as a query and as a document, each alone; and the
    bucket each runs through, a key present exactly when the bundle has buckets (`io.buckets`)."""
    runtime = runtimes.load(bundle)
    tokenizer, io = runtime.tokenizer, runtime.settings.io
    texts = parity_texts.queries() + parity_texts.documents() + SPECIAL_TEXTS + random_texts(3000, seed=seed)
    for flag, is_query in (("--query", True), ("--document", False)):
        result = cli("tokenize", "--bundle", str(bundle), flag, stdin=json.dumps(texts))
        assert result.returncode == 0, result.stderr
        mismatches = []
        for text, got in zip(texts, json.loads(result.stdout), strict=True):
            ids, mask = tokenizer.encode([text], is_query)
            expected = {"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(),
                        "kept_positions": np.flatnonzero(tokenizer.keep(ids, mask, is_query)[0]).tolist()}
            if io.buckets:
                expected["bucket"] = io.bucket_for(ids.shape[1], is_query)[0]
            if got != expected:
                mismatches.append(text)
        assert mismatches == [], mismatches[:3]


def search_ranks_as_the_python_runtime(cli: Cli, bundle: Path, index: Path, engine_args: tuple[str, ...] = (),
                                       documents: list[np.ndarray] | None = None) -> None:
    """The sample corpus indexed by the CLI and saved to `index`, searched again from it; Python reads the file.
    `engine_args`: the port's engine options (ColBERTKit off Apple systems: `--replay FILE`); `documents`: the
    corpus's kept vectors from the Python runtime, when the caller has them already (the MIL interpreter is slow)."""
    runtime = runtimes.load(bundle)
    corpus = json.loads(SAMPLE_CORPUS.read_text())
    documents = runtime.encode_documents(corpus) if documents is None else documents
    for query in search_queries():
        result = cli("search", "--bundle", str(bundle), "--corpus", str(SAMPLE_CORPUS), "--index", str(index), "--k",
                     "10", *engine_args, query)
        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)["hits"]
        (q,) = runtime.encode_queries([query])  # runtime.rank, with the corpus encoded once for every query
        expected = top_k([maxsim(q, d) for d in documents], 10)
        assert [h["index"] for h in hits] == [i for i, _ in expected], query
        np.testing.assert_allclose([h["score"] for h in hits], [s for _, s in expected], rtol=1e-4)
        assert all(h["text"] == corpus[h["index"]] for h in hits)
    assert runtimes.Index.load(index, runtime.model_digest).metadata == corpus


def search_queries() -> list[str]:
    """The queries `search_ranks_as_the_python_runtime` runs (a port recording encodings needs them)."""
    return parity_texts.QUERIES[:6]


def refuses_a_tampered_bundle_naming_the_file(cli: Cli, bundle: Path, target: str = "onnx",
                                              artifact_file: str = "model.onnx") -> None:
    """`bundle` is a copy of a bundle of `target` that verifies; `artifact_file` (its model, or the file inside a
    directory artifact) is changed by one bit."""
    from tests.conftest import flip_byte

    assert cli("verify", "--bundle", str(bundle)).stdout.startswith(f"OK {target}-")
    flip_byte(bundle / artifact_file)
    result = cli("selftest", "--bundle", str(bundle))
    assert result.returncode == 1 and result.stderr.startswith("error: tampered:") and artifact_file in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def bench_times_the_port_beside_the_python_runtime(bundle: Path, against: str, row: str, tmp_path: Path,
                                                  capsys) -> None:
    """`bench --against <port>` on a few documents: the port's row measured, and its ratio to the Python runtime."""
    from export.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", str(bundle), "--against", against, "--documents", "6", "--index-documents", "50",
                 "--json", str(out)]) == 0
    port = {r["name"]: r["result"] for r in json.loads(out.read_text())["rows"]}[row]
    assert port["query_p50_ms_1t"] > 0 and port["docs_per_s_batched_all"] > 0 and port["index_search_p50_ms_1t"] > 0
    assert f"{row}: query p50" in capsys.readouterr().out
