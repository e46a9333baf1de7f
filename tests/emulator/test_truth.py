"""Ground truth after a scripted sequence (pure), and the diff against a real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from emulator.truth import Expected, compare, expected
from emulator.world import World, WorldConfig


def scripted() -> tuple[World, dict[str, str]]:
    world = World(WorldConfig(seed=11, pages=2, instagram_pages=1, conversations_per_page=0))
    ig, fb = list(world.pages)
    names: dict[str, str] = {"ig": ig, "fb": fb}
    first = world.user_message(fb, text="hello")[0].event
    names["fb_user"], names["m1"] = first["sender"]["id"], first["message"]["mid"]
    names["m2"] = world.page_message(fb, names["fb_user"], text="hi, how can I help?")[0].event["message"]["mid"]
    world.edit(names["m1"], "hello there")
    world.edit(names["m1"], "hello there!")
    world.react(names["m2"], "like")
    world.react(names["m2"], "love")
    names["delivered_at"] = str(world.deliver(fb, names["fb_user"])[0].event["delivery"]["watermark"])
    names["read_at"] = str(world.read(fb, names["fb_user"])[0].event["read"]["watermark"])
    ig_first = world.user_message(ig, text="unsend me")[0].event
    names["ig_user"], names["m3"] = ig_first["sender"]["id"], ig_first["message"]["mid"]
    world.react(names["m3"], "sad")
    world.unreact(names["m3"])
    names["m4"] = world.page_message(ig, names["ig_user"], text="ok")[0].event["message"]["mid"]
    world.unsend(names["m3"])
    world.read(ig, names["ig_user"])
    return world, names


def test_truth_follows_the_script() -> None:
    world, n = scripted()
    truth = expected(world)
    m1, m2, m3 = truth.messages[n["m1"]], truth.messages[n["m2"]], truth.messages[n["m3"]]
    assert (m1.direction, m1.text, m1.edit_count, m1.user_id) == ("inbound", "hello there!", 2, n["fb_user"])
    assert (m2.direction, m2.text, m2.edit_count) == ("outbound", "hi, how can I help?", 0)
    assert m3.is_deleted and not m3.in_window and truth.messages[n["m4"]].in_window
    assert list(truth.reactions) == [(n["m2"], n["fb_user"])]
    assert truth.reactions[(n["m2"], n["fb_user"])].reaction == "love"
    fb_conv = truth.conversations[(n["fb"], n["fb_user"])]
    assert (fb_conv.delivered_watermark, fb_conv.read_watermark) == (int(n["delivered_at"]), int(n["read_at"]))
    ig_conv = truth.conversations[(n["ig"], n["ig_user"])]
    assert ig_conv.delivered_watermark is None
    assert ig_conv.read_watermark == world.messages[n["m4"]].created_ms  # Instagram reads name a message
    assert ig_conv.graph_id.startswith("t_")
    assert expected(world, [n["fb"]]).page_ids == (n["fb"],) and len(expected(world, [n["fb"]]).messages) == 2


def test_the_same_seed_and_script_give_the_same_truth() -> None:
    assert expected(scripted()[0]).as_json() == expected(scripted()[0]).as_json()


def test_truth_survives_a_json_round_trip() -> None:
    truth = expected(scripted()[0])
    assert Expected.from_json(json.loads(json.dumps(truth.as_json()))) == truth


def ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


async def load(conn: asyncpg.Connection, world: World, truth: Expected) -> None:
    """Rows a correct writer would have produced: the fixture the diff is checked against."""
    for m in truth.messages.values():
        wm = world.messages[m.mid]
        await conn.execute(
            "INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, text, is_deleted,"
            " edit_count, source)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'webhook')",
            m.mid,
            m.page_id,
            m.user_id,
            m.direction,
            wm.sender_id,
            ts(wm.created_ms),
            m.text,
            m.is_deleted,
            m.edit_count,
        )
    for c in truth.conversations.values():
        await conn.execute(
            "INSERT INTO conversations (page_id, user_id, platform, graph_id, delivered_watermark, read_watermark)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            c.page_id,
            c.user_id,
            world.pages[c.page_id].platform,
            c.graph_id,
            ts(c.delivered_watermark),
            ts(c.read_watermark),
        )
    for r in truth.reactions.values():
        await conn.execute(
            "INSERT INTO reactions (page_id, mid, user_id, reaction, emoji, reacted_at)"
            " VALUES ($5, $1, $2, $3, $4, now())",
            r.mid,
            r.user_id,
            r.reaction,
            r.emoji,
            world.messages[r.mid].page_id,
        )


@pytest.mark.integration
async def test_compare_finds_missing_extra_and_different_rows(database_url: str) -> None:
    world, n = scripted()
    truth = expected(world)
    conn = await asyncpg.connect(database_url)
    try:
        await load(conn, world, truth)
        assert (await compare(conn, truth, window=None)).ok
        assert (await compare(conn, truth)).ok
        await conn.execute("DELETE FROM messages WHERE mid = $1", n["m4"])
        await conn.execute("UPDATE messages SET text = 'hello', edit_count = 1 WHERE mid = $1", n["m1"])
        await conn.execute(
            "INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, source)"
            " VALUES ('m_ghost', $1, $2, 'inbound', $2, now(), 'webhook')",
            n["fb"],
            n["fb_user"],
        )
        await conn.execute("UPDATE reactions SET reaction = 'like' WHERE mid = $1", n["m2"])
        await conn.execute("UPDATE conversations SET read_watermark = NULL WHERE user_id = $1", n["fb_user"])
        full = await compare(conn, truth, window=None)
        windowed = await compare(conn, truth)
    finally:
        await conn.close()
    assert full.missing == [f"message {n['m4']}"]
    assert full.extra == ["message m_ghost"]
    assert sorted(full.different) == sorted(
        [
            f"message {n['m1']}: edit_count expected 2, found 1",
            f"message {n['m1']}: text expected 'hello there!', found 'hello'",
            f"reaction {n['fb_user']} on {n['m2']}: reaction expected 'love', found 'like'",
            f"conversation {n['fb']}:{n['fb_user']}: read_watermark expected {n['read_at']}, found None",
        ]
    )
    # the windowed check ignores what only webhooks carry (edit counts, reactions, watermarks)
    assert windowed.missing == full.missing and windowed.extra == full.extra
    assert windowed.different == [f"message {n['m1']}: text expected 'hello there!', found 'hello'"]
    assert "1 missing, 1 extra" in full.report()


@pytest.mark.integration
async def test_window_mode_tolerates_messages_older_than_the_window(database_url: str) -> None:
    world = World(WorldConfig(seed=4, pages=1, conversations_per_page=2, messages_per_conversation=30))
    truth = expected(world)
    conn = await asyncpg.connect(database_url)
    try:
        await load(conn, world, truth)
        old = [m.mid for m in truth.messages.values() if not m.in_window]
        assert len(old) == 20
        await conn.execute("DELETE FROM messages WHERE mid = ANY($1::text[])", old)
        assert (await compare(conn, truth)).ok
        assert len((await compare(conn, truth, window=None)).missing) == 20
    finally:
        await conn.close()
