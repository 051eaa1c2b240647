"""The corpora as data: gate.json (export/gate/parity_texts.py), held_out.json (export/gate/heldout_texts.py) and
calibration.json (export/precision/calibration_texts.py), each a JSON object of lists of texts under the modules' names, with
`about` notes. Characters an editor would hide or confuse are \\u escapes in the files: edit them as such.
"""
from __future__ import annotations

import json
from importlib import resources


def load(name: str) -> dict:
    """The object in export/texts/<name>.json (shipped as package data in a wheel)."""
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
