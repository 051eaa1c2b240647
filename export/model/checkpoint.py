"""--size / --model / --synthetic -> a local PyLate-layout directory and its parsed settings."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from safetensors import safe_open
from tokenizers import Tokenizer

from runtimes.colbert import ColbertSettings
from runtimes.manifest import first_line

HUB_IDS = {"17m": "mixedbread-ai/mxbai-edge-colbert-v0-17m", "32m": "mixedbread-ai/mxbai-edge-colbert-v0-32m"}
SYNTHETIC_MARKER = "synthetic.json"  # written by export.model.synthetic; its presence marks fake weights
# PyLate's defaults for settings a checkpoint does not state (pylate.models.ColBERT.__init__)
PYLATE_DEFAULTS = {
    "query_prefix": "[Q] ",
    "document_prefix": "[D] ",
    "query_length": 32,
    "document_length": 180,
    "do_query_expansion": True,
    "attend_to_expansion_tokens": False,
    "skiplist_words": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
# The Dense activations the exporter runs: torch.nn class names, as the Dense config names them (by class path)
ACTIVATIONS = {"Identity", "Tanh", "ReLU", "GELU"}


def python_whitespace() -> list[int]:
    """The code points Python's str.strip() removes: sentence-transformers strips every text with it."""
    return [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class DenseSpec:
    path: Path  # the module's directory
    in_features: int
    out_features: int
    bias: bool
    activation: str  # short torch.nn class name


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    name: str  # used for the bundle directory
    source: str  # hub id, local path, or "synthetic:<hub id>"
    revision: str | None
    synthetic: bool
    model_type: str  # "modernbert" or "bert"
    dense: list[DenseSpec]
    settings: ColbertSettings
    max_sequence: int  # the bound every target is exported for: document_length, capped by BERT's positions

    @property
    def label(self) -> str:
        return f"{self.name} (SYNTHETIC random weights)" if self.synthetic else self.name


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path.parent} is not a PyLate checkpoint: {path.name} is missing")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is corrupt: not valid JSON ({e})") from None


def check_safetensors(path: Path) -> list[str]:
    """The tensor names of a safetensors file; refuses pickle checkpoints and corrupt files."""
    if not path.is_file():
        pickled = [p.name for p in path.parent.glob("*.bin")] + [p.name for p in path.parent.glob("*.pt")]
        hint = f" (found {', '.join(pickled)}: pickle weights are never loaded; convert them to safetensors)" if pickled else ""
        raise CheckpointError(f"{path} is missing{hint}")
    try:
        with safe_open(str(path), framework="np") as f:
            return list(f.keys())
    except Exception as e:  # safetensors raises SafetensorError / OSError with a terse message
        raise CheckpointError(f"{path} is corrupt: not a readable safetensors file ({e})") from None


def _module_type(entry: dict) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def _read_dense(path: Path) -> DenseSpec:
    cfg = _read_json(path / "config.json")
    activation = str(cfg.get("activation_function", "torch.nn.modules.linear.Identity")).rsplit(".", 1)[-1]
    if activation not in ACTIVATIONS:
        raise CheckpointError(f"{path}: Dense activation {activation} is not supported (supported: {', '.join(sorted(ACTIVATIONS))})")
    if cfg.get("use_residual"):
        raise CheckpointError(f"{path}: Dense modules with use_residual are not supported")
    keys = check_safetensors(path / "model.safetensors")
    if "linear.weight" not in keys:
        raise CheckpointError(f"{path}/model.safetensors has no linear.weight tensor")
    return DenseSpec(path, int(cfg["in_features"]), int(cfg["out_features"]), bool(cfg.get("bias", False)), activation)


def _special_token(root: Path, name: str) -> str | None:
    for file in ("tokenizer_config.json", "special_tokens_map.json"):
        path = root / file
        if path.is_file():
            value = json.loads(path.read_text()).get(name)
            if isinstance(value, dict):
                value = value.get("content")
            if value:
                return str(value)
    return None


def _read_settings(root: Path, dim: int) -> ColbertSettings:
    st = {**PYLATE_DEFAULTS, **_read_json(root / "config_sentence_transformers.json")}
    sbert = _read_json(root / "sentence_bert_config.json")
    if not (root / "tokenizer.json").is_file():
        raise CheckpointError(f"{root} has no tokenizer.json (a fast-tokenizer file is required)")
    try:
        tok = Tokenizer.from_file(str(root / "tokenizer.json"))
    except Exception as e:
        raise CheckpointError(f"{root}/tokenizer.json is corrupt ({e})") from None

    def token_id(token: str | None, what: str) -> int | None:
        if not token:
            return None
        found = tok.token_to_id(token)
        if found is None:
            raise CheckpointError(f"{root}: the {what} {token!r} is not in tokenizer.json")
        return found

    mask_id = token_id(_special_token(root, "mask_token") or "[MASK]", "mask token")
    # PyLate pads with the mask token (falling back to EOS, then the tokenizer's own pad)
    pad_token = _special_token(root, "mask_token") or _special_token(root, "eos_token") or _special_token(root, "pad_token")
    return ColbertSettings(
        query_prefix=st["query_prefix"] or "",
        document_prefix=st["document_prefix"] or "",
        query_prefix_id=token_id(st["query_prefix"], "query prefix"),
        document_prefix_id=token_id(st["document_prefix"], "document prefix"),
        query_length=int(st["query_length"]),
        document_length=int(st["document_length"]),
        do_query_expansion=bool(st["do_query_expansion"]),
        attend_to_expansion_tokens=bool(st["attend_to_expansion_tokens"]),
        do_lower_case=bool(sbert.get("do_lower_case", False)),
        strip_codepoints=python_whitespace(),
        skiplist_words=list(st["skiplist_words"]),
        skiplist_ids=sorted({i for w in st["skiplist_words"] if (i := tok.token_to_id(w)) is not None}),
        mask_token_id=int(mask_id),
        pad_token_id=int(token_id(pad_token, "pad token") if pad_token else mask_id),
        dim=dim,
    )


def read_checkpoint(path: Path, *, source: str, revision: str | None = None, name: str | None = None) -> Checkpoint:
    """Parse a local PyLate / sentence-transformers checkpoint directory."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"--model {path}: no such directory (give a PyLate checkpoint directory or a hub id)")
    modules = _read_json(path / "modules.json")
    if not isinstance(modules, list) or not modules:
        raise CheckpointError(f"{path}/modules.json does not list any modules")
    first, rest = modules[0], modules[1:]
    if _module_type(first) != "Transformer" or first.get("path", "") != "":
        raise CheckpointError(f"{path}: expected the Transformer module at the root, found {first.get('type')}")
    unsupported = [m.get("type") for m in rest if _module_type(m) != "Dense"]
    if unsupported or not rest:
        raise CheckpointError(
            f"{path} is not a PyLate ColBERT checkpoint: it needs Dense modules after the Transformer"
            + (f", and has {', '.join(map(str, unsupported))}" if unsupported else "")
        )
    config = _read_json(path / "config.json")
    model_type = config.get("model_type")
    if model_type not in ("modernbert", "bert"):
        raise CheckpointError(f"{path}: backbone model_type {model_type!r} is not supported (modernbert or bert)")
    check_safetensors(path / "model.safetensors")
    dense = [_read_dense(path / m["path"]) for m in rest]
    widths = [config["hidden_size"]] + [d.out_features for d in dense]
    for d, width in zip(dense, widths):
        if d.in_features != width:
            raise CheckpointError(f"{d.path}: in_features {d.in_features} does not match the previous width {width}")
    settings = _read_settings(path, dense[-1].out_features)
    limit = config.get("max_position_embeddings")
    if model_type == "bert" and settings.query_length > limit:
        raise CheckpointError(f"{path}: query_length {settings.query_length} exceeds BERT's {limit} positions")
    # BERT's absolute positions cap the sequence; ModernBERT's RoPE does not
    max_sequence = min(settings.document_length, limit) if model_type == "bert" else settings.document_length
    return Checkpoint(
        path=path,
        name=name or path.name,
        source=source,
        revision=revision,
        synthetic=(path / SYNTHETIC_MARKER).is_file(),
        model_type=model_type,
        dense=dense,
        settings=settings,
        max_sequence=max(max_sequence, settings.query_length),
    )


def fetch_from_hub(repo_id: str, revision: str | None) -> Path:
    """Download (or reuse from the cache) the JSON, text and safetensors files of a hub checkpoint."""
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision,
                allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"],  # never pickle weights
            )
        )
    except Exception as e:
        kind = type(e).__name__
        if "Offline" in kind or "LocalEntryNotFound" in kind or "Connect" in kind or "Timeout" in kind:
            raise CheckpointError(
                f"cannot reach the Hugging Face hub and {repo_id} is not in the local cache; "
                "use --model DIR for a local checkpoint or --synthetic for seeded offline weights"
            ) from None
        raise CheckpointError(f"could not fetch {repo_id}: {first_line(e)}") from None
