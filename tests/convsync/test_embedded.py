"""The embedded stack starts, carries a record through a consumer group, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from convsync.embedded import EmbeddedStack, embedded_stack
from kernel import kafka as kafka_io
from kernel.settings import KafkaSettings

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


async def _round_trip(stack: EmbeddedStack) -> None:
    topics = stack.kafka.topics
    producer = kafka_io.producer(stack.kafka)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topics.events, b"hello", key=b"page:user")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topics.events, bootstrap_servers=stack.kafka_bootstrap, group_id="roundtrip",
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await asyncio.wait_for(_poll_until_one(consumer), timeout=60)
        record = batch[0]
        assert (record.key, record.value) == (b"page:user", b"hello")
        tp = TopicPartition(topics.events, sent.partition)
        await consumer.commit({tp: record.offset + 1})
        assert await consumer.committed(tp) == record.offset + 1
    finally:
        await consumer.stop()


async def _poll_until_one(consumer: AIOKafkaConsumer) -> list:  # type: ignore[type-arg]
    while True:
        got = await consumer.getmany(timeout_ms=500)
        for records in got.values():
            if records:
                return records


def test_stack_round_trip_and_clean_shutdown(tmp_path: Path) -> None:
    with embedded_stack(tmp_path / "data", KafkaSettings(bootstrap=None, events_partitions=3)) as stack:
        assert stack.kafka.idempotence is False, "Tansu refuses the idempotent producer"
        pids = [stack.postgres.proc.pid, stack.broker.proc.pid]  # type: ignore[union-attr]
        asyncio.run(_round_trip(stack))
    assert not [pid for pid in pids if _alive(pid)], "a postgres or broker process outlived the stack"
