"""Checkpoints: the synthetic writer, the PyLate-layout reader, and the one-line errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from export.model.checkpoint import CheckpointError, read_checkpoint
from export.model.source import resolve
from export.model.encoder import load_encoder, parameter_count
from runtimes.manifest import sha256
from tests.conftest import FIXTURE_TOKENIZER

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "export", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("size, params, head, dim", [("17m", 16_797_952, 155_648, 48), ("32m", None, None, 64)])
def test_synthetic_checkpoint_has_the_exact_architecture(size, params, head, dim):
    checkpoint = resolve(size, synthetic=True, tokenizer=FIXTURE_TOKENIZER)
    assert checkpoint.synthetic and checkpoint.model_type == "modernbert"
    assert checkpoint.settings.dim == dim
    encoder = load_encoder(checkpoint)
    if params:  # the published 17m count (MODEL-FACTS): encoder + Dense head
        assert parameter_count(encoder.backbone) == params
        assert parameter_count(encoder.dense) == head
    config = json.loads((checkpoint.path / "config.json").read_text())
    assert config["vocab_size"] == 50370 and config["local_attention"] == 128
    with safe_open(str(checkpoint.path / "model.safetensors"), "np") as f:
        assert f.get_slice("embeddings.tok_embeddings.weight").get_shape() == [50370, config["hidden_size"]]
    marker = json.loads((checkpoint.path / "synthetic.json").read_text())
    assert marker["tokenizer"].startswith("given"), "tests build synthetic checkpoints around the real tokenizer"
    assert (checkpoint.path / "tokenizer.json").read_bytes() == FIXTURE_TOKENIZER.read_bytes()


def _resolve_with_cache(cache: Path, *args: str) -> tuple[Path, dict]:
    """resolve("17m", synthetic=True, ...) with another cache, in a process of its own: the session's export
    runs read this process's cache setting from other threads meanwhile."""
    script = ("import json, sys; from export.model.source import resolve; c = resolve('17m', synthetic=True, "
              "tokenizer=sys.argv[1] or None); print(json.dumps([str(c.path), c.settings.query_prefix_id, "
              "c.settings.document_prefix_id, c.settings.mask_token_id]))")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr[-3000:]
    path, *ids = json.loads(done.stdout.splitlines()[-1])
    return Path(path), ids


def test_synthetic_checkpoint_is_deterministic(tmp_path):
    first = resolve("17m", synthetic=True, tokenizer=FIXTURE_TOKENIZER).path
    second, _ = _resolve_with_cache(tmp_path, str(FIXTURE_TOKENIZER))
    assert first != second
    for name in ("model.safetensors", "1_Dense/model.safetensors", "2_Dense/model.safetensors", "tokenizer.json"):
        assert sha256(first / name) == sha256(second / name)


def test_synthetic_without_a_tokenizer_uses_a_generated_one(tmp_path):
    path, ids = _resolve_with_cache(tmp_path, "")
    assert ids == [50368, 50369, 50284]  # query prefix, document prefix, mask
    assert path.name.endswith("-bytetok")


def test_settings_are_read_from_the_checkpoint_files(minilm_checkpoint, tmp_path):
    s = read_checkpoint(minilm_checkpoint, source="test").settings
    assert (s.query_prefix, s.query_prefix_id, s.document_prefix_id) == ("[unused0]", 1, 2)
    assert (s.query_length, s.document_length, s.dim) == (32, 256, 128)
    assert s.do_query_expansion and not s.attend_to_expansion_tokens and s.do_lower_case
    assert s.mask_token_id == s.pad_token_id == 103  # PyLate pads with [MASK]
    assert 1012 in s.skiplist_ids  # "." in BERT's vocabulary
    copy = shutil.copytree(minilm_checkpoint, tmp_path / "edited")
    config = json.loads((copy / "config_sentence_transformers.json").read_text())
    config.update(query_length=24, do_query_expansion=False)
    (copy / "config_sentence_transformers.json").write_text(json.dumps(config))
    edited = read_checkpoint(copy, source="test").settings
    assert (edited.query_length, edited.do_query_expansion) == (24, False)


def test_mxbai_settings_match_the_published_onnx_config(mxbai_fixture):
    published = json.loads((mxbai_fixture / "onnx_config.json").read_text())
    s = resolve("32m", synthetic=True, tokenizer=FIXTURE_TOKENIZER).settings
    for key in ("query_prefix", "document_prefix", "query_length", "document_length", "do_query_expansion",
                "attend_to_expansion_tokens", "skiplist_words", "mask_token_id", "pad_token_id",
                "query_prefix_id", "document_prefix_id", "do_lower_case"):
        assert getattr(s, key) == published[key], key
    assert s.dim == published["embedding_dim"]
    assert 15 in s.skiplist_ids and 964 not in s.skiplist_ids  # bare "." dropped, "Ġ." kept


def broken_copies(minilm_checkpoint: Path, root: Path) -> dict[str, Path]:
    cases = {}

    def case(name: str) -> Path:
        cases[name] = shutil.copytree(minilm_checkpoint, root / name)
        return cases[name]

    (case("corrupt-weights") / "model.safetensors").write_bytes(b"\x00" * 64)
    (case("corrupt-json") / "modules.json").write_text("{not json")
    (case("no-modules") / "modules.json").unlink()
    modules = json.loads((minilm_checkpoint / "modules.json").read_text())
    pooled = case("sentence-transformer-pooling")
    (pooled / "modules.json").write_text(json.dumps(modules[:1] + [{"idx": 1, "name": "1", "path": "1_Pooling",
                                                                   "type": "sentence_transformers.models.Pooling"}]))
    pickled = case("pickle-weights")
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    return cases


def test_bad_checkpoints_raise_clear_errors(minilm_checkpoint, tmp_path):
    expected = {
        "corrupt-weights": "corrupt",
        "corrupt-json": "not valid JSON",
        "no-modules": "modules.json is missing",
        "sentence-transformer-pooling": "Pooling",
        "pickle-weights": "pickle weights are never loaded",
    }
    for name, path in broken_copies(minilm_checkpoint, tmp_path).items():
        with pytest.raises(CheckpointError, match=expected[name]):
            read_checkpoint(path, source=str(path))


def test_cli_bad_model_paths_give_one_line_errors(minilm_checkpoint, tmp_path):
    copies = broken_copies(minilm_checkpoint, tmp_path)
    assert_one_line_error(cli("onnx", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")), "no such directory")
    assert_one_line_error(cli("onnx", "--model", str(copies["corrupt-weights"]), "--out", str(tmp_path / "o")), "corrupt")
    assert_one_line_error(cli("onnx", "--model", str(copies["sentence-transformer-pooling"]), "--out", str(tmp_path / "o")),
                          "not a PyLate ColBERT checkpoint")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("manifest.json"))


def test_offline_hub_without_cache_names_the_alternatives(tmp_path):
    result = cli("onnx", "--size", "17m", "--out", str(tmp_path / "o"),
                 env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert_one_line_error(result, "--model", "--synthetic", "mixedbread-ai/mxbai-edge-colbert-v0-17m")


def test_pylate_saved_bert_loads_through_transformers_renaming(minilm_checkpoint):
    """PyLate 1.6 saves BERT's LayerNorms as gamma/beta; transformers renames them when it loads."""
    with safe_open(str(minilm_checkpoint / "model.safetensors"), "np") as f:
        assert "embeddings.LayerNorm.gamma" in f.keys() and "embeddings.LayerNorm.weight" not in f.keys()
    encoder = load_encoder(read_checkpoint(minilm_checkpoint, source="test"))
    gamma = safe_open(str(minilm_checkpoint / "model.safetensors"), "pt").get_tensor("embeddings.LayerNorm.gamma")
    assert torch.equal(encoder.backbone.embeddings.LayerNorm.weight, gamma)


def test_a_missing_backbone_tensor_is_refused_not_initialised(minilm_checkpoint, tmp_path):
    copy = shutil.copytree(minilm_checkpoint, tmp_path / "missing-tensor")
    with safe_open(str(copy / "model.safetensors"), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys() if k != "encoder.layer.3.output.dense.weight"}
    save_file(tensors, str(copy / "model.safetensors"))
    with pytest.raises(CheckpointError, match="lacks backbone tensors such as encoder.layer.3.output.dense.weight"):
        load_encoder(read_checkpoint(copy, source="test"))
