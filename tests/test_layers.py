"""The data flows one way (ARCHITECTURE.md): the shipped runtime imports nothing of the exporter, and the spec's
generator takes no expected value from the code it tests. Read from the sources' import statements."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names, relative ones resolved in its package."""
    package = path.parent.relative_to(ROOT).as_posix().replace("/", ".")
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            names.add(".".join(p for p in (base, node.module or "") if p))
    return names


def test_imported_modules_sees_absolute_relative_and_nested_imports(tmp_path):
    assert imported_modules(ROOT / "runtimes" / "cli.py") >= {"runtimes.bundle", "runtimes.index", "json"}
    assert "export.gate.parity" in imported_modules(ROOT / "export" / "verify.py")


def test_the_runtime_imports_nothing_from_the_exporter():
    offenders = {p.relative_to(ROOT).as_posix(): sorted(m for m in imported_modules(p) if m.split(".")[0] == "export")
                 for p in sorted((ROOT / "runtimes").rglob("*.py"))}
    assert {p: m for p, m in offenders.items() if m} == {}


def names_imported_from(path: Path, package: str) -> set[str]:
    """`module.name` for every name a `from <package>... import name` brings in."""
    return {f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package
            for alias in node.names}


def test_the_spec_generator_takes_only_settings_types_from_the_runtime_and_nothing_from_the_exporter():
    """Expected scores, ranks, golden-rule results and index hits come from spec/oracle.py; the generator may
    use the runtime's settings types to write the headers' `settings`, nothing that scores."""
    for name in ("generate.py", "oracle.py"):
        path = ROOT / "spec" / name
        assert not [m for m in imported_modules(path) if m.split(".")[0] == "export"], name
        assert names_imported_from(path, "runtimes") <= {"runtimes.colbert.ColbertSettings", "runtimes.iospec.Bucket",
                                                        "runtimes.iospec.IoSpec"}, name
        assert "runtimes" not in {m for m in imported_modules(path) if "." not in m}, name  # no `import runtimes`


# export/'s folders in the pipeline's order (ARCHITECTURE.md, "The folders"); the top holds the command line and the
# chain that joins them
EXPORT_TOP = {"__init__", "__main__", "cli", "pipeline", "bundle", "verify", "artifact_cache", "cache"}
EXPORT_STAGES = {"model", "precision", "targets", "gate", "texts", "tools"}


def test_export_is_laid_out_by_stage():
    top = {p.stem for p in (ROOT / "export").glob("*.py")}
    folders = {p.name for p in (ROOT / "export").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert (top, folders) == (EXPORT_TOP, EXPORT_STAGES), "a new module in export/ belongs in a stage's folder " \
        "(ARCHITECTURE.md, \"The folders\"), or in this test's lists with a row there"


def test_a_stage_imports_no_later_stage_and_no_tool():
    """checkpoint → encoder → precision → target → gate: model/ needs none of the later stages, precision/ no
    target, and nothing in the chain imports the measuring tools."""
    later = {"model": ("precision", "targets", "gate", "tools"), "precision": ("targets", "tools"),
             "targets": ("gate", "tools"), "gate": ("targets", "tools")}
    offenders = {}
    for stage, forbidden in later.items():
        for path in sorted((ROOT / "export" / stage).rglob("*.py")):
            bad = sorted(m for m in imported_modules(path) if m.split(".")[:2] in [["export", f] for f in forbidden])
            if bad:
                offenders[path.relative_to(ROOT).as_posix()] = bad
    assert offenders == {}
