"""Decode and map each record (pure), and send the poison ones to the DLQ topic.

A DLQ record keeps the original key and value; its headers name where it came from and why it
failed, so it can be inspected and replayed. `send` returns only once the broker acked every one:
the loop commits offsets after it, never before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from aiokafka import ConsumerRecord

from consumers.mapping import map_record
from consumers.rows import Rows
from ingest.kafka import producer
from ingest.records import RecordError, decode
from ingest.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class Decoded:
    record: ConsumerRecord
    rows: Rows | None  # None: poison
    error: str | None = None


def decode_one(record: ConsumerRecord) -> Decoded:
    """Decode and map; poison when unusable. A NUL character (JSON `\\u0000`) is poison too: PostgreSQL
    text and jsonb cannot store it, and a write that can never succeed must not block the partition.
    (Scanning the bytes may also catch a literal backslash-u0000 typed in a message: rare, and dead-lettered
    records can be replayed.)"""
    try:
        if record.value is not None and b"\\u0000" in record.value:
            raise RecordError("event contains a NUL character, which PostgreSQL cannot store")
        return Decoded(record, map_record(decode(record.value)))
    except RecordError as exc:
        return Decoded(record, None, str(exc))


def decode_all(records: Sequence[ConsumerRecord]) -> list[Decoded]:
    return [decode_one(r) for r in records]


def dlq_headers(decoded: Decoded) -> list[tuple[str, bytes]]:
    r = decoded.record
    return [("original_topic", r.topic.encode()), ("original_partition", str(r.partition).encode()),
            ("original_offset", str(r.offset).encode()), ("error", (decoded.error or "").encode()[:1000])]


class DeadLetters:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._topic = kafka.topics.dlq
        self._producer = producer(kafka)

    async def __aenter__(self) -> DeadLetters:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._producer.stop()

    async def send(self, poison: Sequence[Decoded]) -> None:
        """Dead-letter every record in `poison` and wait until the broker acked all of them."""
        futures = [await self._producer.send(self._topic, value=d.record.value, key=d.record.key,
                                             headers=dlq_headers(d)) for d in poison]
        for future in futures:
            await future
