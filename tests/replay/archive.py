"""Webhook bodies for replay tests and benchmarks, and an archive written the way the edge writes it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from emulator import records as make
from ingest.coalesce import raw_headers
from ingest.parse import parse_webhook
from ingest.received import Received
from ingest.signature import sign
from kernel.kafka import producer
from kernel.producing import Ack, KafkaSink
from kernel.records import EventRecord
from kernel.settings import KafkaSettings
from tests.ingest.meta import SECRET, meta_bytes


@dataclass(frozen=True, slots=True)
class Body:
    body: bytes
    received_at: int
    secret: bytes = SECRET

    def records(self) -> list[EventRecord]:
        """What the edge (and a replay) makes of this body."""
        return parse_webhook(self.body, received_at=self.received_at, body_sha256=hashlib.sha256(self.body).hexdigest())


def body_of(events: Sequence[EventRecord]) -> bytes:
    """One webhook body carrying `events`, one entry per page in order of first appearance."""
    entries: dict[str, dict[str, object]] = {}
    for record in events:
        entry = entries.setdefault(record.page_id, {"id": record.page_id, "time": record.timestamp,
                                                   "messaging": []})
        entry["messaging"].append(dict(record.event))  # type: ignore[attr-defined]
    return meta_bytes({"object": "page", "entry": list(entries.values())})


def bodies(n_events: int, *, seed: int, pages: int = 3, per_body: int = 3, start_ms: int = 1_796_292_000_000,
           step_ms: int = 1000) -> list[Body]:
    """Bodies of webhook events (messages, echoes, reads, reactions, edits...), `per_body` events each
    (so some bodies hold several pages), received `step_ms` apart."""
    events = [r for r in make.mixed(n_events, pages=pages, seed=seed) if r.source == "webhook"]
    return [Body(body_of(events[i:i + per_body]), start_ms + (i // per_body) * step_ms)
            for i in range(0, len(events), per_body)]


async def archive(kafka: KafkaSettings, items: Sequence[Body], *, live: bool = False) -> None:
    """Write each body to the raw archive as the edge does (no key, its headers and arrival time); with `live`,
    its events to the events topic too, as the edge's drain does."""
    p = producer(kafka)
    await p.start()
    try:
        sink = KafkaSink(p, kafka.topics)
        acks: list[Ack] = []
        for item in items:
            records = item.records()
            received = Received(item.body, sign(item.body, item.secret), item.received_at,
                                hashlib.sha256(item.body).hexdigest())
            if live:
                acks.extend(await sink.send_events(records))
            acks.append(await sink.send_raw(item.body, raw_headers(received), timestamp_ms=item.received_at))
        await asyncio.gather(*acks)
    finally:
        await p.stop()
