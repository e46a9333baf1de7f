"""Paging through a long list in the console (pure): which rows a request asks for, and the links around them."""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE = 50
MAX_OFFSET = 10_000_000


def offset_of(raw: str | None) -> int:
    """The `offset` query parameter: a row number >= 0; anything else is the first row."""
    if raw is None or not raw.isdigit():
        return 0
    return min(int(raw), MAX_OFFSET)


@dataclass(frozen=True, slots=True)
class Window:
    """Rows first..last (1-based) of `matching`; the offsets of the windows before and after, if any."""

    first: int
    last: int
    matching: int
    previous: int | None
    next: int | None


def window(offset: int, shown: int, matching: int, size: int = PAGE_SIZE) -> Window:
    previous = max(0, offset - size) if offset > 0 else None
    following = offset + size if offset + shown < matching else None
    return Window(offset + 1 if shown else 0, offset + shown, matching, previous, following)
