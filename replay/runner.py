"""One replay's work: scan the source topic, select what today's code makes of each record, produce it.

    await replay(kafka, selection, secrets, sink, replay_id, on_progress, counts)

Raw bodies become events (`replay.raw`), sent with their usual keys; dead letters that decode now
go back as they were (`replay.dlq`). Every produced record carries a `replay_id` header. The
writer's idempotent, order-independent upserts absorb whatever was applied before, so a replay may
race the live path and may be repeated.

Bounded: one chunk is selected while the previous chunk's records are still being acknowledged,
and no more, so memory does not grow with the window and the broker always has work. `produced`
counts acknowledged records only. With `selection.dry_run` nothing is sent: `matched` is what
would have been produced.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ingest.signature import Secrets
from kernel.producing import Ack, RecordSink
from kernel.settings import KafkaSettings
from replay.dlq import from_dead_letter
from replay.outcome import Outcome
from replay.raw import from_raw
from replay.scan import Chunk, TopicScan
from replay.window import Selection

Progress = Callable[["Counts"], Awaitable[None]]


@dataclass(slots=True)
class Counts:
    to_scan: int = 0
    scanned: int = 0
    matched: int = 0
    produced: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.scanned += 1
        self.matched += outcome.matched
        if outcome.skipped is not None:
            self.skipped += 1
            self.reasons[outcome.skipped] += 1


async def replay(kafka: KafkaSettings, selection: Selection, secrets: Secrets, sink: RecordSink,
                 replay_id: str, on_progress: Progress, counts: Counts) -> None:
    """Run the replay, adding to `counts` as it goes (so a failed replay's counts say how far it got)."""
    topic = kafka.topics.raw if selection.source == "raw" else kafka.topics.dlq
    headers = [("replay_id", replay_id.encode())]
    async with TopicScan(kafka, topic, since_ms=selection.since_ms) as scan:
        counts.to_scan = scan.to_scan
        await on_progress(counts)
        in_flight: list[Ack] = []
        async for chunk in scan.chunks():
            outcomes = _select(chunk, selection, secrets)
            for outcome in outcomes:
                counts.add(outcome)
            sent = [] if selection.dry_run else await _send(sink, outcomes, headers)
            counts.produced += await _acknowledged(in_flight)
            in_flight = sent
            await on_progress(counts)
        counts.produced += await _acknowledged(in_flight)


def _select(chunk: Chunk, selection: Selection, secrets: Secrets) -> list[Outcome]:
    if selection.source == "raw":
        return [from_raw(r.value, dict(r.headers), r.timestamp, secrets, selection) for r in chunk]
    return [from_dead_letter(r.key, r.value, r.timestamp, selection) for r in chunk]


async def _send(sink: RecordSink, outcomes: list[Outcome], headers: list[tuple[str, bytes]]) -> list[Ack]:
    acks: list[Ack] = []
    for outcome in outcomes:
        if outcome.events:
            acks.extend(await sink.send_events(outcome.events, headers))
        if outcome.resend is not None:
            acks.append(await sink.resend(outcome.resend.key, outcome.resend.value, headers))
    return acks


async def _acknowledged(acks: list[Ack]) -> int:
    """Wait for every ack; the number of records Kafka has (a failure raises: the replay fails)."""
    await asyncio.gather(*acks)
    return len(acks)
