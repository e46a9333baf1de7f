"""Where a replay's scan of a topic ends: every record there when it opened, nothing produced later.

Tansu reports end offsets short of a partition's last multi-record batch (DESIGN §6); a scan that
stopped at them lost the rest of that batch whenever a chunk ended inside it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from kernel.settings import KafkaSettings
from replay.scan import TopicScan, until_live
from tests.replay.archive import archive, bodies


def record(offset: int, timestamp: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("raw", 0, offset, timestamp, 0, None, b"x", None, 0, 1, [])


@pytest.mark.unit
def test_records_past_the_end_offset_are_kept_until_one_is_newer_than_the_scan() -> None:
    records = [record(8, 50), record(9, 90), record(10, 100), record(11, 20), record(12, 101), record(13, 20)]
    assert [r.offset for r in until_live(records, 10, 100)] == [8, 9, 10, 11]  # the later one at 12 ends it
    assert [r.offset for r in until_live(records, 20, 100)] == [8, 9, 10, 11, 12, 13]  # all before the end
    assert until_live([], 0, 100) == []


async def scanned(kafka: KafkaSettings, *, chunk_records: int, pause_s: float = 0.0) -> list[bytes]:
    async with TopicScan(kafka, kafka.topics.raw, since_ms=None, chunk_records=chunk_records,
                         tail_s=0.5) as scan:
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
    found = await scanned(kafka, chunk_records=7, pause_s=0.001)
    assert sorted(found) == sorted(item.body for item in items)


@pytest.mark.integration
@pytest.mark.kafka
async def test_records_produced_after_the_scan_opened_are_left_to_the_live_path(kafka: KafkaSettings) -> None:
    before = bodies(300, seed=22, pages=3)
    await archive(kafka, before)
    later = bodies(300, seed=23, pages=3, start_ms=time.time_ns() // 1_000_000 + 60_000)  # stamped after it
    async with TopicScan(kafka, kafka.topics.raw, since_ms=None, chunk_records=50, tail_s=0.5) as scan:
        await archive(kafka, later)  # arrives while the scan runs
        found = [r.value async for chunk in scan.chunks() for r in chunk]
    assert sorted(found) == sorted(item.body for item in before)
