"""The world: deterministic from its seed, Meta-shaped ids, and changes that return Meta-shaped events."""

from __future__ import annotations

import random
import re

import pytest

from emulator.model import JSON
from emulator.traffic import DEFAULT_MIX, step
from emulator.world import World, WorldConfig

CONFIG = WorldConfig(seed=21, pages=3, instagram_pages=1, conversations_per_page=4, messages_per_conversation=3)


def run_traffic(world: World, n: int) -> list[JSON]:
    rng = random.Random(5)
    return [e.event for _ in range(n) for e in step(world, rng, DEFAULT_MIX)]


def test_same_seed_same_world_and_same_events() -> None:
    a, b = World(CONFIG), World(CONFIG)
    assert list(a.pages) == list(b.pages) and list(a.messages) == list(b.messages)
    assert run_traffic(a, 200) == run_traffic(b, 200)
    assert list(World(WorldConfig(seed=22, pages=3)).pages) != list(a.pages)


def test_ids_look_like_metas() -> None:
    world = World(CONFIG)
    platforms = [p.platform for p in world.pages.values()]
    assert platforms == ["instagram", "messenger", "messenger"]
    for conv in world.conversations.values():
        assert re.fullmatch(r"t_\d{15}", conv.graph_id)
        for m in conv.messages:
            assert m.mid.startswith("aWdf" if conv.platform == "instagram" else "m_")
        assert len(conv.user_id) == (17 if conv.platform == "instagram" else 16)
    ig = next(p for p in world.pages.values() if p.platform == "instagram")
    assert ig.page_id.startswith("1784") and ig.webhook_object == "instagram"


def test_timestamps_only_move_forward() -> None:
    world = World(CONFIG)
    stamps = [e["timestamp"] for e in run_traffic(world, 300)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(s > CONFIG.start_ms for s in stamps)


def test_echo_swaps_sender_and_carries_app_id_and_metadata() -> None:
    world = World(CONFIG)
    conv = next(c for c in world.conversations.values() if c.platform == "messenger")
    event = world.page_message(conv.page_id, conv.user_id, text="on its way", metadata="agent:7")[0].event
    assert event["sender"] == {"id": conv.page_id} and event["recipient"] == {"id": conv.user_id}
    assert event["message"]["is_echo"] is True and event["message"]["app_id"] == CONFIG.app_id
    assert event["message"]["metadata"] == "agent:7"


def test_edit_reactions_reads_and_unsend_events() -> None:
    world = World(CONFIG)
    ig = next(c for c in world.conversations.values() if c.platform == "instagram")
    mid = world.user_message(ig.page_id, ig.user_id, text="typo")[0].event["message"]["mid"]
    edit = world.edit(mid, "fixed")[0].event["message_edit"]
    assert edit == {"mid": mid, "text": "fixed", "num_edit": 1}
    react = world.react(mid, "wow")[0].event["reaction"]
    unreact = world.unreact(mid)[0].event["reaction"]
    assert (react["action"], unreact["action"], unreact["reaction"]) == ("react", "unreact", "wow")
    assert world.unreact(mid) == []
    assert world.unsend(mid)[0].event["message"] == {"mid": mid, "is_deleted": True}
    assert world.deliver(ig.page_id, ig.user_id) == []
    fb = next(c for c in world.conversations.values() if c.platform == "messenger")
    with pytest.raises(ValueError):
        world.unsend(fb.messages[-1].mid)
    outbound = next(m for m in fb.messages if m.direction == "outbound")
    with pytest.raises(ValueError):
        world.edit(outbound.mid)


def test_message_kinds_carry_their_payloads() -> None:
    world = World(CONFIG)
    conv = next(c for c in world.conversations.values() if c.platform == "messenger")
    sticker = world.user_message(conv.page_id, conv.user_id, kind="sticker")[0].event["message"]
    assert sticker["sticker_id"] == 369239263222822 and sticker["attachments"][0]["type"] == "image"
    quick = world.user_message(conv.page_id, conv.user_id, kind="quick_reply")[0].event["message"]
    assert quick["quick_reply"]["payload"].startswith("QR_")
    reply = world.user_message(conv.page_id, conv.user_id, reply_to=quick["mid"])[0].event["message"]
    assert reply["reply_to"] == {"mid": quick["mid"]}
    postback = world.postback(conv.page_id, conv.user_id)[0].event["postback"]
    assert postback["payload"] == "GET_STARTED"
