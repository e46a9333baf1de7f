"""`convsync consume --metrics-port`: /healthz, /readyz (partitions held, database answering), /metrics."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp
import pytest

from consumers.loop import run_consumer
from convsync.embedded import Postgres, free_port
from convsync.migrate import migrate_url
from kernel.settings import Secret, Settings
from tests.consumers.brokers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(url) as response:
            return response.status, await response.text()


async def test_ready_once_partitions_are_assigned(
        consumer_settings: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(consumer_settings, stop=stop, probes_at=("127.0.0.1", port)))
    try:
        async def ready() -> bool:
            try:
                return (await _get(f"{base}/readyz"))[0] == 200
            except aiohttp.ClientError:
                return False

        await wait_for(ready, "the writer to be ready", timeout_s=60)
        assert await _get(f"{base}/healthz") == (200, "ok\n")
        status, metrics = await _get(f"{base}/metrics")
        assert status == 200 and "convsync_consumer_batches_total" in metrics
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)



async def test_not_ready_while_its_database_is_gone(consumer_settings: Settings, tmp_path: Path) -> None:
    postgres = Postgres(pgdata=tmp_path / "pg" / "pgdata", port=free_port())
    postgres.start()
    port = free_port()
    stop = asyncio.Event()
    try:
        await migrate_url(postgres.url)
        own = dataclasses.replace(consumer_settings, database=dataclasses.replace(
            consumer_settings.database, url=Secret(postgres.url)))
        task = asyncio.create_task(run_consumer(own, stop=stop, probes_at=("127.0.0.1", port)))
        try:
            await wait_for(lambda: _status_is(port, 200, '"database": true'), "the writer to be ready", 60)
            await asyncio.to_thread(postgres.stop)
            await wait_for(lambda: _status_is(port, 503, '"database": false'), "readyz to name the database", 60)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    finally:
        postgres.stop()


async def _status_is(port: int, status: int, fragment: str) -> bool:
    try:
        got, body = await _get(f"http://127.0.0.1:{port}/readyz")
    except aiohttp.ClientError:
        return False
    return got == status and fragment in body
