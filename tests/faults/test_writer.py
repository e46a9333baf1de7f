"""The writer as its own OS process, its database link slowed by Toxiproxy so that every batch's
transaction stays open long enough to be interrupted (issue 20 §3):

- SIGKILL while a transaction is open: nothing of it is committed, no offset moved; the restarted
  writer applies everything, and nothing twice (the rows and each sync run's counts equal a reference
  database that applied every record once);
- SIGTERM under load: the writer finishes its batch, commits, exits 0; the restarted one applies the
  rest, nothing twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path

import asyncpg
import pytest

from kernel.records import EventRecord
from kernel.settings import Secret, Settings
from tests.consumers.brokers import Running, produce, state_is, wait_for
from tests.consumers.test_loop import _consume_process, run_counts, with_sync_run
from tests.faults.conftest import SlowPostgres
from tests.support.databases import as_user, create_login, drop_login
from tests.support.infra import Infra

pytestmark = [pytest.mark.integration]  # about the fault, not the broker kind: the Tansu leg only


async def transaction_open(conn: asyncpg.Connection, user: str) -> bool:
    """The writer's session is inside a transaction right now (a batch written, not yet committed)."""
    return bool(await conn.fetchval(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = $1 AND xact_start IS NOT NULL", user))


async def writer_as_role(infra: Infra, settings: Settings, url: str) -> tuple[Settings, str]:
    login = await create_login(infra.database_url, "convsync_writer")
    return dataclasses.replace(settings, database=dataclasses.replace(
        settings.database, url=Secret(as_user(url, login)))), login


async def restart_and_compare(settings: Settings, database_url: str, conn: asyncpg.Connection,
                              reference: asyncpg.Connection, expected: dict[str, object]) -> None:
    direct = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=Secret(database_url)))
    running = Running(direct)
    try:
        await wait_for(state_is(conn, expected), "the restarted writer to apply the rest", timeout_s=120)
    finally:
        await running.finish()
    assert await run_counts(conn) == await run_counts(reference)  # no record counted twice


async def test_sigkill_with_a_transaction_open_commits_nothing_of_it_and_nothing_twice(
        consumer_settings: Settings, database_url: str, slow_postgres: SlowPostgres, infra: Infra,
        reference_db: asyncpg.Connection, data_dir: Path) -> None:
    records, conn, expected = await with_sync_run(database_url, reference_db, 300, pages=3, seed=31)
    settings, login = await writer_as_role(infra, consumer_settings, slow_postgres.url)
    await slow_postgres.proxy.toxic("latency", latency=150, jitter=50)  # every statement waits 150-200 ms
    await slow_postgres.proxy.toxic("latency", stream="upstream", latency=50)
    await produce(settings.kafka, records)
    process = _consume_process(settings, data_dir)
    try:
        await wait_for(lambda: _messages_stored(conn), "a first batch committed", timeout_s=60)
        await wait_for(lambda: transaction_open(conn, login), "a batch in the middle of its transaction",
                       timeout_s=60)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        await slow_postgres.proxy.clear()
        await restart_and_compare(settings, database_url, conn, reference_db, expected)
    finally:
        if process.poll() is None:
            process.kill()
        await conn.close()
        await drop_login(infra.database_url, login)


async def test_sigterm_under_load_finishes_commits_exits_0_and_nothing_is_applied_twice(
        consumer_settings: Settings, database_url: str, slow_postgres: SlowPostgres, infra: Infra,
        reference_db: asyncpg.Connection, data_dir: Path) -> None:
    records, conn, expected = await with_sync_run(database_url, reference_db, 400, pages=3, seed=32)
    settings, login = await writer_as_role(infra, consumer_settings, slow_postgres.url)
    await slow_postgres.proxy.toxic("latency", latency=100, jitter=50)
    process = _consume_process(settings, data_dir)
    feeding = asyncio.create_task(_feed(settings, records))
    try:
        await wait_for(lambda: _messages_stored(conn), "the writer under way", timeout_s=60)
        await wait_for(lambda: transaction_open(conn, login), "a batch in its transaction", timeout_s=60)
        process.send_signal(signal.SIGTERM)  # under load: records still arriving
        code = await asyncio.to_thread(process.wait, 60)
        assert code == 0, (data_dir / "consume.log").read_text()[-3000:]
        log = (data_dir / "consume.log").read_text()
        assert "consumer_stopped" in log
        await feeding
        await slow_postgres.proxy.clear()
        await restart_and_compare(settings, database_url, conn, reference_db, expected)
    finally:
        feeding.cancel()
        if process.poll() is None:
            process.kill()
        await conn.close()
        await drop_login(infra.database_url, login)


async def _feed(settings: Settings, records: list[EventRecord]) -> None:
    """The records in slices of 40, a slice every 200 ms: load that goes on while the writer stops."""
    for start in range(0, len(records), 40):
        await produce(settings.kafka, records[start:start + 40])
        await asyncio.sleep(0.2)


async def _messages_stored(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) > 0 FROM messages"))
