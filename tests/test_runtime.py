"""The reference runtime: PyLate's tokenisation and filtering conventions, MaxSim, ranking, torch-free."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import runtimes
from export.model.checkpoint import read_checkpoint
from export.model.source import resolve
from runtimes.colbert import ColbertTokenizer, maxsim, top_k
from runtimes.iospec import Bucket, InputPastBound, IoSpec
from tests.conftest import FIXTURE_TOKENIZER, SYNTHETIC_ONNX, synthetic_name

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = SYNTHETIC_ONNX
MODEL_17M = synthetic_name()


@pytest.fixture(scope="module")
def mxbai_tokenizer() -> ColbertTokenizer:
    checkpoint = resolve("17m", synthetic=True, tokenizer=FIXTURE_TOKENIZER)
    return ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)


@pytest.fixture(scope="module")
def minilm_tokenizer(minilm_checkpoint) -> ColbertTokenizer:
    checkpoint = read_checkpoint(minilm_checkpoint, source="test")
    return ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)


def test_prefix_goes_after_cls_and_text_is_lowercased(mxbai_tokenizer):
    ids, mask = mxbai_tokenizer.encode(["Hello World", "hello world"], is_query=True)
    assert ids[0].tolist() == ids[1].tolist()
    assert ids[0, 0] == 50281 and ids[0, 1] == 50368 and ids[0, -1] == 50282  # [CLS] [Q] ... [SEP]
    docs, _ = mxbai_tokenizer.encode(["hello world"], is_query=False)
    assert docs[0, 1] == 50369  # [D]
    assert docs[0, 2:].tolist() == ids[0, 2:].tolist()


def test_truncation_to_query_and_document_length(mxbai_tokenizer):
    long_text = "word " * 2000
    q, _ = mxbai_tokenizer.encode([long_text], is_query=True)
    d, _ = mxbai_tokenizer.encode([long_text], is_query=False)
    assert q.shape == (1, 48) and d.shape == (1, 512)
    assert q[0, -1] == d[0, -1] == 50282  # truncation keeps [SEP]


def test_padding_uses_the_mask_id_and_is_masked(mxbai_tokenizer):
    ids, mask = mxbai_tokenizer.encode(["short", "a much longer document than the first one"], is_query=False)
    pads = mask[0] == 0
    assert pads.any() and (ids[0][pads] == 50284).all()
    keep = mxbai_tokenizer.keep(ids, mask, is_query=False)
    assert not keep[0][pads].any()


def test_documents_drop_bare_punctuation_but_queries_keep_it(mxbai_tokenizer):
    text = "stop. go!"
    ids, mask = mxbai_tokenizer.encode([text], is_query=False)
    kept = ids[0][mxbai_tokenizer.keep(ids, mask, is_query=False)[0]]
    assert 15 in ids[0] and 15 not in kept  # "." is in the skiplist
    qids, qmask = mxbai_tokenizer.encode([text], is_query=True)
    assert 15 in qids[0][mxbai_tokenizer.keep(qids, qmask, is_query=True)[0]]


def test_space_prefixed_punctuation_is_kept(mxbai_tokenizer):
    ids, mask = mxbai_tokenizer.encode(["end ."], is_query=False)
    assert 964 in ids[0]  # "Ġ." is not a bare skiplist token
    assert 964 in ids[0][mxbai_tokenizer.keep(ids, mask, is_query=False)[0]]


@pytest.mark.parametrize("text", ["", "🙂🚀 東京は日本の首都です。", "?!...;:"])
def test_edge_texts_tokenise(mxbai_tokenizer, text):
    ids, mask = mxbai_tokenizer.encode([text], is_query=False)
    assert ids[0, 0] == 50281 and ids[0, 1] == 50369 and mask.all()
    keep = mxbai_tokenizer.keep(ids, mask, is_query=False)
    assert keep[0, 0] and keep[0, 1]  # [CLS] and [D] always survive


def test_query_expansion_pads_with_mask_and_keeps_every_position(minilm_tokenizer):
    ids, mask = minilm_tokenizer.encode(["short query", ""], is_query=True)
    assert ids.shape == (2, 32)
    assert ids[0, 1] == 1  # [unused0]
    expansion = mask[0] == 0
    assert expansion.sum() > 20 and (ids[0][expansion] == 103).all()  # [MASK], not attended
    assert minilm_tokenizer.keep(ids, mask, is_query=True).all()


def test_the_smallest_bucket_of_the_kind_that_holds_the_input_is_picked():
    io = IoSpec.encoder(48, "int32", 1, 512, buckets={"q": Bucket("query", 48), "d512": Bucket("document", 512),
                                                      "d128": Bucket("document", 128), "d256": Bucket("document", 256)})
    assert io.bucket_for(48, is_query=True) == ("q", 48) and io.bucket_for(1, is_query=True) == ("q", 48)
    assert io.bucket_for(3, is_query=False) == ("d128", 128) and io.bucket_for(128, is_query=False) == ("d128", 128)
    assert io.bucket_for(129, is_query=False) == ("d256", 256) and io.bucket_for(512, is_query=False) == ("d512", 512)
    with pytest.raises(InputPastBound, match="document of 513 tokens is past this bundle's export bound of 512"):
        io.bucket_for(513, is_query=False)
    with pytest.raises(InputPastBound, match="query of 49 tokens is past this bundle's export bound of 48; "
                                             "truncate to query_length first"):
        io.bucket_for(49, is_query=True)


def test_maxsim_and_rank():
    q = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    d1 = np.array([[1.0, 0.0], [0.6, 0.8]], np.float32)
    d2 = np.array([[0.0, 1.0]], np.float32)
    assert maxsim(q, d1) == pytest.approx(1.0 + 0.8)
    assert maxsim(q, d2) == pytest.approx(1.0)
    assert maxsim(q, np.zeros((0, 2), np.float32)) == 0.0
    assert top_k([1.0, 3.0, 2.0, 3.0], 3) == [(1, 3.0), (3, 3.0), (2, 2.0)]


def test_runtime_end_to_end_batch_sizes_agree(exports):
    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp32")
    runtime = runtimes.load(bundle)
    texts = ["how do bees communicate", "", "東京 🙂", "!!!", "word " * 700]
    one = runtime.encode_documents(texts, batch_size=1)
    many = runtime.encode_documents(texts, batch_size=5)
    for a, b in zip(one, many):
        assert a.shape == b.shape and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert len(many[-1]) <= 512
    norms = np.linalg.norm(np.concatenate(many), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    ranked = runtime.rank("how do bees communicate", texts, k=3)
    assert len(ranked) == 3 and ranked[0][1] >= ranked[1][1] >= ranked[2][1]


def test_an_engine_refuses_a_sequence_past_the_export_bound_as_input_past_bound(exports):
    runtime = runtimes.load(exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="fp32"))
    bound = runtime.settings.io.max_sequence
    ids = np.full((1, bound + 1), 1000, np.int64)
    with pytest.raises(InputPastBound, match=f"query of {bound + 1} tokens is past this bundle's export bound of "
                                             f"{bound}; truncate to query_length first") as refused:
        runtime.engine.encode(ids, np.ones_like(ids), is_query=True)
    assert refused.value.kind == "input_past_bound"


def test_runtime_imports_no_torch(exports):
    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="int8")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        import runtimes
        rt = runtimes.load({str(bundle)!r})
        (q,) = rt.encode_queries(["what is late interaction"])
        print(len(rt.encode_documents(["late interaction scores every token", ""])), q.shape)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "2"


def test_verify_and_bench_without_full_never_import_torch(exports):
    bundle = exports.bundle(*SYNTHETIC, model=MODEL_17M, target="onnx", precision="int8")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        from export.cli import main
        assert main(["verify", {str(bundle)!r}]) == 0
        assert main(["bench", "--documents", "2", {str(bundle)!r}]) == 0
        assert main(["--help"]) == 0
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_tokenizer_is_safe_to_call_from_several_threads(mxbai_tokenizer):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"query number {n} about " + "bees " * n for n in range(40)]
    jobs = [(text, n % 2 == 0) for n, text in enumerate(texts * 5)]
    expected = [mxbai_tokenizer.encode([t], q)[0].tolist() for t, q in jobs]
    with ThreadPoolExecutor(8) as pool:  # queries and documents interleaved: different truncation lengths
        got = list(pool.map(lambda job: mxbai_tokenizer.encode([job[0]], job[1])[0].tolist(), jobs))
    assert got == expected
