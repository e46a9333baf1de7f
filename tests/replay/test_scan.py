"""Where a replay's scan of a topic ends: every record there when it opened, nothing produced later.

Tansu reports end offsets short of a partition's last multi-record batch (DESIGN §6); a scan that
stopped at them lost the rest of that batch whenever a chunk ended inside it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from kernel.settings import KafkaSettings
from replay.scan import CLOCK_MARGIN_MS, TopicScan, read_to_ends, until_live
from tests.replay.archive import archive, bodies


def record(offset: int, timestamp: int, partition: int = 0) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("raw", partition, offset, timestamp, 0, None, b"x", None, 0, 1, [])


class Partitions:
    """A consumer of scripted partitions: `getmany` gives what is there (at most `max_records`, partition
    after partition) or waits its timeout and gives nothing."""

    def __init__(self, records: dict[int, list[ConsumerRecord[Any, Any]]],
                 withheld: dict[int, tuple[int, int]] | None = None) -> None:
        self._records = records
        self._next = dict.fromkeys(records, 0)
        self._withheld = withheld or {}  # partition: (from offset, until the n-th getmany), a fetch still to come
        self._calls = 0

    async def getmany(self, *tps: TopicPartition, timeout_ms: int, max_records: int | None
                      ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
        assert max_records is not None
        self._calls += 1
        found: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = {}
        for tp in sorted(tps):
            start = self._next[tp.partition]
            stop = len(self._records[tp.partition])
            offset, until = self._withheld.get(tp.partition, (stop, 0))
            if self._calls < until:
                stop = offset
            taken = self._records[tp.partition][start:min(stop, start + max_records - sum(map(len, found.values())))]
            if taken:
                found[tp] = taken
                self._next[tp.partition] += len(taken)
        if not found:
            await asyncio.sleep(timeout_ms / 1000)
        return found

    async def position(self, tp: TopicPartition) -> int:
        return self._next[tp.partition]

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("raw", p) for p in self._records}

    def pause(self, *tps: TopicPartition) -> None:
        pass


async def scripted(records: dict[int, list[ConsumerRecord[Any, Any]]], ends: dict[int, int], *, opened_ms: int,
                   chunk_records: int, caller_s: float = 0.0,
                   withheld: dict[int, tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """(partition, offset) of what a scan of scripted partitions gives, the caller taking `caller_s` a chunk."""
    found: list[tuple[int, int]] = []
    async for chunk in read_to_ends(Partitions(records, withheld), {TopicPartition("raw", p): end for p, end in ends.items()},
                                    opened_ms + CLOCK_MARGIN_MS, chunk_records=chunk_records, poll_ms=20,
                                    tail_s=0.1, idle_s=0.3):
        found.extend((r.partition, r.offset) for r in chunk)
        await asyncio.sleep(caller_s)
    return found


@pytest.mark.unit
async def test_a_scan_reads_past_end_offsets_counted_short_and_stops_at_live_records() -> None:
    at = 1_000_000
    records = {0: [record(n, at - 100 + n, 0) for n in range(10)],  # Tansu counted 7 of them
               1: [*(record(n, at, 1) for n in range(4)),
                   record(4, at + CLOCK_MARGIN_MS + 1, 1), record(5, at, 1)]}  # live from offset 4 on
    found = await scripted(records, {0: 7, 1: 4}, opened_ms=at, chunk_records=3)
    assert sorted(found) == [*((0, n) for n in range(10)), *((1, n) for n in range(4))]


@pytest.mark.unit
async def test_the_time_the_caller_takes_over_a_chunk_never_ends_a_partition() -> None:
    """Partition 0's records past its (short) end offset come in a later fetch, while partition 1 keeps
    giving records; the caller's work on those chunks is longer than `tail_s` but is not waiting."""
    records = {0: [record(n, 0, 0) for n in range(6)], 1: [record(n, 0, 1) for n in range(12)]}
    found = await scripted(records, {0: 3, 1: 12}, opened_ms=10, chunk_records=2, caller_s=0.15,
                           withheld={0: (3, 5)})
    assert sorted(found) == [*((0, n) for n in range(6)), *((1, n) for n in range(12))]


@pytest.mark.unit
async def test_a_partition_that_never_reaches_its_end_is_closed_once_nothing_comes() -> None:
    records = {0: [record(n, 0, 0) for n in range(3)], 1: [record(n, 0, 1) for n in range(5)]}
    found = await scripted(records, {0: 50, 1: 5}, opened_ms=10, chunk_records=100)  # 47 never come
    assert sorted(found) == [*((0, n) for n in range(3)), *((1, n) for n in range(5))]


@pytest.mark.unit
def test_records_past_the_end_offset_are_kept_until_one_is_newer_than_the_scan() -> None:
    records = [record(8, 50), record(9, 90), record(10, 100), record(11, 20), record(12, 101), record(13, 20)]
    assert [r.offset for r in until_live(records, 10, 100)] == [8, 9, 10, 11]  # the later one at 12 ends it
    assert [r.offset for r in until_live(records, 20, 100)] == [8, 9, 10, 11, 12, 13]  # all before the end
    assert until_live([], 0, 100) == []


async def scanned(kafka: KafkaSettings, *, chunk_records: int, pause_s: float = 0.0) -> list[bytes]:
    async with TopicScan(kafka, kafka.topics.raw, since_ms=None, chunk_records=chunk_records) as scan:
        found: list[bytes] = []
        async for chunk in scan.chunks():
            found.extend(r.value for r in chunk)
            await asyncio.sleep(pause_s)  # a replay verifies, parses and produces each chunk meanwhile
        return found


@pytest.mark.integration
@pytest.mark.kafka
async def test_a_scan_in_small_chunks_reads_every_record_of_the_last_batches(kafka: KafkaSettings) -> None:
    items = bodies(3000, seed=21, pages=7)  # written in multi-record batches, as the edge writes its groups
    await archive(kafka, items)
    found = await scanned(kafka, chunk_records=7, pause_s=0.005)
    assert sorted(found) == sorted(item.body for item in items)


@pytest.mark.integration
@pytest.mark.kafka
async def test_records_produced_after_the_scan_opened_are_left_to_the_live_path(kafka: KafkaSettings) -> None:
    before = bodies(300, seed=22, pages=3)
    await archive(kafka, before)
    later = bodies(300, seed=23, pages=3, start_ms=time.time_ns() // 1_000_000 + 60_000)  # stamped well after it
    async with TopicScan(kafka, kafka.topics.raw, since_ms=None, chunk_records=50) as scan:
        await archive(kafka, later)  # arrives while the scan runs
        found = [r.value async for chunk in scan.chunks() for r in chunk]
    assert sorted(found) == sorted(item.body for item in before)
