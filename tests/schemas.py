"""The JSON Schemas of spec/schemas, loaded once, and what they say of a bundle (jsonschema is a test dependency;
the runtime checks its fields itself)."""
from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "spec" / "schemas"


def _load(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


SCHEMAS = {f"{name}.json": _load(name) for name in ("colbert", "manifest", "golden", "parity")}


def schema_errors(bundle: Path) -> list[str]:
    """Each schema violation of a bundle's four JSON files, as 'file: path: message'."""
    out = []
    for file, validator in SCHEMAS.items():
        data = json.loads((Path(bundle) / file).read_text(encoding="utf-8"))
        out += [f"{bundle}/{file}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                for e in validator.iter_errors(data)]
    return out


def report_errors(report: Path) -> list[str]:
    """A failed bundle's <name>.FAILED-parity.json against the parity schema."""
    data = json.loads(Path(report).read_text(encoding="utf-8"))
    return [f"{report}: {e.message[:200]}" for e in SCHEMAS["parity.json"].iter_errors(data)]
