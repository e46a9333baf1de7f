"""Template filters that say times, sizes and rates the way an operator reads them (pure; `now` is passed in)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ago(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """"never", "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 4 min" for a time still ahead."""
    if when is None:
        return "never"
    seconds = ((now or _now()) - when).total_seconds()
    span = span_text(abs(seconds))
    return f"{span} ago" if seconds >= 0 else f"in {span}"


def span_text(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def stamp(when: dt.datetime | None) -> str:
    """The exact time, UTC, for a title attribute."""
    return "" if when is None else when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def millis_stamp(epoch_ms: int | None) -> str:
    return "" if epoch_ms is None else stamp(dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc))


def size(count: int | None) -> str:
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def rate(per_s: float | None) -> str:
    return "unknown" if per_s is None else f"{per_s:.1f}/s"


def count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def window_open(ends_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """The 24-hour reply window is open while its end is ahead."""
    return ends_at is not None and ends_at > (now or _now())


FILTERS: dict[str, Callable[..., Any]] = {
    "ago": ago, "stamp": stamp, "millis_stamp": millis_stamp, "size": size, "rate": rate, "count": count,
    "window_open": window_open,
}
