"""Every table can be distributed by page_id (Citus): each primary and unique key of a table that holds
page data includes page_id, and the tables without it are the few kept whole on one node."""

from __future__ import annotations

import asyncpg
import pytest

from convsync.migrate import available
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra

pytestmark = [pytest.mark.integration]

# Kept whole on the coordinator under Citus (README, "Past one PostgreSQL"): not page data. A replay
# may span several pages (its page_id is set only when it names one).
UNDISTRIBUTED = {"schema_migrations", "replays", "console_sessions", "reconciler_replicas"}

REKEY = "0015_page_keys"

UNIQUE_KEYS = """
SELECT t.relname AS table_name, i.relname AS key_name,
       array_agg(a.attname ORDER BY k.ord) AS columns
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = 'public' AND x.indisunique
GROUP BY t.relname, i.relname
"""


async def test_every_primary_and_unique_key_includes_page_id(conn: asyncpg.Connection) -> None:
    keys = await conn.fetch(UNIQUE_KEYS)
    tables = {r["table_name"] for r in await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")}
    with_page = {r["table_name"] for r in await conn.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'page_id'")}
    assert {"messages", "reactions", "conversations", "sync_runs"} <= with_page
    assert tables - with_page <= UNDISTRIBUTED, "a new table without page_id: give it one, or say why it is kept whole"
    wrong = [(r["table_name"], r["key_name"], list(r["columns"])) for r in keys
             if r["table_name"] not in UNDISTRIBUTED and "page_id" not in r["columns"]]
    assert wrong == []


async def test_the_check_sees_a_key_without_page_id(conn: asyncpg.Connection) -> None:
    await conn.execute("CREATE UNIQUE INDEX messages_mid_alone ON messages (mid)")
    keys = await conn.fetch(UNIQUE_KEYS)
    assert ("messages", ["mid"]) in [(r["table_name"], list(r["columns"])) for r in keys]


async def test_the_migration_keeps_every_row_and_gives_reactions_their_page(infra: Infra) -> None:
    url = await create_database(infra.database_url, None)
    conn = await asyncpg.connect(url)
    try:
        before, (rekey,) = [m for m in available() if m.version < REKEY], [m for m in available() if m.version == REKEY]
        for migration in before:
            await conn.execute(migration.sql)
        await conn.execute("""
            INSERT INTO pages (page_id, graph_page_id, platform) VALUES ('P1', 'P1', 'messenger'), ('P2', 'P2', 'messenger');
            INSERT INTO conversations (page_id, user_id, platform) VALUES ('P1', 'u1', 'messenger'),
                ('P2', 'u2', 'messenger');
            INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, source)
                VALUES ('m1', 'P1', 'u1', 'inbound', 'u1', now(), 'webhook');
            INSERT INTO reactions (mid, user_id, reaction, reacted_at) VALUES
                ('m1', 'u1', 'love', now()),          -- its message is stored
                ('m_later', 'u2', 'like', now()),     -- not yet: its person's one conversation says the page
                ('m_page', 'P2', 'like', now()),      -- the page itself reacted
                ('m_lost', 'nobody', 'wow', now());   -- nothing says where: kept, page unknown
            INSERT INTO message_edits (mid, page_id, user_id, num_edit, edited_at) VALUES ('m9', 'P1', 'u1', 1, now());
        """)
        await conn.execute(rekey.sql)
        found = {(r["mid"], r["page_id"]) for r in await conn.fetch("SELECT mid, page_id FROM reactions")}
        assert found == {("m1", "P1"), ("m_later", "P2"), ("m_page", "P2"), ("m_lost", "")}
        assert await conn.fetchval("SELECT count(*) FROM message_edits") == 1
        # the same mid on two pages is now two messages
        await conn.execute("INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, source) "
                           "VALUES ('m1', 'P2', 'u2', 'inbound', 'u2', now(), 'webhook')")
    finally:
        await conn.close()
        await drop_database(infra.database_url, url)
