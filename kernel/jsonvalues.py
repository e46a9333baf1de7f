"""Typed reads of untyped JSON (decoded records, webhook events, Graph answers). Pure.

Each `required_*` raises the caller's error type (RecordError, SnapshotError, ...) naming the field;
each `*_or_none` and `object_or_empty` tolerates what is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = Mapping[str, Any]


def required_object(data: Json, name: str, error: type[Exception] = ValueError, what: str = "field") -> Json:
    value = data.get(name)
    if not isinstance(value, dict):
        raise error(f"{what} {name!r} must be a JSON object")
    return value


def required_text(data: Json, name: str, error: type[Exception] = ValueError, what: str = "field") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise error(f"{what} {name!r} must be a non-empty string")
    return value


def required_integer(data: Json, name: str, error: type[Exception] = ValueError, what: str = "field") -> int:
    value = integer_or_none(data.get(name))
    if value is None:
        raise error(f"{what} {name!r} must be an integer")
    return value


def integer_or_none(value: Any, *, digits: bool = False) -> int | None:
    """An int (never a bool); with `digits`, also a string of decimal digits (Meta sends some codes so)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if digits and isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def object_or_empty(value: Any) -> Json:
    return value if isinstance(value, Mapping) else {}
