"""`python -m export verify BUNDLE...`: is this bundle still what its export published?

Always: the sha256 of every file, a passing parity.json for the bundle's own tier, and golden.json's one
rule (runtimes.golden): the golden texts' ids exact, their vectors and MaxSim scores within the file's
tolerance. With --full, the whole parity gate again, against the PyTorch reference of the checkpoint
named in the manifest.
"""
from __future__ import annotations

from pathlib import Path

import runtimes
from runtimes.golden import self_test
from runtimes.manifest import BundleError, read_json_file, read_manifest

from .checkpoint import HUB_IDS, fetch_from_hub, read_checkpoint
from .parity import reference_outputs, run_gate
from .source import resolve
from .table import format_table


def check_golden(runtime: runtimes.ColbertRuntime) -> list[str]:
    """golden.json's one rule (runtimes.golden), as every port's self-test applies it."""
    report = self_test(runtime, runtime.golden)
    problems = [f"golden ids differ for {len(report.id_mismatches)} text(s), the first {report.id_mismatches[0][:40]!r}"
                ] if report.id_mismatches else []
    return problems + [f"golden vectors: {f}" for f in report.failures]


def _checkpoint_for(bundle: Path, manifest: dict):
    model = manifest["model"]
    source = model["source"]
    if source.startswith("synthetic:"):  # the seeded weights again, around the bundle's own tokenizer
        size = next(s for s, hub_id in HUB_IDS.items() if hub_id == source.removeprefix("synthetic:"))
        return resolve(size, synthetic=True, tokenizer=bundle / "tokenizer.json")
    if Path(source).is_dir():
        return read_checkpoint(Path(source), source=source, revision=model.get("revision"))
    return read_checkpoint(fetch_from_hub(source, model.get("revision")), source=source, revision=model.get("revision"))


def verify_bundle(bundle: Path, full: bool, log) -> list[str]:
    """Problems found, empty when the bundle is sound. Raises BundleError when it cannot be loaded."""
    manifest = read_manifest(bundle)
    runtime = runtimes.load(bundle)  # checks every hash first
    precision = manifest["precision"]
    problems = []
    parity = read_json_file(bundle / "parity.json")
    if not isinstance(parity, dict) or not parity.get("passed") or parity.get("tier") != precision:
        problems.append(f"parity.json does not record a passing {precision} gate")
    problems += check_golden(runtime)
    if full:
        from .reference import Reference  # torch: only for --full

        checkpoint = _checkpoint_for(bundle, manifest)
        log(f"{bundle}: re-running the parity gate against {checkpoint.label}")
        reference = reference_outputs(Reference(checkpoint), runtime.tokenizer)
        report = run_gate(runtime, reference, precision)
        problems += [f"parity gate: {f}" for f in report.failed]
    return problems


def run_verify(bundles: list[Path], full: bool, log) -> int:
    rows, failed = [], False
    for bundle in bundles:
        try:
            problems = verify_bundle(Path(bundle), full, log)
        except BundleError as e:
            problems = [str(e)]
        failed |= bool(problems)
        rows.append([str(bundle), "OK" if not problems else "FAIL: " + "; ".join(problems)])
    print(format_table(rows, ["bundle", "verify"]))
    return 1 if failed else 0
