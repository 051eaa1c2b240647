"""Tiers on trained weights the tests did not tune to: PyLate-saved ColBERTs from the trained MiniLM with
Dense heads of PyLate's own initialisation at several seeds, one scaled head, one with no query prefix and
query expansion, and a new user's recipe (48 dimensions, PyLate's prefixes, no expansion) at several seeds,
exported to fp16 and int8 and measured on the gate's texts and on held-out ones.

    python -m experiments.robustness --out FILE.md [--targets onnx executorch] [--checkpoints seed0 ...]
                               [--merge-into docs/robustness.json]

builds what it needs (PyLate's venv under .robustness/), prints progress on stderr and a table of every
bundle's room used (gate / held-out) and what the fallback kept, writes the table as Markdown and every
number as JSON beside it, and exits 1 if a bundle the gate passed misses its tier on the held-out texts or
a bundle was refused for any reason but holding its tier without margin. `--merge-into` also puts the new
records into the results file docs/robustness.md is rendered from (`python -m experiments.robustness_doc`).
tests/test_robustness.py runs a subset of the same cases.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runtimes.targets import TARGETS
from tests.checkpoints import MINILM_SEED

ROOT = Path(__file__).resolve().parents[1]
SCALE = 16.0  # the scaled head: PyLate's seed-0 head times this (the L2 norm hides it in fp32, not in fp16)


@dataclass(frozen=True)
class Case:
    name: str
    seed: int
    query_prefix: str = "[unused0]"
    head_scale: float = 1.0
    pylate_defaults: bool = False  # a new user's recipe instead of the tests' trained checkpoint's (below)


# A new user's ColBERT on the MiniLM (issue 35): a 48-dimension head, PyLate's own prefixes, no query expansion.
PYLATE_DEFAULTS = {"embedding_size": 48, "query_length": 32, "document_length": 300, "do_query_expansion": False}
CASES = {c.name: c for c in [
    *(Case(f"seed{s}", s) for s in range(5)),
    Case("tests-checkpoint", MINILM_SEED),  # the trained checkpoint the tests export (tests/checkpoints.py)
    Case("scaled-head", 0, head_scale=SCALE),
    Case("no-query-prefix", 11, query_prefix=""),
    *(Case(f"defaults-seed{s}", s, pylate_defaults=True) for s in (1234, 5, 6, 7, 8)),
]}


def build_checkpoint(pylate, case: Case, dest: Path) -> Path:
    """PyLate's ColBERT on the trained MiniLM with the case's head and settings, as PyLate saves it."""
    from tests.checkpoints import build_minilm_colbert, minilm_source

    if dest.is_dir():
        return dest
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    if case.pylate_defaults:
        pylate.save(minilm_source(), staging, seed=case.seed, **PYLATE_DEFAULTS)
    else:
        build_minilm_colbert(pylate, staging, seed=case.seed, query_prefix=case.query_prefix)
    if case.head_scale != 1.0:
        _scale_head(staging, case.head_scale)
    staging.rename(dest)
    return dest


def _scale_head(checkpoint: Path, factor: float) -> None:
    from safetensors.torch import load_file, save_file

    path = next(checkpoint.glob("*_Dense/model.safetensors"))
    tensors = {k: v * factor for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


@dataclass
class Row:
    checkpoint: str
    target: str
    precision: str
    gate_passed: bool
    kept: list[str]
    size_mb: float | None
    gate_room: dict[str, float]  # metric -> share of the tier's room used, on the gate's texts
    held_out_passed: bool | None
    held_out_room: dict[str, float]
    held_out_metrics: dict[str, float]
    error: str | None = None
    failed: list[str] = field(default_factory=list)  # the gate's reasons, when it refused
    gate_metrics: dict[str, float] = field(default_factory=dict)  # kept so a later tier can rescore the bundle
    tier: dict[str, list] = field(default_factory=dict)  # metric -> [op, bound] the rooms are measured against
    machine: str = ""
    source: str = ""  # the command that measured it (docs/robustness.json also holds rows transcribed by hand)
    note: str | None = None

    @property
    def refused_without_margin(self) -> bool:
        """Holds the tier, but the fallback could not bring it inside the margin: refused by default."""
        return not self.gate_passed and len(self.failed) == 1 and "without margin" in self.failed[0]

    @property
    def ok(self) -> bool:
        """What the issue asks: no bundle refused that holds its tier, and every one published holds it on
        the held-out texts too (one refused for lack of margin holds nowhere else: the no-query-prefix int8)."""
        return self.refused_without_margin or (self.gate_passed and bool(self.held_out_passed))

    @property
    def result(self) -> str:
        return ("ERROR " + self.error if self.error else "REFUSED without margin" if self.refused_without_margin
                else "PASS" if self.ok else "FAIL gate" if not self.gate_passed
                else "PASS gate, held-out not measured" if self.held_out_passed is None else "FAIL held-out")


def measure(checkpoint: Path, targets: list[str], precisions: list[str], out: Path, log, source: str = "") -> list[Row]:
    """Export each bundle through the real pipeline, then hold it to its tier on the held-out texts."""
    from export.tools.bench import cpu
    from export.model.checkpoint import read_checkpoint
    from export.pipeline import Exporter
    from export.verify import verify_bundle

    machine = cpu()
    exporter = Exporter(read_checkpoint(checkpoint, source=str(checkpoint)), out, log)
    rows = []
    try:
        for target in targets:
            for precision in precisions:
                result = exporter.build(target, precision)
                row = Row(checkpoint.name, target, precision, result.passed, result.report.kept if result.report else [],
                          round(result.size_bytes / 1e6, 1) if result.size_bytes else None,
                          result.report.margin if result.report else {}, None, {}, {}, result.error,
                          list(result.report.failed) if result.report else [],
                          dict(result.report.metrics) if result.report else {},
                          {k: list(v) for k, v in result.report.thresholds.items()} if result.report else {},
                          f"{machine['name']}, {machine['threads']} cores", source)
                if result.passed:
                    _, reports = verify_bundle(result.path, False, log, held_out=True)
                    held = reports[0]
                    row.held_out_passed, row.held_out_room, row.held_out_metrics = held.passed, held.margin, held.metrics
                rows.append(row)
    finally:
        exporter.close()
    return rows


def _room(room: dict[str, float]) -> str:
    return f"{max(room.values()):.0%}" if room else "-"


def _worst_metric(room: dict[str, float]) -> str:
    return max(room, key=room.get) if room else "-"


def table(rows: list[Row]) -> list[list[str]]:
    return [[r.checkpoint, r.target, r.precision, f"{r.size_mb}" if r.size_mb else "-", _room(r.gate_room),
             _room(r.held_out_room), _worst_metric(r.held_out_room),
             ", ".join(r.kept) or "-", r.result] for r in rows]


HEADER = ["checkpoint", "target", "precision", "size MB", "room used (gate)", "room used (held-out)",
          "held-out's worst metric", "kept by the fallback", "result"]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table(rows)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.robustness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the Markdown table to write (JSON beside it)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--precisions", nargs="+", default=["fp16", "int8"], choices=["fp16", "int8"])
    parser.add_argument("--checkpoints", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--work", type=Path, default=ROOT / ".robustness", help="checkpoints, bundles and PyLate's venv")
    parser.add_argument("--merge-into", type=Path, metavar="JSON",
                        help="also merge the records into this results file (docs/robustness.json), replacing any "
                             "of the same checkpoint, target, precision and tier")
    args = parser.parse_args(argv)

    from export.cli import Progress
    from runtimes.table import format_table
    from tests.pylate_env import PyLate, pylate_python

    log = Progress()
    started = time.perf_counter()
    pylate = PyLate(pylate_python(args.work / "pylate"))
    rows: list[Row] = []
    for name in args.checkpoints:
        log(f"checkpoint {name}")
        checkpoint = build_checkpoint(pylate, CASES[name], args.work / "checkpoints" / f"minilm-{name}")
        rows += measure(checkpoint, args.targets, args.precisions, args.work / "bundles", log, "python -m experiments.robustness")
    print(format_table(table(rows), HEADER))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(rows))
    args.out.with_suffix(".json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    if args.merge_into:
        from experiments.robustness_doc import merge_into

        merge_into(args.merge_into, [asdict(r) for r in rows])
        log(f"merged into {args.merge_into}; `python -m experiments.robustness_doc` renders docs/robustness.md from it")
    log(f"{len(rows)} bundles in {time.perf_counter() - started:.0f}s; table in {args.out}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
