"""Rate limits, throttles, transient failures and dead tokens, against the emulator's gate.

The emulator and the governor share a virtual clock: waits are as long as told, but take no time."""

from __future__ import annotations

import pytest

from emulator.graph import GraphConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings, Secret
from reconciler import pages
from reconciler.loop import lease_and_launch
from reconciler.tokens import TokenCipher, new_key
from tests.reconciler.support import environment

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=3, pages=1, conversations_per_page=300, messages_per_conversation=2)


async def test_at_the_emulators_rate_nothing_is_throttled(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD, graph=GraphConfig(calls_per_second=2.0)) as env:
        [page_id] = env.page_ids
        run = await env.sync(page_id)
        assert run.status == "succeeded" and run.tally.conversations == 300
        assert run.tally.throttled == 0 == env.emu.stats.throttled[page_id]
        assert env.clock is not None
        assert env.clock.slept == pytest.approx((run.tally.graph_calls - 1) * 0.5 / 0.98, rel=0.01)


async def test_throttled_anyway_the_run_waits_as_told_and_completes(database_url: str, kafka: KafkaSettings) -> None:
    graph = GraphConfig(calls_per_second=2.0, burst=1.0)
    async with environment(database_url, kafka, world=WORLD, graph=graph, governor_rate=20.0) as env:
        [page_id] = env.page_ids
        run = await env.sync(page_id)
        assert run.status == "succeeded" and run.tally.conversations == 300
        assert run.tally.throttled == env.emu.stats.throttled[page_id] > 0
        assert env.clock is not None and env.clock.slept >= 60.0 * run.tally.throttled  # regain: 1 minute


async def test_transient_failures_are_retried(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        env.emu.set_transient_failure_rate(0.3)
        run = await env.sync(page_id)
        assert run.status == "succeeded" and run.tally.conversations == 300
        assert env.emu.stats.transient[page_id] > 0


async def test_dead_token_marks_the_page_and_a_new_token_resumes_from_the_watermark(
        database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        first = await env.sync(page_id)
        env.emu.expire_token(page_id)
        env.emu.world.user_message(page_id)
        dead = await env.sync(page_id)
        token = env.emu.world.pages[page_id].access_token
        assert dead.status == "failed" and dead.error and "token" in dead.error and token not in dead.error
        assert await env.fetchval("SELECT status FROM pages WHERE page_id = $1", page_id) == "needs_reauth"
        assert await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id) == first.watermark_to
        calls = env.calls(page_id)
        async with env.reconciler.ctx.pool.acquire() as conn:
            await conn.execute("UPDATE pages SET next_sync_at = NULL")
        for _ in range(3):  # the timer loop's ticks: the page is not leased, nothing is called
            assert await lease_and_launch(env.reconciler) == 0
        assert env.calls(page_id) == calls

        env.emu.set_token(page_id, "EAAB-renewed")
        async with env.reconciler.ctx.pool.acquire() as conn:
            cipher = TokenCipher(env.settings.graph.token_keys)
            await pages.upsert(conn, page_id, "messenger", "renamed", cipher.encrypt("EAAB-renewed"))
        assert await lease_and_launch(env.reconciler) == 1
        await env.reconciler.drain()
        row = await env.fetchval("SELECT to_jsonb(r) FROM sync_runs r ORDER BY created_at DESC LIMIT 1")
        assert '"mode": "incremental"' in row and '"status": "succeeded"' in row and '"trigger": "timer"' in row
        assert await env.fetchval("SELECT status FROM pages WHERE page_id = $1", page_id) == "active"
        assert await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id) > first.watermark_to


async def test_a_token_this_process_cannot_decrypt_fails_the_run_and_leaves_the_page(
        database_url: str, kafka: KafkaSettings) -> None:
    """A stored token that none of this reconciler's keys opens (one process started with a wrong
    CONVSYNC_TOKEN_KEY): its runs fail saying so, and the page stays active for every other process."""
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        foreign = TokenCipher([Secret(new_key())]).encrypt(env.emu.world.pages[page_id].access_token)
        async with env.reconciler.ctx.pool.acquire() as conn:
            await conn.execute("UPDATE pages SET access_token = $2 WHERE page_id = $1", page_id, foreign)
        run = await env.sync(page_id)
        assert run.status == "failed" and run.error and "CONVSYNC_TOKEN_KEY" in run.error, run
        assert await env.fetchval("SELECT status FROM pages WHERE page_id = $1", page_id) == "active"
        assert env.calls(page_id) == 0


async def test_the_schedule_says_how_far_behind_it_is(database_url: str, kafka: KafkaSettings) -> None:
    """Five due pages and one slot: after a tick one is syncing and four are behind; once every page
    has been synced and scheduled an interval ahead, nothing is."""
    from emulator.world import WorldConfig
    from reconciler import metrics

    world = WorldConfig(seed=3, pages=5, conversations_per_page=2, messages_per_conversation=1)
    async with environment(database_url, kafka, world=world, max_parallel_pages=1) as env:
        assert await lease_and_launch(env.reconciler) == 1
        assert metrics.SCHEDULE_BEHIND._value.get() == 4
        assert metrics.SCHEDULE_LATEST._value.get() >= 0
        for _ in range(20):
            await env.reconciler.drain()
            await lease_and_launch(env.reconciler)
            if metrics.SCHEDULE_BEHIND._value.get() == 0 and not env.reconciler.running:
                break
        assert metrics.SCHEDULE_BEHIND._value.get() == 0
        assert await env.fetchval("SELECT count(*) FROM sync_runs WHERE status = 'succeeded'") == 5
        assert "convsync_schedule_behind 0.0" in metrics.exposition().decode()
