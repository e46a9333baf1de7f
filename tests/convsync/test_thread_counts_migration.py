"""Migration 0018 gives every stored conversation its message total (`message_rows`), counted from
the messages already there, so the writer's refresh continues from the right number."""

from __future__ import annotations

import asyncpg
import pytest

from convsync.migrate import available
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra

pytestmark = [pytest.mark.integration]

COUNTS = "0018_thread_counts"


async def test_the_migration_counts_the_stored_messages(infra: Infra) -> None:
    url = await create_database(infra.database_url, None)
    conn = await asyncpg.connect(url)
    try:
        before = [m for m in available() if m.version < COUNTS]
        (counts,) = [m for m in available() if m.version == COUNTS]
        for migration in before:
            await conn.execute(migration.sql)
        await conn.execute("""
            INSERT INTO conversations (page_id, user_id, platform) VALUES ('P1', 'u1', 'messenger'),
                ('P1', 'u2', 'messenger'), ('P2', 'u1', 'messenger');
            INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, source)
            SELECT 'm' || n, 'P1', 'u1', 'inbound', 'u1', now(), 'webhook' FROM generate_series(1, 3) n;
            INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, source)
                VALUES ('m1', 'P2', 'u1', 'outbound', 'P2', now(), 'graph');
        """)
        await conn.execute(counts.sql)
        rows = {(r["page_id"], r["user_id"]): r["message_rows"]
                for r in await conn.fetch("SELECT page_id, user_id, message_rows FROM conversations")}
        assert rows == {("P1", "u1"): 3, ("P1", "u2"): 0, ("P2", "u1"): 1}
    finally:
        await conn.close()
        await drop_database(infra.database_url, url)
