"""The state an inbox needs, from the emulator through the real edge, broker, consumers and PostgreSQL:
folders from a full sync (every folder read), the thread owner after handovers delivered out of order
and twice, standby messages flagged, Instagram story replies and mentions typed."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.reconciler.conftest import APP_SECRET
from tests.reconciler.support import consumers_running, edge_serving, environment, until

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=31, pages=2, instagram_pages=1, conversations_per_page=12, messages_per_conversation=3,
                    standby_share=0.4)
APPS = ("263902037430900", "1517776481860111")


async def test_folders_owners_standby_and_stories(database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    async with (edge_serving(database_url, kafka, data_dir) as url,
                environment(database_url, kafka, world=WORLD, apply_wait_s=60.0, webhook=WebhookConfig(
                    url=url, app_secret=APP_SECRET, seed=8, duplicate=0.3, reorder=0.5)) as env,
                consumers_running(env.settings)):
        world, sender = env.emu.world, env.emu.sender
        assert sender is not None
        messenger = next(p.page_id for p in world.pages.values() if p.platform == "messenger")
        instagram = next(p.page_id for p in world.pages.values() if p.platform == "instagram")
        convs = world.conversations_of(messenger)
        for conv, folder in zip(convs, ("other", "page_done", "pending", "spam", "other"), strict=False):
            world.move(messenger, conv.user_id, folder)  # no webhook: only a full sync can see it

        events = []
        for n, conv in enumerate(convs[:6]):  # a few handovers each; the last one decides
            for step, action in enumerate(("pass", "take", "request", "pass")[: 2 + n % 3]):
                events += world.handover(messenger, conv.user_id, action, APPS[(n + step) % 2])
        for conv in world.conversations_of(instagram)[:4]:
            events += world.user_message(instagram, conv.user_id, kind="story_reply")
            events += world.user_message(instagram, conv.user_id, kind="story_mention")
        for conv in convs:
            events += world.user_message(messenger, conv.user_id)
        await sender.send(events)

        for page_id in (messenger, instagram):
            run = await env.reconciler.start(page_id, "full", "test")
            finished = await env.reconciler.finished(run)
            assert finished["status"] == "succeeded" and finished["applied"], finished

        conn = await asyncpg.connect(database_url)
        try:
            owned = {c.user_id: c.owner_app_id for c in convs if c.owner_app_id is not None}
            found = await until(conn, "SELECT count(*) FROM conversations WHERE thread_owner_app_id IS NOT NULL",
                                len(owned))
            assert found == len(owned)
            stored = dict(await conn.fetch("SELECT user_id, thread_owner_app_id FROM conversations "
                                           "WHERE page_id = $1 AND thread_owner_app_id IS NOT NULL", messenger))
            assert stored == owned  # the newest by Meta's time, whatever order and copies arrived in

            folders = dict(await conn.fetch("SELECT user_id, folder FROM conversations WHERE page_id = $1", messenger))
            assert folders == {c.user_id: c.folder for c in convs}
            assert {"other", "page_done", "pending", "spam", "inbox"} == set(folders.values())

            standby = {c.user_id for c in world.conversations.values() if c.standby}
            assert standby, "the world needs threads another app controls"
            rows = await conn.fetch("SELECT user_id, is_standby FROM messages WHERE source = 'webhook'")
            assert rows and all(r["is_standby"] == (r["user_id"] in standby) for r in rows)

            stories = [(r["mid"], json.loads(r["story"])) for r in await conn.fetch(
                "SELECT mid, story FROM messages WHERE story IS NOT NULL")]
            assert sorted(s["type"] for _, s in stories) == ["mention"] * 4 + ["reply"] * 4
            for mid, story in stories:
                assert world.message(mid).story == story  # type, url and id as the world has them
        finally:
            await conn.close()
