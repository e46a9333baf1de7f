"""refresh_conversations reads what a batch changed, not the whole conversation.

Counted from the statement's plan (EXPLAIN ANALYZE: the rows every scan of `messages` produced and
filtered out), not timed: a conversation of 1,500 stored messages gets one more, and the refresh must
read a few dozen message rows at most, with or without a snapshot and with or without replies. The
statement that recounted every message (bench/thread_length.py) read all 1,500, so this fails for it.
The stored total (`message_rows`) must equal the messages there are, however the batches fell.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from consumers import store
from consumers.batch import merge
from consumers.mapping import map_record
from emulator import records as traffic
from kernel.records import EventRecord
from tests.consumers.support import apply, apply_batches

pytestmark = pytest.mark.integration
PAGE, USER = "1000000001", "2000000001"
LENGTH = 1500
BOUND = 60  # message rows one refresh may read here: the new message, the newest, a reply or two


class Captured:
    """An asyncpg connection that keeps the refresh statement's arguments, and with `skip_refresh`
    does not run it."""

    def __init__(self, conn: asyncpg.Connection, *, skip_refresh: bool) -> None:
        self.conn = conn
        self.skip_refresh = skip_refresh
        self.refresh_args: tuple[Any, ...] | None = None

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        if query == store.sql("refresh_conversations"):
            self.refresh_args = args
            if self.skip_refresh:
                return []
        return list(await self.conn.fetch(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        return str(await self.conn.execute(query, *args))


def thread(length: int, *, reply_every: int | None, user: str = USER) -> list[EventRecord]:
    return [traffic.message(PAGE, user, f"m_{user}_{i}", 1_000_000 + 1000 * i, f"text {i}",
                            echo=reply_every is not None and i % reply_every == reply_every - 1)
            for i in range(length)]


async def store_page(conn: asyncpg.Connection, *, reply_every: int | None) -> None:
    """The long conversation, among a hundred short ones of the same page (the planner sees a table
    like a real one, where one conversation is a small part of it), then ANALYZEd."""
    others = [r for n in range(100) for r in thread(40, reply_every=3, user=f"3{n:09d}")]
    records = thread(LENGTH, reply_every=reply_every) + others
    await apply_batches(conn, [records[i:i + 1000] for i in range(0, len(records), 1000)])
    await conn.execute("ANALYZE")


def message_rows_read(plan: Any) -> int:
    """Rows that the plan's scans of `messages` returned or filtered out, over all their loops
    (EXPLAIN gives both per loop)."""
    read = 0
    if plan.get("Relation Name") == "messages":
        read += round(plan.get("Actual Loops", 0) * (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)))
    for child in plan.get("Plans", []):
        read += message_rows_read(child)
    return read


async def rows_read_by_refresh(conn: asyncpg.Connection, new: list[EventRecord]) -> int:
    """The message rows the refresh reads when the consumer writes `new`: the batch is written once
    to learn the refresh's arguments, then again without its refresh, which then runs under EXPLAIN
    ANALYZE on the same state. Both are rolled back."""
    batch = merge(map_record(r) for r in new)
    learning = Captured(conn, skip_refresh=False)
    async with rolled_back(conn):
        await store.write_batch(learning, batch)  # type: ignore[arg-type]
    assert learning.refresh_args is not None
    async with rolled_back(conn):
        await store.write_batch(Captured(conn, skip_refresh=True), batch)  # type: ignore[arg-type]
        explained = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + store.sql("refresh_conversations"),
                                        *learning.refresh_args)
    return message_rows_read(json.loads(explained)[0]["Plan"])


@contextlib.asynccontextmanager
async def rolled_back(conn: asyncpg.Connection) -> AsyncIterator[None]:
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield
    finally:
        await transaction.rollback()


async def long_conversation(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT message_count, unread_count, message_rows FROM conversations WHERE user_id = $1",
                              USER)
    assert row is not None
    return row


async def assert_rows_match(conn: asyncpg.Connection) -> None:
    wrong = await conn.fetch("""
        SELECT c.page_id, c.user_id, c.message_rows, count(m.mid) AS stored
        FROM conversations c LEFT JOIN messages m ON m.page_id = c.page_id AND m.user_id = c.user_id
        GROUP BY c.page_id, c.user_id, c.message_rows HAVING c.message_rows <> count(m.mid)""")
    assert [tuple(r) for r in wrong] == []


@pytest.mark.parametrize("reply_every", [None, 7], ids=["never answered", "answered"])
async def test_refresh_reads_the_batch_not_the_conversation(conn: asyncpg.Connection, reply_every: int | None) -> None:
    await store_page(conn, reply_every=reply_every)
    new = [traffic.message(PAGE, USER, "m_new", 1_000_000 + 1000 * LENGTH, "one more")]
    assert await rows_read_by_refresh(conn, new) <= BOUND
    await apply(conn, new)
    row = await long_conversation(conn)
    replies = 0 if reply_every is None else LENGTH // reply_every
    since_reply = LENGTH if reply_every is None else LENGTH - (LENGTH // reply_every) * reply_every
    assert (row["message_count"], row["message_rows"]) == (LENGTH + 1, LENGTH + 1)
    assert row["unread_count"] == (LENGTH - replies + 1 if reply_every is None else since_reply + 1)
    await assert_rows_match(conn)


async def test_refresh_after_a_snapshot_reads_only_what_came_after(conn: asyncpg.Connection) -> None:
    await store_page(conn, reply_every=None)
    newest = 1_000_000 + 1000 * (LENGTH - 1)
    await apply(conn, [traffic.snapshot(PAGE, USER, traffic.new_run_id(), newest + 10,
                                        [(f"m_{USER}_{LENGTH - 1}", newest, f"text {LENGTH - 1}", False)], LENGTH)])
    new = [traffic.message(PAGE, USER, "m_new", newest + 5000, "after the snapshot")]
    assert await rows_read_by_refresh(conn, new) <= BOUND
    await apply(conn, new)
    row = await long_conversation(conn)
    assert (row["message_count"], row["unread_count"], row["message_rows"]) == (LENGTH + 1, 1, LENGTH + 1)


async def test_a_message_that_moves_only_the_total_does_not_count_as_a_changed_conversation(
        conn: asyncpg.Connection) -> None:
    """A sync that finds a message older than the snapshot it reads (which already counted it) adds a
    message row, and the stored total with it, but nothing the conversation shows: the write reports
    the message, not the conversation."""
    run = traffic.new_run_id()
    older = [(f"m_{i}", 1_000_000 + 1000 * i, f"text {i}", False) for i in range(5)]
    reading = traffic.snapshot(PAGE, USER, run, 1_010_000, older[1:], 5)
    await apply(conn, [reading])
    result = await apply(conn, [traffic.snapshot(PAGE, USER, run, 1_010_000, older, 5)])
    assert result.inserted["messages"] == 1
    assert result.updated["conversations"] == 0
    row = await long_conversation(conn)
    assert (row["message_count"], row["message_rows"]) == (5, 5)
