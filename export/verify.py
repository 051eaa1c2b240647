"""`python -m export verify BUNDLE...`: is this bundle still what its export published?

Always: the sha256 of every file, a passing parity.json for the bundle's own tier, and golden.json's one
rule (runtimes.golden): the golden texts' ids exact, their vectors and MaxSim scores within the file's
tolerance. With --full, the whole parity gate again, against the PyTorch reference of the checkpoint
named in the manifest; with --held-out, the same tier on texts the gate never sees (export/gate/heldout_texts.py),
to show that what the gate passed holds on other texts.
"""
from __future__ import annotations

from pathlib import Path

import runtimes
from runtimes.golden import self_test
from runtimes.manifest import BundleError, read_json_file, read_manifest

from .model.checkpoint import HUB_IDS, fetch_from_hub, read_checkpoint
from .gate.parity import ParityReport, gate_texts, held_out_texts, reference_outputs, run_gate
from .model.source import resolve
from runtimes.table import format_table


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


def _synthetic(manifest: dict) -> bool:
    return bool(manifest["model"].get("synthetic")) or manifest["model"]["source"].startswith("synthetic:")


def verify_bundle(bundle: Path, full: bool, log, held_out: bool = False) -> tuple[list[str], list[ParityReport]]:
    """Problems found (empty when the bundle is sound) and the gate reports --full or --held-out ran.
    Raises BundleError when the bundle cannot be loaded."""
    manifest = read_manifest(bundle)
    runtime = runtimes.load(bundle)  # checks every hash first
    precision = manifest["precision"]
    problems, reports = [], []
    parity = read_json_file(bundle / "parity.json")
    if not isinstance(parity, dict) or not parity.get("passed") or parity.get("tier") != precision:
        problems.append(f"parity.json does not record a passing {precision} gate")
    problems += check_golden(runtime)
    if full or held_out:
        from .model.reference import Reference  # torch: only for --full

        checkpoint = _checkpoint_for(bundle, manifest)
        reference = Reference(checkpoint)
        for wanted, name, texts in ((full, "parity gate", gate_texts()), (held_out, "held-out texts", held_out_texts())):
            if not wanted:
                continue
            log(f"{bundle}: the {precision} tier on the {name} ({len(texts.queries)} queries, "
                f"{len(texts.documents)} documents) against {checkpoint.label}")
            report = run_gate(runtime, reference_outputs(reference, runtime.tokenizer, texts), precision,
                              _synthetic(manifest), texts)
            problems += [f"{name}: {f}" for f in report.failed]
            reports.append(report)
    return problems, reports


def _room(reports: list[ParityReport]) -> str:
    return " / ".join(f"{r.worst_room:.0%}" for r in reports) if reports else "-"


def run_verify(bundles: list[Path], full: bool, log, held_out: bool = False) -> int:
    rows, failed = [], False
    for bundle in bundles:
        reports = []
        try:
            problems, reports = verify_bundle(Path(bundle), full, log, held_out)
        except BundleError as e:
            problems = [str(e)]
        failed |= bool(problems)
        rows.append([str(bundle), _room(reports), "OK" if not problems else "FAIL: " + "; ".join(problems)])
    ran = [name for wanted, name in ((full, "gate"), (held_out, "held-out")) if wanted]
    print(format_table(rows, ["bundle", f"room used ({' / '.join(ran)})" if ran else "room used", "verify"]))
    return 1 if failed else 0
