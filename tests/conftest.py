"""Session fixtures: checkpoints and exports are built once per test session and shared.

Every export a test needs is one of a few `python -m export` runs, cached per argument list:
- `all` on the mxbai-layout ModernBERT that PyLate saved (synthetic weights), fp32;
- `all` on the trained MiniLM that PyLate saved, every precision (fp16 and int8 only count on trained weights);
- `all` on the ModernBERT with PyLate settings mxbai does not use, fp32;
- `onnx --synthetic` 17m and 32m, for the command line's synthetic path.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtimes.targets import PRECISIONS, TARGETS
from tests.checkpoints import build_minilm_colbert, build_pylate_modernbert
from tests.pylate_env import PyLate, pylate_python

FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/mxbai-edge-colbert-v0"
FIXTURE_TOKENIZER = FIXTURE / "tokenizer.json"
TARGET_NAMES = list(TARGETS)


def synthetic_args(target: str, size: str = "17m", precisions: tuple[str, ...] = PRECISIONS) -> tuple[str, ...]:
    """A --synthetic export around the real mxbai tokenizer, passed in explicitly."""
    return (target, "--synthetic", "--tokenizer", str(FIXTURE_TOKENIZER), "--size", size, "--precision", *precisions)


def synthetic_name(size: str = "17m") -> str:
    return f"mxbai-edge-colbert-v0-{size}-synthetic"


README = Path(__file__).resolve().parents[1] / "README.md"
README_TOKENIZER = "path/to/tokenizer.json"


def readme_offline_commands() -> list[list[str]]:
    """The `python -m export` lines of the README's offline block, as its words."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index("Offline, the same pipeline"):]
    block = block[block.index("```bash") + len("```bash"):]
    lines = block[:block.index("```")].strip().splitlines()
    return [shlex.split(line)[3:] for line in lines if line.startswith("python -m export ")]


def as_run(words: list[str]) -> list[str]:
    """A README command's words with the fixture tokenizer for the README's placeholder path."""
    return [str(FIXTURE_TOKENIZER) if w == README_TOKENIZER else w for w in words]


# The synthetic 17m ONNX bundles most tests read, around the real mxbai tokenizer.
SYNTHETIC_ONNX = synthetic_args("onnx")


@pytest.fixture(scope="session")
def mxbai_fixture() -> Path:
    if not FIXTURE_TOKENIZER.is_file():
        pytest.fail(f"the mxbai tokenizer fixture is missing at {FIXTURE} (../shared beside the repository)")
    return FIXTURE


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory, mxbai_fixture):
    """Synthetic checkpoints are written fresh into a session cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
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
    return build_pylate_modernbert(pylate, FIXTURE_TOKENIZER, tmp_path_factory.mktemp("ckpt") / "mxbai-17m-pylate")


@pytest.fixture(scope="session")
def variant_checkpoint(pylate, tmp_path_factory) -> Path:
    """The same backbone with PyLate settings mxbai does not use: no query prefix, query expansion attended
    to, no lowercasing."""
    return build_pylate_modernbert(pylate, FIXTURE_TOKENIZER, tmp_path_factory.mktemp("ckpt") / "modernbert-variant-pylate",
                                   query_prefix="", query_length=32, do_query_expansion=True,
                                   attend_to_expansion_tokens=True, do_lower_case=False)


@dataclass
class Output:
    out: str  # the summary table
    err: str  # the progress lines


class Exports:
    """Runs `python -m export` in-process once per distinct argument list; later calls reuse it."""

    def __init__(self, root: Path):
        self.root = root
        self.runs: dict[tuple, tuple[int, Path]] = {}
        self.output: dict[tuple, Output] = {}

    def run(self, *args: str) -> tuple[int, Path]:
        from export.cli import main

        if args not in self.runs:
            out = self.root / f"run{len(self.runs)}"
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main([*args, "--out", str(out)])
            sys.stderr.write(stderr.getvalue())  # still shown when a test fails
            self.runs[args], self.output[args] = (code, out), Output(stdout.getvalue(), stderr.getvalue())
            check_schemas(out)
        return self.runs[args]

    def bundle(self, *args: str, model: str, target: str, precision: str) -> Path:
        code, out = self.run(*args)
        return out / model / f"{target}-{precision}"


def check_schemas(out: Path) -> None:
    """Every bundle (and failed-gate report) an export run writes, against spec/schemas: whichever test first
    needs the run fails if one does not validate."""
    from tests.schemas import report_errors, schema_errors

    errors = [e for manifest in sorted(out.glob("*/*/manifest.json")) for e in schema_errors(manifest.parent)]
    errors += [e for report in sorted(out.glob("*/*.FAILED-parity.json")) for e in report_errors(report)]
    assert errors == [], errors[:5]


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> Exports:
    return Exports(tmp_path_factory.mktemp("exports"))


class Run:
    """The bundles of one `all` export run of a checkpoint."""

    def __init__(self, exports: Exports, checkpoint: Path, precisions: tuple[str, ...] = PRECISIONS):
        self.checkpoint = checkpoint
        args = ("all", "--model", str(checkpoint), "--precision", *precisions)
        self.code, self.out = exports.run(*args)
        self.output = exports.output[args]

    def bundle(self, target: str, precision: str = "fp32") -> Path:
        return self.out / self.checkpoint.name / f"{target}-{precision}"


@pytest.fixture(scope="session")
def mxbai_run(exports, mxbai_checkpoint) -> Run:
    return Run(exports, mxbai_checkpoint, ("fp32",))


@pytest.fixture(scope="session")
def trained_run(exports, minilm_checkpoint) -> Run:
    return Run(exports, minilm_checkpoint)


@pytest.fixture(scope="session")
def variant_run(exports, variant_checkpoint) -> Run:
    return Run(exports, variant_checkpoint, ("fp32",))


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


# ------------------------------------------------------------------ the README's offline commands, as written

BACKGROUND_KEY = pytest.StashKey[dict]()


def pytest_collection_modifyitems(session, config, items):
    """The README's offline commands run as written (the fixture tokenizer for its placeholder path), one after
    the other in a process of their own beside the rest of the session, at the lowest priority, each from a
    fresh directory; test_readme_commands.py waits for them, last, so that the session's other tests run while
    the commands do (its wait would otherwise leave a core idle). Only when that test was collected."""
    readme = [item for item in items if item.nodeid.startswith("tests/test_readme_commands.py")]
    if not readme:
        return
    items[:] = [item for item in items if item not in readme] + readme
    root = Path(tempfile.mkdtemp(prefix="readme-commands-"))
    runs, script = {}, []
    for n, words in enumerate(readme_offline_commands()):
        cwd = root / f"run{n}"
        (cwd / "cache").mkdir(parents=True)
        command = shlex.join([sys.executable, "-m", "export", *as_run(words)])
        script.append(f"cd {shlex.quote(str(cwd))} && XDG_CACHE_HOME=cache {command} > stdout.txt 2> stderr.txt; "
                      f"echo $? > code.txt")
        runs[tuple(words)] = cwd
    # At the lowest priority: two processes of spinning thread pools on two cores slow each other down more
    # than running one after the other would, so these take only what the session leaves idle. A process group,
    # not a session of its own: where the kernel groups the scheduler by session (autogroup), nice only counts
    # within one.
    process = subprocess.Popen(["nice", "-n", "19", "bash", "-c", "\n".join(script)], process_group=0)
    config.stash[BACKGROUND_KEY] = {"process": process, "runs": runs, "root": root}


def pytest_sessionfinish(session, exitstatus):
    background = session.config.stash.get(BACKGROUND_KEY, None)
    if background:
        if background["process"].poll() is None:
            os.killpg(background["process"].pid, signal.SIGKILL)
        shutil.rmtree(background["root"], ignore_errors=True)


@pytest.fixture(scope="session")
def background_readme_runs(request) -> dict:
    """README words -> (exit code, working directory, stdout), once the background process ends."""
    background = request.config.stash.get(BACKGROUND_KEY, None)
    if background is None:
        pytest.fail("the README's commands were not started (test_readme_commands.py was not collected)")
    background["process"].wait(timeout=5400)
    return {words: (int((cwd / "code.txt").read_text()), cwd, (cwd / "stdout.txt").read_text())
            for words, cwd in background["runs"].items()}
