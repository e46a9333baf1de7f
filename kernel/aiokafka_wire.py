"""Everything convsync uses of aiokafka beyond its documented API, in one place.

The edge writes Produce requests of its own (ingest.shipping: fewer, larger requests and no
accumulator bookkeeping, measured in bench/webhook.py). That needs record batches (`RecordBatch`,
on aiokafka's C record-batch builder, which its own `BatchBuilder` wraps in Python per record),
stamping a batch with a producer id and sequence (what aiokafka's accumulator does), the producer's
client (`send` to a node, the cluster's partition leaders and available partitions, a metadata
refresh, a random node), a consumer's wait for one topic's metadata (the replay's scan,
`topic_partitions`) and the protocol classes of Produce and InitProducerId; Produce v3-v7 requests
are written and their answers read by `kernel.produce_wire` inside aiokafka's classes
(`EdgeProduceRequest`), for about a quarter of the CPU of aiokafka's schema walker (bench/produce_cpu.py).
`missing()` names any of them an aiokafka release has moved; tests/kernel/test_aiokafka_wire.py fails with that name, so an upgrade breaks loudly
in the suite and never quietly in production. aiokafka is pinned below its next minor version.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.protocol import produce as produce_protocol
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import TopicPartition

from kernel import produce_wire

Data = bytes | bytearray  # a built record batch (aiokafka builds into a bytearray)
TopicData = list[tuple[str, list[tuple[int, Data]]]]  # (topic, [(partition, batch bytes)])
Answered = Iterable[tuple[str, Iterable[Sequence[Any]]]]  # (topic, [(partition, error_code, ...)])


class RecordBatch:
    """One record batch being filled (Kafka's v2 format, uncompressed), on aiokafka's record-batch
    builder (C). aiokafka's `BatchBuilder` wraps the same builder with two Python calls per record
    and per batch; the edge appends two records per webhook, so it uses the builder directly.

    `append` returns False when the batch is full (or built); an empty batch takes any record.
    `build` gives the wire bytes once, after which nothing more can be appended."""

    __slots__ = ("_builder", "_count", "_built")

    def __init__(self, max_bytes: int) -> None:
        # as aiokafka's BatchBuilder makes it: no transaction, no producer id until stamped
        self._builder = DefaultRecordBatchBuilder(2, 0, is_transactional=0, producer_id=-1, producer_epoch=-1,
                                                  base_sequence=0, batch_size=max_bytes)
        self._count = 0
        self._built: Data | None = None

    def append(self, timestamp: int | None, key: bytes | None, value: bytes | None,
               headers: list[tuple[str, bytes]]) -> bool:
        """Add a record (`timestamp` in epoch ms, None: now; `headers` a list, as the builder
        requires); False when it does not fit."""
        if self._built is not None:
            return False
        if self._builder.append(self._count, timestamp, key, value, headers) is None:
            return False
        self._count += 1
        return True

    def record_count(self) -> int:
        return self._count

    def stamp(self, producer_id: int, epoch: int, sequence: int) -> None:
        """Make an unbuilt batch idempotent: this producer id and epoch, its first sequence number."""
        if self._built is not None:
            raise RuntimeError("a built batch cannot be stamped")
        self._builder.set_producer_state(producer_id, epoch, sequence)

    def build(self) -> Data:
        """The wire bytes (the same object every time; the batch takes no more records)."""
        if self._built is None:
            self._built = self._builder.build()
        return self._built


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
        request = EdgeProduceRequest(required_acks=-1, timeout=ack_timeout_ms, topics=topics, transactional_id=None)
        response = await self._client.send(node, request)
        answered: Answered = response.topics
        return answered

    async def init_producer_id(self, node: int, transaction_timeout_ms: int) -> tuple[int, int, int]:
        """(error code, producer id, epoch) of an InitProducerId request without a transactional id."""
        response = await self._client.send(node, InitProducerIdRequest(
            transactional_id=None, transaction_timeout_ms=transaction_timeout_ms))
        return int(response.error_code), int(response.producer_id), int(response.producer_epoch)


class EdgeProduceRequest(ProduceRequest):  # type: ignore[misc]  # aiokafka has no type hints for mypy
    """aiokafka's Produce request, written and its answer read by `kernel.produce_wire` for the
    versions that module knows (v3-v7, what every broker since Kafka 0.11 offers); aiokafka's own
    classes otherwise. aiokafka still picks the version with the broker and frames the request."""

    def __init__(self, transactional_id: str | None, required_acks: int, timeout: int, topics: TopicData) -> None:
        super().__init__(transactional_id=transactional_id, required_acks=required_acks, timeout=timeout,
                         topics=topics)
        self._fields = (transactional_id, required_acks, timeout, topics)

    def build(self, request_struct_class: Any) -> Any:
        fast = _HAND_WRITTEN.get(request_struct_class)
        return super().build(request_struct_class) if fast is None else fast(*self._fields)


def _hand_written(version: int) -> tuple[Any, Any]:
    """(aiokafka's Produce request class of this version, the same written by `produce_wire`)."""
    request_class: Any = getattr(produce_protocol, f"ProduceRequest_v{version}")
    response_class: Any = request_class.RESPONSE_TYPE

    def decode(cls: Any, data: Any) -> Any:
        topics, throttle_time_ms = produce_wire.decode_response(version, data.read() if hasattr(data, "read") else data)
        return cls(topics, throttle_time_ms)

    def encode(self: Any) -> bytes:
        return produce_wire.encode_request(self.transactional_id, self.required_acks, self.timeout, self.topics)

    response = type(f"Written{response_class.__name__}", (response_class,), {"decode": classmethod(decode)})
    request = type(f"Written{request_class.__name__}", (request_class,), {"encode": encode, "RESPONSE_TYPE": response})
    return request_class, request


def _request_class_names() -> list[str]:
    return [f"ProduceRequest_v{version}" for version in produce_wire.VERSIONS]


_HAND_WRITTEN: dict[Any, Any] = dict(_hand_written(version) for version in produce_wire.VERSIONS
                                     if hasattr(produce_protocol, f"ProduceRequest_v{version}"))


# (where, attribute): what the functions above reach for
_INTERNALS: tuple[tuple[Any, str], ...] = (
    (DefaultRecordBatchBuilder, "append"),
    (DefaultRecordBatchBuilder, "build"),
    (DefaultRecordBatchBuilder, "set_producer_state"),
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
    gone += [f"aiokafka.protocol.produce.{name}" for name in _request_class_names()
             if not hasattr(produce_protocol, name)]
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
