"""The processes' connections plan every statement for each run (plan_cache_mode=force_custom_plan).

asyncpg prepares every statement; after five runs PostgreSQL may keep one generic plan for it for the
connection's life. A writer started on small tables kept plans made for them while a page grew, and
refreshing its conversations came to walk every message of the page for each one (POST to row visible
p99 1.3-2.2 s at 2,000/s in bench/consume.py, 221 ms with plans made per run)."""

from __future__ import annotations

import asyncpg
import pytest

from consumers.batch import merge
from consumers.mapping import map_record
from consumers.store import write_batch
from emulator import records as traffic
from kernel.settings import load

pytestmark = [pytest.mark.integration]


async def _generic_plans_after_writing(url: str, server_settings: dict[str, str] | None) -> int:
    records = traffic.mixed(240, pages=1, messages_per_conversation=6, seed=3)
    conn = await asyncpg.connect(url, server_settings=server_settings)
    try:
        for start in range(0, len(records), 20):  # twelve batches: past the five custom plans
            async with conn.transaction():
                await write_batch(conn, merge(map_record(r) for r in records[start:start + 20]))
        # a statement without parameters has one plan only (asyncpg's own type queries)
        plans: int = await conn.fetchval("SELECT coalesce(sum(generic_plans), 0) FROM pg_prepared_statements "
                                         "WHERE cardinality(parameter_types) > 0")
        return plans
    finally:
        await conn.close()


async def test_the_writers_statements_get_a_plan_for_every_batch(database_url: str) -> None:
    assert await _generic_plans_after_writing(database_url, load({}).database.server_settings()) == 0


async def test_without_the_setting_postgresql_would_keep_generic_plans(database_url: str) -> None:
    """The check above can fail: a plain connection does fall back to generic plans."""
    assert await _generic_plans_after_writing(database_url, None) > 0
