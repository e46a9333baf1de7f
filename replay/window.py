"""What a replay selects (pure, the clock passed in): its source, pages, time window and dry run.

Times are ISO 8601 (`2026-12-03T10:00:00Z`, `2026-12-03T11:00+01:00`, `2026-12-03`; without an
offset, UTC) or relative to now: `-90s`, `-30m`, `-2h`, `-7d`, `now`. The window is `since <= t <
until`, on the time the edge received a body (raw) or the time a record was dead-lettered (dlq);
either end may be open.

Errors: `SelectionError` names the field and what it expects (the CLI and the admin API show it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kernel.records import PAGE_ID

Source = Literal["raw", "dlq"]
SOURCES: tuple[Source, ...] = ("raw", "dlq")
_RELATIVE = re.compile(r"-(\d+)([smhd])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z; times before 1970 are refused too (Kafka's are not)


class SelectionError(ValueError):
    """A replay request that cannot be run as given."""


@dataclass(frozen=True, slots=True)
class Selection:
    source: Source
    pages: frozenset[str] = frozenset()  # empty: every page
    since_ms: int | None = None
    until_ms: int | None = None
    dry_run: bool = False

    def wants_page(self, page_id: str | None) -> bool:
        return not self.pages or page_id in self.pages

    def wants_time(self, epoch_ms: int) -> bool:
        return ((self.since_ms is None or epoch_ms >= self.since_ms)
                and (self.until_ms is None or epoch_ms < self.until_ms))


def selection(source: str, pages: Iterable[str] = (), since: str | None = None, until: str | None = None,
              dry_run: bool = False, *, now_ms: int) -> Selection:
    """A checked selection from the CLI's or the API's words."""
    if source not in SOURCES:
        raise SelectionError(f"from must be raw or dlq, not {source!r}")
    wanted = frozenset(pages)
    for page in wanted:
        if not PAGE_ID.fullmatch(page):  # as `POST /admin/pages` accepts
            raise SelectionError("page ids are 1-64 letters, digits, '.', '_' or '-'")
    since_ms = None if since is None else parse_time(since, now_ms=now_ms, name="since")
    until_ms = None if until is None else parse_time(until, now_ms=now_ms, name="until")
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise SelectionError("until must be later than since")
    return Selection(source, wanted, since_ms, until_ms, dry_run)


def from_json(body: Mapping[str, Any], *, now_ms: int) -> Selection:
    """`POST /admin/replays`: `{"from", "page_id"? (one id or a list), "since"?, "until"?, "dry_run"?}`."""
    unknown = set(body) - {"from", "page_id", "since", "until", "dry_run"}
    if unknown:
        raise SelectionError(f"unknown field(s): {', '.join(sorted(unknown))}")
    source = body.get("from")
    if not isinstance(source, str):
        raise SelectionError("from is required: raw or dlq")
    pages = body.get("page_id")
    if pages is None:
        pages = []
    elif isinstance(pages, str):
        pages = [pages]
    elif not (isinstance(pages, list) and all(isinstance(p, str) for p in pages)):
        raise SelectionError("page_id must be a page id or a list of them")
    for name in ("since", "until"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise SelectionError(f"{name} must be a string: ISO 8601 or relative such as -2h")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise SelectionError("dry_run must be true or false")
    return selection(source, pages, body.get("since"), body.get("until"), dry_run, now_ms=now_ms)


def parse_time(text: str, *, now_ms: int, name: str = "time") -> int:
    """Epoch ms of an ISO 8601 time or of a time relative to `now_ms`, from 1970 to the year 9999."""
    value = text.strip()
    if value == "now":
        return now_ms
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return _in_range(now_ms - int(relative.group(1)) * _UNIT_MS[relative.group(2)], name)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SelectionError(f"{name} must be ISO 8601 (2026-12-03T10:00:00Z) or relative (-2h, -30m, -7d, now)"
                             ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _in_range(int(moment.timestamp() * 1000), name)


def _in_range(epoch_ms: int, name: str) -> int:
    if not 0 <= epoch_ms <= LATEST_MS:
        raise SelectionError(f"{name} must lie between 1970-01-01 and 9999-12-31")
    return epoch_ms
