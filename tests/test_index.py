"""The portable index file (spec/bundle.md, "Index file"): the frozen ones, round trips, the command, refusals."""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.cli import main
from export.gate import parity_texts
from runtimes.index import Index, IndexFileError
from tests.conftest import SYNTHETIC_ONNX, synthetic_name

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "spec" / "conformance"
SAMPLE_CORPUS = ROOT / "samples" / "sample-corpus.json"  # the one source (spec/sample_corpus.py copies it to iOS)
SYNTHETIC, MODEL_17M = SYNTHETIC_ONNX, synthetic_name()


def vectors_file() -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in (CONFORMANCE / "index.jsonl").read_text().split("\n") if line]
    return lines[0]["header"], lines[1:]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_the_frozen_index_files_search_as_their_vectors_say(dtype):
    header, cases = vectors_file()
    index = Index.load(CONFORMANCE / header["files"][dtype]["file"], header["model_digest"])
    assert (index.dim, index.dtype, len(index), index.metadata) == (header["dim"], dtype, header["documents"],
                                                                     header["metadata"])
    for case in cases:
        hits = index.search(np.asarray(case["query"], np.float32), case["k"])
        assert [{"index": h.index, "score": h.score} for h in hits] == case["hits"], case["name"]


def mutated(data: bytes, mutation: dict) -> bytes:
    """A conformance file's mutation; with "rehash", the checksum recomputed after it."""
    out = _mutated(data, mutation)
    return out[:-32] + hashlib.sha256(out[:-32]).digest() if mutation.get("rehash") else out


def _mutated(data: bytes, mutation: dict) -> bytes:
    op = mutation["op"]
    if op == "truncate":
        return data[: mutation["bytes"]]
    if op == "append":
        return data + bytes(mutation["bytes"])
    if op == "flip_byte":
        out = bytearray(data)
        out[mutation["offset"]] ^= 0x01
        return bytes(out)
    if op in ("set_u16", "set_u32"):
        out = bytearray(data)
        struct.pack_into("<H" if op == "set_u16" else "<I", out, mutation["offset"], mutation["value"])
        return bytes(out)
    raise ValueError(op)


def assert_mutations_get_their_kinds(header: dict, data: bytes, tmp_path: Path, load) -> None:
    """Each of the header's mutations of `data`, loaded with `load(path, expected_digest)`: its error kind, in one
    line naming the file."""
    for mutation in header["mutations"]:
        path = tmp_path / f"{mutation['name']}.cbindex"
        expected = header["model_digest"]
        if mutation["op"] == "expect_digest":
            path.write_bytes(data)
            expected = mutation["value"]
        else:
            path.write_bytes(mutated(data, mutation))
        with pytest.raises(IndexFileError) as error:
            load(path, expected)
        assert error.value.kind == mutation["error"], (mutation["name"], str(error.value))
        assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_each_index_mutation_gets_its_error_kind(tmp_path):
    header, _ = vectors_file()
    data = (CONFORMANCE / header["files"]["float32"]["file"]).read_bytes()
    assert_mutations_get_their_kinds(header, data, tmp_path, Index.load)


@pytest.fixture(scope="module")
def bundles(exports) -> dict[str, Path]:
    return {p: exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision=p) for p in ("fp32", "int8")}


def test_a_prebuilt_index_of_the_sample_corpus_searches_as_a_fresh_encode(bundles, tmp_path, capsys):
    corpus = json.loads(SAMPLE_CORPUS.read_text())
    assert len(corpus) == 217
    out = tmp_path / "sample.cbindex"
    assert main(["index", str(bundles["int8"]), "--corpus", str(SAMPLE_CORPUS), "--out", str(out)]) == 0
    assert "217" in capsys.readouterr().out
    runtime = runtimes.load(bundles["int8"])
    index = Index.load(out, runtime.model_digest)
    assert index.metadata == corpus and len(index.vectors) == sum(map(len, runtime.encode_documents(corpus)))
    for query in parity_texts.QUERIES + ["", "🙂 東京"]:
        fresh = runtime.rank(query, corpus, k=10)
        hits = runtimes.search(runtime, index, query, k=10)
        assert [h.index for h in hits] == [i for i, _ in fresh], query
        np.testing.assert_allclose([h.score for h in hits], [s for _, s in fresh], rtol=1e-6)
    with pytest.raises(IndexFileError, match="another model") as error:  # fp32's queries on int8's index
        runtimes.search(runtimes.load(bundles["fp32"]), index, "bees")
    assert error.value.kind == "other_model"


def test_float16_index_is_half_the_vectors_and_ranks_alike(bundles, tmp_path):
    runtime = runtimes.load(bundles["fp32"])
    corpus = json.loads(SAMPLE_CORPUS.read_text())
    documents = runtime.encode_documents(corpus)
    full = runtimes.Index.build(documents, corpus, runtime.model_digest)
    half = runtimes.Index.build(documents, corpus, runtime.model_digest, "float16")
    full.save(tmp_path / "full")
    half.save(tmp_path / "half")
    back = Index.load(tmp_path / "half", runtime.model_digest)
    vector_bytes = len(full.vectors) * full.dim * 4
    assert (tmp_path / "full").stat().st_size - (tmp_path / "half").stat().st_size == vector_bytes // 2
    (q,) = runtime.encode_queries(["how do bees tell the hive where flowers are"])
    np.testing.assert_allclose(back.scores(q), full.scores(q), rtol=2e-3)
    assert [h.index for h in back.search(q, 3)] == [h.index for h in full.search(q, 3)]


@pytest.mark.parametrize("corpus_text, message", [
    ("not json\n", "not JSON"),
    ('["a", 3]', "document 2 is neither a string"),
    ('{"text": "a"}\n{"title": "no text"}\n', "document 2 is neither a string"),
    ("", "holds no documents"),
])
def test_a_bad_corpus_is_one_line_exit_2_and_no_index(bundles, tmp_path, capsys, corpus_text, message):
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "out.cbindex"
    corpus.write_text(corpus_text)
    assert main(["index", str(bundles["fp32"]), "--corpus", str(corpus), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [corpus]


def test_jsonl_corpus_keeps_each_line_as_metadata(bundles, tmp_path):
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "out.cbindex"
    corpus.write_text('{"id": "a", "text": "bees dance"}\n"owls hunt at night"\n\n{"id": "c", "text": ""}\n')
    assert main(["index", str(bundles["fp32"]), "--corpus", str(corpus), "--out", str(out), "--dtype", "float16"]) == 0
    index = Index.load(out)
    assert index.metadata == [{"id": "a", "text": "bees dance"}, "owls hunt at night", {"id": "c", "text": ""}]
    assert index.dtype == "float16" and len(index) == 3
