"""Replays on a real broker and PostgreSQL, with a real consumer writing what they produce.

The database a replay feeds is compared with a reference database that got the same events straight
through the store: equal rows mean every event was applied and none twice in effect.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from emulator import records as make
from kernel.kafka import producer
from kernel.producing import KafkaSink
from kernel.records import decode, encode, key_bytes
from kernel.settings import KafkaSettings, Settings
from replay.service import Replays
from replay.window import Selection
from tests.consumers.brokers import Running, state_is, wait_for
from tests.consumers.support import apply, table_state
from tests.ingest.conftest import read_topic
from tests.ingest.meta import OLD_SECRET, SECRET
from tests.replay.archive import Body, archive, bodies

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
async def replays(database_url: str, kafka: KafkaSettings) -> AsyncIterator[Replays]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with Replays(pool, kafka, [SECRET]) as service:
            yield service


async def reference_state(reference: asyncpg.Connection, items: list[Body]) -> dict[str, Any]:
    for item in items:
        await apply(reference, item.records())
    return await table_state(reference, with_clock=False)


def consumed(running: Running) -> int:
    return sum(b.records for b in running.batches)


async def test_replaying_the_archive_twice_leaves_the_rows_as_once(
        kafka: KafkaSettings, conn: asyncpg.Connection, reference_db: asyncpg.Connection,
        consumer_settings: Settings, replays: Replays) -> None:
    items = bodies(240, seed=3)
    await archive(kafka, items)  # bodies the edge archived; their events are gone (a lost database)
    expected = await reference_state(reference_db, items)
    events = sum(len(i.records()) for i in items)
    running = Running(consumer_settings)
    try:
        first = await replays.run(Selection("raw"), "test")
        assert (first["status"], first["scanned"], first["matched"], first["produced"], first["skipped"]) == (
            "succeeded", len(items), events, events, 0)
        await wait_for(state_is(conn, expected), "the replayed events to be written")
        once = await table_state(conn)  # wall-clock columns included: nothing may be touched again
        runs_once = await conn.fetch("SELECT * FROM sync_runs ORDER BY run_id")

        second = await replays.run(Selection("raw"), "test")
        assert second["produced"] == events and second["replay_id"] != first["replay_id"]

        async def both_consumed() -> bool:
            return consumed(running) >= 2 * events
        await wait_for(both_consumed, "the second replay to be consumed")
        assert await table_state(conn) == once
        assert await conn.fetch("SELECT * FROM sync_runs ORDER BY run_id") == runs_once
    finally:
        await running.finish()


async def test_page_and_time_filters_select_exactly_what_they_name(kafka: KafkaSettings, replays: Replays) -> None:
    start = 1_796_292_000_000
    items = bodies(90, seed=5, pages=3, per_body=3, start_ms=start, step_ms=60_000)  # one body a minute
    forged = dataclasses.replace(items[12], secret=OLD_SECRET)  # in the window, signed with a retired secret
    await archive(kafka, [*items, forged])
    page = items[0].records()[0].page_id
    since, until = start + 10 * 60_000, start + 20 * 60_000
    wanted = [r for i in items if since <= i.received_at < until for r in i.records() if r.page_id == page]
    multi_page = [i for i in items if since <= i.received_at < until and len({r.page_id for r in i.records()}) > 1]
    assert wanted and multi_page, "the window must hold bodies of several pages"
    window = Selection("raw", pages=frozenset({page}), since_ms=since, until_ms=until)

    dry = await replays.run(dataclasses.replace(window, dry_run=True), "test")
    assert (dry["dry_run"], dry["matched"], dry["produced"], dry["skipped"]) == (True, len(wanted), 0, 1)
    assert dry["skipped_reasons"] == {"signature": 1}
    assert await read_topic(kafka, kafka.topics.events, 1, timeout_s=2) == []

    done = await replays.run(window, "test")
    assert (done["matched"], done["produced"], done["skipped"], done["page_id"]) == (len(wanted), len(wanted), 1, page)
    produced: list[ConsumerRecord] = await read_topic(kafka, kafka.topics.events, len(wanted) + 1, timeout_s=5)
    assert sorted((decode(r.value).page_id, decode(r.value).received_at, decode(r.value).event["timestamp"])
                  for r in produced) == sorted((r.page_id, r.received_at, r.event["timestamp"]) for r in wanted)
    assert {dict(r.headers)["replay_id"].decode() for r in produced} == {done["replay_id"]}
    assert all(r.key == key_bytes(decode(r.value)) for r in produced)


async def test_dead_letters_that_decode_today_are_written(
        kafka: KafkaSettings, conn: asyncpg.Connection, reference_db: asyncpg.Connection,
        consumer_settings: Settings, replays: Replays) -> None:
    run_id = make.new_run_id()
    for db in (conn, reference_db):
        await db.execute("INSERT INTO sync_runs (run_id, page_id, mode, trigger) VALUES ($1, 'p', 'full', 'cli')",
                         uuid.UUID(run_id))
    message = make.message("1000000001", "2000000001", "m-dead-1", 1_796_292_000_000, "refused by an old mapper")
    snapshot = make.snapshot("1000000001", "2000000001", run_id, 1_796_292_001_000,
                             [("m-dead-1", 1_796_292_000_000, "refused by an old mapper", False)], 1)
    await apply(reference_db, [message])
    await apply(reference_db, [snapshot])
    expected = await table_state(reference_db, with_clock=False)
    runs_expected = await reference_db.fetch("SELECT inserted, updated, messages FROM sync_runs")
    # dead letters as the writer leaves them: original key and value, headers saying why
    p_headers = [("original_topic", kafka.topics.events.encode()), ("error", b"an old mapper's refusal")]
    p = producer(kafka)
    await p.start()
    try:
        sink = KafkaSink(p, kafka.topics)
        acks = [await sink.dead_letter(key_bytes(r), encode(r), p_headers) for r in (message, snapshot)]
        acks.append(await sink.dead_letter(b"k", b"still not a record", p_headers))
        await asyncio.gather(*acks)
    finally:
        await p.stop()

    running = Running(consumer_settings)
    try:
        done = await replays.run(Selection("dlq"), "test")
        assert (done["status"], done["scanned"], done["matched"], done["produced"], done["skipped"]) == (
            "succeeded", 3, 2, 2, 1)
        assert done["skipped_reasons"] == {"value is not JSON: JSONDecodeError": 1}
        await wait_for(state_is(conn, expected), "the dead letters to be written")
        once, runs_once = await table_state(conn), await conn.fetch("SELECT * FROM sync_runs")
        assert [tuple(r) for r in await conn.fetch("SELECT inserted, updated, messages FROM sync_runs")] == [
            tuple(r) for r in runs_expected]

        again = await replays.run(Selection("dlq"), "test")
        assert again["produced"] == 2

        async def all_consumed() -> bool:
            return consumed(running) >= 4
        await wait_for(all_consumed, "the second DLQ replay to be consumed")
        assert await table_state(conn) == once
        assert await conn.fetch("SELECT * FROM sync_runs") == runs_once
    finally:
        await running.finish()


async def test_a_replay_racing_live_traffic_loses_and_doubles_nothing(
        kafka: KafkaSettings, conn: asyncpg.Connection, reference_db: asyncpg.Connection,
        consumer_settings: Settings, replays: Replays) -> None:
    items = bodies(600, seed=9, pages=4)
    earlier, later = items[:len(items) // 2], items[len(items) // 2:]
    expected = await reference_state(reference_db, items)
    await archive(kafka, earlier, live=True)
    running = Running(consumer_settings)
    try:
        # the replay of everything so far runs while the rest arrives through the live path
        replayed, _ = await asyncio.gather(replays.run(Selection("raw"), "test"),
                                           archive(kafka, later, live=True))
        assert replayed["status"] == "succeeded" and replayed["produced"] >= sum(len(i.records()) for i in earlier)
        await wait_for(state_is(conn, expected), "live and replayed events to be written")
    finally:
        await running.finish()


async def test_a_failing_replay_is_recorded_failed(database_url: str, kafka: KafkaSettings) -> None:
    """A replay whose topic cannot be read (here: a broker that is gone) fails, and its row says why."""
    gone = dataclasses.replace(kafka, bootstrap="127.0.0.1:9")
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with Replays(pool, kafka, [SECRET]) as service:
            service._kafka = gone  # the producer is connected; the scan's consumer cannot be
            row = await service.run(Selection("raw"), "test")
    assert row["status"] == "failed" and row["finished_at"] is not None
    assert "cannot be reached" in row["error"]


async def test_a_replay_running_when_its_process_stops_is_recorded_interrupted(
        database_url: str, kafka: KafkaSettings, conn: asyncpg.Connection) -> None:
    await archive(kafka, bodies(300, seed=12))
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with Replays(pool, kafka, [SECRET]) as service:
            replay_id = await service.start(Selection("raw"), "admin")
        # the context closed at once: the background replay was cancelled mid-way
    row = await conn.fetchrow("SELECT status, error, finished_at FROM replays WHERE replay_id = $1::uuid", replay_id)
    assert row["status"] == "failed" and row["error"] == "interrupted: the process stopped"
    assert row["finished_at"] is not None
