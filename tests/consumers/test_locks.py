"""A long transaction holds row locks on the hot conversations while records keep coming: the writer,
connected as the `convsync_writer` role, fails each batch at the server's lock_timeout instead of
hanging, commits no offset meanwhile, retries, and once the locks are released everything is written
exactly as a clean run would have written it."""

from __future__ import annotations

import dataclasses

import asyncpg
import pytest

from consumers import metrics
from emulator import records as traffic
from kernel.settings import Secret, Settings
from tests.consumers.brokers import Running, committed, produce, state_is, wait_for
from tests.consumers.test_loop import expected_state
from tests.support.databases import as_user, create_login, drop_login
from tests.support.infra import Infra

pytestmark = [pytest.mark.integration]  # about the fault, not the broker kind: the Tansu leg only


async def offsets(settings: Settings) -> int:
    return sum(o or 0 for o in (await committed(settings.kafka, settings.consumer.group_id)).values())


async def test_a_stuck_lock_fails_the_batch_at_lock_timeout_and_the_writer_catches_up(
        consumer_settings: Settings, database_url: str, infra: Infra, reference_db: asyncpg.Connection) -> None:
    login = await create_login(infra.database_url, "convsync_writer")
    settings = dataclasses.replace(consumer_settings, database=dataclasses.replace(
        consumer_settings.database, url=Secret(as_user(database_url, login)), lock_timeout_ms=300))
    records = traffic.mixed(200, pages=1, messages_per_conversation=6, seed=8)
    first, rest = records[:100], records[100:]
    expected = await expected_state(reference_db, records)
    holder = await asyncpg.connect(database_url)
    running = Running(settings)
    try:
        await produce(settings.kafka, first)
        await wait_for(lambda: _offsets_are(settings, len(first)), "the first records written and committed")
        async with holder.transaction():  # an operator's forgotten transaction
            locked = await holder.fetchval("WITH l AS (SELECT 1 FROM conversations FOR UPDATE) SELECT count(*) FROM l")
            assert locked > 0
            retries = metrics.DB_RETRIES._value.get()
            await produce(settings.kafka, rest)
            await wait_for(lambda: _retried_beyond(retries + 2), "batches failing at lock_timeout")
            assert await offsets(settings) == len(first)  # nothing committed while the locks are held
            assert not running.task.done()  # retrying, not stopped
        conn = await asyncpg.connect(database_url)
        try:
            await wait_for(state_is(conn, expected), "everything written once the locks were released")
        finally:
            await conn.close()
        await wait_for(lambda: _offsets_are(settings, len(records)), "every offset committed")
    finally:
        await running.finish()
        await holder.close()
        await drop_login(infra.database_url, login)


async def _offsets_are(settings: Settings, total: int) -> bool:
    return await offsets(settings) == total


async def _retried_beyond(value: float) -> bool:
    return bool(metrics.DB_RETRIES._value.get() > value)
