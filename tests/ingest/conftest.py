"""Fixtures of the webhook edge tests: settings, the edge served by uvicorn on loopback, topic readers."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from convsync.embedded import free_port
from ingest.app import create_app
from kernel.settings import KafkaSettings, Settings, load
from tests.ingest.meta import OLD_SECRET, SECRET

VERIFY_TOKEN = "verify-token-for-tests"


def edge_settings(kafka: KafkaSettings, spool_dir: Path, **webhook: Any) -> Settings:
    settings = load({"CONVSYNC_APP_SECRETS": f"{SECRET.decode()},{OLD_SECRET.decode()}",
                     "CONVSYNC_VERIFY_TOKEN": VERIFY_TOKEN})
    webhook = {"spool_dir": str(spool_dir), "produce_timeout_s": 1.0, **webhook}
    return dataclasses.replace(settings, kafka=kafka,
                               webhook=dataclasses.replace(settings.webhook, **webhook))


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The edge under uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", http="httptools", loop="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert not task.done(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def read_topic(kafka: KafkaSettings, topic: str, count: int, *, timeout_s: float = 30.0) -> list[Any]:
    """Every record of `topic` from the beginning, until `count` arrived or the time is up."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        n = {kafka.topics.events: kafka.events_partitions, kafka.topics.raw: kafka.raw_partitions}.get(topic, 1)
        partitions = [TopicPartition(topic, p) for p in range(n)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
        return records
    finally:
        await consumer.stop()


async def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the process listens on `port` (it must not exit meanwhile)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "convsync serve exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise AssertionError("convsync serve did not listen")
