"""Helpers of the reconciler's integration tests: the emulator + a reconciler on the test's own
database and topics, a virtual clock (waits as long as told, instantly), and a topic reader."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from consumers.loop import run_consumer
from convsync.embedded import free_port
from emulator.graph import GraphConfig
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from ingest.app import create_app
from kernel.records import EventRecord, decode
from kernel.settings import KafkaSettings, Settings
from reconciler import pages
from reconciler.resources import open_reconciler
from reconciler.run import RequestedMode, RunOutcome
from reconciler.service import Reconciler
from reconciler.tokens import TokenCipher
from tests.ingest.conftest import read_topic
from tests.reconciler.conftest import APP_SECRET, make_settings, serve_app


class VirtualClock:
    """Monotonic seconds that move only when someone sleeps: a 60 s throttle pause takes no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        step = max(0.0, seconds)
        self.now += step
        self.slept += step
        await asyncio.sleep(0)


@dataclass
class Env:
    emu: Emulator
    settings: Settings
    reconciler: Reconciler
    clock: VirtualClock | None

    @property
    def page_ids(self) -> list[str]:
        return sorted(self.emu.world.pages)

    def calls(self, page_id: str) -> int:
        return self.emu.stats.calls[page_id]

    async def sync(self, page_id: str, mode: RequestedMode = "auto") -> RunOutcome:
        started = await self.reconciler.start(page_id, mode, "test")
        return await started.task

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.reconciler.ctx.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)


async def register_pages(settings: Settings, emu: Emulator) -> None:
    cipher = TokenCipher(settings.graph.token_keys)
    conn = await asyncpg.connect(settings.database.url.reveal() if settings.database.url else "")
    try:
        for page in emu.world.pages.values():
            await pages.upsert(conn, page.page_id, page.platform, page.name, cipher.encrypt(page.access_token),
                               page.graph_page_id)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def environment(database_url: str, kafka: KafkaSettings, *, world: WorldConfig,
                      graph: GraphConfig | None = None, governor_rate: float | None = None, virtual: bool = True,
                      webhook: WebhookConfig | None = None, **knobs: Any) -> AsyncIterator[Env]:
    """The emulator and a reconciler whose governor runs at `governor_rate` (default: the emulator's)."""
    graph = dataclasses.replace(graph or GraphConfig(calls_per_second=50.0), app_secret=APP_SECRET)
    clock = VirtualClock() if virtual else None
    config = EmulatorConfig(world=world, graph=graph, webhook=webhook)
    async with run_emulator(config, clock=clock or time.monotonic) as emu:
        settings = make_settings(database_url, kafka, emu.graph_url, **knobs)
        rate = governor_rate or graph.calls_per_second
        settings = dataclasses.replace(settings, graph=dataclasses.replace(settings.graph, calls_per_second=rate))
        await register_pages(settings, emu)
        timing: dict[str, Any] = {"clock": clock, "sleep": clock.sleep} if clock else {}
        async with open_reconciler(settings, **timing) as reconciler:
            yield Env(emu, settings, reconciler, clock)


@contextlib.asynccontextmanager
async def consumers_running(settings: Settings) -> AsyncIterator[None]:
    """The real consumers (one group member of a group of this test's own) writing PostgreSQL."""
    grouped = dataclasses.replace(settings, consumer=dataclasses.replace(
        settings.consumer, group_id=f"g-{uuid.uuid4().hex[:8]}", batch_max_wait_ms=50))
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(grouped, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def read_records(kafka: KafkaSettings, count: int, timeout_s: float = 20.0) -> list[EventRecord]:
    """The first `count` records of the events topic, decoded."""
    return [decode(r.value) for r in await read_topic(kafka, kafka.topics.events, count, timeout_s=timeout_s)]


@contextlib.asynccontextmanager
async def edge_serving(database_url: str, kafka: KafkaSettings, data_dir: Path) -> AsyncIterator[str]:
    """The real webhook edge (`convsync serve`'s app) on a loopback port; yields its /webhook URL."""
    port = free_port()
    edge = make_settings(database_url, kafka)
    edge = dataclasses.replace(edge, webhook=dataclasses.replace(edge.webhook, spool_dir=str(data_dir / "spool")))
    async with serve_app(create_app(edge), port=port):
        yield f"http://127.0.0.1:{port}/webhook"


async def until(conn: asyncpg.Connection, sql: str, expected: Any, *args: Any, timeout_s: float = 60.0) -> Any:
    """Poll `sql` until it returns `expected` (or the time runs out); returns what it last found."""
    deadline = time.monotonic() + timeout_s
    while (found := await conn.fetchval(sql, *args)) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return found
