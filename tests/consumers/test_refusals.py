"""Records the database refuses, among good ones: the bad are dead-lettered with their SQLSTATE (or
refused by the mapper first, when it can know), the good are written, and the offsets move past both.

A broken installation or schema is not a bad record: the writer stops instead of retrying forever.
"""

from __future__ import annotations

import dataclasses
import secrets

import asyncpg
import pytest

from consumers.database import Database
from consumers.failures import WriterDefect
from consumers.mapping import map_record
from consumers.rows import EditRow, Rows
from kernel.records import EventRecord
from kernel.settings import Settings
from emulator import records as traffic
from tests.consumers.brokers import Running, committed, produce, read_dlq, wait_for
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra

pytestmark = [pytest.mark.integration]

PAGE = "1000000000"
YEAR_10000_MS = 253_402_300_800_000


def _edit(user: str, mid: str, num_edit: int) -> EventRecord:
    return traffic.webhook("message_edit", PAGE, user, traffic.BASE_MS + 5_000,
                           {"message_edit": {"mid": mid, "text": "edited", "num_edit": num_edit}})


def _bad_records() -> dict[str, EventRecord]:
    long_mid = "m_" + secrets.token_hex(1500)  # 3,002 characters that do not compress: too long for the index
    year_10000 = traffic.message(PAGE, "2000000003", "m_future", YEAR_10000_MS, "from the future")
    return {
        "num_edit": _edit("2000000001", "m_edited", 2**40),
        "long_mid": traffic.message(PAGE, "2000000002", long_mid, traffic.BASE_MS, "too long a key"),
        "year_10000": dataclasses.replace(year_10000, timestamp=YEAR_10000_MS),
    }


def _good_records(n: int) -> list[EventRecord]:
    return [traffic.message(PAGE, f"30000000{i % 7}", f"m_good_{i}", traffic.BASE_MS + i, f"good {i}")
            for i in range(n)]


@pytest.mark.kafka
async def test_refused_records_go_to_the_dlq_and_the_rest_of_their_batch_is_written(
        consumer_settings: Settings, database_url: str) -> None:
    bad = _bad_records()
    nul = traffic.message(PAGE, "2000000004", "m_nul", traffic.BASE_MS, "a \u0000 inside")
    good = _good_records(40)
    records = [*good[:10], bad["num_edit"], *good[10:20], bad["long_mid"], nul, *good[20:30],
               bad["year_10000"], *good[30:]]
    await produce(consumer_settings.kafka, records)
    conn = await asyncpg.connect(database_url)
    running = Running(consumer_settings)  # batches of up to 50: the bad records share batches with good ones

    async def all_good_written() -> bool:
        return bool(await conn.fetchval("SELECT count(*) = 41 FROM messages"))

    try:
        await wait_for(all_good_written, "every good record written")
        dlq = await read_dlq(consumer_settings.kafka, expect=3)
        await wait_for(lambda: _offsets_total(consumer_settings, len(records)), "offsets past every record")
    finally:
        await running.finish()
    mids = {r["mid"] for r in await conn.fetch("SELECT mid FROM messages")}
    assert mids == {f"m_good_{i}" for i in range(40)} | {"m_nul"}
    assert await conn.fetchval("SELECT text FROM messages WHERE mid = 'm_nul'") == "a \ufffd inside"
    await conn.close()
    by_value = {r.value: dict(r.headers) for r in dlq}
    assert len(by_value) == 3
    headers = {name: by_value[_value(record, dlq)] for name, record in bad.items()}
    assert headers["long_mid"]["sqlstate"] == b"54000" and b"index row size" in headers["long_mid"]["error"]
    assert "sqlstate" not in headers["num_edit"] and b"32-bit" in headers["num_edit"]["error"]
    assert "sqlstate" not in headers["year_10000"] and b"9999" in headers["year_10000"]["error"]
    assert sum(b.dead_lettered for b in running.batches) == 3


def _value(record: EventRecord, dlq: list[object]) -> bytes:
    """The DLQ value that carries `record` (matched by its mid, which each bad record has its own)."""
    mid = str(record.event.get("message", record.event.get("message_edit", {}))["mid"])  # type: ignore[index]
    return next(r.value for r in dlq if mid.encode() in r.value)  # type: ignore[attr-defined]


async def _offsets_total(settings: Settings, total: int) -> bool:
    offsets = await committed(settings.kafka, settings.consumer.group_id)
    return sum(o or 0 for o in offsets.values()) == total


async def test_bisection_names_exactly_the_refused_records(database_url: str) -> None:
    """Data only the database can judge, and a value asyncpg cannot encode (the mapper's check bypassed)."""
    long_a = map_record(traffic.message(PAGE, "2", "m_" + secrets.token_hex(1500), traffic.BASE_MS, "a"))
    long_b = map_record(traffic.message(PAGE, "3", "m_" + secrets.token_hex(1500), traffic.BASE_MS, "b"))
    huge_edit = Rows(edits=(EditRow("m_good_3", PAGE, "300000003", 2**40, "x", traffic.BASE_MS),))
    rows = [map_record(r) for r in _good_records(100)]
    rows[17:17] = [long_a]
    rows[60:60] = [huge_edit]
    rows.append(long_b)
    async with Database(database_url) as db:
        written = await db.write(rows)
        again = await db.write(rows)
    assert [(r.index, r.sqlstate) for r in written.refused] == [(17, "54000"), (60, "22000"), (102, "54000")]
    assert written.result.inserted["messages"] == 100
    assert [r.index for r in again.refused] == [17, 60, 102] and again.result.total_inserted == 0
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM messages") == 100
    finally:
        await conn.close()


async def test_a_database_without_the_schema_is_a_defect_not_an_outage(infra: Infra) -> None:
    url = await create_database(infra.database_url, None)  # never migrated
    try:
        async with Database(url) as db:
            with pytest.raises(WriterDefect, match="messages|conversations"):
                await db.write([map_record(r) for r in _good_records(3)])
    finally:
        await drop_database(infra.database_url, url)
