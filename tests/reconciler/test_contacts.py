"""Contacts (DESIGN §5): who each conversation is with. Through the emulator, a real edge, the reconciler,
the broker, the consumers and PostgreSQL: a full sync names everyone it reads for free (participants); a
new person whose thread sits in the message requests folder (which incremental runs do not list) reaches
us only by webhook, and the contacts pass after the next run reads their profile from Meta's User
Profile API; a person who blocked the page is refused, recorded, and not asked again until the refresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from emulator.model import Conversation
from emulator.webhooks import WebhookConfig
from emulator.world import World, WorldConfig
from kernel.settings import KafkaSettings
from tests.reconciler.conftest import APP_SECRET
from tests.reconciler.support import Env, consumers_running, edge_serving, environment, until

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=52, pages=2, instagram_pages=1, conversations_per_page=4, messages_per_conversation=3)
CONTACT = ("SELECT name, first_name, last_name, username, profile_pic_url, source, refused_code, "
           "profile_fetched_at IS NOT NULL AS fetched FROM contacts WHERE page_id = $1 AND user_id = $2")


async def synced(env: Env, page_id: str, mode: str) -> None:
    run = await env.reconciler.start(page_id, mode, "test")  # type: ignore[arg-type]  # a RequestedMode
    finished = await env.reconciler.finished(run)
    assert finished["status"] == "succeeded" and finished["applied"], finished


def message_request(world: World, page_id: str) -> tuple[Conversation, list[Any]]:
    """A new person writes to the page and Meta files the thread under message requests."""
    conv = world.new_conversation(page_id)
    world.move(page_id, conv.user_id, "other")
    return conv, world.user_message(page_id, conv.user_id, text="hi, is this open?")


async def test_contacts_come_from_participants_then_profiles_and_a_refusal_waits_for_the_refresh(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    async with (edge_serving(database_url, kafka, data_dir) as url,
                environment(database_url, kafka, world=WORLD, apply_wait_s=60.0,
                            webhook=WebhookConfig(url=url, app_secret=APP_SECRET, seed=5)) as env,
                consumers_running(env.settings)):
        world, stats = env.emu.world, env.emu.stats
        pages = {p.platform: p for p in world.pages.values()}
        conn = await asyncpg.connect(database_url)
        try:
            for page in pages.values():
                await synced(env, page.page_id, "full")
            for page in pages.values():  # everyone a sync read is named, and nobody's profile was asked for
                for conv in world.conversations_of(page.page_id):
                    row = await conn.fetchrow(CONTACT, page.page_id, conv.user_id)
                    assert row is not None and row["source"] == "participants", conv.user_id
                    if page.platform == "messenger":
                        assert (row["name"], row["username"]) == (conv.user_name, None)
                    else:
                        assert (row["name"], row["username"]) == (None, conv.user_name.lower().replace(" ", "_"))
            assert not stats.profiles

            new, blocked = {}, {}
            for platform, page in pages.items():
                new[platform], sent = message_request(world, page.page_id)
                blocked[platform], more = message_request(world, page.page_id)
                world.block(blocked[platform].user_id)
                assert env.emu.sender is not None
                await env.emu.sender.send(sent + more)
            threads = [c.user_id for c in (*new.values(), *blocked.values())]
            sql = "SELECT count(*) FROM conversations WHERE user_id = ANY($1::text[])"
            assert await until(conn, sql, len(threads), threads) == len(threads)
            assert await conn.fetchval("SELECT count(*) FROM contacts WHERE user_id = ANY($1::text[])", threads) == 0

            for page in pages.values():
                await synced(env, page.page_id, "incremental")  # lists the inbox: not these threads
            m, i = new["messenger"], new["instagram"]
            row = dict(await conn.fetchrow(CONTACT, pages["messenger"].page_id, m.user_id))
            first, last = m.user_name.split(" ")
            assert row | {"profile_pic_url": None} == {
                "name": m.user_name, "first_name": first, "last_name": last, "username": None,
                "profile_pic_url": None, "source": "profile", "refused_code": None, "fetched": True}
            assert row["profile_pic_url"] and m.user_id in row["profile_pic_url"]
            row = dict(await conn.fetchrow(CONTACT, pages["instagram"].page_id, i.user_id))
            assert (row["name"], row["username"], row["source"], row["fetched"]) == (
                i.user_name, i.user_name.lower().replace(" ", "_"), "profile", True)
            for platform, code in (("messenger", 551), ("instagram", 100)):
                row = dict(await conn.fetchrow(CONTACT, pages[platform].page_id, blocked[platform].user_id))
                assert (row["refused_code"], row["fetched"], row["name"]) == (code, False, None), platform
            assert dict(stats.profiles) == {user: 1 for user in threads}  # nobody else was asked

            for page in pages.values():
                await synced(env, page.page_id, "incremental")
            assert dict(stats.profiles) == {user: 1 for user in threads}  # read or refused: not asked again

            await conn.execute("UPDATE contacts SET profile_fetched_at = profile_fetched_at - interval '8 days', "
                               "refused_at = refused_at - interval '8 days' WHERE user_id = ANY($1::text[])", threads)
            world.block(blocked["messenger"].user_id, blocked=False)  # unblocked in the meantime
            for page in pages.values():
                await synced(env, page.page_id, "incremental")
            assert dict(stats.profiles) == {user: 2 for user in threads}  # the refresh asks everyone again
            row = dict(await conn.fetchrow(CONTACT, pages["messenger"].page_id, blocked["messenger"].user_id))
            assert (row["refused_code"], row["fetched"], row["name"]) == (None, True, blocked["messenger"].user_name)
            row = dict(await conn.fetchrow(CONTACT, pages["instagram"].page_id, blocked["instagram"].user_id))
            assert (row["refused_code"], row["fetched"]) == (100, False)
        finally:
            await conn.close()
