"""The resources a reconciler process owns, opened and closed together.

    async with open_reconciler(settings) as reconciler:
        ...

A PostgreSQL pool, an acks=all producer, one aiohttp session for the Graph API and the per-page
governors; closing waits for the runs still going, then flushes the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg

from kernel.kafka import producer
from kernel.producing import KafkaSink
from kernel.settings import Settings, require
from kernel.startup import database_ready, kafka_started, topics_ensured
from reconciler.governor import Clock, GovernorPolicy, Governors, Sleep
from reconciler.graph import GraphClient
from reconciler.run import RunContext
from reconciler.schedule import SchedulePolicy
from reconciler.service import Reconciler
from reconciler.tokens import TokenCipher
from reconciler.walk import Walker

GRAPH_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


def _clock_ms() -> int:
    return int(time.time() * 1000)


@contextlib.asynccontextmanager
async def open_pool(settings: Settings, *, check: bool = False) -> AsyncIterator[asyncpg.Pool]:
    """With `check`, a database that cannot be reached or lacks migrations is a StartupError first."""
    url = require(settings.database.url, "DATABASE_URL").reveal()
    if check:
        await database_ready(url)
    # min_size=0: no connection at start-up, so `serve` (which hosts the admin API) starts and takes
    # webhooks even while PostgreSQL is down; connections open on first use.
    pool = await asyncpg.create_pool(url, min_size=0, max_size=settings.database.pool_max,
                                     server_settings=settings.database.server_settings())
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def open_reconciler(settings: Settings, owner: str | None = None, *, clock: Clock = time.monotonic,
                          sleep: Sleep = asyncio.sleep, check: bool = False) -> AsyncIterator[Reconciler]:
    """`clock` and `sleep` pace the Graph calls (tests pass a virtual clock to wait without waiting).
    With `check` (the commands, not serve's admin API, which starts while PostgreSQL is down), the
    database is checked first and Kafka trouble is a StartupError."""
    cipher = TokenCipher(require(settings.graph.token_keys, "TOKEN_KEY"))
    require(settings.kafka.bootstrap, "KAFKA_BOOTSTRAP")
    await topics_ensured(settings.kafka)
    governors = Governors(GovernorPolicy(calls_per_second=settings.graph.calls_per_second), clock, sleep)
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(settings, check=check))
        kafka = producer(settings.kafka)
        await kafka_started(kafka, settings.kafka, producer=True)
        stack.push_async_callback(kafka.stop)
        session = await stack.enter_async_context(aiohttp.ClientSession(timeout=GRAPH_TIMEOUT))
        graph = GraphClient(settings.graph, session, governors, sleep=sleep)
        walker = Walker(graph, KafkaSink(kafka, settings.kafka.topics), _clock_ms)
        schedule = SchedulePolicy.from_settings(settings.reconciler, settings.graph.calls_per_second)
        reconciler = Reconciler(RunContext(pool, walker, cipher, settings.reconciler), schedule=schedule,
                                app=governors.app)
        if owner is not None:
            reconciler.owner = owner
        stack.push_async_callback(reconciler.drain)
        yield reconciler
