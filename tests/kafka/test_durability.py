"""Durability on Apache Kafka: what the broker acknowledged survives a SIGKILL and a restart on the
same log dir, and so do a group's committed offsets (DESIGN §8, no loss). Tansu keeps topics in
memory, so this runs on a broker of the test's own, only in the Apache Kafka leg of the matrix.

A kill -9 is a process crash: the acknowledged writes are in the OS page cache and the broker's
recovery must find them there. (A power loss would need fsync per write, which no one configures.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from kernel import kafka as kafka_io
from kernel.kafka import ensure_topics
from kernel.settings import KafkaSettings
from tests.kafka.reading import committed_offsets, read_to_end
from tests.support.apache_kafka import ApacheKafka

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.apache_only]

KEYS = [f"page{n % 3}:user{n}".encode() for n in range(24)]
PER_KEY = 150  # 3600 records in all


async def _produce_all(kafka: KafkaSettings) -> dict[bytes, list[int]]:
    """Send every key's sequence 0..PER_KEY-1 (acks=all, idempotent); return what was acknowledged."""
    producer = kafka_io.producer(kafka)
    await producer.start()
    try:
        sends = [(key, seq, await producer.send(kafka.topics.events, _value(key, seq), key=key))
                 for seq in range(PER_KEY) for key in KEYS]
        results = await asyncio.gather(*(future for _, _, future in sends), return_exceptions=True)
    finally:
        await producer.stop()
    acked: dict[bytes, list[int]] = defaultdict(list)
    for (key, seq, _), result in zip(sends, results, strict=True):
        if not isinstance(result, BaseException):
            acked[key].append(seq)
    return acked


def _settings(broker: ApacheKafka) -> KafkaSettings:
    """Topics of the test's own on the module's broker."""
    return KafkaSettings(bootstrap=broker.bootstrap, idempotence=True, events_partitions=4,
                         topic_prefix=f"t{uuid.uuid4().hex[:10]}.")


def _value(key: bytes, seq: int) -> bytes:
    return key + b"|" + str(seq).encode()


def _sequences(records: list[ConsumerRecord[bytes, bytes]]) -> dict[bytes, list[int]]:
    """Per key, the sequence numbers in the order the topic holds them (records come in offset order)."""
    found: dict[bytes, list[int]] = defaultdict(list)
    for record in records:
        key, seq = (record.value or b"").rsplit(b"|", 1)
        assert key == record.key
        found[key].append(int(seq))
    return found


async def _commit_half(kafka: KafkaSettings, group: str) -> dict[TopicPartition, int]:
    """Commit each partition's midpoint for `group`, as a consumer that processed half would."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(kafka.topics.events, p) for p in range(kafka.events_partitions)]
        consumer.assign(tps)
        half = {tp: end // 2 for tp, end in (await consumer.end_offsets(tps)).items()}
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in half.items()})
        return half
    finally:
        await consumer.stop()


async def test_acknowledged_records_and_committed_offsets_survive_kill_9(own_broker: ApacheKafka) -> None:
    kafka = _settings(own_broker)
    await ensure_topics(kafka)
    acked = await _produce_all(kafka)
    assert sum(map(len, acked.values())) == len(KEYS) * PER_KEY  # a healthy broker acknowledges all
    group = f"durability-{uuid.uuid4().hex[:8]}"
    committed = await _commit_half(kafka, group)

    own_broker.kill()
    own_broker.start()

    assert await committed_offsets(own_broker.bootstrap, group) == committed
    everything = await read_to_end(own_broker.bootstrap, kafka.topics.events)
    assert _sequences(everything) == acked  # every acknowledged record, once, in order per key
    rest = await read_to_end(own_broker.bootstrap, kafka.topics.events, group_id=group, from_committed=True)
    assert len(rest) == len(everything) - sum(committed.values())
    assert all(r.offset >= committed[TopicPartition(r.topic, r.partition)] for r in rest)


async def test_records_in_flight_at_the_kill_are_written_once_in_order_when_acknowledged(
        own_broker: ApacheKafka) -> None:
    kafka = _settings(own_broker)
    await ensure_topics(kafka)
    # Small batches: many requests per partition, so the kill falls between acknowledged and in-flight
    # ones; a request timeout that outlasts the restart, so in-flight batches are retried, not failed.
    producer = kafka_io.producer(kafka, max_batch_size=1024, request_timeout_ms=30_000)
    await producer.start()
    try:
        first = [await producer.send(kafka.topics.events, _value(key, seq), key=key)
                 for seq in range(PER_KEY // 2) for key in KEYS]
        await asyncio.gather(*first)
        second = [(key, seq, await producer.send(kafka.topics.events, _value(key, seq), key=key))
                  for seq in range(PER_KEY // 2, PER_KEY) for key in KEYS]
        await asyncio.wait([f for _, _, f in second], return_when=asyncio.FIRST_COMPLETED)
        unacknowledged_at_kill = sum(not future.done() for _, _, future in second)
        own_broker.kill()
        own_broker.start()
        results = await asyncio.gather(*(future for _, _, future in second), return_exceptions=True)
    finally:
        await producer.stop()
    acked = {(key, seq) for seq in range(PER_KEY // 2) for key in KEYS}
    acked |= {(key, seq) for (key, seq, _), result in zip(second, results, strict=True)
              if not isinstance(result, BaseException)}
    assert unacknowledged_at_kill > 0
    found = _sequences(await read_to_end(own_broker.bootstrap, kafka.topics.events))
    for key in KEYS:
        assert found[key] == sorted(set(found[key]))  # in order per key, none twice (idempotence)
        assert {(key, seq) for seq in found[key]} >= {pair for pair in acked if pair[0] == key}
