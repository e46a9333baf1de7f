"""The console's pure parts: session ids, CSRF checks, dead-letter grouping, rates, how times read."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, generate_latest

from console import humanize, sessions
from console.deadletters import DeadLetter, group, kind_of
from console.system import Cached, Rate, accepted_events

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


def test_session_ids_are_random_and_only_their_digest_is_kept() -> None:
    first, second = sessions.issue(), sessions.issue()
    assert first.cookie != second.cookie and first.csrf_token != second.csrf_token
    assert sessions.looks_like_id(first.cookie) and len(first.digest) == 32
    assert first.cookie.encode() not in first.digest and first.cookie not in repr(first)
    for forged in (None, "", "short", "x" * 65, "has space in it and is long", "ünïcode-" * 4, "a;b=c" * 8):
        assert not sessions.looks_like_id(forged)


def test_the_csrf_token_must_be_the_sessions_own() -> None:
    session = sessions.Session("token-of-this-session", NOW)
    assert sessions.csrf_ok(session, "token-of-this-session")
    for given in (None, "", "token-of-another-session", ["token-of-this-session"], 17):
        assert not sessions.csrf_ok(session, given)


def test_dead_letters_are_grouped_by_kind_most_frequent_first() -> None:
    assert kind_of("RecordError: not JSON at 3", None) == "RecordError"
    assert kind_of("StringDataRightTruncationError: value too long", "22001") == \
        "refused by PostgreSQL (SQLSTATE 22001)"
    assert kind_of("", None) == "no error recorded"
    letters = [DeadLetter(1, "p", "A", "A: old"), DeadLetter(5, "p", "B", "B: one"),
               DeadLetter(3, None, "A", "A: newest of A"), DeadLetter(2, "p", "C", "C: x")]
    kinds, latest = group(letters, latest=2)
    assert [(k.kind, k.count, k.latest_error, k.latest_at_ms) for k in kinds] == [
        ("A", 2, "A: newest of A", 3), ("B", 1, "B: one", 5), ("C", 1, "C: x", 2)]
    assert [d.at_ms for d in latest] == [5, 3]


def test_the_webhook_rate_is_measured_between_readings() -> None:
    rate = Rate(window_s=60)
    assert rate.observe(100.0, 0) is None  # one reading says nothing yet
    assert rate.observe(110.0, 50) == 5.0
    assert rate.observe(200.0, 950) == 10.0  # the reading at 100 s left the window
    assert rate.observe(201.0, 950) is not None and rate.observe(202.0, 10) == 0.0  # a restarted counter


def test_accepted_events_are_read_from_the_edges_metrics() -> None:
    registry = CollectorRegistry()
    events = Counter("convsync_webhook_events", "x", ["kind"], registry=registry)
    events.labels("message").inc(7)
    events.labels("read").inc(3)
    Counter("convsync_other", "x", registry=registry).inc(100)
    assert accepted_events(generate_latest(registry)) == 10


async def test_kafka_answers_are_cached_and_a_failure_is_unknown() -> None:
    calls: list[int] = []

    async def read() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("broker down")
        return len(calls)

    cached = Cached(read, ttl_s=5, timeout_s=1)
    assert await cached.get(0.0) == 1 and await cached.get(4.9) == 1 and len(calls) == 1
    assert await cached.get(5.0) is None  # the broker did not answer: unknown, not an error page
    assert await cached.get(10.0) == 3


def test_times_read_as_an_operator_says_them() -> None:
    assert humanize.ago(None) == "never"
    assert humanize.ago(NOW - dt.timedelta(seconds=12), NOW) == "12 s ago"
    assert humanize.ago(NOW - dt.timedelta(hours=3, minutes=5), NOW) == "3 h ago"
    assert humanize.ago(NOW + dt.timedelta(minutes=4, seconds=1), NOW) == "in 4 min"
    assert humanize.size(1536) == "1.5 KiB" and humanize.size(12) == "12 B" and humanize.size(None) == "unknown"
    assert humanize.window_open(NOW + dt.timedelta(seconds=1), NOW)
    assert not humanize.window_open(NOW, NOW) and not humanize.window_open(None, NOW)


def test_paging_reads_the_offset_defensively_and_links_only_to_windows_that_exist() -> None:
    from console.paging import offset_of, window

    assert [offset_of(raw) for raw in (None, "", "-5", "x", "100", "9" * 30)] == [0, 0, 0, 0, 100, 10_000_000]
    assert window(0, 50, 120) == window(0, 50, 120, 50)
    first, middle, last = window(0, 50, 120), window(50, 50, 120), window(100, 20, 120)
    assert (first.first, first.last, first.previous, first.next) == (1, 50, None, 50)
    assert (middle.previous, middle.next) == (0, 100)
    assert (last.first, last.last, last.previous, last.next) == (101, 120, 50, None)
    empty = window(0, 0, 0)
    assert (empty.first, empty.last, empty.previous, empty.next) == (0, 0, None, None)
