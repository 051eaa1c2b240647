"""The fallbacks' one-at-a-time ranking gives back the shared prefix of each pass instead of computing it again:
it must give exactly the numbers of a full pass, in every form and on both backbones."""
from __future__ import annotations

import pytest

from export.precision import sensitivity
from export.model.checkpoint import read_checkpoint
from export.model.encoder import load_encoder
from export.precision.gptq import quantize_linears
from export.precision import TABLE
from export.model.synthetic import write_synthetic
from runtimes.colbert import ColbertTokenizer
from tests.conftest import FIXTURE_TOKENIZER


def _loaded(path):
    checkpoint = read_checkpoint(path, source=str(path))
    encoder = load_encoder(checkpoint)
    tokenizer = ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)
    return encoder, tokenizer, sensitivity._outputs(encoder, tokenizer)


@pytest.fixture(scope="module")
def modernbert():
    return _loaded(write_synthetic("17m", FIXTURE_TOKENIZER))


@pytest.fixture(scope="module")
def bert(minilm_checkpoint):
    return _loaded(minilm_checkpoint)


def _full_passes(encoder, precision, form, names, weights, tokenizer, reference, metric):
    return [(n, sensitivity.simulate(encoder, precision, form, (n,), weights, tokenizer, reference)[metric])
            for n in names]


def _check(encoder, tokenizer, reference, precision, form, names, weights, metric, monkeypatch):
    given_back = []
    forward = sensitivity._Replay.forward

    def counted(self, *args, **kwargs):
        given_back.append(self)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(sensitivity._Replay, "forward", counted)
    replayed = sensitivity._one_at_a_time(encoder, precision, form, names, weights, tokenizer, reference, metric)
    assert given_back  # the prefix was given back, not computed again
    assert replayed == _full_passes(encoder, precision, form, names, weights, tokenizer, reference, metric)
    assert len({e for _, e in replayed}) == len(names)  # each pass measured its own candidate


def test_int8_ranking_equals_full_passes_on_bert(bert, monkeypatch):
    encoder, tokenizer, reference = bert
    weights = quantize_linears(encoder, tokenizer)
    outside = [n for n in weights if not sensitivity.LAYER.match(n)]  # the Dense head: a full pass
    names = [*outside, "backbone.encoder.layer.2.attention.self.value", "backbone.encoder.layer.5.output.dense"]
    assert outside and set(names) <= set(weights)
    _check(encoder, tokenizer, reference, TABLE["int8"], "", names, weights, "maxsim_rel_err_p99", monkeypatch)


@pytest.mark.parametrize("form", ["weights", "compute"])
def test_fp16_ranking_equals_full_passes_on_modernbert(modernbert, form, monkeypatch):
    encoder, tokenizer, reference = modernbert
    names = ["backbone.embeddings", "backbone.layers.3.attn", "backbone.layers.6.mlp"]
    assert set(names) <= set(sensitivity.fp16.blocks(encoder))
    _check(encoder, tokenizer, reference, TABLE["fp16"], form, names, {}, "maxsim_rel_err_max", monkeypatch)
