"""Meta's own account of our rate budget, read from response headers (pure).

`X-Business-Use-Case-Usage` is JSON keyed by business object id (the page), each a list of
`{"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}` with the
percentages 0-100 and the wait in minutes. `X-App-Usage` carries the same percentages for the app.
Headers absent or unreadable mean "unknown", never "zero": the governor then keeps its own pace.

`call_count` is kept apart from the time percentages: the governor's pace spends the first, while the
others grow with the size of the answers (a page of 50 conversations with 20 messages each is heavy
whatever the pace); when those run out Meta throttles, and the throttle's wait is what we honour.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

BUC_HEADER = "X-Business-Use-Case-Usage"
APP_HEADER = "X-App-Usage"
_TIME_FIELDS = ("total_cputime", "total_time")


@dataclass(frozen=True, slots=True)
class Usage:
    percent: float  # the highest reported call_count: the budget our pace spends
    regain_s: float | None  # estimated_time_to_regain_access in seconds, when Meta gave one > 0
    time_percent: float = 0.0  # the highest total_time / total_cputime: what heavy answers cost Meta


def parse_usage(headers: Mapping[str, str], page_id: str) -> Usage | None:
    """The usage Meta reported for this page (and the app), or None when it reported nothing usable."""
    entries = [*_buc_entries(headers.get(BUC_HEADER), page_id), *_app_entries(headers.get(APP_HEADER))]
    if not entries:
        return None
    calls = max(_number(e.get("call_count")) for e in entries)
    time_spent = max(max(_number(e.get(n)) for n in _TIME_FIELDS) for e in entries)
    regain_min = max((_number(e.get("estimated_time_to_regain_access")) for e in entries), default=0.0)
    return Usage(calls, regain_min * 60.0 if regain_min > 0 else None, time_spent)


def app_percent(headers: Mapping[str, str]) -> float | None:
    """The app's own usage (`X-App-Usage`): the highest of its percentages, None when absent."""
    entries = _app_entries(headers.get(APP_HEADER))
    if not entries:
        return None
    return max(_number(entries[0].get(n)) for n in ("call_count", *_TIME_FIELDS))


def _buc_entries(raw: str | None, page_id: str) -> list[Mapping[str, Any]]:
    data = _json(raw)
    if not isinstance(data, Mapping):
        return []
    chosen = data.get(page_id, None)
    values: Iterable[Any] = [chosen] if chosen is not None else data.values()
    entries: list[Mapping[str, Any]] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        entries.extend(item for item in items if isinstance(item, Mapping))
    return entries


def _app_entries(raw: str | None) -> list[Mapping[str, Any]]:
    data = _json(raw)
    return [data] if isinstance(data, Mapping) else []


def _json(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)
