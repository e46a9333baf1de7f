"""What a replay selects: times (ISO 8601 and relative), pages, and the API's JSON form."""

from __future__ import annotations

import pytest

from replay.window import SelectionError, from_json, parse_time, selection

NOW = 1_796_400_000_000  # 2026-12-03T...Z, a fixed clock


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW),
    ("-90s", NOW - 90_000),
    ("-30m", NOW - 1_800_000),
    ("-2h", NOW - 7_200_000),
    ("-7d", NOW - 7 * 86_400_000),
    ("2026-12-03T10:00:00Z", 1_796_292_000_000),
    ("2026-12-03T11:00:00+01:00", 1_796_292_000_000),
    ("2026-12-03T10:00:00", 1_796_292_000_000),  # no offset: UTC
    ("2026-12-03", 1_796_256_000_000),
])
def test_times(text: str, expected: int) -> None:
    assert parse_time(text, now_ms=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-2w", "+2h", "2h", "2026-13-01", ""])
def test_bad_times_name_the_field(text: str) -> None:
    with pytest.raises(SelectionError, match="^since must be ISO 8601"):
        parse_time(text, now_ms=NOW, name="since")


@pytest.mark.parametrize("text", ["-99999999999d", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "-60000000d"])
def test_times_outside_kafka_and_postgresql_name_the_field(text: str) -> None:
    """Kafka refuses a negative time to seek by, and PostgreSQL one past its range: refused here."""
    with pytest.raises(SelectionError, match="^since must lie between 1970-01-01 and 9999-12-31"):
        parse_time(text, now_ms=NOW, name="since")


def test_window_is_half_open_and_pages_filter() -> None:
    chosen = selection("raw", ["p1", "p2"], "2026-12-03T10:00:00Z", "2026-12-03T11:00:00Z", now_ms=NOW)
    assert chosen.wants_time(1_796_292_000_000) and not chosen.wants_time(1_796_292_000_000 - 1)
    assert chosen.wants_time(1_796_295_600_000 - 1) and not chosen.wants_time(1_796_295_600_000)
    assert chosen.wants_page("p2") and not chosen.wants_page("p3") and not chosen.wants_page(None)
    everything = selection("dlq", now_ms=NOW)
    assert everything.wants_page("any") and everything.wants_page(None) and everything.wants_time(0)


@pytest.mark.parametrize(("args", "message"), [
    (("kafka",), "from must be raw or dlq"),
    (("raw", ["bad id!"]), "page ids are"),
    (("raw", [], "-1h", "-2h"), "until must be later than since"),
])
def test_bad_selections(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        selection(*args, now_ms=NOW)  # type: ignore[arg-type]


def test_json_form() -> None:
    chosen = from_json({"from": "raw", "page_id": "p1", "since": "-2h", "dry_run": True}, now_ms=NOW)
    assert (chosen.source, chosen.pages, chosen.since_ms, chosen.until_ms, chosen.dry_run) == (
        "raw", frozenset({"p1"}), NOW - 7_200_000, None, True)
    assert from_json({"from": "dlq", "page_id": ["a", "b"]}, now_ms=NOW).pages == frozenset({"a", "b"})


@pytest.mark.parametrize(("body", "message"), [
    ({}, "from is required"),
    ({"from": "raw", "page": "p"}, "unknown field"),
    ({"from": "raw", "page_id": 7}, "page_id must be"),
    ({"from": "raw", "since": 1700000000000}, "since must be a string"),
    ({"from": "raw", "dry_run": "yes"}, "dry_run must be true or false"),
])
def test_json_refusals(body: dict[str, object], message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        from_json(body, now_ms=NOW)
