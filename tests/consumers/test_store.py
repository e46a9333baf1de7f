"""The store against PostgreSQL: fixtures applied twice change nothing; writes only move forward;
events that overtook their message are applied when it lands; sync runs get real counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
import uuid
from pathlib import Path

import asyncpg
import pytest

from consumers.batch import merge
from consumers.mapping import map_record
from consumers.store import write_batch
from emulator import records as traffic
from kernel.records import EventRecord
from tests.consumers.support import apply, apply_batches, fixture_paths, fixture_record, table_state

pytestmark = pytest.mark.integration
PAGE, USER = "1000000001", "2000000001"


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
async def test_fixture_applied_twice_changes_nothing(conn: asyncpg.Connection, path: Path) -> None:
    first = await apply(conn, [fixture_record(path)])
    assert first.total_inserted > 0
    before = await table_state(conn)
    second = await apply(conn, [fixture_record(path)])
    assert (second.total_inserted, second.total_updated) == (0, 0)
    assert await table_state(conn) == before


async def test_all_fixtures_in_one_batch_twice(conn: asyncpg.Connection) -> None:
    records = [fixture_record(p) for p in fixture_paths()]
    await apply(conn, records)
    before = await table_state(conn)
    second = await apply(conn, records)
    assert (second.total_inserted, second.total_updated) == (0, 0)
    assert await table_state(conn) == before


async def test_events_that_overtook_their_message_apply_when_it_lands(conn: asyncpg.Connection) -> None:
    ig_page, ig_user = "17840000000000001", "1780000000000001"
    early = [
        traffic.webhook("message_edit", PAGE, USER, 5000, {"message_edit": {"mid": "m_1", "text": "v2", "num_edit": 2}}),
        traffic.webhook("message_edit", PAGE, USER, 4000, {"message_edit": {"mid": "m_1", "text": "v1", "num_edit": 1}}),
        traffic.webhook("reaction", PAGE, PAGE, 6000, {"reaction": {"mid": "m_1", "action": "react",
                                                                    "reaction": "love", "emoji": "x"}}),
        dataclasses.replace(traffic.message(ig_page, ig_user, "ig_1", 9000, ""), platform="instagram",
                            event={"sender": {"id": ig_user}, "message": {"mid": "ig_1", "is_deleted": True}}),
        dataclasses.replace(traffic.webhook("read", ig_page, ig_user, 9500, {"read": {"mid": "ig_2"}}),
                            platform="instagram"),
    ]
    await apply(conn, early)
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0
    await apply(conn, [traffic.message(PAGE, USER, "m_1", 1000, "v0"),
                       traffic.message(ig_page, ig_user, "ig_1", 2000, "unsent later"),
                       traffic.message(ig_page, ig_user, "ig_2", 3000, "read later", echo=True)])
    m1 = await conn.fetchrow("SELECT text, edit_count FROM messages WHERE mid = 'm_1'")
    assert (m1["text"], m1["edit_count"]) == ("v2", 2)
    ig1 = await conn.fetchrow("SELECT text, is_deleted FROM messages WHERE mid = 'ig_1'")
    assert (ig1["text"], ig1["is_deleted"]) == ("unsent later", True)
    watermark = await conn.fetchval("SELECT read_watermark FROM conversations WHERE page_id = $1", ig_page)
    assert watermark == await conn.fetchval("SELECT created_at FROM messages WHERE mid = 'ig_2'")
    assert await conn.fetchval("SELECT reaction FROM reactions WHERE mid = 'm_1'") == "love"


async def test_older_facts_never_overwrite_newer_ones(conn: asyncpg.Connection) -> None:
    run = traffic.new_run_id()
    await apply(conn, [
        traffic.message(PAGE, USER, "m_1", 60_000, "original"),
        traffic.webhook("message_edit", PAGE, USER, 61_000, {"message_edit": {"mid": "m_1", "text": "edited",
                                                                              "num_edit": 1}}),
        traffic.webhook("read", PAGE, USER, 70_000, {"read": {"watermark": 69_000}}),
        traffic.webhook("reaction", PAGE, USER, 80_000, {"reaction": {"mid": "m_1", "action": "unreact"}}),
    ])
    before = await conn.fetchrow("SELECT last_message_at, updated_at, read_watermark FROM conversations")
    await apply(conn, [  # all older than what is stored
        traffic.snapshot(PAGE, USER, run, 30_000, [("m_1", 60_000, "original", False)], 1),
        traffic.webhook("message_edit", PAGE, USER, 50_000, {"message_edit": {"mid": "m_1", "text": "stale",
                                                                              "num_edit": 1}}),
        traffic.webhook("read", PAGE, USER, 20_000, {"read": {"watermark": 19_000}}),
        traffic.webhook("reaction", PAGE, USER, 75_000, {"reaction": {"mid": "m_1", "action": "react",
                                                                      "reaction": "like", "emoji": "y"}}),
    ])
    assert await conn.fetchval("SELECT text FROM messages WHERE mid = 'm_1'") == "edited"
    after = await conn.fetchrow("SELECT last_message_at, updated_at, read_watermark FROM conversations")
    assert after == before
    assert await conn.fetchval("SELECT reaction FROM reactions") is None


async def test_conversation_counts_follow_messages_and_snapshots(conn: asyncpg.Connection) -> None:
    run = traffic.new_run_id()
    await apply(conn, [traffic.snapshot(PAGE, USER, run, 10_000, [("m_1", 9_000, "old", False)], 40)])
    await apply(conn, [traffic.message(PAGE, USER, "m_2", 20_000, "new inbound"),
                       traffic.message(PAGE, USER, "m_3", 30_000, "new reply", echo=True),
                       traffic.message(PAGE, USER, "m_4", 40_000, "another inbound")])
    row = await conn.fetchrow("SELECT message_count, unread_count, snippet, last_message_at, graph_id "
                              "FROM conversations")
    assert (row["message_count"], row["unread_count"], row["snippet"]) == (43, 1, "another inbound")
    assert row["last_message_at"] == await conn.fetchval("SELECT created_at FROM messages WHERE mid = 'm_4'")
    assert row["graph_id"] == f"t_{PAGE}_{USER}"


async def test_graph_records_add_real_counts_to_their_sync_run(conn: asyncpg.Connection) -> None:
    run = traffic.new_run_id()
    await conn.execute("INSERT INTO sync_runs (run_id, page_id, mode, trigger) VALUES ($1, $2, 'full', 'cli')",
                       uuid.UUID(run), PAGE)
    await apply(conn, [traffic.message(PAGE, USER, "m_1", 1_000_000, "via webhook")])
    messages = [("m_1", 1_000_000, "via webhook", False), ("m_2", 2_000_000, "missed webhook", True)]
    snapshot = traffic.snapshot(PAGE, USER, run, 2_000_000, messages, 2)
    await apply(conn, [snapshot])
    counts = await conn.fetchrow("SELECT inserted, updated, gap_messages FROM sync_runs")
    # inserted: m_2; updated: the conversation (snapshot fields); m_1 unchanged (webhook copy leads)
    assert tuple(counts) == (1, 1, 1)
    await apply(conn, [snapshot])  # a replay adds nothing
    assert tuple(await conn.fetchrow("SELECT inserted, updated, gap_messages FROM sync_runs")) == (1, 1, 1)
    other = traffic.snapshot(PAGE, "2000000002", traffic.new_run_id(), 3_000_000, [("m_9", 3_000_000, "x", False)], 1)
    result = await apply(conn, [other])  # its run row lives elsewhere: written, nothing to count into
    assert result.inserted["messages"] == 1


async def test_webhook_copy_replaces_graph_copy_of_a_message(conn: asyncpg.Connection) -> None:
    run = traffic.new_run_id()
    await apply(conn, [traffic.snapshot(PAGE, USER, run, 2_000, [("m_1", 1_000, "hello", False)], 1)])
    await apply(conn, [traffic.message(PAGE, USER, "m_1", 1_234, "hello")])
    row = await conn.fetchrow("SELECT source, created_at, raw->>'timestamp' AS ts FROM messages")
    assert (row["source"], row["ts"]) == ("webhook", "1234")


async def test_a_lost_edit_is_repaired_by_a_newer_graph_reading(conn: asyncpg.Connection) -> None:
    """The edit webhook (num_edit 1 at 12 s) was lost; a sync read at 20 s shows the edited text.
    The edit arriving late afterwards counts the edit but cannot bring back an older text, and a
    snapshot read before the edit changes nothing."""
    s, run = 1_000, traffic.new_run_id()
    await apply(conn, [traffic.message(PAGE, USER, "m_e", 10 * s, "helo")])
    await apply(conn, [traffic.snapshot(PAGE, USER, run, 20 * s, [("m_e", 10 * s, "hello", False)], 1)])
    assert await conn.fetchval("SELECT text FROM messages WHERE mid = 'm_e'") == "hello"
    late_edit = traffic.webhook("message_edit", PAGE, USER, 12 * s,
                                {"message_edit": {"mid": "m_e", "text": "hello?", "num_edit": 1}})
    older_snapshot = traffic.snapshot(PAGE, USER, run, 11 * s, [("m_e", 10 * s, "helo", False)], 1)
    await apply(conn, [late_edit, older_snapshot])
    row = await conn.fetchrow("SELECT text, edit_count FROM messages WHERE mid = 'm_e'")
    assert (row["text"], row["edit_count"]) == ("hello", 1)


async def test_a_message_first_read_from_the_graph_carries_that_reading_and_is_written_once(
        conn: asyncpg.Connection) -> None:
    """A full sync inserts a message with the time of the reading that showed its text, so an older
    edit webhook arriving later counts the edit but keeps the newer text; an edit newer than the
    reading wins. The insert is the only write (apply_graph_texts leaves the row alone)."""
    s, run = 1_000, traffic.new_run_id()
    reading = traffic.snapshot(PAGE, USER, run, 20 * s, [("m_o", 10 * s, "hello", False),
                                                         ("m_n", 11 * s, "hi", False)], 2)
    async with conn.transaction():  # apply's own transaction is a savepoint inside this one
        result = await apply(conn, [reading])
        rewrites = await conn.fetchval("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'messages'")
    assert (result.inserted["messages"], rewrites) == (2, 0)
    seen = await conn.fetch("SELECT text_seen_at FROM messages")
    assert [r["text_seen_at"] for r in seen] == [datetime.fromtimestamp(20.05, UTC)] * 2  # read_at = ts + 50 ms
    older_edit = traffic.webhook("message_edit", PAGE, USER, 12 * s,
                                 {"message_edit": {"mid": "m_o", "text": "hello?", "num_edit": 1}})
    newer_edit = traffic.webhook("message_edit", PAGE, USER, 30 * s,
                                 {"message_edit": {"mid": "m_n", "text": "hi!", "num_edit": 1}})
    await apply(conn, [older_edit, newer_edit])
    rows = {r["mid"]: (r["text"], r["edit_count"]) for r in
            await conn.fetch("SELECT mid, text, edit_count FROM messages")}
    assert rows == {"m_o": ("hello", 1), "m_n": ("hi!", 1)}


async def test_a_graph_reading_without_text_leaves_the_text_to_the_webhook_copy(conn: asyncpg.Connection) -> None:
    run = traffic.new_run_id()
    await apply(conn, [traffic.snapshot(PAGE, USER, run, 20_000, [("m_a", 10_000, None, False)], 1)])  # type: ignore[list-item]
    assert await conn.fetchval("SELECT text_seen_at FROM messages WHERE mid = 'm_a'") is None
    await apply(conn, [traffic.message(PAGE, USER, "m_a", 10_000, "a photo and a caption")])
    assert await conn.fetchval("SELECT text FROM messages WHERE mid = 'm_a'") == "a photo and a caption"


@pytest.mark.parametrize("together", [False, True], ids=["edit_and_unsend_first", "all_in_one_batch"])
async def test_an_edited_and_unsent_message_first_read_from_the_graph_keeps_its_edit(
        conn: asyncpg.Connection, together: bool) -> None:
    """An edit (at 12 s) and an unsend overtook the message; a sync read it at 20 s. As when the
    reading came second: the edit applies, the unsend keeps the last known text (the edit's)."""
    s, run = 1_000, traffic.new_run_id()
    edit = traffic.webhook("message_edit", PAGE, USER, 12 * s,
                           {"message_edit": {"mid": "m_u", "text": "edited", "num_edit": 1}})
    unsend = dataclasses.replace(traffic.message(PAGE, USER, "m_u", 13 * s, ""),
                                 event={"sender": {"id": USER}, "recipient": {"id": PAGE}, "timestamp": 13 * s,
                                        "message": {"mid": "m_u", "is_deleted": True}})
    reading = traffic.snapshot(PAGE, USER, run, 20 * s, [("m_u", 10 * s, "original", False)], 1)
    await apply_batches(conn, [[edit, unsend, reading]] if together else [[edit, unsend], [reading]])
    row = await conn.fetchrow("SELECT text, edit_count, is_deleted FROM messages WHERE mid = 'm_u'")
    assert (row["text"], row["edit_count"], row["is_deleted"]) == ("edited", 1, True)


async def test_reply_window_follows_the_last_inbound_message_of_either_source(conn: asyncpg.Connection) -> None:
    def at(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC)

    run = traffic.new_run_id()
    seen = [("m_1", 10_000, "hi", False), ("m_2", 20_000, "answer", True)]  # a Graph reading
    await apply(conn, [traffic.snapshot(PAGE, USER, run, 20_000, seen, 2)])
    columns = "SELECT last_inbound_at, last_outbound_at, reply_window_ends_at FROM conversations"
    assert tuple(await conn.fetchrow(columns)) == (at(10_000), at(20_000), at(10_000) + timedelta(hours=24))
    await apply(conn, [traffic.message(PAGE, USER, "m_3", 30_000, "again"),
                       traffic.message(PAGE, USER, "m_4", 25_000, "agent", echo=True)])
    after = tuple(await conn.fetchrow(columns))
    assert after == (at(30_000), at(25_000), at(30_000) + timedelta(hours=24))
    await apply(conn, [traffic.message(PAGE, USER, "m_0", 5_000, "a late, older message")])
    await apply(conn, [traffic.message(PAGE, USER, "m_3", 30_000, "again")])  # and a redelivery
    assert tuple(await conn.fetchrow(columns)) == after  # only forward


SPAN_MESSAGES = [("m_0", 1_000, "before the window", False), ("m_a", 10_000, "a", False),
                 ("m_b", 20_500, "b", False), ("m_c", 30_000, "c", True), ("m_d", 40_000, "d", False),
                 ("m_e", 40_700, "same second as the newest", False)]


async def _store_span_world(conn: asyncpg.Connection) -> None:
    await apply(conn, [traffic.message(PAGE, USER, mid, ms, text, echo=out) for mid, ms, text, out in SPAN_MESSAGES])


def _reading_without_b() -> list[EventRecord]:
    kept = [m for m in SPAN_MESSAGES if m[0] in ("m_a", "m_c", "m_d")]  # Meta no longer has m_b
    return [traffic.snapshot(PAGE, USER, traffic.new_run_id(), 41_000, kept, 3)]


async def test_a_graph_reading_marks_what_it_lacks_inside_its_span_only(conn: asyncpg.Connection) -> None:
    await _store_span_world(conn)
    await apply(conn, _reading_without_b())
    rows = {r["mid"]: (r["is_deleted"], r["deleted_source"], r["text"]) for r in await conn.fetch(
        "SELECT mid, is_deleted, deleted_source, text FROM messages")}
    assert rows["m_b"] == (True, "graph", "b")  # inside (10 s, 40 s): unsent without a webhook, text kept
    assert rows["m_0"] == (False, None, "before the window")  # older than the reading's oldest: not judged
    assert rows["m_e"] == (False, None, "same second as the newest")  # may be newer than the reading
    assert sum(r[0] for r in rows.values()) == 1
    snippet = await conn.fetchval("SELECT snippet FROM conversations WHERE page_id = $1", PAGE)
    assert snippet == "d"  # the reading's own snippet: it was taken after every stored message

    again = await apply(conn, _reading_without_b())
    assert again.updated.get("messages", 0) == 0


async def test_graph_unsends_can_be_turned_off(conn: asyncpg.Connection) -> None:
    await _store_span_world(conn)
    async with conn.transaction():
        await write_batch(conn, merge(map_record(r) for r in _reading_without_b()),
                          graph_unsends=False)
    assert await conn.fetchval("SELECT count(*) FROM messages WHERE is_deleted") == 0


async def test_a_webhook_unsend_confirms_a_graph_one(conn: asyncpg.Connection) -> None:
    await _store_span_world(conn)
    await apply(conn, _reading_without_b())
    unsend = dataclasses.replace(traffic.message(PAGE, USER, "m_b", 50_000, ""),
                                 event={"sender": {"id": USER}, "message": {"mid": "m_b", "is_deleted": True}})
    await apply(conn, [unsend])
    assert await conn.fetchval("SELECT deleted_source FROM messages WHERE mid = 'm_b'") == "webhook"
    before = await table_state(conn)
    again = await apply(conn, [unsend, *_reading_without_b()])
    assert (again.total_inserted, again.total_updated) == (0, 0)
    assert await table_state(conn) == before
