"""Convergence: any order, duplication and batching of one conversation's events gives the same rows.

The pool mixes every kind the writer merges: webhook and graph copies of the same messages, a
message only the graph saw (a missed webhook), edits, a delete, reactions, watermarks, an Instagram
style per-message read, a postback, handovers (pass, take, request), a standby message, a story reply,
a message whose webhook time is ISO text (unknown) with a graph copy that knows it, and two snapshots
of different ages in different folders.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.records import EventRecord
from emulator import records as traffic
from tests.consumers.support import apply_batches, table_state, truncate

pytestmark = pytest.mark.integration
PAGE, USER, RUN = "1000000001", "2000000001", "6f1c2d3e-4b5a-4c6d-8e7f-901234567890"
S = 1_000  # ms per second


def _pool() -> list[EventRecord]:
    wh = traffic.webhook
    # m_1 was edited at 12 s and 13 s: both snapshots (read at 20 s and 41 s) show its final text
    m1, m2, m3, m4 = (("m_1", 10 * S, "hello!!", False), ("m_2", 20 * S, "hi there", True),
                      ("m_3", 30 * S, "question", False), ("m_4", 40 * S, "missed", False))
    return [
        traffic.message(PAGE, USER, "m_1", 10 * S + 123, "hello"),
        traffic.message(PAGE, USER, "m_2", 20 * S + 456, "hi there", echo=True),
        traffic.message(PAGE, USER, "m_3", 30 * S + 789, "question"),
        wh("message_edit", PAGE, USER, 12 * S, {"message_edit": {"mid": "m_1", "text": "hello!", "num_edit": 1}}),
        wh("message_edit", PAGE, USER, 13 * S, {"message_edit": {"mid": "m_1", "text": "hello!!", "num_edit": 2}}),
        wh("reaction", PAGE, USER, 25 * S, {"reaction": {"mid": "m_2", "action": "react", "reaction": "love",
                                                        "emoji": "\u2764"}}),
        wh("reaction", PAGE, USER, 26 * S, {"reaction": {"mid": "m_2", "action": "unreact"}}),
        wh("reaction", PAGE, USER, 27 * S, {"reaction": {"mid": "m_1", "action": "react", "reaction": "like",
                                                        "emoji": "x"}}),
        wh("delivery", PAGE, USER, 21 * S, {"delivery": {"mids": ["m_2"], "watermark": 21 * S}}),
        wh("read", PAGE, USER, 22 * S, {"read": {"watermark": 22 * S}}),
        wh("read", PAGE, USER, 35 * S, {"read": {"watermark": 35 * S}}),
        wh("read", PAGE, USER, 36 * S, {"read": {"mid": "m_2"}}),
        dataclasses.replace(wh("message", PAGE, USER, 50 * S, {"message": {"mid": "m_3", "is_deleted": True}}),
                            platform="messenger"),
        wh("postback", PAGE, USER, 31 * S, {"postback": {"mid": "pb_1", "title": "Yes", "payload": "YES"}}),
        wh("handover", PAGE, USER, 15 * S, {"pass_thread_control": {"new_owner_app_id": "111", "metadata": "a"}}),
        wh("handover", PAGE, USER, 33 * S, {"take_thread_control": {"previous_owner_app_id": "111",
                                                                    "new_owner_app_id": "222"}}),
        wh("handover", PAGE, USER, 34 * S, {"request_thread_control": {"requested_owner_app_id": "111"}}),
        wh("message", PAGE, USER, 32 * S, {"standby": True, "message": {"mid": "m_6", "text": "standby"}}),
        wh("message", PAGE, USER, 33 * S, {"message": {"mid": "m_7", "text": "nice",
                                                      "reply_to": {"story": {"url": "https://s.example/1", "id": "9"}}}}),
        dataclasses.replace(wh("message", PAGE, USER, 60 * S, {"timestamp": "2026-01-01T00:00:39+0000",
                                                             "message": {"mid": "m_5", "text": "iso"}}), timestamp=None),
        traffic.snapshot(PAGE, USER, RUN, 20 * S, [m1, m2], 2),
        # read at 41 s, it holds every message Meta had (a sync judges what it lacks inside its span)
        _in_folder(traffic.snapshot(PAGE, USER, RUN, 41 * S, [m1, m2, m3, m4, ("m_6", 32 * S, "standby", False),
                                                              ("m_7", 33 * S, "nice", False),
                                                              ("m_5", 39 * S, "iso", False)], 7), "other"),
    ]


def _in_folder(record: EventRecord, folder: str) -> EventRecord:
    return dataclasses.replace(record, event={**record.event, "folder": folder})


POOL = _pool()


@st.composite
def deliveries(draw: Any) -> list[list[EventRecord]]:
    """A permutation of the pool with some events delivered again, cut into one to four batches."""
    order = draw(st.permutations(range(len(POOL))))
    repeats = draw(st.lists(st.tuples(st.sampled_from(range(len(POOL))), st.integers(0, len(POOL))), max_size=5))
    sequence = list(order)
    for event, position in repeats:
        sequence.insert(position, event)
    cuts = sorted(draw(st.sets(st.integers(1, len(sequence) - 1), max_size=3)))
    bounds = [0, *cuts, len(sequence)]
    return [[POOL[i] for i in sequence[a:b]] for a, b in zip(bounds, bounds[1:], strict=False)]


@pytest.fixture
async def reference(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the events applied once each, one at a time, in time order."""
    await apply_batches(conn, [[r] for r in sorted(POOL, key=lambda r: r.timestamp or 0)])
    state = await table_state(conn, with_clock=False)
    await truncate(conn)
    return state


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=deliveries())
async def test_any_order_and_duplication_converges(conn: asyncpg.Connection,
                                                   reference: dict[str, list[tuple[Any, ...]]],
                                                   batches: list[list[EventRecord]]) -> None:
    await truncate(conn)
    await apply_batches(conn, batches)
    assert await table_state(conn, with_clock=False) == reference
    stored = await conn.fetchval("SELECT count(*) FROM messages")
    assert await conn.fetchval("SELECT sum(message_rows) FROM conversations") == stored  # the writer's own count


async def test_reference_is_what_the_events_say(conn: asyncpg.Connection,
                                                reference: dict[str, list[tuple[Any, ...]]]) -> None:
    """Guard against a reference that converges on something wrong."""
    await apply_batches(conn, [POOL])
    row = await conn.fetchrow("SELECT * FROM conversations")
    assert (row["message_count"], row["graph_id"], row["snippet"]) == (7, f"t_{PAGE}_{USER}", "missed")
    assert row["read_watermark"] == await conn.fetchval("SELECT to_timestamp(35)")
    assert (row["folder"], row["thread_owner_app_id"]) == ("other", "222")  # the take, not the request after it
    texts = dict(await conn.fetch("SELECT mid, text FROM messages"))
    assert texts == {"m_1": "hello!!", "m_2": "hi there", "m_3": "question", "m_4": "missed", "m_5": "iso",
                     "m_6": "standby", "m_7": "nice"}
    deleted = dict(await conn.fetch("SELECT mid, is_deleted FROM messages"))
    assert deleted == {"m_1": False, "m_2": False, "m_3": True, "m_4": False, "m_5": False, "m_6": False, "m_7": False}
    sources = dict(await conn.fetch("SELECT mid, source FROM messages"))
    assert sources == {"m_1": "webhook", "m_2": "webhook", "m_3": "webhook", "m_4": "graph", "m_5": "webhook",
                       "m_6": "webhook", "m_7": "webhook"}
    m5 = await conn.fetchrow("SELECT created_at, time_unknown FROM messages WHERE mid = 'm_5'")
    assert (m5["created_at"], m5["time_unknown"]) == (await conn.fetchval("SELECT to_timestamp(39)"), False)
    flags = {r["mid"]: (r["is_standby"], r["story"]) for r in await conn.fetch(
        "SELECT mid, is_standby, story::text FROM messages WHERE is_standby OR story IS NOT NULL")}
    assert flags == {"m_6": (True, None), "m_7": (False, '{"id": "9", "url": "https://s.example/1", "type": "reply"}')}
    assert await conn.fetchval("SELECT count(*) FROM reactions WHERE reaction IS NOT NULL") == 1
