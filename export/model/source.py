"""--size / --model / --synthetic: what the command line names, as a parsed local checkpoint."""
from __future__ import annotations

from pathlib import Path

from .checkpoint import HUB_IDS, Checkpoint, CheckpointError, fetch_from_hub, read_checkpoint
from .synthetic import write_synthetic


def resolve(size: str, model: str | None = None, revision: str | None = None, synthetic: bool = False,
            tokenizer: Path | None = None) -> Checkpoint:
    """Turn the command-line choice into a parsed checkpoint. `tokenizer` only shapes a synthetic one."""
    if tokenizer and not synthetic:
        raise CheckpointError("--tokenizer only applies to --synthetic; a checkpoint brings its own tokenizer")
    if synthetic:
        if model:
            raise CheckpointError("--synthetic builds the --size architecture; it cannot be combined with --model")
        path = write_synthetic(size, tokenizer)
        return read_checkpoint(path, source=f"synthetic:{HUB_IDS[size]}", name=path.name)
    if model:
        local = Path(model).expanduser()
        if local.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1:
            return read_checkpoint(local, source=str(local.resolve()), revision=revision)
        return read_checkpoint(fetch_from_hub(model, revision), source=model, revision=revision, name=model.split("/")[-1])
    repo_id = HUB_IDS[size]
    return read_checkpoint(fetch_from_hub(repo_id, revision), source=repo_id, revision=revision, name=repo_id.split("/")[-1])
