"""Where the exporter keeps what it can rebuild: synthetic checkpoints, the benchmark's peer exports."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mxbai-edge-export"
