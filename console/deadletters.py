"""What sits in the DLQ: its depth and its latest dead letters grouped by kind of error.

    reader = DeadLetterReader(kafka)
    summary = await reader.summary()    # depth, kinds (most frequent first), the latest letters
    await reader.close()

Reading: no consumer group and no commits (a reader beside the live consumers, as a replay is); the
last `tail_per_partition` records of each partition, until each reaches the end offset taken first
or yields nothing for `idle_s` (Tansu undercounts end offsets, DESIGN §6, so the depth shown there
is approximate and the read does not wait for records the broker did not count). `group` is pure.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from kernel.aiokafka_wire import topic_partitions
from kernel.kafka import started_consumer
from kernel.records import RecordError, decode
from kernel.settings import KafkaSettings

_KIND_CHARS = 60


@dataclass(frozen=True, slots=True)
class DeadLetter:
    at_ms: int  # when it was dead-lettered
    page_id: str | None  # None: its value does not even decode
    kind: str
    error: str


@dataclass(frozen=True, slots=True)
class ErrorKind:
    kind: str
    count: int
    latest_error: str
    latest_at_ms: int


@dataclass(frozen=True, slots=True)
class Summary:
    depth: int
    kinds: tuple[ErrorKind, ...]
    latest: tuple[DeadLetter, ...]


def kind_of(error: str, sqlstate: str | None) -> str:
    """What a dead letter's error is, coarse enough to group by: the database's SQLSTATE, or the
    error's first clause (the part before its details)."""
    if sqlstate:
        return f"refused by PostgreSQL (SQLSTATE {sqlstate})"
    head = error.split(":", 1)[0].strip() or "no error recorded"
    return head[:_KIND_CHARS]


def letter_of(record: ConsumerRecord) -> DeadLetter:
    headers = {name: value.decode(errors="replace") for name, value in (record.headers or ())}
    error = headers.get("error", "")
    try:
        page_id: str | None = decode(record.value).page_id
    except RecordError:
        page_id = None
    return DeadLetter(record.timestamp, page_id, kind_of(error, headers.get("sqlstate")), error)


def group(letters: list[DeadLetter], latest: int = 20) -> tuple[tuple[ErrorKind, ...], tuple[DeadLetter, ...]]:
    """Kinds, most frequent first (then newest), each with its newest error; and the newest letters."""
    newest = sorted(letters, key=lambda d: d.at_ms, reverse=True)
    counts = Counter(d.kind for d in newest)
    first: dict[str, DeadLetter] = {}
    for letter in newest:
        first.setdefault(letter.kind, letter)
    kinds = [ErrorKind(k, counts[k], first[k].error, first[k].at_ms) for k in first]
    kinds.sort(key=lambda k: (-k.count, -k.latest_at_ms))
    return tuple(kinds), tuple(newest[:latest])


class DeadLetterReader:
    def __init__(self, kafka: KafkaSettings, *, tail_per_partition: int = 200, idle_s: float = 1.0) -> None:
        self._kafka = kafka
        self._topic = kafka.topics.dlq
        self._tail = tail_per_partition
        self._idle_s = idle_s
        self._consumer: AIOKafkaConsumer | None = None

    async def summary(self) -> Summary:
        consumer = await self._started()
        partitions = [TopicPartition(self._topic, n) for n in sorted(await topic_partitions(consumer, self._topic))]
        if not partitions:
            return Summary(0, (), ())
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        depth = sum(max(0, ends[tp] - starts[tp]) for tp in partitions)
        wanted = {tp: ends[tp] for tp in partitions if ends[tp] > starts[tp]}
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, max(starts[tp], ends[tp] - self._tail))
        letters = [letter_of(r) for r in await self._read_to(consumer, wanted)]
        kinds, latest = group(letters)
        return Summary(depth, kinds, latest)

    async def _read_to(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[ConsumerRecord]:
        records: list[ConsumerRecord] = []
        pending, quiet_since = dict(ends), time.monotonic()
        while pending and time.monotonic() - quiet_since < self._idle_s:
            batches = await consumer.getmany(*pending, timeout_ms=200)
            for tp, batch in batches.items():
                records.extend(batch)
                quiet_since = time.monotonic()
                if batch and batch[-1].offset + 1 >= pending.get(tp, 0):
                    pending.pop(tp, None)
        return records

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = await started_consumer(bootstrap_servers=self._kafka.bootstrap, group_id=None,
                                                    enable_auto_commit=False, auto_offset_reset="earliest")
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await asyncio.shield(consumer.stop())
