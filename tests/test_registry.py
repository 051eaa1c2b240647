"""The places that name targets, held to the one registry (runtimes/targets.py): the exporter's own modules
(export/targets/__init__.py's MODULES), the manifest schema's enums, the conformance suite's bucketed targets,
pyproject's extras and the benchmark's per-target cases.

A target added to (or renamed in) the registry fails here until each of them agrees (ARCHITECTURE.md, "Adding a
target"). Light: the targets' export modules are read as source, never imported (each imports its converter).
"""
from __future__ import annotations

import ast
import json
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from export.precision import PRECISIONS
from export.targets import MODULES
from runtimes.targets import TARGETS
from tests.test_conformance import BUCKETED

ROOT = Path(__file__).resolve().parents[1]


def _tree(module: str) -> ast.Module:
    """A module of this repository as a syntax tree, without importing it."""
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported_modules(module: str) -> set[str]:
    """The absolute names of the modules `module` imports from, relative imports resolved."""
    names = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = module.split(".")[:-node.level] if node.level else []
            names.add(".".join(base + ([node.module] if node.module else [])))
    return names


def _called(module: str) -> set[str]:
    """The names of the functions `module` calls (`f(...)` and `x.f(...)`)."""
    calls = [n.func for n in ast.walk(_tree(module)) if isinstance(n, ast.Call)]
    return {f.id if isinstance(f, ast.Name) else f.attr for f in calls if isinstance(f, (ast.Name, ast.Attribute))}


def _distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def test_the_exporter_builds_exactly_the_registered_targets():
    """The runtime's registry names no export module (an app ships the runtime alone); the exporter's MODULES
    must name the same targets, each a module of export/targets/."""
    assert list(MODULES) == list(TARGETS), \
        f"export/targets/__init__.py's MODULES {list(MODULES)} is not runtimes.targets' {list(TARGETS)}"
    missing = [m for m in MODULES.values() if not ROOT.joinpath(*m.split(".")).with_suffix(".py").is_file()]
    assert missing == [], f"MODULES names modules that do not exist: {missing}"


def test_the_manifest_schema_enumerates_the_registered_targets_and_precisions():
    schema = json.loads((ROOT / "spec" / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    targets = schema["properties"]["target"]["enum"]
    precisions = schema["properties"]["precision"]["enum"]
    assert sorted(targets) == sorted(TARGETS) and len(set(targets)) == len(targets), \
        f"spec/schemas/manifest.schema.json's target enum {targets} is not runtimes.targets' {list(TARGETS)}"
    assert sorted(precisions) == sorted(PRECISIONS) and len(set(precisions)) == len(precisions), \
        f"spec/schemas/manifest.schema.json's precision enum {precisions} is not export.precision's {list(PRECISIONS)}"


def test_bucketed_are_the_targets_whose_engine_and_exporter_have_buckets():
    """The registry has no field for buckets: a target has them when its engine runs them (imports
    runtimes.buckets, whose check_buckets refuses a bundle without any) and its exporter builds them
    (calls export.targets.length_buckets). Both must say the same, and BUCKETED must be exactly those."""
    engines = {name for name, t in TARGETS.items() if "runtimes.buckets" in _imported_modules(t.engine)}
    exporters = {name for name, module in MODULES.items() if "length_buckets" in _called(module)}
    assert engines == exporters, f"engines that run buckets {sorted(engines)}, exporters that build them {sorted(exporters)}"
    assert len(set(BUCKETED)) == len(BUCKETED) and set(BUCKETED) == engines, \
        f"tests/test_conformance.py's BUCKETED {list(BUCKETED)}; the registry's targets with buckets {sorted(engines)}"


def test_every_registered_target_has_a_runtime_extra_that_installs_its_engine_library():
    """`pip install ".[<target>]"` (README) installs what the target's engine runs on (the registry's `library`),
    and the export extra holds every runtime extra (the parity gate runs each artifact in its runtime)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    own = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}  # export, runtimes
    installed = packages_distributions()
    for name, target in TARGETS.items():
        assert extras.get(name), f"pyproject.toml has no [project.optional-dependencies] {name} for target {name}"
        assert set(extras[name]) <= set(extras["export"]), \
            f"extra {name} {extras[name]} is not all in the export extra (the gate runs every target's runtime)"
        top = target.library.split(".")[0]
        if top in own:  # the engine runs on this project's own code (Core ML off macOS: runtimes.mil)
            continue
        providers = {_distribution(d) for d in installed.get(top, [top])}
        assert providers & {_distribution(r) for r in extras[name]}, \
            f"target {name}'s library {target.library} comes from {sorted(providers)}, which extra {name} " \
            f"{extras[name]} does not install"


def test_per_target_cases_in_the_exporter_and_runtimes_name_registered_targets():
    """Every comparison of a manifest's "target" with a literal (the benchmark's: Core ML's rows off macOS,
    the ports' rows on ONNX bundles) names a target the registry has."""
    cases = []
    for path in sorted([*(ROOT / "export").rglob("*.py"), *(ROOT / "runtimes").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Subscript) and isinstance(s.slice, ast.Constant) and s.slice.value == "target"
                   for s in sides):
                cases += [(path.relative_to(ROOT).as_posix(), node.lineno, s.value) for s in sides
                          if isinstance(s, ast.Constant) and isinstance(s.value, str)]
    assert any(file == "export/tools/bench.py" for file, _, _ in cases), "found none of the benchmark's per-target cases"
    unknown = [case for case in cases if case[2] not in TARGETS]
    assert unknown == [], f"per-target cases naming no registered target (file, line, name): {unknown}"
