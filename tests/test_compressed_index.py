"""The compressed index file (spec/bundle.md, "Compressed index file"): the frozen files byte for byte and hit for
hit, their mutations, a built index against the spec's oracle, the edges, and `index --kind compressed`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.cli import main
from export.gate import parity_texts
from runtimes.compressed_index import CompressedIndex
from runtimes.index import Index, IndexFileError, index_from_bytes, load_index
from spec import oracle
from tests.test_index import CONFORMANCE, SAMPLE_CORPUS, assert_mutations_get_their_kinds, bundles  # noqa: F401 (bundles: a fixture)


def vectors_file() -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in (CONFORMANCE / "compressed-index.jsonl").read_text().split("\n") if line]
    return lines[0]["header"], lines[1:]


@pytest.mark.parametrize("bits", [4, 2, 8])
def test_the_frozen_files_read_back_byte_for_byte_and_search_as_the_oracle_says(bits):
    header, cases = vectors_file()
    entry = header["files"][f"{bits}bit"]
    data = (CONFORMANCE / entry["file"]).read_bytes()
    index = load_index(CONFORMANCE / entry["file"], header["model_digest"])
    assert isinstance(index, CompressedIndex)
    assert (index.dim, index.bits, len(index), index.metadata, index.nprobe, index.candidates) == (
        header["dim"], bits, header["documents"], header["metadata"], entry["nprobe"], entry["candidates"])
    assert index.to_bytes() == data  # the runtime's writer lays the file out as the oracle did
    mine = [c for c in cases if c["file"] == f"{bits}bit"]
    assert len(mine) == 14
    for case in mine:
        hits = index.search(np.asarray(case["query"], np.float32).reshape(-1, header["dim"]), case["k"],
                            case.get("nprobe"), case.get("candidates"))
        assert [{"index": h.index, "score": h.score} for h in hits] == case["hits"], case["name"]


def test_each_mutation_gets_its_error_kind(tmp_path):
    header, _ = vectors_file()
    data = (CONFORMANCE / header["files"]["4bit"]["file"]).read_bytes()
    assert len(header["mutations"]) == 17
    assert_mutations_get_their_kinds(header, data, tmp_path, load_index)


def clustered(rng: np.random.Generator, documents: int, dim: int) -> list[np.ndarray]:
    """Unit vectors around 40 topics, 0 to 60 per document: clustered as trained token vectors are."""
    topics = rng.normal(size=(40, dim))
    out = []
    for _ in range(documents):
        picks = topics[rng.integers(0, 40, size=int(rng.integers(0, 61)))]
        x = (picks + 0.6 * rng.normal(size=picks.shape)).astype(np.float32)
        out.append(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))
    return out


def components(index: CompressedIndex) -> tuple[list, list, oracle.Codebook]:
    """The file's codes and bucket numbers per document, unpacked as the spec's table says."""
    per = 8 // index.bits
    mask = (1 << index.bits) - 1
    codes, buckets = [], []
    for a, b in zip(index.offsets[:-1], index.offsets[1:]):
        codes.append([int(c) for c in index.codes[a:b]])
        rows = index.residuals[a:b]
        buckets.append([[(int(row[j // per]) >> (j % per * index.bits)) & mask for j in range(index.dim)]
                        for row in rows])
    book = oracle.Codebook(index.centroids.astype(np.float32), index.cutoffs.tolist(), index.weights.tolist(),
                           index.bits, index.nprobe, index.candidates)
    return codes, buckets, book


@pytest.mark.parametrize("bits", [4, 2, 8])
def test_a_built_index_searches_as_the_oracle_over_its_own_codes(bits):
    rng = np.random.default_rng(3)
    documents = clustered(rng, 60, 16)
    index = CompressedIndex.build(documents, list(range(60)), "ab" * 32, bits=bits, centroids=32, nprobe=3,
                                  candidates=12)
    back = index_from_bytes(index.to_bytes())
    codes, buckets, book = components(back)
    exact = oracle.compress(documents, codes, book)
    assert exact == buckets  # each residual in the bucket the spec's rule gives
    lists = [set(back.ivf[back.ivf_offsets[c]:back.ivf_offsets[c + 1]].tolist()) for c in range(32)]
    assert lists == [{d for d in range(60) if c in codes[d]} for c in range(32)]
    for _ in range(10):
        query = clustered(rng, 1, 16)[0][:8]
        want = oracle.compressed_search(query, codes, buckets, book, 5, 3, 12)
        hits = back.search(query, 5)
        assert [h.index for h in hits] == [d for d, _ in want]
        np.testing.assert_allclose([h.score for h in hits], [s for _, s in want], rtol=1e-5, atol=1e-5)


def test_the_edges():
    rng = np.random.default_rng(4)
    documents = clustered(rng, 30, 16)
    documents[4] = np.zeros((0, 16), np.float32)
    index = CompressedIndex.build(documents, list(range(30)), "cd" * 32, centroids=8, nprobe=8, candidates=30)
    query = documents[5][:3]
    assert index.search(np.zeros((0, 16), np.float32), 10) == [] and index.search(query, 0) == []
    every = index.search(query, 100)
    assert 4 not in [h.index for h in every] and len(every) == 29  # all probed: every document with vectors
    assert [h.index for h in every] == [h.index for h in sorted(every, key=lambda h: (-h.score, h.index))]
    exact = Index.build(documents, list(range(30)), "cd" * 32)
    assert every[0].index == exact.search(query, 1)[0].index
    with pytest.raises(ValueError, match="hold no vectors"):
        CompressedIndex.build([np.zeros((0, 16), np.float32)], ["a"], "cd" * 32)
    with pytest.raises(ValueError, match="whole bytes"):
        CompressedIndex.build([np.ones((2, 3), np.float32)], ["a"], "cd" * 32, bits=2)
    with pytest.raises(ValueError, match="choose 2, 4 or 8"):
        CompressedIndex.build(documents, list(range(30)), "cd" * 32, bits=3)
    with pytest.raises(ValueError, match="must be"):
        index.search(np.ones((2, 8), np.float32))


def test_exact_readers_refuse_a_compressed_file_and_the_build_is_seeded(tmp_path):
    rng = np.random.default_rng(5)
    documents = clustered(rng, 40, 16)
    a = CompressedIndex.build(documents, list(range(40)), "ef" * 32, seed=1)
    assert a.to_bytes() == CompressedIndex.build(documents, list(range(40)), "ef" * 32, seed=1).to_bytes()
    a.save(tmp_path / "c.cbindex")
    with pytest.raises(IndexFileError, match="compressed"):
        Index.load(tmp_path / "c.cbindex")
    with pytest.raises(IndexFileError) as error:
        load_index(tmp_path / "c.cbindex", "00" * 32)
    assert error.value.kind == "other_model"
    assert [p.name for p in tmp_path.iterdir()] == ["c.cbindex"]  # written beside and renamed: no leftovers


@pytest.mark.export
def test_index_kind_compressed_on_the_sample_corpus(bundles, tmp_path, capsys):
    out = tmp_path / "sample.cbindex"
    assert main(["index", str(bundles["fp32"]), "--corpus", str(SAMPLE_CORPUS), "--out", str(out), "--kind",
                 "compressed", "--centroids", "64"]) == 0
    table = capsys.readouterr().out
    assert "compressed 4-bit, 64 centroids" in table and "top-10 vs exact" in table
    runtime = runtimes.load(bundles["fp32"])
    index = load_index(out, runtime.model_digest)
    corpus = json.loads(SAMPLE_CORPUS.read_text())
    exact = Index.build(runtime.encode_documents(corpus), corpus, runtime.model_digest)
    exact_bytes = len(exact.to_bytes())
    assert out.stat().st_size < exact_bytes / 5
    agree = []
    for query in parity_texts.QUERIES:
        want = [h.index for h in runtimes.search(runtime, exact, query, 10)]
        got = [h.index for h in runtimes.search(runtime, index, query, 10)]
        agree.append(len(set(want) & set(got)) / 10)
    assert np.mean(agree) >= 0.8, agree  # synthetic weights: near ties everywhere, so this checks plumbing only
    assert main(["index", str(bundles["fp32"]), "--corpus", str(SAMPLE_CORPUS), "--out", str(tmp_path / "x"),
                 "--kind", "compressed", "--centroids", "0"]) == 2
    assert not (tmp_path / "x").exists()


def test_probes_take_the_best_centroids_ties_to_the_lower_id():
    from runtimes.compressed_index import _best

    scores = np.array([[0.5, 1.0, 0.5, 1.0, 0.25, 0.5], [3, 3, 3, 3, 3, 3]], np.float32)
    assert _best(scores, 3).tolist() == [[1, 3, 0], [0, 1, 2]]
    assert _best(scores, 4).tolist() == [[1, 3, 0, 2], [0, 1, 2, 3]]
    assert _best(scores, 9).tolist() == [[1, 3, 0, 2, 5, 4], [0, 1, 2, 3, 4, 5]]
