"""Shipping a group's batches: the request plan, the answer check and the sequence numbers are pure;
the rest meets a real broker (idempotence: Apache Kafka only, Tansu refuses it)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, LeaderNotAvailableError, NotLeaderForPartitionError
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition

from kernel.kafka import producer as new_producer
from kernel.settings import KafkaSettings
from ingest.shipping import Idempotence, ProduceRequests, check_acknowledged, next_sequence, plan_requests
from kernel.aiokafka_wire import Connections, RecordBatch
from tests.ingest.conftest import read_topic


def test_one_request_per_leader_when_everything_fits() -> None:
    plan = plan_requests([("events", 0, 1, b"a"), ("events", 1, 2, b"b"), ("raw", 0, 1, b"c"),
                          ("events", 2, 1, b"d")], max_bytes=100)
    assert plan == [(1, {"events": [(0, b"a"), (2, b"d")], "raw": [(0, b"c")]}), (2, {"events": [(1, b"b")]})]


def test_a_partitions_later_batches_go_in_later_requests_in_order() -> None:
    plan = plan_requests([("events", 0, 1, b"first"), ("events", 1, 1, b"x"), ("events", 0, 1, b"second"),
                          ("events", 0, 1, b"third"), ("events", 1, 1, b"y")], max_bytes=100)
    assert plan == [(1, {"events": [(0, b"first"), (1, b"x")]}),
                    (1, {"events": [(0, b"second"), (1, b"y")]}),
                    (1, {"events": [(0, b"third")]})]


def test_requests_stay_under_the_size_limit_unless_one_batch_exceeds_it() -> None:
    plan = plan_requests([("events", 0, 1, b"a" * 60), ("events", 1, 1, b"b" * 60), ("events", 2, 1, b"c" * 30),
                          ("events", 3, 1, b"d" * 250)], max_bytes=100)
    assert [{t: [(p, len(d)) for p, d in parts] for t, parts in topics.items()} for _, topics in plan] == [
        {"events": [(0, 60), (2, 30)]}, {"events": [(1, 60)]}, {"events": [(3, 250)]}]


def test_an_answer_without_errors_for_every_partition_acknowledges() -> None:
    sent = {"events": [(0, b"a"), (3, b"b")], "raw": [(0, b"c")]}
    check_acknowledged(sent, [("events", [(0, 0, 17, -1, 0), (3, 0, 4, -1, 0)]), ("raw", [(0, 0, 9, -1, 0)])])


def test_a_partition_error_fails_the_request_with_its_kafka_error() -> None:
    sent = {"events": [(0, b"a"), (3, b"b")]}
    with pytest.raises(NotLeaderForPartitionError):
        check_acknowledged(sent, [("events", [(0, 0, 17, -1, 0), (3, 6, -1, -1, 0)])])


def test_a_partition_without_an_answer_fails_the_request() -> None:
    with pytest.raises(KafkaError, match="did not answer for 1 partition"):
        check_acknowledged({"events": [(0, b"a"), (3, b"b")]}, [("events", [(0, 0, 17, -1, 0)])])


@pytest.mark.integration
@pytest.mark.kafka
async def test_batches_reach_their_partitions_and_a_partition_without_a_leader_is_refused(
        kafka: KafkaSettings) -> None:
    producer = new_producer(kafka, linger_ms=0, enable_idempotence=False)
    await producer.start()
    try:
        await producer.partitions_for(kafka.topics.raw)
        shipper = ProduceRequests(ack_timeout_ms=10_000, max_request_bytes=1 << 20)
        batch = RecordBatch(1 << 16)
        assert batch.append(None, None, b"shipped", [])
        acks = await shipper.ship(producer, [(kafka.topics.raw, 0, batch)])
        for ack in acks:
            await ack

        unknown = RecordBatch(1 << 16)
        assert unknown.append(None, None, b"nowhere", [])
        with pytest.raises(LeaderNotAvailableError, match=r"\[99\]"):
            await shipper.ship(producer, [(kafka.topics.raw, 99, unknown)])
    finally:
        await producer.stop()
    assert [r.value for r in await read_topic(kafka, kafka.topics.raw, 1)] == [b"shipped"]


def batch_of(count: int) -> RecordBatch:
    batch = RecordBatch(1 << 16)
    for n in range(count):
        assert batch.append(None, None, b"v%d" % n, [])
    return batch


def stamped(idempotence: Idempotence, topic: str, partition: int, count: int) -> tuple[int, int, int]:
    batch = batch_of(count)
    idempotence.stamp(topic, partition, batch)
    built = DefaultRecordBatch(bytes(batch.build()))
    return built.producer_id, built.producer_epoch, built.base_sequence


def test_each_partitions_sequence_advances_by_its_batches_record_counts() -> None:
    idempotence = Idempotence()
    idempotence.assign(producer_id=42, epoch=3)
    assert stamped(idempotence, "events", 0, 3) == (42, 3, 0)
    assert stamped(idempotence, "events", 1, 5) == (42, 3, 0)
    assert stamped(idempotence, "events", 0, 2) == (42, 3, 3)
    assert stamped(idempotence, "raw", 0, 1) == (42, 3, 0)
    assert stamped(idempotence, "events", 0, 1) == (42, 3, 5)


def test_a_forgotten_producer_id_stamps_nothing_until_a_new_one_restarts_the_sequences() -> None:
    idempotence = Idempotence()
    idempotence.assign(producer_id=42, epoch=0)
    stamped(idempotence, "events", 0, 3)
    idempotence.forget()
    with pytest.raises(RuntimeError, match="no producer id"):
        stamped(idempotence, "events", 0, 1)
    idempotence.assign(producer_id=43, epoch=0)
    assert stamped(idempotence, "events", 0, 1) == (43, 0, 0)


def test_sequence_numbers_wrap_to_zero_after_the_largest_int32() -> None:
    assert next_sequence(0, 5) == 5
    assert next_sequence(2**31 - 1, 1) == 0
    assert next_sequence(2**31 - 3, 5) == 2


async def produce(producer: AIOKafkaProducer, topic: str, data: bytes) -> None:
    leader = producer.client.cluster.leader_for_partition(TopicPartition(topic, 0))
    request = ProduceRequest(required_acks=-1, timeout=10_000, topics=[(topic, [(0, data)])], transactional_id=None)
    response: Any = await producer.client.send(leader, request)
    check_acknowledged({topic: [(0, data)]}, response.topics)


@pytest.mark.integration
@pytest.mark.kafka
@pytest.mark.apache_only
async def test_a_stamped_batch_sent_twice_is_written_once_and_a_new_producer_id_starts_afresh(
        kafka: KafkaSettings) -> None:
    topic = kafka.topics.raw
    producer = new_producer(kafka, linger_ms=0, enable_idempotence=False)  # only its client is used
    await producer.start()
    try:
        await producer.partitions_for(topic)
        idempotence = Idempotence()
        await idempotence.ensure(Connections(producer))
        first = batch_of(3)
        idempotence.stamp(topic, 0, first)
        data = bytes(first.build())
        await produce(producer, topic, data)
        await produce(producer, topic, data)  # a repeat: acknowledged, not written again

        idempotence.forget()
        await idempotence.ensure(Connections(producer))
        second = batch_of(2)
        idempotence.stamp(topic, 0, second)  # sequence 0 again, under the new id
        await produce(producer, topic, bytes(second.build()))
    finally:
        await producer.stop()
    records = await read_topic(kafka, topic, 6, timeout_s=3)
    assert [r.value for r in records] == [b"v0", b"v1", b"v2", b"v0", b"v1"]
