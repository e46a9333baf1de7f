"""The coalescer against a real broker: every record of every request, on its key's partition, in order.

Plain and idempotent (Apache Kafka only) Produce requests: small record batches and a small request
limit make partitions span several batches and groups several requests. The batch bookkeeping
(`Batches`) is pure and tested with aiokafka's own record builder.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatch

from ingest.coalesce import Batches, Coalescer
from ingest.delivery import BrokerUnavailable
from kernel.aiokafka_wire import RecordBatch
from kernel.kafka import producer as new_producer
from ingest.parse import parse_webhook
from ingest.partition import MemoPartitioner
from kernel.records import EventRecord, Topics, decode, encode
from kernel.settings import KafkaSettings
from ingest.shipping import ProduceRequests
from ingest.received import Received
from tests.ingest.conftest import read_topic
from tests.ingest.meta import meta_bytes


def request(n: int, rng: random.Random, *, pages: int = 1) -> tuple[Received, list[EventRecord]]:
    user, page = f"u{rng.randrange(40)}", str(100 + rng.randrange(pages))
    items = [{"sender": {"id": user}, "recipient": {"id": page}, "timestamp": 1_732_870_000_000 + n,
              "message": {"mid": f"m_{n}_{i}", "text": f"request {n} item {i} \u00e4 \U0001f600"}}
             for i in range(rng.randrange(1, 4))]
    body = meta_bytes({"object": "page", "entry": [{"id": page, "time": 1_732_870_000_000 + n, "messaging": items}]})
    received = Received(body, f"sha256={n:064d}", 1_732_870_000_000 + n, hashlib.sha256(body).hexdigest())
    return received, parse_webhook(body, received_at=received.received_at, body_sha256=received.body_sha256)


class GroupLog:
    """The edge's partitioner, noting for each group the archive partition it chose (the one call
    without a key, made before the group's events) and how many events followed."""

    def __init__(self) -> None:
        self._partitioner = MemoPartitioner()
        self.groups: list[tuple[int, int]] = []  # (archive partition, events)

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        chosen = self._partitioner(key, all_partitions, available)
        if key is None:
            self.groups.append((chosen, 0))
        else:
            partition, events = self.groups[-1]
            self.groups[-1] = (partition, events + 1)
        return chosen

    def archive_partitions(self, requests: Sequence[tuple[Received, list[EventRecord]]]) -> list[int]:
        """The archive partition of each request, given the requests in the order they were submitted."""
        found: list[int] = []
        pending = iter(requests)
        for partition, events in self.groups:
            while events > 0:
                events -= len(next(pending)[1])
                found.append(partition)
            assert events == 0, "a request's events split over two groups"
        return found


def shipper(*, idempotent: bool = False) -> ProduceRequests:
    return ProduceRequests(ack_timeout_ms=10_000, max_request_bytes=32 * 1024, idempotent=idempotent)


@pytest.mark.integration
@pytest.mark.kafka
@pytest.mark.parametrize("idempotent", [False, pytest.param(True, marks=pytest.mark.apache_only)])
async def test_concurrent_requests_reach_kafka_whole_on_their_partitions_in_order(
        kafka: KafkaSettings, idempotent: bool) -> None:
    producer = new_producer(kafka, linger_ms=0, max_batch_size=4096, enable_idempotence=False)  # its client
    await producer.start()
    try:
        produced: list[float] = []
        log = GroupLog()
        coalescer = Coalescer(lambda: producer, kafka.topics, log, shipper(idempotent=idempotent),
                              timeout_s=10, linger_s=0.002, on_produced=produced.append)
        rng = random.Random(7)
        requests = [request(n, rng, pages=30) for n in range(400)]
        futures = []
        for n, (received, records) in enumerate(requests):  # arrivals spread over several hand-overs
            futures.append(coalescer.submit(received, records))
            if n % 37 == 0:
                await asyncio.sleep(0.003)
        await asyncio.gather(*futures)
        await coalescer.wait_settled()
    finally:
        await producer.stop()
    assert 2 <= len(produced) < len(requests)  # one latency per group
    assert all(0 < seconds < 10 for seconds in produced)

    expected = [record for _, records in requests for record in records]
    events = await read_topic(kafka, kafka.topics.events, len(expected))
    assert sorted(r.value for r in events) == sorted(encode(r) for r in expected)
    default = DefaultPartitioner()
    partitions = list(range(kafka.events_partitions))
    by_key: dict[bytes, list[str]] = defaultdict(list)
    for record in sorted(events, key=lambda r: (r.partition, r.offset)):
        assert record.partition == default(record.key, partitions, partitions)
        by_key[record.key].append(decode(record.value).event["message"]["mid"])
    for key, mids in by_key.items():  # per thread, in the order the requests were submitted
        assert mids == [r.event["message"]["mid"] for r in expected if r.thread_key.encode() == key]

    raw = await read_topic(kafka, kafka.topics.raw, len(requests))
    bodies = [received.body for received, _ in requests]
    assert sorted(r.value for r in raw) == sorted(bodies)
    assert all(r.key is None for r in raw)  # no key: a group's bodies share one partition, whatever their pages
    assert len(log.groups) == len(produced)
    expected = dict(zip(bodies, log.archive_partitions(requests), strict=True))
    assert {r.value: r.partition for r in raw} == expected  # each body on its group's partition
    order = {body: n for n, body in enumerate(bodies)}
    by_partition: dict[int, list[int]] = defaultdict(list)
    for record in sorted(raw, key=lambda r: (r.partition, r.offset)):
        by_partition[record.partition].append(order[record.value])
    assert all(ns == sorted(ns) for ns in by_partition.values())  # each partition in submission order
    first = dict(next(r for r in raw if r.value == bodies[0]).headers)
    assert first == {"signature": requests[0][0].signature.encode(), "received_at": b"1732870000000",
                     "body_sha256": requests[0][0].body_sha256.encode()}


@pytest.mark.integration
@pytest.mark.kafka
async def test_a_group_waits_for_a_request_still_arriving_and_ships_once_none_is(kafka: KafkaSettings) -> None:
    """Nobody arriving: a request ships at once, long before the linger. A request arriving (its body
    being read): the waiting one is held for it, and both go in one group once it was submitted.
    One that never comes is waited for only until the linger."""
    producer = new_producer(kafka, linger_ms=0, enable_idempotence=False)
    await producer.start()
    try:
        produced: list[float] = []
        coalescer = Coalescer(lambda: producer, kafka.topics, MemoPartitioner(), shipper(),
                              timeout_s=30, linger_s=5.0, on_produced=produced.append)
        rng = random.Random(3)
        await coalescer.submit(*request(0, rng))
        assert len(produced) == 1 and produced[0] < 5.0  # shipped without lingering

        coalescer.arriving()
        first = coalescer.submit(*request(1, rng))
        await asyncio.sleep(0.2)
        assert not first.done()  # held for the request still arriving
        second = coalescer.submit(*request(2, rng))
        coalescer.arrived()
        await asyncio.gather(first, second)
        assert len(produced) == 2  # the two went together

        coalescer.arriving()  # a request that is never submitted (its sender stalls)
        lonely = coalescer.submit(*request(3, rng))
        await asyncio.sleep(0.2)
        assert not lonely.done()
        coalescer.arrived()  # refused, say: the group goes without it
        await lonely
        assert len(produced) == 3
        await coalescer.wait_settled()

        lingering: list[float] = []
        short = Coalescer(lambda: producer, kafka.topics, MemoPartitioner(), shipper(),
                          timeout_s=30, linger_s=0.3, on_produced=lingering.append)
        short.arriving()  # and never arrives
        await short.submit(*request(4, rng))
        assert len(lingering) == 1 and lingering[0] >= 0.3  # held for it until the linger, then shipped
        await short.wait_settled()
    finally:
        await producer.stop()


@pytest.mark.integration
@pytest.mark.kafka
async def test_a_group_archives_only_on_a_partition_with_a_leader(kafka: KafkaSettings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies without a key may go anywhere: never to a partition whose leader is unknown, which
    would fail (and spool) the whole group."""
    producer = new_producer(kafka, linger_ms=0, enable_idempotence=False)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(kafka.topics.raw))
        assert len(partitions) > 1
        led = partitions[-1]  # the others, say, have lost their leader
        cluster = producer.client.cluster
        known = cluster.available_partitions_for_topic
        monkeypatch.setattr(cluster, "available_partitions_for_topic",
                            lambda topic: {led} if topic == kafka.topics.raw else known(topic))
        coalescer = Coalescer(lambda: producer, kafka.topics, MemoPartitioner(), shipper(),
                              timeout_s=10, linger_s=0.002)
        rng = random.Random(5)
        requests = [request(n, rng, pages=30) for n in range(40)]
        for n in range(0, 40, 8):  # five groups
            await asyncio.gather(*(coalescer.submit(*r) for r in requests[n:n + 8]))
        await coalescer.wait_settled()
    finally:
        await producer.stop()
    raw = await read_topic(kafka, kafka.topics.raw, len(requests))
    assert sorted(r.value for r in raw) == sorted(received.body for received, _ in requests)
    assert {r.partition for r in raw} == {led}


async def test_without_a_started_producer_every_request_fails_with_broker_unavailable() -> None:
    def not_started() -> object:
        raise BrokerUnavailable("producer not started")

    coalescer = Coalescer(not_started, Topics(), MemoPartitioner(), shipper(), timeout_s=1, linger_s=0)
    rng = random.Random(1)
    futures = [coalescer.submit(*request(n, rng)) for n in range(5)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, BrokerUnavailable) for r in results)


def test_a_full_batch_is_set_aside_and_the_partition_order_kept() -> None:
    batches = Batches(4096)
    values = [bytes([65 + n % 26]) * 700 for n in range(20)]
    for n, value in enumerate(values):
        batches.append("events", n % 2, b"k%d" % (n % 2), value)
    batches.append("raw", 0, None, b"x" * 10, [("signature", b"s")])
    found = batches.all()
    assert len(found) > 3  # 20 records of 700 bytes do not fit two batches of 4 KiB
    per_partition: dict[tuple[str, int], list[bytes]] = defaultdict(list)
    for topic, partition, batch in found:
        per_partition[(topic, partition)].extend(_values(batch))
    assert per_partition[("events", 0)] == values[0::2]
    assert per_partition[("events", 1)] == values[1::2]
    assert per_partition[("raw", 0)] == [b"x" * 10]


def test_a_record_larger_than_a_batch_gets_a_batch_of_its_own() -> None:
    batches = Batches(1024)
    batches.append("raw", 0, None, b"small")
    batches.append("raw", 0, None, b"L" * 1_000_000)
    batches.append("raw", 0, None, b"after")
    assert [_values(batch) for _, _, batch in batches.all()] == [[b"small"], [b"L" * 1_000_000], [b"after"]]


def _values(batch: RecordBatch) -> list[bytes]:
    return [record.value for record in DefaultRecordBatch(bytes(batch.build()))]
