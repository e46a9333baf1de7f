"""The one way records reach Kafka: a `RecordSink` sends events, raw bodies and dead letters.

    sink = KafkaSink(producer, kafka.topics)     # over an acks=all AIOKafkaProducer (kernel.kafka)
    acks = await sink.send_events(records)        # sent; each ack resolves once Kafka has the record
    await asyncio.gather(*acks)

Events are keyed by their thread key (one conversation, one partition, one order, whoever produced
them: the edge's drain, the reconciler, a replay); raw bodies carry the edge's headers; dead letters
keep the original key and value, and `resend` puts one back on the events topic as it was. Sending returns as soon as the records are handed to the producer;
the caller decides when to wait for the acks (the reconciler moves its watermark only after).

The edge's hot path writes Produce requests of its own (ingest.coalesce, ingest.shipping) through
`kernel.aiokafka_wire`, the only module that reaches into aiokafka beyond its documented API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

from kernel.records import EventRecord, Topics, encode, key_bytes

Headers = Sequence[tuple[str, bytes]]
Ack = asyncio.Future[object]


class RecordSink(Protocol):
    async def send_events(self, records: Sequence[EventRecord], headers: Headers = ()) -> list[Ack]: ...

    async def send_raw(self, body: bytes, headers: Headers, *, timestamp_ms: int | None = None) -> Ack: ...

    async def resend(self, key: bytes | None, value: bytes | None, headers: Headers) -> Ack: ...

    async def dead_letter(self, key: bytes | None, value: bytes | None, headers: Headers) -> Ack: ...


class KafkaSink:
    """A `RecordSink` over a started AIOKafkaProducer (which retries, and is idempotent if configured)."""

    def __init__(self, producer: AIOKafkaProducer, topics: Topics) -> None:
        self._producer = producer
        self._topics = topics

    async def send_events(self, records: Sequence[EventRecord], headers: Headers = ()) -> list[Ack]:
        return [await self._producer.send(self._topics.events, encode(r), key=key_bytes(r),
                                          headers=list(headers) or None)
                for r in records]

    async def send_raw(self, body: bytes, headers: Headers, *, timestamp_ms: int | None = None) -> Ack:
        """Archive a body, stamped with its arrival (the archive has no key: DESIGN §1, `kernel.records`)."""
        ack: Ack = await self._producer.send(self._topics.raw, body, headers=list(headers) or None,
                                             timestamp_ms=timestamp_ms)
        return ack

    async def resend(self, key: bytes | None, value: bytes | None, headers: Headers) -> Ack:
        """An events-topic record exactly as it was (a dead letter sent back), under its original key."""
        ack: Ack = await self._producer.send(self._topics.events, value=value, key=key,
                                             headers=list(headers) or None)
        return ack

    async def dead_letter(self, key: bytes | None, value: bytes | None, headers: Headers) -> Ack:
        ack: Ack = await self._producer.send(self._topics.dlq, value=value, key=key,
                                             headers=list(headers) or None)
        return ack
