"""Meta's subscriptions as the emulator plays them: `subscribed_apps` per page (GET, POST, DELETE in
Meta's shapes), events withheld for a page or field not subscribed, and a page unsubscribed after
deliveries kept failing for `unsubscribe_after_s`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from emulator.graph import GraphConfig
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.subscriptions import MESSAGING_FIELDS, SubscriptionConfig, Subscriptions
from emulator.webhooks import WebhookConfig, WebhookSender
from emulator.world import World, WorldConfig
from tests.emulator.conftest import FakeClock
from tests.emulator.receiver import Receiver, receiving

SECRET = "app-secret-for-tests"


def test_pages_start_subscribed_to_every_field_and_lose_them_on_request() -> None:
    subs = Subscriptions(["p1", "p2"], SubscriptionConfig())
    assert subs.fields("p1") == frozenset(MESSAGING_FIELDS)
    assert subs.delivers("p1", "message", False) and subs.delivers("p1", "echo", False)
    subs.drop_field("p1", "message_echoes")
    assert subs.delivers("p1", "message", False) and not subs.delivers("p1", "echo", False)
    assert subs.delivers("p1", "read", True)  # standby needs `standby`, whatever the kind
    subs.unsubscribe("p2")
    assert subs.fields("p2") is None and not subs.delivers("p2", "message", False)
    assert subs.as_graph("p2") == []
    assert not Subscriptions(["p1"], SubscriptionConfig(subscribed=False)).delivers("p1", "message", False)


def test_a_run_of_failures_as_long_as_the_span_unsubscribes_the_page() -> None:
    subs = Subscriptions(["p1"], SubscriptionConfig(unsubscribe_after_s=60))
    subs.delivery_failed("p1", 1000)
    subs.delivery_failed("p1", 1059)
    assert subs.fields("p1") is not None
    subs.delivery_succeeded("p1")  # the run ends
    subs.delivery_failed("p1", 1100)
    subs.delivery_failed("p1", 1159)
    assert subs.fields("p1") is not None
    subs.delivery_failed("p1", 1160)
    assert subs.fields("p1") is None and subs.stats.unsubscribed_by_failures["p1"] == 1
    subs.subscribe("p1", "messages,message_echoes")
    assert subs.fields("p1") == {"messages", "message_echoes"} and subs.stats.resubscribed["p1"] == 1


async def test_deliveries_stop_after_failures_and_resume_once_resubscribed() -> None:
    world = World(WorldConfig(seed=1, pages=1, conversations_per_page=0))
    page = next(iter(world.pages))
    clock = FakeClock()
    subs = Subscriptions([page], SubscriptionConfig(unsubscribe_after_s=30))
    failing = True
    async with receiving(Receiver(SECRET, fail=lambda body, attempt: failing)) as receiver:
        sender = WebhookSender(WebhookConfig(receiver.url, SECRET, batch_size=1, retries=0), subs, clock)
        await sender.start()
        await sender.send(world.user_message(page))
        clock.advance(31)
        await sender.send(world.user_message(page))  # fails too: 31 s of failures, the page is unsubscribed
        assert subs.fields(page) is None
        failing = False
        withheld = world.user_message(page)
        await sender.send(withheld)
        assert receiver.bodies == [] and subs.stats.withheld[page] == len(withheld)
        subs.subscribe(page, ",".join(MESSAGING_FIELDS))
        await sender.send(world.user_message(page))
        await sender.close()
    assert len(receiver.bodies) == 1 and all(e in sender.stats.lost for e in withheld)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(world=WorldConfig(seed=5, pages=2, conversations_per_page=2),
                            graph=GraphConfig(calls_per_second=1000.0,
                                              subscriptions=SubscriptionConfig(app_id="4242")))
    async with run_emulator(config) as running:
        yield running


@pytest.mark.integration
async def test_subscribed_apps_over_http_in_metas_shapes(emu: Emulator) -> None:
    page = next(iter(emu.world.pages.values()))
    url = f"{emu.graph_url}/v25.0/{page.page_id}/subscribed_apps"
    token = {"access_token": page.access_token}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params=token) as response:
            [app] = (await response.json())["data"]
        assert app["id"] == "4242" and app["subscribed_fields"] == list(MESSAGING_FIELDS)
        async with http.post(f"{emu.graph_url}/_emulator/pages/{page.page_id}/unsubscribe") as response:
            assert response.status == 200
        async with http.get(url, params=token) as response:
            assert await response.json() == {"data": []}
        async with http.post(url, params={**token, "subscribed_fields": "messages,standby"}) as response:
            assert await response.json() == {"success": True}
        async with http.get(url, params=token) as response:
            assert (await response.json())["data"][0]["subscribed_fields"] == ["messages", "standby"]
        async with http.post(url, params={**token, "subscribed_fields": "messages,bogus"}) as response:
            assert response.status == 400 and (await response.json())["error"]["code"] == 100
        async with http.post(url, params={"access_token": "wrong", "subscribed_fields": "messages"}) as response:
            assert response.status == 400 and (await response.json())["error"]["code"] == 190
        async with http.delete(url, params=token) as response:
            assert await response.json() == {"success": True}
        async with http.post(f"{emu.graph_url}/v25.0/{page.page_id}/conversations", params=token) as response:
            assert response.status == 400  # the only POST is subscribed_apps
    assert emu.subscriptions.fields(page.page_id) is None
