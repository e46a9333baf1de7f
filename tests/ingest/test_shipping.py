"""Shipping a group's batches: the request plan and the answer check are pure; the rest meets a real broker."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaError, LeaderNotAvailableError, NotLeaderForPartitionError

from ingest.kafka import producer as new_producer
from ingest.settings import KafkaSettings
from ingest.shipping import ProduceRequests, check_acknowledged, plan_requests
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
        batch = producer.create_batch()
        batch.append(timestamp=None, key=None, value=b"shipped", headers=[])
        acks = await shipper.ship(producer, [(kafka.topics.raw, 0, batch)])
        for ack in acks:
            await ack

        unknown = producer.create_batch()
        unknown.append(timestamp=None, key=None, value=b"nowhere", headers=[])
        with pytest.raises(LeaderNotAvailableError, match=r"\[99\]"):
            await shipper.ship(producer, [(kafka.topics.raw, 99, unknown)])
    finally:
        await producer.stop()
    assert [r.value for r in await read_topic(kafka, kafka.topics.raw, 1)] == [b"shipped"]
