"""Everything convsync uses of aiokafka beyond its documented API, in one place.

The edge writes Produce requests of its own (ingest.shipping: fewer, larger requests and no
accumulator bookkeeping, measured in bench/webhook.py). That needs a record batch's bytes
(`BatchBuilder._build`, what aiokafka's own sender uses), stamping a batch with a producer id and
sequence (`BatchBuilder._set_producer_state`, what its accumulator does), the producer's client
(`send` to a node, the cluster's partition leaders and available partitions, a metadata refresh, a random node), a
consumer's wait for one topic's metadata (the replay's scan, `topic_partitions`) and the
protocol classes of Produce and InitProducerId. `missing()` names any of them an aiokafka release
has moved; tests/kernel/test_aiokafka_wire.py fails with that name, so an upgrade breaks loudly
in the suite and never quietly in production. aiokafka is pinned below its next minor version.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.structs import TopicPartition

Data = bytes | bytearray  # a built record batch (aiokafka builds into a bytearray)
Headers = Sequence[tuple[str, bytes]]
TopicData = list[tuple[str, list[tuple[int, Data]]]]  # (topic, [(partition, batch bytes)])
Answered = Iterable[tuple[str, Iterable[Sequence[Any]]]]  # (topic, [(partition, error_code, ...)])


class Batch(Protocol):
    """A record batch being filled (aiokafka's BatchBuilder, from `producer.create_batch()`)."""

    def append(self, *, timestamp: int | None, key: bytes | None, value: bytes | None,
               headers: Headers) -> object | None: ...

    def record_count(self) -> int: ...


def batch_bytes(batch: Batch) -> Data:
    """The wire bytes of a filled batch (it can take no more records afterwards)."""
    data: Data = batch._build()  # type: ignore[attr-defined]
    return data


def stamp(batch: Batch, producer_id: int, epoch: int, sequence: int) -> None:
    """Make an unbuilt batch idempotent: this producer id and epoch, its first sequence number."""
    batch._set_producer_state(producer_id, epoch, sequence)  # type: ignore[attr-defined]


class Connections:
    """The producer's connections to the brokers, for requests of our own."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._client = producer.client

    def leader(self, topic: str, partition: int) -> int | None:
        leader: int | None = self._client.cluster.leader_for_partition(TopicPartition(topic, partition))
        return leader

    def available_partitions(self, topic: str) -> list[int]:
        """The topic's partitions that have a leader now (what aiokafka's own partitioning offers a
        record without a key)."""
        return sorted(self._client.cluster.available_partitions_for_topic(topic) or ())

    def random_node(self) -> int | None:
        node: int | None = self._client.get_random_node()
        return node

    def refresh_metadata(self) -> None:
        self._client.force_metadata_update()

    async def produce(self, node: int, *, ack_timeout_ms: int, topics: TopicData) -> Answered:
        """One Produce request (acks=all) to `node`; its answer's topics."""
        request = ProduceRequest(required_acks=-1, timeout=ack_timeout_ms, topics=topics, transactional_id=None)
        response = await self._client.send(node, request)
        answered: Answered = response.topics
        return answered

    async def init_producer_id(self, node: int, transaction_timeout_ms: int) -> tuple[int, int, int]:
        """(error code, producer id, epoch) of an InitProducerId request without a transactional id."""
        response = await self._client.send(node, InitProducerIdRequest(
            transactional_id=None, transaction_timeout_ms=transaction_timeout_ms))
        return int(response.error_code), int(response.producer_id), int(response.producer_epoch)


# (where, attribute): what the functions above reach for
_INTERNALS: tuple[tuple[Any, str], ...] = (
    (BatchBuilder, "_build"),
    (BatchBuilder, "_set_producer_state"),
    (BatchBuilder, "append"),
    (BatchBuilder, "record_count"),
    (AIOKafkaProducer, "create_batch"),
    (AIOKafkaProducer, "partitions_for"),
)
_CLIENT_METHODS = ("send", "get_random_node", "force_metadata_update", "_wait_on_metadata")


async def topic_partitions(consumer: Any, topic: str) -> set[int]:
    """The partition numbers of `topic`, fetching its metadata first (a consumer without a
    subscription knows no topic's partitions: `partitions_for_topic` answers None on Apache Kafka).
    Raises `UnknownTopicOrPartitionError` when the broker has no such topic."""
    partitions: set[int] = await consumer._client._wait_on_metadata(topic)
    return set(partitions)


def missing() -> list[str]:
    """The internals above that this aiokafka lacks, by name (empty when all are there)."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.cluster import ClusterMetadata

    gone = [f"{owner.__name__}.{name}" for owner, name in _INTERNALS if not hasattr(owner, name)]
    gone += [f"AIOKafkaClient.{name}" for name in _CLIENT_METHODS if not hasattr(AIOKafkaClient, name)]
    gone += [f"ClusterMetadata.{name}" for name in ("leader_for_partition", "available_partitions_for_topic")
             if not hasattr(ClusterMetadata, name)]
    gone += [f"ProduceRequest({name}=)" for name in ("required_acks", "timeout", "topics", "transactional_id")
             if not _accepts(ProduceRequest, name)]
    gone += [f"InitProducerIdRequest({name}=)" for name in ("transactional_id", "transaction_timeout_ms")
             if not _accepts(InitProducerIdRequest, name)]
    return gone


def _accepts(request_class: Any, name: str) -> bool:
    """Whether a protocol request class takes this keyword argument."""
    try:
        return name in inspect.signature(request_class).parameters
    except (TypeError, ValueError):
        return False
