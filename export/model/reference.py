"""The PyTorch fp32 reference: transformers' own backbone + the Dense modules + L2 norm.

Independent of export.model.encoder on purpose, so the parity gate measures the exported encoder
against code it does not share.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from .backbone import load_backbone
from .checkpoint import Checkpoint

# Its own, not checkpoint.ACTIVATIONS' torch.nn classes: a wrong mapping there must show up as a gate failure
_ACTIVATIONS = {"Identity": lambda x: x, "Tanh": torch.tanh, "ReLU": torch.relu, "GELU": F.gelu}


class Reference:
    def __init__(self, checkpoint: Checkpoint):
        self.backbone = load_backbone(checkpoint)
        self.dense = []
        for spec in checkpoint.dense:
            t = load_file(str(spec.path / "model.safetensors"))
            self.dense.append((t["linear.weight"], t.get("linear.bias"), _ACTIVATIONS[spec.activation]))

    @torch.inference_mode()
    def encode(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """[batch, seq] int ids and mask -> [batch, seq, dim] float32 unit vectors."""
        ids, mask = torch.from_numpy(input_ids).long(), torch.from_numpy(attention_mask).long()
        x = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        for weight, bias, act in self.dense:
            x = act(F.linear(x, weight, bias))
        return F.normalize(x, p=2, dim=-1).numpy()
