"""`convsync consume --metrics-port`: /healthz, /readyz (partitions held, database answering), /metrics."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest

from consumers.loop import run_consumer
from convsync.embedded import free_port
from ingest.settings import Secret, Settings
from tests.consumers.brokers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(url) as response:
            return response.status, await response.text()


async def test_ready_once_partitions_are_assigned_and_not_while_the_database_is_gone(
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

    gone = dataclasses.replace(consumer_settings, database=dataclasses.replace(
        consumer_settings.database, url=Secret(f"postgresql://postgres@127.0.0.1:{free_port()}/convsync")))
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(gone, stop=stop, probes_at=("127.0.0.1", port)))
    try:
        async def answered() -> bool:
            try:
                status, body = await _get(f"{base}/readyz")
            except aiohttp.ClientError:
                return False
            return status == 503 and '"database": false' in body

        await wait_for(answered, "readyz to name the database", timeout_s=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
