"""Broker-side helpers for the writer's tests: produce records, read the DLQ, read committed offsets,
run a consumer until the database shows what it must."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from consumers.loop import BatchStats, run_consumer
from kernel.kafka import producer
from kernel.records import EventRecord, encode, key_bytes
from kernel.settings import KafkaSettings, Settings
from tests.consumers.support import table_state

Value = EventRecord | tuple[bytes, bytes | None]  # a record, or raw (key, value) bytes for poison


async def produce(kafka: KafkaSettings, values: Sequence[Value]) -> None:
    p = producer(kafka)
    await p.start()
    try:
        futures = []
        for v in values:
            key, value = (key_bytes(v), encode(v)) if isinstance(v, EventRecord) else v
            futures.append(await p.send(kafka.topics.events, key=key, value=value))
        await asyncio.gather(*futures)
    finally:
        await p.stop()


async def read_dlq(kafka: KafkaSettings, *, expect: int, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Up to `expect` DLQ records (reads without a group, from the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(kafka.topics.dlq, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        found: list[ConsumerRecord] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500)
            found.extend(batch.get(tp, []))
        return found
    finally:
        await consumer.stop()


async def committed(kafka: KafkaSettings, group_id: str) -> dict[int, int | None]:
    """The group's committed offset per events partition (OffsetFetch, no group join)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(kafka.topics.events, p))
                for p in range(kafka.events_partitions)}
    finally:
        await consumer.stop()


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def state_is(conn: asyncpg.Connection, expected: dict[str, Any]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await table_state(conn, with_clock=False) == expected
    return check


class Running:
    """A consumer task with its stop event and the stats of its batches."""

    def __init__(self, settings: Settings) -> None:
        self.stop = asyncio.Event()
        self.batches: list[BatchStats] = []
        self.task = asyncio.create_task(run_consumer(settings, stop=self.stop, on_batch=self.batches.append))

    async def finish(self, timeout_s: float = 30.0) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout_s)

    async def cancel(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
