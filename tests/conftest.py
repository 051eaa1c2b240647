"""Session fixtures: checkpoints and exports are built once per test session and shared."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.checkpoints import build_minilm_colbert, build_pylate_modernbert
from tests.pylate_env import PyLate, pylate_python

SHARED_FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/mxbai-edge-colbert-v0"


@pytest.fixture(scope="session")
def mxbai_fixture() -> Path:
    if not (SHARED_FIXTURE / "tokenizer.json").is_file():
        pytest.fail(f"the mxbai tokenizer fixture is missing at {SHARED_FIXTURE} (../shared beside the repository)")
    return SHARED_FIXTURE


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory, mxbai_fixture):
    """Synthetic checkpoints are written fresh into a session cache, around the real tokenizer."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["MXBAI_EDGE_TOKENIZER"] = str(mxbai_fixture / "tokenizer.json")
    yield


@pytest.fixture(scope="session")
def pylate(request) -> PyLate:
    """PyLate 1.6 itself, in its own venv under pytest's cache (built once, about 35 s)."""
    return PyLate(pylate_python(request.config.cache.mkdir("pylate")))


@pytest.fixture(scope="session")
def minilm_checkpoint(pylate, tmp_path_factory) -> Path:
    """The trained one: PyLate's ColBERT on all-MiniLM-L6-v2, saved by PyLate."""
    return build_minilm_colbert(pylate, tmp_path_factory.mktemp("ckpt") / "minilm-colbert")


@pytest.fixture(scope="session")
def mxbai_checkpoint(pylate, tmp_path_factory) -> Path:
    """The 17m architecture and the real tokenizer with mxbai's settings, saved by PyLate (synthetic weights)."""
    return build_pylate_modernbert(pylate, tmp_path_factory.mktemp("ckpt") / "mxbai-17m-pylate")


@pytest.fixture(scope="session")
def variant_checkpoint(pylate, tmp_path_factory) -> Path:
    """The same backbone with PyLate settings mxbai does not use: no query prefix, query expansion attended
    to, no lowercasing."""
    return build_pylate_modernbert(pylate, tmp_path_factory.mktemp("ckpt") / "modernbert-variant-pylate",
                                   query_prefix="", query_length=32, do_query_expansion=True,
                                   attend_to_expansion_tokens=True, do_lower_case=False)


class Exports:
    """Runs `python -m export` in-process once per distinct argument list; later calls reuse it."""

    def __init__(self, root: Path):
        self.root = root
        self.runs: dict[tuple, tuple[int, Path]] = {}

    def run(self, *args: str) -> tuple[int, Path]:
        from export.cli import main

        if args not in self.runs:
            out = self.root / f"run{len(self.runs)}"
            self.runs[args] = (main([*args, "--out", str(out)]), out)
        return self.runs[args]

    def bundle(self, *args: str, model: str, target: str, precision: str) -> Path:
        code, out = self.run(*args)
        return out / model / f"{target}-{precision}"


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> Exports:
    return Exports(tmp_path_factory.mktemp("exports"))


ALL_PRECISIONS = ("fp32", "fp16", "int8")


def model_args(target: str, checkpoint: Path, precisions: tuple[str, ...] = ALL_PRECISIONS) -> tuple[str, ...]:
    """The one export run of a checkpoint per target that every test of it shares."""
    return (target, "--model", str(checkpoint), "--precision", *precisions)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def rehash(bundle: Path) -> None:
    """Make the manifest's hashes match the bundle again, so that only the runtime can refuse what was changed."""
    from runtimes.manifest import hash_files

    manifest = read_json(bundle / "manifest.json")
    manifest["files"] = hash_files(bundle)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def flip_byte(path: Path, offset: int = -100) -> None:
    """Corrupt one bit of a file, as a bad copy or download would."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
