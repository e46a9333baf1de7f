"""Syncs through the admin API and the compatibility endpoints, with the consumers writing
PostgreSQL: real run JSON, the old app's response shapes, and counts the database agrees with."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from prometheus_client import REGISTRY

from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.reconciler.conftest import ServeAdmin
from tests.reconciler.support import consumers_running, environment

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=21, pages=2, conversations_per_page=30, messages_per_conversation=3)


async def test_admin_and_compat_syncs_report_real_counts(database_url: str, kafka: KafkaSettings,
                                                         admin_server: ServeAdmin,
                                                         http: aiohttp.ClientSession) -> None:
    async with (environment(database_url, kafka, world=WORLD, virtual=False, apply_wait_s=60.0) as env,
                consumers_running(env.settings), admin_server(env.settings) as url):
        first, second = env.page_ids
        env.emu.set_latency(100)
        async with http.post(f"{url}/admin/pages/{first}/sync", json={"mode": "auto"}) as response:
            assert response.status == 202
            accepted = await response.json()
        assert accepted["mode"] == "full" and uuid.UUID(accepted["run_id"])
        async with http.post(f"{url}/admin/pages/{first}/sync", json={}) as response:
            assert response.status == 409  # the page is being synced
        env.emu.set_latency(0)
        run = await poll_run(http, url, accepted["run_id"])
        assert (run["status"], run["conversations"], run["messages"]) == ("succeeded", 30, 90)

        async with http.post(f"{url}/admin/pages/{first}/sync?wait=true", json={"mode": "incremental"}) as r:
            assert r.status == 200
            waited = await r.json()
        assert (waited["mode"], waited["status"], waited["applied"], waited["graph_calls"]) == (
            "incremental", "succeeded", True, 1)
        assert {"run_id", "page_id", "inserted", "updated", "gap_messages", "throttled"} <= set(waited)

        async with http.post(f"{url}/api/conversations/sync", json={"pageId": second}) as response:
            assert response.status == 200
            compat = await response.json()
        assert set(compat) == {"success", "syncMode", "synced", "inserted", "updated", "message"}
        assert (compat["success"], compat["syncMode"], compat["synced"]) == (True, "full", 30)
        rows = await env.fetchval("SELECT (SELECT count(*) FROM conversations WHERE page_id = $1) + "
                                  "(SELECT count(*) FROM messages WHERE page_id = $1)", second)
        assert compat["inserted"] == rows and compat["updated"] == 0  # all new: every row was inserted

        # the old app sends its own row id as pageId and Meta's as facebookPageId; nothing is new now,
        # so `synced` is 0 however many conversations the overlap re-read
        async with http.post(f"{url}/api/conversations/sync", json={"pageId": 17, "facebookPageId": second}) as r:
            assert r.status == 200
            again = await r.json()
        assert (again["success"], again["syncMode"], again["synced"]) == (True, "incremental", 0), again

        async with http.post(f"{url}/api/conversations/sync-all", json={}) as response:
            assert response.status == 200
            everything = await response.json()
        assert (everything["success"], everything["totalPages"]) == (True, 2)
        assert everything["totals"]["successCount"] == 2
        assert everything["totals"]["totalSynced"] == sum(r["synced"] for r in everything["results"])
        for result in everything["results"]:
            assert {"pageId", "pageName", "synced", "syncMode"} <= set(result) and result["syncMode"] == "incremental"

        async with http.post(f"{url}/admin/sync-all", json={"mode": "full"}) as response:
            assert response.status == 202
            started = (await response.json())["runs"]
        assert sorted(r["page_id"] for r in started) == sorted(env.page_ids)
        for r in started:
            assert (await poll_run(http, url, r["run_id"]))["conversations"] == 30
        async with http.get(f"{url}/admin/sync-runs?page_id={second}") as response:
            assert len((await response.json())["runs"]) == 4  # compat full, compat incremental, sync-all incremental, full
        async with http.get(f"{url}/admin/pages") as response:
            listed = {p["page_id"]: p for p in (await response.json())["pages"]}
        assert listed[second]["last_run"]["mode"] == "full" and listed[second]["last_synced_at"]
        # No webhook delivered anything here: every message the runs found is a missed-webhook message.
        gaps = await env.fetchval("SELECT sum(gap_messages) FROM sync_runs WHERE page_id = $1", second)
        assert gaps >= 90 and await metric_reaches(gaps, second)


async def metric_reaches(value: float, page_id: str) -> bool:
    """The missed-webhook counter catches up once the consumers applied the runs (bounded wait)."""
    for _ in range(200):
        if REGISTRY.get_sample_value("convsync_missed_webhook_messages_total", {"page_id": page_id}) == value:
            return True
        await asyncio.sleep(0.05)
    return False


async def poll_run(http: aiohttp.ClientSession, url: str, run_id: str) -> dict[str, object]:
    for _ in range(600):
        async with http.get(f"{url}/admin/sync-runs/{run_id}") as response:
            run: dict[str, object] = await response.json()
        if run["status"] in {"succeeded", "failed"}:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")
