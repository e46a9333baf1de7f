"""Webhooks over real loopback HTTP: signatures, retries, giving up, duplicates, and bounded traffic."""

from __future__ import annotations

import json
from collections import Counter

import aiohttp
import pytest

from emulator.model import JSON, WebhookEvent
from emulator.runner import EmulatorConfig, run_emulator
from emulator.traffic import TrafficConfig
from emulator.webhooks import WebhookConfig, WebhookSender
from emulator.world import World, WorldConfig
from tests.emulator.receiver import Receiver, receiving

pytestmark = pytest.mark.integration

SECRET = "app-secret-for-tests"


def scripted_events(world: World) -> list[WebhookEvent]:
    page = next(iter(world.pages))
    out = []
    for _ in range(12):
        out += world.user_message(page)
    return out


async def test_signed_bodies_arrive_and_verify() -> None:
    world = World(WorldConfig(seed=1, pages=1, conversations_per_page=0))
    async with receiving(Receiver(SECRET)) as receiver:
        sender = WebhookSender(WebhookConfig(receiver.url, SECRET, batch_size=5))
        await sender.start()
        evs = scripted_events(world)
        await sender.send(evs)
        await sender.close()
    assert receiver.bad_signatures == 0 and len(receiver.bodies) == 3
    assert all(b.isascii() for b in receiver.bodies)
    assert receiver.events() == [e.event for e in evs]
    assert sender.stats.delivered == evs and sender.stats.lost == []


async def test_retries_then_gives_up() -> None:
    world = World(WorldConfig(seed=1, pages=1, conversations_per_page=0))
    evs = scripted_events(world)
    flaky = Receiver(SECRET, fail=lambda body, attempt: attempt <= 2)
    async with receiving(flaky) as receiver:
        config = WebhookConfig(receiver.url, SECRET, batch_size=4, retries=2, retry_delay_s=0.001)
        sender = WebhookSender(config)
        await sender.start()
        await sender.send(evs)
        await sender.close()
    # three bodies of 4 events: each fails twice and then succeeds on the third attempt
    assert sender.stats.retried_posts == 6 and sender.stats.failed_posts == 0
    assert sender.stats.delivered == evs and receiver.events() == [e.event for e in evs]

    async with receiving(Receiver(SECRET, fail=lambda body, attempt: True)) as down:
        sender = WebhookSender(WebhookConfig(down.url, SECRET, batch_size=4, retries=2, retry_delay_s=0.001))
        await sender.start()
        await sender.send(evs)
        await sender.close()
    assert sender.stats.lost == evs and sender.stats.failed_posts == 3 and sender.stats.posts == 9
    assert sum(down.attempts.values()) == 9


async def test_dropped_and_duplicated_posts_are_recorded() -> None:
    world = World(WorldConfig(seed=1, pages=1, conversations_per_page=0))
    evs = scripted_events(world)
    async with receiving(Receiver(SECRET)) as receiver:
        sender = WebhookSender(WebhookConfig(receiver.url, SECRET, batch_size=1, loss=0.25, duplicate=0.25, seed=9))
        await sender.start()
        await sender.send(evs)
        await sender.close()
    stats = sender.stats
    assert stats.dropped_posts > 0 and stats.duplicated_posts > 0
    assert len(stats.delivered) + len(stats.lost) == len(evs)
    received = Counter(json.dumps(e, sort_keys=True) for e in receiver.events())
    assert set(received) == {json.dumps(e.event, sort_keys=True) for e in stats.delivered}
    assert sum(received.values()) == len(stats.delivered) + stats.duplicated_posts


async def test_bounded_traffic_sends_every_kind_and_accounts_for_every_event() -> None:
    async with receiving(Receiver(SECRET)) as receiver:
        config = EmulatorConfig(
            world=WorldConfig(
                seed=3, pages=2, instagram_pages=1, conversations_per_page=5, messages_per_conversation=3
            ),
            webhook=WebhookConfig(receiver.url, SECRET, batch_size=8, loss=0.1, seed=2),
            traffic=TrafficConfig(rate=2000.0, max_changes=400, max_seconds=20.0, seed=1),
        )
        async with run_emulator(config) as emu:
            assert emu.traffic is not None and emu.delivery is not None
            await emu.traffic.wait()
            assert emu.traffic.changes == 400
            generated = emu.traffic.events
            delivered, lost = emu.delivery.delivered, emu.delivery.lost
    assert len(delivered) + len(lost) == len(generated) and lost
    assert sorted(map(id, delivered + lost)) == sorted(map(id, generated))
    kinds = Counter(e.kind for e in generated)
    assert {
        "message",
        "echo",
        "delivery",
        "read",
        "reaction",
        "message_edit",
        "unsend",
        "postback",
        "referral",
    } <= set(kinds)
    assert receiver.bad_signatures == 0 and len(receiver.events()) == len(delivered)
    echo = next(e.event for e in generated if e.kind == "echo" and "app_id" in e.event["message"])
    assert isinstance(echo["message"]["app_id"], int)
    ig_read = next(e.event for e in generated if e.kind == "read" and e.platform == "instagram")
    assert set(ig_read["read"]) == {"mid"}


async def test_threads_of_another_app_arrive_as_standby() -> None:
    world = World(WorldConfig(seed=1, pages=1, conversations_per_page=0, standby_share=1.0))
    evs = scripted_events(world)
    assert all(e.standby for e in evs)
    async with receiving(Receiver(SECRET)) as receiver:
        sender = WebhookSender(WebhookConfig(receiver.url, SECRET, batch_size=20))
        await sender.start()
        await sender.send(evs)
        await sender.close()
    entry = json.loads(receiver.bodies[0])["entry"][0]
    assert "messaging" not in entry and len(entry["standby"]) == len(evs)


async def test_faults_and_traffic_rate_change_at_run_time_over_http() -> None:
    async with receiving(Receiver(SECRET)) as receiver:
        config = EmulatorConfig(
            world=WorldConfig(seed=3, pages=1, conversations_per_page=3),
            webhook=WebhookConfig(receiver.url, SECRET, batch_size=1),
            traffic=TrafficConfig(rate=0.0, max_changes=50, max_seconds=20.0),
        )
        async with run_emulator(config) as emu, aiohttp.ClientSession() as http:
            page = next(iter(emu.world.pages))
            async with http.post(f"{emu.graph_url}/_emulator/webhooks", json={"loss": 1.0}) as response:
                assert response.status == 200
            await emu.send(emu.world.user_message(page) + emu.world.user_message(page))
            assert emu.delivery is not None and len(emu.delivery.lost) == 2 and receiver.bodies == []
            emu.set_webhook_faults(loss=0.0)
            async with http.post(f"{emu.graph_url}/_emulator/traffic", json={"rate": 1000}) as response:
                assert response.status == 200
            assert emu.traffic is not None
            await emu.traffic.wait()
            async with http.post(f"{emu.graph_url}/_emulator/rate", json={"burst": 3}) as response:
                assert response.status == 400
            async with http.get(f"{emu.graph_url}/_emulator/stats") as response:
                stats = await response.json()
            async with http.get(f"{emu.graph_url}/_emulator/deliveries") as response:
                outcomes = await response.json()
    assert emu.traffic.changes == 50
    assert stats["webhooks"]["lost_events"] == 2 and stats["webhooks"]["delivered_events"] == len(
        emu.traffic.events
    )
    assert len(receiver.events()) == len(emu.traffic.events)
    def canonical(events: list[JSON]) -> list[str]:
        return sorted(json.dumps(e, sort_keys=True) for e in events)

    assert canonical([o["event"] for o in outcomes["delivered"]]) == canonical(receiver.events())
    assert len(outcomes["lost"]) == 2 and outcomes["lost"][0]["page_id"] == page
