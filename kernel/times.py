"""Meta's times, read one way everywhere. Pure.

Webhooks carry epoch milliseconds, but Dashboard test payloads send seconds, sometimes as strings;
the Graph API answers ISO 8601 with an offset (`2026-11-29T10:00:00+0000`). Below `SECONDS_BEFORE`
a number is seconds (in milliseconds that would be before 1973; in seconds it reaches the year 5138).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SECONDS_BEFORE = 100_000_000_000


def epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds from ms or seconds (int, float or numeric text); None when it is no time."""
    if type(value) is int:  # noqa: E721 - the usual case, first (bool is a subclass, not this type)
        return None if value < 0 else value * 1000 if value < SECONDS_BEFORE else value
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = int(value)
    if not isinstance(value, int) or value < 0:
        return None
    return value * 1000 if value < SECONDS_BEFORE else value


def graph_time(value: Any) -> datetime:
    """A Graph API time as an aware datetime; ValueError when it is not ISO 8601 with an offset."""
    if not isinstance(value, str):
        raise ValueError("a Graph time must be a string")
    try:
        moment = datetime.fromisoformat(value)  # 3.11+: takes Graph's `+0000` and `Z`
    except ValueError:
        raise ValueError(f"graph time {value[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"graph time {value[:40]!r} has no offset")
    return moment


def graph_time_ms(value: Any) -> int:
    """A Graph API time in epoch milliseconds; ValueError as `graph_time`."""
    return int(graph_time(value).timestamp() * 1000)
