"""The checkpoint's backbone as transformers loads it: its key renaming (BERT's LayerNorm gamma/beta)
and tying rules are transformers' own, not copied here. The encoder and the reference both start from it."""
from __future__ import annotations

import torch
from transformers import AutoModel, PreTrainedModel
from transformers.utils import logging as hf_logging

from runtimes.manifest import first_line

from .checkpoint import Checkpoint, CheckpointError


def load_backbone(checkpoint: Checkpoint) -> PreTrainedModel:
    """transformers' AutoModel in fp32 eval mode; refuses a checkpoint that would leave any weight uninitialised."""
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model, info = AutoModel.from_pretrained(
            str(checkpoint.path), attn_implementation="eager", dtype=torch.float32,
            use_safetensors=True, trust_remote_code=False, output_loading_info=True,
        )
    except Exception as e:  # transformers raises OSError / ValueError / safetensors errors
        raise CheckpointError(f"{checkpoint.path}: transformers cannot load the backbone ({first_line(e)})") from None
    missing = sorted(info["missing_keys"])  # a shape mismatch already raised above
    if missing:
        raise CheckpointError(f"{checkpoint.path}/model.safetensors lacks backbone tensors such as {', '.join(missing[:3])}")
    return model.eval()
