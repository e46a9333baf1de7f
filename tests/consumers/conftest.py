"""Fixtures of the writer's broker tests: settings for a consumer of this test's own topics and group,
a producer, a reference database holding what the records must produce."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kernel.settings import KafkaSettings, Secret, Settings, load
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra


@pytest.fixture
def consumer_settings(database_url: str, kafka: KafkaSettings) -> Settings:
    """Settings of a consumer on this test's topics, database and group, with small batches."""
    base = load({})
    return dataclasses.replace(
        base,
        database=dataclasses.replace(base.database, url=Secret(database_url)),
        kafka=kafka,
        consumer=dataclasses.replace(base.consumer, group_id=f"writer-{uuid.uuid4().hex[:8]}",
                                     batch_max_records=50, batch_max_wait_ms=100),
    )


@pytest.fixture
async def reference_db(infra: Infra, template_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A second fresh database: the records applied straight through the store, once, give the truth."""
    url = await create_database(infra.database_url, template_db)
    conn = await asyncpg.connect(url)
    yield conn
    await conn.close()
    await drop_database(infra.database_url, url)
