"""An Instagram account reached through Facebook Login is two Graph nodes (DESIGN §2): webhooks name the
account (`entry.id`), the inbox is listed at the linked Facebook Page. The emulator gives the two different
ids and refuses a listing at the account's own id, as Meta does; a full sync then webhooks must land on one
conversation per IGSID, under the account id only, with every direction right."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import asyncpg
import pytest

from emulator import truth
from emulator.traffic import step
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.reconciler.conftest import APP_SECRET
from tests.reconciler.support import consumers_running, edge_serving, environment

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=23, pages=2, instagram_pages=1, conversations_per_page=15, messages_per_conversation=4)
MIX = {"new_conversation": 1, "text": 5, "echo": 4, "react": 1}  # no reads: a Graph-only message
# has second-resolution times, and an Instagram read takes its watermark from the message read


async def test_instagram_account_syncs_at_its_page_and_webhooks_join_the_same_threads(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    async with (edge_serving(database_url, kafka, data_dir) as url,
                environment(database_url, kafka, world=WORLD, apply_wait_s=60.0,
                            webhook=WebhookConfig(url=url, app_secret=APP_SECRET, seed=3)) as env,
                consumers_running(env.settings)):
        world = env.emu.world
        account = next(p for p in world.pages.values() if p.platform == "instagram")
        linked = account.graph_page_id
        assert linked != account.page_id
        assert await env.fetchval("SELECT graph_page_id FROM pages WHERE page_id = $1", account.page_id) == linked

        run = await env.reconciler.start(account.page_id, "full", "test")
        finished = await env.reconciler.finished(run)
        assert finished["status"] == "succeeded" and finished["applied"], finished
        assert env.emu.stats.calls[linked] > 0  # paced and metered as the Page, where Meta lists the inbox

        rng = random.Random(4)
        events = [e for _ in range(120) for e in step(world, rng, MIX, page_ids=(account.page_id,))]
        assert env.emu.sender is not None
        await env.emu.sender.send(events)
        assert env.emu.sender.stats.delivered and not env.emu.sender.stats.lost

        expected = truth.expected(world, [account.page_id])
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + 60
            while not (diff := await truth.compare(conn, expected, window=None)).ok and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
            assert diff.ok, diff.report()
            for table in ("conversations", "messages", "conversation_events"):
                stray = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE page_id = $1", linked)
                assert stray == 0, f"{table} has rows under the linked Page's id"
            users = {r["user_id"] for r in await conn.fetch(
                "SELECT user_id FROM conversations WHERE page_id = $1", account.page_id)}
            assert users == {c.user_id for c in world.conversations_of(account.page_id)}  # one per IGSID
            rows = await conn.fetch("SELECT mid, direction, source FROM messages WHERE page_id = $1", account.page_id)
            assert {r["source"] for r in rows} == {"graph", "webhook"}
            wrong = [r["mid"] for r in rows if r["direction"] != world.message(r["mid"]).direction]
            assert not wrong, f"{len(wrong)} messages with the wrong direction"
        finally:
            await conn.close()
