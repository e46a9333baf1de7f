"""Read one topic for a replay: from the offsets at `since` to the end offsets taken at start, in chunks.

    async with TopicScan(kafka, topic, since_ms=...) as scan:
        print(scan.to_scan)                 # records between the start and end offsets
        async for chunk in scan.chunks():    # lists of ConsumerRecord, at most `chunk_records` each
            ...

No consumer group and no commits: a replay is a reader of its own, beside the live consumers.

Where a partition starts: `offsets_for_times(since)`, the first record whose timestamp is at least
`since` (raw records are stamped with their arrival, DESIGN §3). A broker that cannot answer
exactly, or a partition with no such record, gives the beginning or nothing; Tansu answers with
an earlier offset, which only means more records are scanned and left out by the selection.

Where it ends: the end offsets taken when the scan opens, so records arriving meanwhile (the live
path handles them) do not lengthen it. A window's `until` does not shorten the scan, because a body
that waited in the edge's spool is archived after newer ones. Tansu reports end offsets too low
after multi-record batches (DESIGN §6): a scan that stopped there lost the rest of each partition's
last batch, up to a few hundred bodies per partition in bench/replay.py. So a partition at its end
offset is read on while it still gives records stamped no later than the moment the scan opened
(which a record already there when it opened always is, give or take `CLOCK_MARGIN_MS` for the
clocks of the hosts that stamped them), and closed once it gives a later one or nothing for
`tail_s` of waiting; on Kafka that costs one short wait at the end, and a record stamped earlier
that arrives meanwhile (drained from an edge's spool) is replayed too: duplicates are harmless,
loss is not. A partition short of its end when no partition has given anything for `idle_s` is
closed (logged), so a scan always ends. Both are timed only while waiting for the broker, not
while the caller works on a chunk.

Memory: one chunk at a time, plus aiokafka's fetch buffer (bounded by its fetch sizes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Protocol

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from kernel.aiokafka_wire import topic_partitions
from kernel.settings import KafkaSettings
from kernel.startup import kafka_started

log = structlog.get_logger("convsync.replay")

Chunk = list[ConsumerRecord]
CLOCK_MARGIN_MS = 10_000  # how far ahead of this host the clocks that stamp the records may run
FETCH_WAIT_MS = 100  # a fetch the broker holds for want of records; `tail_s` spans several of them


class TopicScan:
    def __init__(self, kafka: KafkaSettings, topic: str, *, since_ms: int | None, chunk_records: int = 1000,
                 idle_s: float = 10.0, poll_ms: int = 500, tail_s: float = 0.5) -> None:
        self._kafka = kafka
        self._topic = topic
        self._since_ms = since_ms
        self._chunk_records = chunk_records
        self._idle_s = idle_s
        self._poll_ms = poll_ms
        self._tail_s = tail_s
        self._opened_ms = 0  # wall clock, epoch ms, when the end offsets were taken
        self._consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False,
                                          group_id=None, auto_offset_reset="earliest", request_timeout_ms=30_000,
                                          fetch_max_wait_ms=FETCH_WAIT_MS)
        self._ends: dict[TopicPartition, int] = {}
        self.to_scan = 0

    async def __aenter__(self) -> TopicScan:
        await kafka_started(self._consumer, self._kafka, producer=False)
        try:
            await self._open()
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._consumer.stop()

    async def _open(self) -> None:
        partitions = [TopicPartition(self._topic, n) for n in sorted(await topic_partitions(self._consumer, self._topic))]
        if not partitions:
            return
        self._opened_ms = time.time_ns() // 1_000_000
        ends = await self._consumer.end_offsets(partitions)
        starts = await self._starts(partitions, ends)
        self._ends = dict(ends)  # one already at its end is still read on, as the module says
        self.to_scan = sum(max(0, ends[tp] - starts[tp]) for tp in partitions)
        self._consumer.assign(list(self._ends))
        for tp in self._ends:
            self._consumer.seek(tp, starts[tp])

    async def _starts(self, partitions: list[TopicPartition], ends: dict[TopicPartition, int]
                      ) -> dict[TopicPartition, int]:
        beginnings: dict[TopicPartition, int] = await self._consumer.beginning_offsets(partitions)
        if self._since_ms is None:
            return beginnings
        found = await self._consumer.offsets_for_times({tp: self._since_ms for tp in partitions})
        starts: dict[TopicPartition, int] = {}
        for tp in partitions:
            answer = found.get(tp)
            if answer is None:  # no record at or after `since`
                starts[tp] = ends[tp]
            elif answer.timestamp < 0:  # not an exact answer (Tansu): scan from the beginning
                starts[tp] = beginnings[tp]
            else:
                starts[tp] = max(beginnings[tp], answer.offset)
        return starts

    async def chunks(self) -> AsyncIterator[Chunk]:
        """The records up to the end offsets (and on, as the module says), partition after partition
        within each chunk."""
        async for chunk in read_to_ends(self._consumer, self._ends, self._opened_ms + CLOCK_MARGIN_MS,
                                        chunk_records=self._chunk_records, poll_ms=self._poll_ms,
                                        tail_s=self._tail_s, idle_s=self._idle_s):
            yield chunk


class Reader(Protocol):
    """What `read_to_ends` uses of aiokafka's consumer."""

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int,
                      max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]: ...

    async def position(self, partition: TopicPartition) -> int: ...

    def assignment(self) -> set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...


async def read_to_ends(reader: Reader, ends: dict[TopicPartition, int], newest_ms: int, *, chunk_records: int,
                       poll_ms: int, tail_s: float, idle_s: float) -> AsyncIterator[Chunk]:
    """Chunks of the assigned partitions up to `ends` and on past them while the records are stamped no
    later than `newest_ms`. Quiet is timed only while waiting for records, never while the caller
    works on a chunk."""
    loop = asyncio.get_running_loop()
    active = set(ends)
    waited = 0.0  # seconds spent waiting for records so far
    last_seen = dict.fromkeys(active, waited)
    progress = waited  # when any partition last gave a record
    while active:
        asked = loop.time()
        fetched = await reader.getmany(*active, timeout_ms=poll_ms, max_records=chunk_records)
        waited += loop.time() - asked
        chunk: Chunk = []
        for tp, records in fetched.items():
            kept = until_live(records, ends[tp], newest_ms)
            chunk.extend(kept)
            last_seen[tp] = progress = waited
            if len(kept) < len(records):
                active.discard(tp)
        for tp in list(active):
            position = await reader.position(tp)
            if position >= ends[tp]:
                if waited - last_seen[tp] >= tail_s:
                    log.debug("replay_partition_done", topic=tp.topic, partition=tp.partition, position=position,
                              end=ends[tp])
                    active.discard(tp)
            elif waited - progress > idle_s:
                log.warning("replay_partition_idle", topic=tp.topic, partition=tp.partition, position=position,
                            end=ends[tp])
                active.discard(tp)
        if active != reader.assignment():
            reader.pause(*(reader.assignment() - active))
        if chunk:
            yield chunk


def until_live(records: Sequence[ConsumerRecord], end: int, newest_ms: int) -> list[ConsumerRecord]:
    """A partition's records, up to the first one past the end offset taken at the start that is
    stamped later than `newest_ms` (pure)."""
    for n, record in enumerate(records):
        if record.offset >= end and record.timestamp > newest_ms:
            return list(records[:n])
    return list(records)
