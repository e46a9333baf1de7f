"""Unsends that send no webhook (Instagram on the web, DESIGN §2): the message only leaves the Graph API.
Through the emulator, the reconciler, the broker, the consumers and PostgreSQL: a sync that reads the
conversation again marks the message unsent inside the span its answer covers, and leaves alone a
message older than that answer's window, which it cannot judge."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from emulator.model import Conversation
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.reconciler.support import Env, consumers_running, environment, until

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=41, pages=1, instagram_pages=1, conversations_per_page=3, messages_per_conversation=4)


async def full_sync(env: Env, page_id: str) -> None:
    run = await env.reconciler.start(page_id, "full", "test")
    finished = await env.reconciler.finished(run)
    assert finished["status"] == "succeeded" and finished["applied"], finished


def user_texts(conv: Conversation, count: int, world: Any) -> None:
    for n in range(count):  # their webhooks are lost: only syncs bring these
        world.user_message(conv.page_id, conv.user_id, text=f"later {n}")


async def test_a_sync_marks_a_silent_unsend_inside_its_span_and_leaves_older_messages_alone(
        database_url: str, kafka: KafkaSettings) -> None:
    async with (environment(database_url, kafka, world=WORLD, apply_wait_s=60.0) as env, consumers_running(env.settings)):
        world = env.emu.world
        page_id = next(p.page_id for p in world.pages.values() if p.platform == "instagram")
        conv = world.conversations_of(page_id)[0]
        old = next(m for m in conv.messages if m.direction == "inbound")
        await full_sync(env, page_id)  # the first messages, `old` among them, are stored

        user_texts(conv, 25, world)  # `old` falls out of the 20 newest
        await full_sync(env, page_id)
        window = conv.detail_window()  # newest first
        inside = window[10]
        assert inside.direction == "inbound" and old not in window

        world.unsend_silently(inside.mid)
        world.unsend_silently(old.mid)
        world.user_message(page_id, conv.user_id, text="after the unsends")
        await full_sync(env, page_id)

        conn = await asyncpg.connect(database_url)
        try:
            sql = "SELECT is_deleted FROM messages WHERE mid = $1"
            assert await until(conn, sql, True, inside.mid) is True
            row = await conn.fetchrow("SELECT is_deleted, deleted_source, text FROM messages WHERE mid = $1",
                                      inside.mid)
            assert dict(row) == {"is_deleted": True, "deleted_source": "graph", "text": inside.text}
            row = await conn.fetchrow("SELECT is_deleted, deleted_source, text FROM messages WHERE mid = $1", old.mid)
            assert dict(row) == {"is_deleted": False, "deleted_source": None, "text": old.text}
            others = await conn.fetchval(
                "SELECT count(*) FROM messages WHERE page_id = $1 AND is_deleted", page_id)
            assert others == 1  # nothing else judged
        finally:
            await conn.close()
