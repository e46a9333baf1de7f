"""A broker reached only through Toxiproxy: Tansu listens on one port and advertises the proxy's, so
every client (the edge's producer, the consumer's fetches, the admin client) goes through the faults."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from convsync.embedded import Tansu, free_port
from kernel.kafka import ensure_topics
from kernel.settings import KafkaSettings
from tests.support.infra import Infra
from tests.support.toxiproxy import Proxy, toxiproxy


@dataclass
class FaultyKafka:
    settings: KafkaSettings  # clients connect through the proxy
    proxy: Proxy


@pytest.fixture
async def faulty_kafka(infra: Infra, data_dir: Path) -> AsyncIterator[FaultyKafka]:
    if infra.broker_kind != "tansu":
        pytest.skip("the fault tests run their own Tansu broker behind the proxy")
    async with toxiproxy(data_dir / "toxiproxy.log") as toxi:
        broker_port = free_port()
        proxy = await toxi.proxy("kafka", broker_port)
        broker = Tansu(broker_port, data_dir / "tansu.log", advertised_port=proxy.listen_port)
        broker.start()
        try:
            settings = dataclasses.replace(infra.test_kafka(), bootstrap=broker.bootstrap, idempotence=False)
            await ensure_topics(settings)
            yield FaultyKafka(settings, proxy)
        finally:
            broker.stop()


from tests.consumers.conftest import consumer_settings, reference_db  # noqa: E402,F401 - shared fixtures


@dataclass
class SlowPostgres:
    url: str  # the test's database, reached through the proxy
    proxy: Proxy


@pytest.fixture
async def slow_postgres(database_url: str, data_dir: Path) -> AsyncIterator[SlowPostgres]:
    """The test's database behind Toxiproxy (add latency to widen the window of a transaction)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    async with toxiproxy(data_dir / "toxiproxy-pg.log") as toxi:
        proxy = await toxi.proxy("postgres", parts.port or 5432)
        host = parts.netloc.rpartition("@")
        netloc = f"{host[0]}@127.0.0.1:{proxy.listen_port}" if host[1] else f"127.0.0.1:{proxy.listen_port}"
        yield SlowPostgres(urlunsplit(parts._replace(netloc=netloc)), proxy)
