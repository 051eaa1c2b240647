"""Session fixtures: checkpoints and exports are built once per test session and shared.

Every export a test needs is one of a few `python -m export` runs, each once per argument list, in a process
of its own (tests/farm.py: the ones the collected tests need start with the session, two side by side):
- `all` on the mxbai-layout ModernBERT that PyLate saved (synthetic weights), fp32;
- `all` on the trained MiniLM that PyLate saved, every precision (fp16 and int8 only count on trained weights);
- `all` on the ModernBERT with PyLate settings mxbai does not use, fp32;
- the README's two offline commands, as written, each from a fresh directory: `all --size 17m --synthetic`,
  with and without `--tokenizer` (the fixture tokenizer for its placeholder path); the ONNX bundles of the one
  with `--tokenizer` are the synthetic 17m ONNX bundles the other tests read (`SYNTHETIC_ONNX`);
- `onnx --synthetic` 32m.
"""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from export import artifact_cache
from export.precision import PRECISIONS
from export.model.synthetic import write_synthetic
from runtimes.targets import TARGETS
from tests.checkpoints import build_minilm_colbert, build_pylate_modernbert, with_activation_outliers, \
    with_tiny_values
from tests.farm import Farm, Once, run_export
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


# The synthetic 17m ONNX bundles most tests read, around the real mxbai tokenizer: the ONNX part of the README's
# offline command with `--tokenizer`, which builds exactly these (the same seeded weights, tokenizer and code).
SYNTHETIC_ONNX = synthetic_args("onnx")
README_WITH_TOKENIZER = 1  # its index among readme_offline_commands()


@pytest.fixture(scope="session")
def mxbai_fixture() -> Path:
    if not FIXTURE_TOKENIZER.is_file():
        pytest.fail(f"the mxbai tokenizer fixture is missing at {FIXTURE} (../shared beside the repository)")
    return FIXTURE


@pytest.fixture(scope="session", autouse=True)
def fixture_tokenizer_present(mxbai_fixture):
    """Every session needs the real tokenizer (the session's cache is set as collection ends)."""


# The session's checkpoints, by directory name (a bundle's model name): builder(builds, dest). PyLate saves the
# first three; the last two are copies computing the same function where one block's fp16, or one layer's int8,
# breaks (tests/checkpoints.py).
CHECKPOINTS = {
    # the trained one: PyLate's ColBERT on all-MiniLM-L6-v2
    "minilm-colbert": lambda builds, dest: build_minilm_colbert(builds.pylate(), dest),
    # the 17m architecture and the real tokenizer with mxbai's settings (synthetic weights)
    "mxbai-17m-pylate": lambda builds, dest: build_pylate_modernbert(builds.pylate(), FIXTURE_TOKENIZER, dest),
    # the same backbone with PyLate settings mxbai does not use: no query prefix, query expansion attended to,
    # no lowercasing
    "modernbert-variant-pylate": lambda builds, dest: build_pylate_modernbert(
        builds.pylate(), FIXTURE_TOKENIZER, dest, query_prefix="", query_length=32, do_query_expansion=True,
        attend_to_expansion_tokens=True, do_lower_case=False),
    "tiny-values": lambda builds, dest: with_tiny_values(write_synthetic("17m", FIXTURE_TOKENIZER), dest),
    "outliers": lambda builds, dest: with_activation_outliers(builds.checkpoint("minilm-colbert"), dest),
}


@dataclass(frozen=True)
class CheckpointRun:
    checkpoint: str
    precisions: tuple[str, ...]
    command: str = "all"  # or one target


# The export runs of those checkpoints, by the fixture that reads them.
CHECKPOINT_RUNS = {
    "trained_run": CheckpointRun("minilm-colbert", PRECISIONS),
    "mxbai_run": CheckpointRun("mxbai-17m-pylate", ("fp32",)),
    "variant_run": CheckpointRun("modernbert-variant-pylate", ("fp32",)),
    # the fp16 fallbacks in each fp16 form (export/precision/fp16.py), and the int8 one
    "tiny_values_executorch_run": CheckpointRun("tiny-values", ("fp16",), "executorch"),
    "tiny_values_coreml_run": CheckpointRun("tiny-values", ("fp16",), "coreml"),
    "outliers_run": CheckpointRun("outliers", ("int8",), "onnx"),
}


class Builds:
    """What the session builds once: PyLate's venv, the checkpoints PyLate saves, and the export runs (on the
    farm's streams). Each export run is a key: ("run", fixture), ("readme", index) or ("args", *words)."""

    def __init__(self, config, root: Path):
        self.config, self.root = config, root
        # as the session starts (tests that change their own leave the runs alone), one torch thread per run (two
        # runs and the tests share two cores), and one artifact cache (export/artifact_cache.py): the runs share
        # synthetic weights, so a conversion one run made another reuses, and gates again
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", artifact_cache.ENV: str(root / "artifacts")}
        self.once = Once()
        self.farm = Farm()

    def pylate(self) -> PyLate:
        return self.once.get("pylate", lambda: PyLate(pylate_python(self.config.cache.mkdir("pylate"))))

    def checkpoint(self, name: str) -> Path:
        dest = self.root / "checkpoints" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        return self.once.get(("checkpoint", name), lambda: CHECKPOINTS[name](self, dest))

    def _job(self, key: tuple):
        kind, *rest = key
        if kind == "readme":
            words = readme_offline_commands()[rest[0]]
            cwd = self.root / "readme" / f"run{rest[0]}"  # fresh, with a fresh cache, as a new user's
            env = {**self.env, "XDG_CACHE_HOME": "cache"}
            return shlex.join(["export", *words]), lambda: run_export(as_run(words), cwd, env)
        if kind == "run":
            run = CHECKPOINT_RUNS[rest[0]]
            cwd = self.root / "exports" / rest[0]
            return (f"export {run.command} {run.checkpoint} {' '.join(run.precisions)}",
                    lambda: run_export([run.command, "--model", str(self.checkpoint(run.checkpoint)), "--precision",
                                        *run.precisions, "--out", "bundles"], cwd, self.env))
        cwd = self.root / "exports" / f"args{abs(hash(tuple(rest))):x}"
        return shlex.join(["export", *rest]), lambda: run_export([*rest, "--out", "bundles"], cwd, self.env)

    def submit(self, key: tuple) -> None:
        self.farm.submit(key, *self._job(key))

    def export(self, key: tuple):
        """The run's ProcessRun, once its bundles validate against spec/schemas."""
        result = self.farm.result(key, *self._job(key))
        self.once.get(("schemas", key), lambda: check_schemas(result.cwd / "bundles"))
        return result


BUILDS_KEY = pytest.StashKey[Builds]()


@pytest.fixture(scope="session")
def builds(request) -> Builds:
    return request.config.stash[BUILDS_KEY]


@pytest.fixture(scope="session")
def pylate(builds) -> PyLate:
    """PyLate 1.6 itself, in its own venv under pytest's cache (built once, about 35 s)."""
    return builds.pylate()


@pytest.fixture(scope="session")
def minilm_checkpoint(builds) -> Path:
    return builds.checkpoint("minilm-colbert")


@pytest.fixture(scope="session")
def mxbai_checkpoint(builds) -> Path:
    return builds.checkpoint("mxbai-17m-pylate")


@pytest.fixture(scope="session")
def variant_checkpoint(builds) -> Path:
    return builds.checkpoint("modernbert-variant-pylate")


class Exports:
    """`python -m export` runs by argument list (without --out), each once per session."""

    def __init__(self, builds: Builds):
        self.builds = builds

    def run(self, *args: str) -> tuple[int, Path]:
        key = ("readme", README_WITH_TOKENIZER) if args == SYNTHETIC_ONNX else ("args", *args)
        result = self.builds.export(key)
        return result.code, result.cwd / "bundles"

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
def exports(builds) -> Exports:
    return Exports(builds)


class Run:
    """The bundles of one `all` export run of a checkpoint PyLate saved."""

    def __init__(self, builds: Builds, fixture: str):
        result = builds.export(("run", fixture))
        self.checkpoint = builds.checkpoint(CHECKPOINT_RUNS[fixture].checkpoint)
        self.code, self.out = result.code, result.cwd / "bundles"
        self.output = result  # .stdout the summary table, .stderr the progress lines

    def bundle(self, target: str, precision: str = "fp32") -> Path:
        return self.out / self.checkpoint.name / f"{target}-{precision}"


def _run_fixture(name: str):
    @pytest.fixture(scope="session", name=name)
    def run(builds) -> Run:
        return Run(builds, name)
    return run


# one session fixture per run, named as its key: trained_run, mxbai_run, ...
globals().update({name: _run_fixture(name) for name in CHECKPOINT_RUNS})


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


# ------------------------------------------------------------------ order, prefetch, and the closing table

# A test that asks for any of these (directly or through another fixture) needs an export run or PyLate's venv.
NEEDS_AN_EXPORT = {"exports", "pylate", "readme_runs", *CHECKPOINT_RUNS}


def pytest_configure(config):
    config.addinivalue_line("markers", "export: needs an export run or PyLate (deselect with -m 'not export' for the "
                                       "fast tier, README \"Tests\")")
    config.addinivalue_line("markers", "covered_by(test): a part of that test, for the fast tier; left out of a run "
                                       "that collects the test itself")


def _rank(item) -> int:
    """When a test can run: 0 at once; then after the runs that the farm's streams finish first."""
    names = fixtures_of(item)
    if names & set(LAST_RUNS):
        return 5
    if "readme_runs" in names:
        return 4
    if "exports" in names:
        return 3
    if names & {"trained_run", "minilm_checkpoint", "pylate"}:
        return 2
    return 1 if names & {"mxbai_run", "variant_run", "mxbai_checkpoint", "variant_checkpoint"} else 0


def fixtures_of(item) -> set[str]:
    """The fixtures a test asks for, and those it gets by name from a parameter (request.getfixturevalue)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return set(getattr(item, "fixturenames", ())) | {v for v in params.values() if isinstance(v, str)}


def pytest_itemcollected(item):
    if NEEDS_AN_EXPORT & fixtures_of(item):
        item.add_marker(pytest.mark.export)


@pytest.hookimpl(trylast=True)  # after -m has deselected what it will
def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_rank)  # stable: file order within a rank
    names = {getattr(item, "originalname", item.name) for item in items}
    covered = [item for item in items if any(m.args[0] in names for m in item.iter_markers("covered_by"))]
    if covered:
        config.hook.pytest_deselected(items=covered)
        items[:] = [item for item in items if item not in covered]


# The order the runs start in, two at a time: the trained run (the longest) on one stream; the mxbai-layout run,
# then the README's two commands one after the other on the other (the second copies the first's fp32 and fp16
# conversions from the artifact cache); then the variant, unless a test asked for it first; then the fallbacks'
# runs, whose tests come last, while the other tests run.
LAST_RUNS = ("tiny_values_coreml_run", "tiny_values_executorch_run", "outliers_run")
PREFETCH = [("trained_run", ("run", "trained_run")), ("mxbai_run", ("run", "mxbai_run")),
            ("exports", ("readme", README_WITH_TOKENIZER)),
            ("readme_runs", ("readme", 1 - README_WITH_TOKENIZER)),
            ("variant_run", ("run", "variant_run")),
            *((fixture, ("run", fixture)) for fixture in LAST_RUNS)]


def pytest_collection_finish(session):
    """Start the runs the collected (and not deselected) tests need, with the session's own cache: synthetic
    checkpoints are written fresh into it."""
    root = session.config._tmp_path_factory.mktemp("builds")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    session.config.stash[BUILDS_KEY] = builds = Builds(session.config, root)
    if session.config.option.collectonly:
        return
    needed = set().union(*(fixtures_of(item) for item in session.items))
    for fixture, key in PREFETCH:
        if fixture in needed or (fixture == "exports" and "readme_runs" in needed):
            builds.submit(key)


# In CI every toolchain is installed (.ci/run), so the only tests that may skip are those that need Core ML itself,
# which only Apple's systems have: their reasons say so.
NEEDS_CORE_ML = ("Core ML predictions run only on macOS",)
DISALLOWED_SKIPS: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and os.environ.get("CI"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(allowed in reason for allowed in NEEDS_CORE_ML):
            DISALLOWED_SKIPS.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if DISALLOWED_SKIPS and exitstatus == 0:
        session.exitstatus = 1
        print("\nerror: in CI only the tests that need Core ML itself may skip; these skipped:\n  "
              + "\n  ".join(DISALLOWED_SKIPS))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    builds = config.stash.get(BUILDS_KEY, None)
    if builds and builds.farm.timings:
        terminalreporter.write_sep("=", "export runs (seconds each; how long the first test that needed it waited)")
        terminalreporter.write_line(builds.farm.table())


def pytest_unconfigure(config):
    builds = config.stash.get(BUILDS_KEY, None)
    if builds:
        builds.farm.close()


@pytest.fixture(scope="session")
def readme_runs(builds) -> dict:
    """README words -> (exit code, working directory, stdout)."""
    return {tuple(words): (run.code, run.cwd, run.stdout)
            for words, run in ((words, builds.export(("readme", n)))
                               for n, words in enumerate(readme_offline_commands()))}
