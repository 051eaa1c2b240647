"""The export encoder against transformers + Dense, and the properties other targets rely on."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from export.model.checkpoint import read_checkpoint
from export.model.source import resolve
from export.model.encoder import Attention, attend, key_bias, l2_normalize, load_encoder
from export.model.reference import Reference
from tests.conftest import FIXTURE_TOKENIZER


@pytest.fixture(scope="module")
def mxbai():
    checkpoint = resolve("17m", synthetic=True, tokenizer=FIXTURE_TOKENIZER)
    return load_encoder(checkpoint), Reference(checkpoint)


@pytest.fixture(scope="module")
def minilm(minilm_checkpoint):
    checkpoint = read_checkpoint(minilm_checkpoint, source="test")
    return load_encoder(checkpoint), Reference(checkpoint)


def batch(length: int, pad_second_to: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two rows of random ids; the second padded after `pad_second_to` tokens."""
    ids = np.random.default_rng(seed).integers(1000, 30000, (2, length))
    mask = np.ones_like(ids)
    if pad_second_to is not None:
        mask[1, pad_second_to:] = 0
    return ids, mask


def max_error_on_real_tokens(encoder, reference, ids, mask) -> float:
    with torch.inference_mode():
        ours = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    theirs = reference.encode(ids, mask)
    real = mask.astype(bool)
    return float(np.abs(ours[real] - theirs[real]).max())


@pytest.mark.parametrize("length, pad", [(16, 9), (128, 100), (129, 64), (300, 200), (1100, 700)])
def test_modernbert_matches_transformers_below_and_above_the_window(mxbai, length, pad):
    assert max_error_on_real_tokens(*mxbai, *batch(length, pad)) < 1e-5


def test_modernbert_matches_transformers_at_8192_tokens(mxbai):
    ids, mask = batch(8192)
    assert max_error_on_real_tokens(*mxbai, ids[:1], mask[:1]) < 1e-5


@pytest.mark.parametrize("length, pad", [(40, 11), (300, 150), (512, 400)])
def test_bert_matches_transformers(minilm, length, pad):
    assert max_error_on_real_tokens(*minilm, *batch(length, pad)) < 1e-5


def test_sliding_window_is_real(mxbai):
    """A token changed at the end moves its neighbours (local and global layers) more than tokens
    300 positions away, which only global layers reach."""
    encoder, _ = mxbai
    ids, mask = batch(400)
    changed = ids.copy()
    changed[0, 399] = 4242
    with torch.inference_mode():
        a = encoder(torch.from_numpy(ids[:1]), torch.from_numpy(mask[:1]))
        b = encoder(torch.from_numpy(changed[:1]), torch.from_numpy(mask[:1]))
    # global layers still mix everything, so far tokens change, but the ones inside the window change more
    near = (a[0, 340:399] - b[0, 340:399]).abs().mean()
    far = (a[0, :50] - b[0, :50]).abs().mean()
    assert near > 3 * far


def test_fp16_encoder_has_no_nan_with_padding(mxbai):
    encoder, reference = mxbai
    half = load_encoder(resolve("17m", synthetic=True, tokenizer=FIXTURE_TOKENIZER)).half()
    half.dense.float()  # the head runs in fp32 in every fp16 program
    ids, mask = batch(600, 20)
    with torch.inference_mode():
        out = half(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()
    assert np.isfinite(out).all()
    expected = reference.encode(ids, mask)
    real = mask.astype(bool)
    cosine = (out[real] * expected[real]).sum(-1)
    assert cosine.min() > 0.999


def test_graph_uses_plain_mask_ops(mxbai):
    """No new_ones and no constants beyond fp16 range: what Core ML and fp16 targets need."""
    encoder, _ = mxbai
    ids, mask = (torch.from_numpy(a) for a in batch(160))
    dims = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
    program = torch.export.export(encoder, (ids, mask), dynamic_shapes={"input_ids": dims, "attention_mask": dims})
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not any("new_ones" in t or "finfo" in t for t in targets)
    for node in program.graph.nodes:  # mask arithmetic; RoPE's theta ** x stays in fp32 by design
        if any(op in str(node.target) for op in ("add", "sub", "mul", "fill", "full", "where")):
            for arg in node.args:
                if isinstance(arg, float):
                    assert abs(arg) <= 65504, (node, arg)


def test_l2_norm_of_vectors_whose_sum_of_squares_overflows_fp16():
    x = torch.full((1, 2, 48), 300.0, dtype=torch.float16)  # sum of squares 4.3e6 > 65504
    naive = x / (x * x).sum(-1, keepdim=True).sqrt()
    assert not torch.allclose(naive.float().norm(dim=-1), torch.ones(1, 2))  # the input does overflow
    ours = l2_normalize(x)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours.float().norm(dim=-1), torch.ones(1, 2), atol=2e-3, rtol=0)


def test_attention_logits_past_fp16_range_stay_finite():
    q = k = torch.full((1, 1, 4, 64), 40.0, dtype=torch.float16)  # q . k = 102400 > 65504
    v = torch.randn(1, 1, 4, 64).half()
    assert torch.isinf(torch.matmul(q, k.transpose(-1, -2))).all()  # in fp16 the logits overflow
    bias = key_bias(torch.tensor([[1, 1, 1, 0]]), torch.float16)
    out = Attention()(q, k, v, bias)  # [batch, seq, heads * head_dim]
    assert torch.isfinite(out).all()
    expected = v[0, 0, :3].float().mean(0)  # equal logits: the mean of the three real values, padding excluded
    torch.testing.assert_close(out[0, 0].float(), expected, atol=2e-3, rtol=0)


def test_fp16_mask_bias_zeroes_padded_keys_with_large_values():
    q = torch.randn(1, 1, 3, 8).half()
    k = torch.cat([torch.randn(1, 1, 2, 8), torch.full((1, 1, 1, 8), 200.0)], dim=2).half()  # a huge padded key
    v = torch.cat([torch.randn(1, 1, 2, 8), torch.full((1, 1, 1, 8), 1000.0)], dim=2).half()
    masked = attend(q, k, v, key_bias(torch.tensor([[1, 1, 0]]), torch.float16))
    unpadded = attend(q, k[:, :, :2], v[:, :, :2], key_bias(torch.tensor([[1, 1]]), torch.float16))
    torch.testing.assert_close(masked, unpadded, atol=2e-3, rtol=0)
