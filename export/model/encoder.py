"""The export-friendly ColBERT encoder: backbone + every Dense module + per-token L2 norm.

Written out by hand (not transformers' modules) so every target converts the same plain graph:
- masks are built from `attention_mask` with arithmetic, as an additive bias of -1e4, which is
  representable in fp16 and still zeroes a softmax weight (no `new_ones`, no `finfo.min`);
- RoPE angles are computed from positions in fp32 on every call, so there is no table capped at
  max_position_embeddings and no fp16 rounding of large angles;
- the L2 norm divides by the per-token peak first, so the sum of squares cannot overflow in fp16;
- LayerNorm and softmax compute in fp32 even in an fp16 model.
Parameter names mirror transformers', so a checkpoint's state dict loads as it is.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from .backbone import load_backbone
from .checkpoint import ACTIVATIONS, Checkpoint, CheckpointError

MASK_BIAS = -1.0e4
DENSE_ACTIVATIONS = {name: getattr(nn, name) for name in ACTIVATIONS}  # checkpoint's names are torch.nn classes


def gelu_for(name: str) -> nn.Module:
    if name in ("gelu", "gelu_python"):
        return nn.GELU()
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return nn.GELU(approximate="tanh")
    if name in ("silu", "swish"):
        return nn.SiLU()
    if name == "relu":
        return nn.ReLU()
    raise CheckpointError(f"hidden activation {name!r} is not supported")


def key_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, 1, 1, seq] additive bias: 0 for real keys, MASK_BIAS for padding."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * MASK_BIAS


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, matmul=torch.matmul) -> torch.Tensor:
    """Scaled dot-product attention over [..., seq, head_dim] -> [..., seq, head_dim]; logits and softmax in
    fp32, since fp16 logits near 16 are off by ~0.01, which the softmax turns into 1% weight errors. 3-D
    inputs may pass torch.bmm: torch.matmul exports as expand + view + bmm even where nothing broadcasts."""
    scores = matmul(q.float(), k.float().transpose(-1, -2)) * (q.shape[-1] ** -0.5) + bias.float()
    weights = torch.softmax(scores, dim=-1).to(q.dtype)
    return matmul(weights, v)


class Attention(nn.Module):
    """[batch, heads, seq, head_dim] -> [batch, seq, heads * head_dim]. A module of its own so that a target
    can put the same arithmetic in the form its converter handles best (targets/executorch.py does)."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return attend(q, k, v, bias).transpose(1, 2).flatten(2)


def rope(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [seq, head_dim] in fp32 for the given float positions."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = positions[:, None] * inv_freq[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x32 = x.float()
    half = x32.shape[-1] // 2
    rotated = torch.cat((-x32[..., half:], x32[..., :half]), dim=-1)
    return (x32 * cos + rotated * sin).to(x.dtype)


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 whatever the model's dtype: fp16 statistics lose precision or
    overflow on large activations, and ExecuTorch 1.5's fp16 layer_norm kernels return wrong values."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).to(x.dtype)


# ---------------------------------------------------------------- ModernBERT (Ettin) backbone


class ModernBertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.norm = LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=cfg.norm_bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.tok_embeddings(input_ids))


class ModernBertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.Wqkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=cfg.attention_bias)
        self.Wo = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=cfg.attention_bias)
        self.attention = Attention()

    def forward(self, x, bias, cos, sin):
        b, s, _ = x.shape
        q, k, v = (t.transpose(1, 2) for t in self.Wqkv(x).view(b, s, 3, self.heads, self.head_dim).unbind(2))
        return self.Wo(self.attention(rotate(q, cos, sin), rotate(k, cos, sin), v, bias))


class ModernBertMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.Wi = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=cfg.mlp_bias)
        self.act = gelu_for(cfg.hidden_activation)
        self.Wo = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.mlp_bias)

    def forward(self, x):
        value, gate = self.Wi(x).chunk(2, dim=-1)
        return self.Wo(self.act(value) * gate)


class ModernBertLayer(nn.Module):
    def __init__(self, cfg, index: int):
        super().__init__()
        norm = lambda: LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=cfg.norm_bias)  # noqa: E731
        self.attn_norm = norm() if index else nn.Identity()
        self.attn = ModernBertAttention(cfg)
        self.mlp_norm = norm()
        self.mlp = ModernBertMLP(cfg)
        self.kind = cfg.layer_types[index]

    def forward(self, x, bias, cos, sin):
        x = x + self.attn(self.attn_norm(x), bias, cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class ModernBert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = ModernBertEmbeddings(cfg)
        self.layers = nn.ModuleList(ModernBertLayer(cfg, n) for n in range(cfg.num_hidden_layers))
        self.final_norm = LayerNorm(cfg.hidden_size, eps=cfg.norm_eps, bias=cfg.norm_bias)
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.half_window = cfg.local_attention // 2  # keys within this distance, inclusive
        self.thetas = {kind: float(p["rope_theta"]) for kind, p in cfg.rope_parameters.items()}

    def forward(self, input_ids, attention_mask):
        x = self.embeddings(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).float()
        full = key_bias(attention_mask, x.dtype)
        distance = (positions[None, :] - positions[:, None]).abs()
        outside = (distance > self.half_window).to(x.dtype)  # [seq, seq]
        local = full + outside * MASK_BIAS
        biases = {"full_attention": full, "sliding_attention": local}
        angles = {kind: rope(positions, self.head_dim, theta) for kind, theta in self.thetas.items()}
        for layer in self.layers:
            x = layer(x, biases[layer.kind], *angles[layer.kind])
        return self.final_norm(x)


# ---------------------------------------------------------------- BERT backbone (ColBERTv2, answerai-colbert, MiniLM)


class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
        return self.LayerNorm(x + self.token_type_embeddings.weight[0])  # ColBERT uses segment 0 only


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.attention = Attention()

    def forward(self, x, bias):
        b, s, h = x.shape
        split = lambda t: t.view(b, s, self.heads, h // self.heads).transpose(1, 2)  # noqa: E731
        return self.attention(split(self.query(x)), split(self.key(x)), split(self.value(x)), bias)


class BertResidual(nn.Module):
    """dense -> add residual -> LayerNorm (BertSelfOutput and BertOutput)."""

    def __init__(self, cfg, width: int):
        super().__init__()
        self.dense = nn.Linear(width, cfg.hidden_size)
        self.LayerNorm = LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertResidual(cfg, cfg.hidden_size)


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = gelu_for(cfg.hidden_act)

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertResidual(cfg, cfg.intermediate_size)

    def forward(self, x, bias):
        x = self.attention.output(self.attention.self(x, bias), x)
        return self.output(self.intermediate(x), x)


class BertEncoderStack(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))


class Bert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoderStack(cfg)

    def forward(self, input_ids, attention_mask):
        x = self.embeddings(input_ids)
        bias = key_bias(attention_mask, x.dtype)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


# ---------------------------------------------------------------- the ColBERT encoder


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Per-token unit vectors; scaling by the peak first keeps the sum of squares in fp16 range."""
    peak = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-4)
    y = x / peak
    return y / (y * y).sum(dim=-1, keepdim=True).sqrt().clamp(min=1e-4)


class ColbertEncoder(nn.Module):
    """input_ids, attention_mask [batch, seq] -> unit vectors [batch, seq, dim]."""

    def __init__(self, backbone: nn.Module, dense: list[nn.Linear], activations: list[nn.Module]):
        super().__init__()
        self.backbone = backbone
        self.dense = nn.ModuleList(dense)
        self.activations = nn.ModuleList(activations)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.backbone(input_ids, attention_mask).float()  # the head runs in fp32 in every precision
        for linear, act in zip(self.dense, self.activations):
            x = act(linear(x))
        return l2_normalize(x)


def _backbone_state(checkpoint: Checkpoint, loaded: nn.Module, module: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors transformers loaded, under the names `module` mirrors."""
    state = loaded.state_dict()
    wanted = set(module.state_dict())
    missing = sorted(wanted - set(state))
    if missing:
        raise CheckpointError(f"{checkpoint.path}: transformers' backbone has no tensors such as {', '.join(missing[:3])}")
    return {k: state[k] for k in wanted}


def load_encoder(checkpoint: Checkpoint) -> ColbertEncoder:
    """Build the encoder in fp32 eval mode from the backbone transformers loads, plus the Dense modules."""
    loaded = load_backbone(checkpoint)
    backbone = ModernBert(loaded.config) if checkpoint.model_type == "modernbert" else Bert(loaded.config)
    backbone.load_state_dict(_backbone_state(checkpoint, loaded, backbone), strict=True)
    dense, acts = [], []
    for spec in checkpoint.dense:
        linear = nn.Linear(spec.in_features, spec.out_features, bias=spec.bias)
        tensors = load_file(str(spec.path / "model.safetensors"))
        linear.load_state_dict({k.removeprefix("linear."): v for k, v in tensors.items()}, strict=True)
        dense.append(linear)
        acts.append(DENSE_ACTIVATIONS[spec.activation]())
    return ColbertEncoder(backbone, dense, acts).eval()


def parameter_count(module: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in module.parameters())
