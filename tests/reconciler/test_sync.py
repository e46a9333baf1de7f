"""Incremental and full sync against the emulator, real broker and PostgreSQL (records read from Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from reconciler.snapshot import FULL_SYNC_FOLDERS
from tests.reconciler.support import environment, read_records

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=7, pages=1, conversations_per_page=120, messages_per_conversation=3)


def newest_updated(env_world: object, page_id: str) -> datetime:
    convs = env_world.conversations_of(page_id)  # type: ignore[attr-defined]
    return max(datetime.fromtimestamp(c.updated_ms // 1000, UTC) for c in convs)  # Graph: whole seconds


async def test_full_then_incremental_reads_only_what_changed(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        full = await env.sync(page_id)
        assert (full.mode, full.status, full.tally.conversations) == ("full", "succeeded", 120)
        # limit 100 is too much data with 20 nested messages: one code-1 answer, then 50 per call,
        # plus one call per other (empty) folder
        assert full.tally.graph_calls == env.calls(page_id) == 1 + 3 + len(FULL_SYNC_FOLDERS) - 1
        records = await read_records(kafka, 120)
        assert len({r.thread_key for r in records}) == 120
        assert all(r.source == "graph" and r.run_id == full.run_id for r in records)
        watermark = await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id)
        assert watermark == full.watermark_to == newest_updated(env.emu.world, page_id)

        before = env.calls(page_id)
        quiet = await env.sync(page_id)
        assert (quiet.mode, quiet.status) == ("incremental", "succeeded")
        assert env.calls(page_id) - before == 1 == quiet.tally.graph_calls

        users = [c.user_id for c in env.emu.world.conversations_of(page_id)][-10:]  # ten old conversations
        for user_id in users:
            env.emu.world.user_message(page_id, user_id)
        before = env.calls(page_id)
        changed = await env.sync(page_id)
        assert changed.status == "succeeded" and env.calls(page_id) - before == 1
        fresh = await read_records(kafka, 120 + quiet.tally.conversations + changed.tally.conversations)
        produced = {r.user_id for r in fresh if r.run_id == changed.run_id}
        assert set(users) <= produced and len(produced) < 50  # the changed ones and the overlap, not all
        assert await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id) > watermark


async def test_forced_full_sync_covers_every_conversation_again(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        first = await env.sync(page_id)
        second = await env.sync(page_id, "full")
        assert (second.mode, second.tally.conversations) == ("full", 120)
        assert second.tally.graph_calls == first.tally.graph_calls - 1  # the learnt limit: no code-1 call
        assert await env.fetchval("SELECT count(*) FROM sync_runs WHERE status = 'succeeded'") == 2


async def test_a_listing_that_repeats_its_cursor_fails_the_run_instead_of_looping(
        database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD) as env:
        [page_id] = env.page_ids
        env.emu.loop_cursors(page_id)
        looped = await env.sync(page_id, "full")
        assert looped.status == "failed" and "ListingLoop" in (looped.error or ""), looped
        assert env.calls(page_id) < 10  # it noticed on the first repeat, not after a budget
        watermark = await env.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id)
        assert watermark is None  # a failed run moves no watermark
        env.emu.loop_cursors(page_id, False)
        fixed = await env.sync(page_id, "full")
        assert (fixed.status, fixed.tally.conversations) == ("succeeded", 120)
