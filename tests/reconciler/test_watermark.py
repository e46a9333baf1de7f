"""The watermark only moves past data Kafka acknowledged; a killed run loses nothing next time;
two reconcilers never sync one page at the same time."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from reconciler.loop import reconcile_forever
from reconciler.resources import open_reconciler
from tests.reconciler.support import environment, read_records

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=5, pages=1, conversations_per_page=300, messages_per_conversation=2)


async def test_a_run_killed_mid_walk_leaves_a_watermark_the_next_run_recovers_from(
        database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD, virtual=False) as env:
        [page_id] = env.page_ids
        env.emu.set_latency(30)
        walked = asyncio.Event()
        started = await env.reconciler.start(page_id, "auto", "test",
                                             on_progress=lambda result, stats: walked.set())
        await walked.wait()  # one listing page produced, more to come
        started.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await started.task
        assert await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id) is None
        env.emu.set_latency(0)
        again = await env.sync(page_id)
        assert (again.mode, again.status, again.tally.conversations) == ("full", "succeeded", 300)
        assert await env.fetchval("SELECT status FROM sync_runs WHERE run_id = $1::uuid", started.run_id) == "failed"
        records = await read_records(kafka, 300 + 50)
        assert len({r.thread_key for r in records if r.run_id == again.run_id}) == 300


async def test_without_kafka_acks_the_watermark_does_not_move(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        first = await env.sync(page_id)
        env.emu.world.user_message(page_id)
        await env.reconciler.ctx.walker.sink._producer.stop()  # type: ignore[attr-defined]  # the real producer
        failed = await env.sync(page_id)
        assert failed.status == "failed" and failed.watermark_to is None
        assert await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id) == first.watermark_to


async def test_two_reconcilers_never_sync_a_page_at_the_same_time(database_url: str, kafka: KafkaSettings) -> None:
    world = WorldConfig(seed=6, pages=4, conversations_per_page=60, messages_per_conversation=2)
    async with environment(database_url, kafka, world=world, virtual=False, interval_s=0.2, poll_s=0.05,
                           jitter=0.5) as env:
        env.emu.set_latency(5)
        other_settings = dataclasses.replace(env.settings)
        stop = asyncio.Event()
        async with open_reconciler(other_settings, owner="replica-b") as other:
            env.reconciler.owner = "replica-a"
            loops = [asyncio.create_task(reconcile_forever(r, stop)) for r in (env.reconciler, other)]
            await asyncio.sleep(3.0)
            stop.set()
            await asyncio.gather(*loops)
        async with env.reconciler.ctx.pool.acquire() as conn:
            overlaps = await conn.fetchval(
                """SELECT count(*) FROM sync_runs a JOIN sync_runs b
                   ON a.page_id = b.page_id AND a.run_id < b.run_id
                   AND a.started_at < b.finished_at AND b.started_at < a.finished_at""")
            per_page = await conn.fetch("SELECT page_id, count(*) AS n FROM sync_runs WHERE status = 'succeeded' "
                                        "GROUP BY page_id")
            unfinished = await conn.fetchval("SELECT count(*) FROM sync_runs WHERE finished_at IS NULL")
            owners = {r["owner"] for r in await conn.fetch("SELECT DISTINCT owner FROM sync_runs")}
        assert overlaps == 0 and unfinished == 0 and owners == {"replica-a", "replica-b"}
        assert len(per_page) == 4 and all(r["n"] >= 2 for r in per_page)
