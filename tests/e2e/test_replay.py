"""End to end: a lost database rebuilt from the raw archive through `POST /admin/replays`, as deployed.

Webhook traffic flows through serve and consume (processes) with no page registered, so every row
is webhook-derived (graph-only data, which a replay of webhooks cannot bring back, is absent by
construction). The database is then dropped and created again, and a replay of the whole archive
must bring back exactly the rows it held.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest

from emulator.runner import EmulatorConfig
from emulator.traffic import TrafficConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.consumers.support import table_state
from tests.e2e.harness import System, running_system, wait_until
from tests.support.infra import Infra

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

CONFIG = EmulatorConfig(
    world=WorldConfig(seed=21, pages=3, instagram_pages=1, conversations_per_page=10, messages_per_conversation=2),
    webhook=WebhookConfig(url="", app_secret="", batch_size=4, duplicate=0.05, reorder=0.05, seed=21),
    traffic=TrafficConfig(rate=80, max_changes=400, max_seconds=60, seed=21),
    realtime=True,
)


async def state(system: System) -> dict[str, object]:
    conn = await asyncpg.connect(system.database_url)
    try:
        return await table_state(conn, with_clock=False)
    finally:
        await conn.close()


async def recreate(infra: Infra, template_db: str, url: str) -> None:
    """Drop the database (closing every connection to it) and create it again, migrated and empty."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()


async def test_the_raw_archive_rebuilds_a_lost_database(kafka: KafkaSettings, database_url: str, infra: Infra,
                                                         template_db: str, tmp_path: Path) -> None:
    async with running_system(database_url, kafka, tmp_path, CONFIG, register=False) as system:
        assert system.emu.traffic is not None
        await asyncio.wait_for(system.emu.traffic.wait(), timeout=90)

        async def delivered_stored() -> bool:
            return not await system.delivered_mids_missing()
        await wait_until(delivered_stored, timeout_s=90, what="every delivered message to be stored")
        await asyncio.sleep(2)  # the last reads and reactions of the final batch
        before = await state(system)
        assert len(before["messages"]) > 100  # type: ignore[arg-type]

        # the API refuses without the token and names a malformed field, and nothing starts
        async with aiohttp.ClientSession() as http:
            async with http.post(system.serve_url + "/admin/replays", json={"from": "raw"},
                                 headers={"Authorization": "Bearer wrong"}) as refused:
                assert refused.status == 401
        status, answer = await system.admin("POST", "/admin/replays", {"from": "tape"})
        assert (status, answer) == (400, {"error": "from must be raw or dlq, not 'tape'"})
        assert (await system.admin("GET", "/admin/replays"))[1] == {"replays": []}

        consumer = system.role("consume-1")
        consumer.stop()
        await recreate(infra, template_db, database_url)
        assert await state(system) == {table: [] for table in before}
        consumer.start()

        status, answer = await system.admin("POST", "/admin/replays", {"from": "raw"})
        assert status == 202, answer
        replay_id = answer["replay_id"]
        finished: dict[str, object] = {}

        async def replay_done() -> bool:
            code, row = await system.admin("GET", f"/admin/replays/{replay_id}")
            assert code == 200, row
            finished.update(row)
            return row["status"] in {"succeeded", "failed"}
        await wait_until(replay_done, timeout_s=120, what="the replay to finish")
        assert finished["status"] == "succeeded", finished
        assert finished["skipped"] == 0 and finished["produced"] == finished["matched"] > 0

        rebuilt: dict[str, object] = {}

        async def back() -> bool:
            rebuilt.update(await state(system))
            return rebuilt == before
        try:
            await wait_until(back, timeout_s=120, what="the rebuilt rows to equal the lost ones")
        except AssertionError:
            for table in before:
                if rebuilt.get(table) != before[table]:
                    print(f"{table}: {len(before[table])} rows before, {len(rebuilt.get(table, []))} after")  # type: ignore[arg-type]
            raise
