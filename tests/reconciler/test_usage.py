"""Reading Meta's usage headers."""

from __future__ import annotations

import json

from reconciler.usage import Usage, parse_usage


def buc(page: str, **entry: object) -> dict[str, str]:
    return {"X-Business-Use-Case-Usage": json.dumps({page: [{"type": "pages", **entry}]})}


def test_call_count_apart_from_the_time_budgets() -> None:
    headers = buc("p1", call_count=40, total_cputime=75, total_time=10, estimated_time_to_regain_access=0)
    assert parse_usage(headers, "p1") == Usage(40.0, None, 75.0)


def test_regain_minutes_become_seconds() -> None:
    headers = buc("p1", call_count=100, estimated_time_to_regain_access=3)
    assert parse_usage(headers, "p1") == Usage(100.0, 180.0, 0.0)


def test_app_usage_counts_too() -> None:
    headers = {**buc("p1", call_count=10), "X-App-Usage": json.dumps({"call_count": 90})}
    usage = parse_usage(headers, "p1")
    assert usage is not None and usage.percent == 90.0


def test_other_business_ids_are_used_when_the_page_is_not_named() -> None:
    usage = parse_usage(buc("biz-7", call_count=55), "p1")
    assert usage is not None and usage.percent == 55.0


def test_absent_or_garbage_is_unknown_not_zero() -> None:
    assert parse_usage({}, "p1") is None
    assert parse_usage({"X-Business-Use-Case-Usage": "{not json"}, "p1") is None
    assert parse_usage({"X-App-Usage": "[1,2]"}, "p1") is None
