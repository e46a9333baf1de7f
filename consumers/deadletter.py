"""Send poison records (consumers.decoding) to the DLQ topic.

A DLQ record keeps the original key and value; its headers name where it came from and why it
failed, so it can be inspected and replayed. `send` returns only once the broker acked every one:
the loop commits offsets after it, never before.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from consumers.decoding import Decoded
from kernel.kafka import producer
from kernel.producing import KafkaSink
from kernel.settings import KafkaSettings
from kernel.startup import kafka_started


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
        self._producer = producer(kafka)
        self._sink = KafkaSink(self._producer, kafka.topics)

    async def __aenter__(self) -> DeadLetters:
        await kafka_started(self._producer, self._kafka, producer=True)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._producer.stop()

    async def send(self, poison: Sequence[Decoded]) -> None:
        """Dead-letter every record in `poison` and wait until the broker acked all of them."""
        futures = [await self._sink.dead_letter(d.record.key, d.record.value, dlq_headers(d)) for d in poison]
        for future in futures:
            await future
