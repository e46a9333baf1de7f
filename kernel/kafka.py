"""Kafka plumbing every process shares: producer and consumer construction, topic creation.

Producers always use acks=all; idempotence follows the setting (Tansu refuses it, so the embedded
stack turns it off). Nothing here depends on end offsets or the admin group-offset call, which Tansu
answers wrongly (DESIGN §6).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from kernel.settings import KafkaSettings


MAX_BATCH_BYTES = 256 * 1024  # of one partition's records in a request (the edge's own batches too)


def producer(kafka: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """An acks=all producer; call `await p.start()`. Overrides are aiokafka keyword arguments."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap,
        "acks": "all",
        "enable_idempotence": kafka.idempotence,
        "linger_ms": 2,
        "max_batch_size": MAX_BATCH_BYTES,
        "request_timeout_ms": 10_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def started_consumer(**options: Any) -> AIOKafkaConsumer:
    """An AIOKafkaConsumer with these aiokafka options, started; one that fails to start is stopped
    again (no half-open client left behind) and the error raised."""
    consumer = AIOKafkaConsumer(**options)
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise
    return consumer


DAY_MS = 86_400_000


def topic_specs(kafka: KafkaSettings) -> list[NewTopic]:
    """The topics convsync creates when they are missing (an existing topic is never altered).

    The raw archive keeps bodies for `raw_retention_days` (-1: forever) whatever the broker's default,
    and uses CreateTime, which the edge sets to the moment it received each body, so a replay can seek
    by that time (`offsets_for_times`) even for bodies that waited in the spool."""
    rf, topics = kafka.replication_factor, kafka.topics
    retention_ms = -1 if kafka.raw_retention_days == -1 else kafka.raw_retention_days * DAY_MS
    return [
        NewTopic(topics.events, num_partitions=kafka.events_partitions, replication_factor=rf),
        NewTopic(topics.raw, num_partitions=kafka.raw_partitions, replication_factor=rf,
                 topic_configs={"retention.ms": str(retention_ms), "message.timestamp.type": "CreateTime"}),
        NewTopic(topics.dlq, num_partitions=1, replication_factor=rf),
    ]


async def ensure_topics(kafka: KafkaSettings, *, timeout_s: float = 30.0) -> None:
    """Create convsync's topics if they do not exist (idempotent); wait for the broker meanwhile."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in topic_specs(kafka) if t.name not in existing]
            if missing:
                await _create(admin, missing)
            return
        except KafkaError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def _create(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> None:
    try:
        await admin.create_topics(topics)
    except TopicAlreadyExistsError:
        pass  # another process created them between our list and create
