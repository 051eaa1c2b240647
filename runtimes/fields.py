"""Type checks for the JSON files of a bundle, so that a wrong field is a one-line error naming it.

Readers ignore fields they do not know (later formats may add some); a known field of the wrong type, or a
required one that is missing, is refused. The JSON Schemas in spec/schemas say the same for tests and tools.
"""
from __future__ import annotations

from typing import Any, Callable

from .manifest import BundleError

Check = Callable[[Any], bool]


def integer(value: Any) -> bool:
    return type(value) is int  # JSON true/false are not integers


def string(value: Any) -> bool:
    return isinstance(value, str)


def boolean(value: Any) -> bool:
    return isinstance(value, bool)


def optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


def obj(value: Any) -> bool:
    return isinstance(value, dict)


def require(data: Any, fields: dict[str, Check], where: str) -> dict:
    """`data` if it is an object with every field of `fields`, each of the right type."""
    if not isinstance(data, dict):
        raise BundleError(f"{where} must be a JSON object; re-export the bundle", "malformed")
    missing = [name for name in fields if name not in data]
    if missing:
        raise BundleError(f"{where} lacks {', '.join(missing)}; re-export the bundle", "malformed")
    wrong = [name for name, check in fields.items() if not check(data[name])]
    if wrong:
        raise BundleError(f"{where}: {', '.join(wrong)} has the wrong type; re-export the bundle", "mistyped_field")
    return data
