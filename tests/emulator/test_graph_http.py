"""The Graph API over real loopback HTTP: paging links, batch requests, throttling headers, controls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from emulator.graph import GraphConfig
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.world import WorldConfig
from tests.emulator.conftest import messenger_page

pytestmark = pytest.mark.integration

CONFIG = EmulatorConfig(
    world=WorldConfig(seed=5, pages=2, instagram_pages=1, conversations_per_page=12, messages_per_conversation=3),
    graph=GraphConfig(calls_per_second=1000.0),
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with run_emulator(CONFIG) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_paging_next_is_an_absolute_url_carrying_the_token(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    page = emu.world.pages[messenger_page(emu.world)]
    url: str | None = f"{emu.graph_url}/v25.0/{page.page_id}/conversations?limit=5&access_token={page.access_token}"
    ids = []
    while url:
        async with http.get(url) as response:
            assert response.status == 200
            assert json.loads(response.headers["X-Business-Use-Case-Usage"])[page.page_id][0]["type"] == "pages"
            assert "call_count" in json.loads(response.headers["X-App-Usage"])
            body = await response.json()
        ids += [c["id"] for c in body["data"]]
        url = body["paging"].get("next")
        assert url is None or url.startswith(emu.graph_url + "/v25.0/")
    assert sorted(ids) == sorted(c.graph_id for c in emu.world.conversations_of(page.page_id))
    assert emu.stats.calls[page.page_id] == 3


async def test_batch_runs_each_call_and_charges_each(emu: Emulator, http: aiohttp.ClientSession) -> None:
    page = emu.world.pages[messenger_page(emu.world)]
    convs = emu.world.conversations_of(page.page_id)[:3]
    batch = [{"method": "GET", "relative_url": f"v25.0/{c.graph_id}?fields=id,participants"} for c in convs]
    batch.append({"method": "GET", "relative_url": "t_1?fields=id"})
    async with http.post(
        f"{emu.graph_url}/v25.0/", data={"access_token": page.access_token, "batch": json.dumps(batch)}
    ) as response:
        assert response.status == 200
        results = await response.json()
    assert [r["code"] for r in results] == [200, 200, 200, 400]
    assert [json.loads(r["body"])["id"] for r in results[:3]] == [c.graph_id for c in convs]
    assert json.loads(results[3]["body"])["error"]["code"] == 100
    assert emu.stats.calls[page.page_id] == 3 and emu.stats.batches == 1


async def test_batch_of_more_than_50_is_refused(emu: Emulator, http: aiohttp.ClientSession) -> None:
    page = emu.world.pages[messenger_page(emu.world)]
    batch = [{"method": "GET", "relative_url": f"{page.page_id}/conversations"}] * 51
    async with http.post(
        f"{emu.graph_url}/v25.0/", json={"access_token": page.access_token, "batch": batch}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == 100
    assert emu.stats.calls[page.page_id] == 0


async def test_throttling_over_http_with_usage_headers(emu: Emulator, http: aiohttp.ClientSession) -> None:
    page = emu.world.pages[messenger_page(emu.world)]
    emu.set_rate(0.01, burst=2)  # no refill to speak of during the test
    url = f"{emu.graph_url}/v25.0/{page.page_id}/conversations?access_token={page.access_token}"
    answers = []
    for _ in range(3):
        async with http.get(url) as response:
            answers.append(
                (response.status, await response.json(), json.loads(response.headers["X-Business-Use-Case-Usage"]))
            )
    assert [a[0] for a in answers] == [200, 200, 400]
    assert answers[2][1]["error"]["code"] == 613
    usage = answers[2][2][page.page_id][0]
    assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] >= 1
    assert answers[0][2][page.page_id][0]["call_count"] == 50
    assert emu.stats.throttled[page.page_id] == 1


async def test_unknown_paths_answer_meta_json(emu: Emulator, http: aiohttp.ClientSession) -> None:
    for method, path in (("GET", "/v25.0/"), ("DELETE", "/v25.0/t_1"), ("GET", "/nowhere")):
        async with http.request(method, emu.graph_url + path) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == 100
            assert response.headers["X-Business-Use-Case-Usage"] == "{}"


async def test_http_controls_and_stats(emu: Emulator, http: aiohttp.ClientSession) -> None:
    page = emu.world.pages[messenger_page(emu.world)]
    old = page.access_token
    url = f"{emu.graph_url}/v25.0/{page.page_id}/conversations?access_token={old}"
    async with http.post(f"{emu.graph_url}/_emulator/pages/{page.page_id}/expire-token") as response:
        assert response.status == 200
    async with http.get(url) as response:
        assert (await response.json())["error"]["error_subcode"] == 463
    async with http.post(
        f"{emu.graph_url}/_emulator/pages/{page.page_id}/token", json={"token": "EAAGnew"}
    ) as response:
        assert response.status == 200
    async with http.get(url.replace(old, "EAAGnew")) as response:
        assert response.status == 200
    async with http.post(f"{emu.graph_url}/_emulator/transient", json={"rate": 1.0}) as response:
        assert response.status == 200
    async with http.get(url.replace(old, "EAAGnew")) as response:
        assert response.status == 500
    async with http.get(f"{emu.graph_url}/_emulator/stats") as response:
        stats = await response.json()
    assert stats["graph"]["transient"] == {page.page_id: 1}
    async with http.get(f"{emu.graph_url}/_emulator/pages") as response:
        assert {p["page_id"] for p in await response.json()} == set(emu.world.pages)
    async with http.get(f"{emu.graph_url}/_emulator/truth") as response:
        truth = await response.json()
    assert len(truth["messages"]) == len(emu.world.messages)
    person = emu.world.conversations_of(page.page_id)[0].user_id
    async with http.post(f"{emu.graph_url}/_emulator/people/{person}/block", json={}) as response:
        assert response.status == 200
    async with http.post(f"{emu.graph_url}/_emulator/transient", json={"rate": 0.0}) as response:
        assert response.status == 200
    async with http.get(f"{emu.graph_url}/v25.0/{person}?access_token=EAAGnew") as response:
        assert (response.status, (await response.json())["error"]["code"]) == (400, 551)
    assert emu.world.person(person).blocked
    async with http.post(f"{emu.graph_url}/_emulator/people/nobody/block", json={}) as response:
        assert response.status == 404


async def test_paging_under_live_traffic_lists_no_thread_twice(http: aiohttp.ClientSession) -> None:
    from emulator.traffic import TrafficConfig
    from emulator.webhooks import WebhookConfig
    from tests.emulator.receiver import Receiver, receiving

    async with receiving(Receiver("s")) as receiver:
        config = EmulatorConfig(
            world=WorldConfig(seed=8, pages=1, conversations_per_page=40, messages_per_conversation=2),
            graph=GraphConfig(calls_per_second=1000.0),
            webhook=WebhookConfig(receiver.url, "s", batch_size=20),
            traffic=TrafficConfig(rate=400.0, max_changes=5000, max_seconds=10.0, seed=2),
        )
        async with run_emulator(config) as emu:
            page = next(iter(emu.world.pages.values()))
            before = {c.graph_id: c.updated_ms for c in emu.world.conversations_of(page.page_id)}
            url: str | None = (
                f"{emu.graph_url}/v25.0/{page.page_id}/conversations?limit=3&access_token={page.access_token}"
            )
            seen: list[str] = []
            while url:
                async with http.get(url) as response:
                    body = await response.json()
                seen += [c["id"] for c in body["data"]]
                url = body["paging"].get("next")
                await asyncio.sleep(0.02)  # let the traffic move threads between pages
            after = {c.graph_id: c.updated_ms for c in emu.world.conversations_of(page.page_id)}
    assert len(seen) == len(set(seen))
    unchanged = {g for g, ms in before.items() if after[g] == ms}
    assert unchanged <= set(seen) and len(unchanged) < len(before)


async def test_malformed_batches_answer_meta_errors(emu: Emulator, http: aiohttp.ClientSession) -> None:
    url = f"{emu.graph_url}/v25.0/"
    requests: list[dict[str, Any]] = [
        {"data": "not json", "headers": {"Content-Type": "application/json"}},
        {"json": [1, 2]},
        {"data": {"batch": "{}"}},
        {"json": {"batch": [{"method": "POST", "relative_url": "me"}]}},
    ]
    for kwargs in requests:
        async with http.post(url, **kwargs) as response:
            body = await response.json()
        if isinstance(body, list):
            assert json.loads(body[0]["body"])["error"]["code"] == 100
        else:
            assert response.status == 400 and body["error"]["code"] == 100
