"""What only the reference broker shows (DESIGN §6): the idempotent producer, true end offsets and
lag for multi-record batches, and the admin group-offset call. Tansu gets each of these wrong."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from kernel import kafka as kafka_io
from kernel.settings import KafkaSettings
from tests.kafka.reading import committed_offsets, read_to_end

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.apache_only]

KEYS = [f"page1:user{n}".encode() for n in range(8)]


async def _produce(kafka: KafkaSettings, count: int, *, partition: int | None = None) -> None:
    """`count` records, key round-robin, value `key|seq`; linger so they travel in multi-record batches."""
    producer = kafka_io.producer(kafka, linger_ms=50)
    await producer.start()
    try:
        sends = [await producer.send(kafka.topics.events, _value(i), key=KEYS[i % len(KEYS)], partition=partition)
                 for i in range(count)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def _value(i: int) -> bytes:
    return f"{KEYS[i % len(KEYS)].decode()}|{i // len(KEYS)}".encode()


async def test_the_idempotent_producer_is_granted_a_producer_id_and_writes_each_record_once(
        kafka: KafkaSettings) -> None:
    assert kafka.idempotence
    producer = kafka_io.producer(kafka)
    await producer.start()
    try:
        sends = [await producer.send(kafka.topics.events, _value(i), key=KEYS[i % len(KEYS)]) for i in range(400)]
        await asyncio.gather(*sends)
        granted = producer._txn_manager  # noqa: SLF001 - aiokafka exposes the producer id nowhere else
        assert granted is not None and granted.producer_id >= 0
    finally:
        await producer.stop()
    records = await read_to_end(kafka.bootstrap or "", kafka.topics.events)
    assert sorted(r.value or b"" for r in records) == sorted(_value(i) for i in range(400))


async def test_end_offsets_count_every_record_of_multi_record_batches(kafka: KafkaSettings) -> None:
    await _produce(kafka, 1000, partition=0)
    await _produce(kafka, 250, partition=1)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(kafka.topics.events, p) for p in range(kafka.events_partitions)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    assert ends == {tps[0]: 1000, tps[1]: 250, **{tp: 0 for tp in tps[2:]}}


async def test_lag_and_the_admin_group_offset_call_see_the_committed_offsets(kafka: KafkaSettings) -> None:
    await _produce(kafka, 600, partition=0)
    group = f"lag-{uuid.uuid4().hex[:8]}"
    tp = TopicPartition(kafka.topics.events, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(450, "")})
        lag = (await consumer.end_offsets([tp]))[tp] - (await consumer.committed(tp) or 0)
    finally:
        await consumer.stop()
    assert lag == 150
    assert await committed_offsets(kafka.bootstrap or "", group) == {tp: 450}
    resumed = await read_to_end(kafka.bootstrap or "", kafka.topics.events, group_id=group, from_committed=True)
    assert [r.offset for r in resumed if r.partition == 0] == list(range(450, 600))
