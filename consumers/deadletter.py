"""Decode and map each record (pure), and send the poison ones to the DLQ topic.

A DLQ record keeps the original key and value; its headers name where it came from and why it
failed, so it can be inspected and replayed. `send` returns only once the broker acked every one:
the loop commits offsets after it, never before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import ConsumerRecord

from consumers.mapping import map_record
from consumers.rows import Rows
from ingest.kafka import producer
from ingest.records import RecordError, decode
from ingest.settings import KafkaSettings
from ingest.startup import kafka_started


@dataclass(frozen=True, slots=True)
class Decoded:
    record: ConsumerRecord
    rows: Rows | None  # None: poison
    error: str | None = None
    sqlstate: str | None = None  # set when the database refused the record's rows

    def refused(self, sqlstate: str, error: str) -> Decoded:
        return dataclasses.replace(self, rows=None, error=error, sqlstate=sqlstate)


def decode_one(record: ConsumerRecord) -> Decoded:
    """Decode and map; poison when unusable.

    PostgreSQL text and jsonb cannot hold a NUL character (JSON `\\u0000`), so inside the event each one
    becomes U+FFFD: the message is kept and readable, and the raw archive keeps the exact bytes. Only
    records whose bytes hold that escape pay for the scan."""
    try:
        decoded = decode(record.value)
        if record.value is not None and b"\\u0000" in record.value:
            decoded = dataclasses.replace(decoded, event=without_nul(decoded.event))
        return Decoded(record, map_record(decoded))
    except RecordError as exc:
        return Decoded(record, None, str(exc))


def without_nul(value: Any) -> Any:
    """`value` with every NUL character in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def decode_all(records: Sequence[ConsumerRecord]) -> list[Decoded]:
    return [decode_one(r) for r in records]


def dlq_headers(decoded: Decoded) -> list[tuple[str, bytes]]:
    r = decoded.record
    headers = [("original_topic", r.topic.encode()), ("original_partition", str(r.partition).encode()),
               ("original_offset", str(r.offset).encode()), ("error", (decoded.error or "").encode()[:1000])]
    if decoded.sqlstate is not None:  # refused by the database, not by the mapper
        headers.append(("sqlstate", decoded.sqlstate.encode()))
    return headers


class DeadLetters:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._topic = kafka.topics.dlq
        self._producer = producer(kafka)

    async def __aenter__(self) -> DeadLetters:
        await kafka_started(self._producer, self._kafka, producer=True)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._producer.stop()

    async def send(self, poison: Sequence[Decoded]) -> None:
        """Dead-letter every record in `poison` and wait until the broker acked all of them."""
        futures = [await self._producer.send(self._topic, value=d.record.value, key=d.record.key,
                                             headers=dlq_headers(d)) for d in poison]
        for future in futures:
            await future
