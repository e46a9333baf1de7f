"""Reading helpers for Kafka-facing tests: a topic to its end, a group's committed offsets.

Every wait is bounded by a deadline; a broker that has just restarted may still be electing leaders
or loading the group coordinator, so the reads retry the errors that mean "not yet".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

READ_TIMEOUT_S = 60.0
T = TypeVar("T")


async def read_to_end(bootstrap: str, topic: str, *, group_id: str | None = None,
                      from_committed: bool = False) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` up to its end offsets at the time of the call, partition by partition
    in offset order. With `from_committed`, start at `group_id`'s committed offsets instead of the
    beginning (the group is used without joining: assigned partitions, no rebalance)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
                                auto_offset_reset="earliest", metadata_max_age_ms=1000)
    await consumer.start()
    try:
        parts = await _retry(lambda: _partitions(consumer, topic))
        consumer.assign(parts)
        if not from_committed:
            await consumer.seek_to_beginning(*parts)
        ends = await _retry(lambda: consumer.end_offsets(parts))
        return await _drain(consumer, ends)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh in aiokafka
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise KafkaError(f"no metadata for {topic} yet")
    return [TopicPartition(topic, p) for p in sorted(found)]


async def _drain(consumer: AIOKafkaConsumer,
                 ends: dict[TopicPartition, int]) -> list[ConsumerRecord[bytes, bytes]]:
    records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {tp: [] for tp in ends}
    deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
    while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"topic not read to its end offsets {ends} within {READ_TIMEOUT_S}s")
        for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
            records[tp].extend(r for r in batch if r.offset < ends[tp])
    return [r for tp in sorted(records) for r in records[tp]]


async def committed_offsets(bootstrap: str, group_id: str) -> dict[TopicPartition, int]:
    """The group's committed offsets, through the admin API (Tansu's answer is undecodable), for a
    group that has committed some. Asked again while the answer is empty: aiokafka drops the
    answer's group-level error, so a coordinator still loading the offsets after a restart
    (COORDINATOR_LOAD_IN_PROGRESS) looks like a group without any."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
        while True:
            found = await _retry(lambda: admin.list_consumer_group_offsets(group_id))
            if found or asyncio.get_running_loop().time() > deadline:
                return {tp: meta.offset for tp, meta in found.items()}
            await asyncio.sleep(0.3)
    finally:
        await admin.close()


async def _retry(call: Callable[[], Awaitable[T]]) -> T:
    deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
    while True:
        try:
            return await call()
        except KafkaError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.3)
