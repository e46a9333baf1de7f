"""Shared fixtures: the stack once per session, a clean migrated database and fresh topics per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from aiokafka import AIOKafkaConsumer, TopicPartition

from kernel.kafka import ensure_topics, topic_specs
from kernel.settings import KafkaSettings
from tests.support.databases import create_database, create_template, drop_database
from tests.support.infra import Infra, broker_kind, start_infra

INTEGRATION_MARKERS = {"integration", "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not INTEGRATION_MARKERS & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)
        if item.get_closest_marker("apache_only") and broker_kind() != "apache":
            item.add_marker(pytest.mark.skip(
                reason=f"needs Apache Kafka (CONVSYNC_TEST_KAFKA=apache); this run's broker is {broker_kind()}"))


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with start_infra(tmp_path_factory.mktemp("infra")) as started:
        yield started


@pytest.fixture(scope="session")
async def template_db(infra: Infra) -> str:
    return await create_template(infra.database_url)


@pytest.fixture
async def database_url(infra: Infra, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    url = await create_database(infra.database_url, template_db)
    yield url
    await drop_database(infra.database_url, url)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to this test's database."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def kafka(infra: Infra) -> KafkaSettings:
    """Kafka settings with topics of this test's own (a unique prefix), already created and, on Apache
    Kafka, with every partition's leader serving (a fresh topic answers NotLeader for a moment, which
    aiokafka's producer retries but the edge's own Produce requests do not)."""
    settings = infra.test_kafka()
    await ensure_topics(settings)
    if infra.broker_kind == "apache":
        await leaders_serving(settings)
    return settings


async def leaders_serving(kafka: KafkaSettings) -> None:
    """Until each partition's leader answers a ListOffsets request (aiokafka retries NotLeader meanwhile)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, request_timeout_ms=30_000)
    await consumer.start()
    try:
        partitions = [TopicPartition(spec.name, p) for spec in topic_specs(kafka) for p in range(spec.num_partitions)]
        await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path
