"""Helpers for the writer's tests: apply records through the store, read back every table it writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from consumers.batch import merge
from consumers.mapping import map_record
from consumers.store import WriteResult, write_batch
from kernel.records import EventRecord, decode

FIXTURES = Path(__file__).parent.parent / "fixtures" / "records"
WRITER_TABLES = ("conversations", "messages", "reactions", "conversation_events", "message_edits",
                 "message_deletes", "message_reads")
# Columns stamped with the wall clock when a row is written: they differ between two databases that
# received the same facts at different moments, so convergence checks leave them out.
CLOCK_COLUMNS = frozenset({"inserted_at", "updated_at", "created_at"})


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def load_fixture(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def fixture_record(path: Path) -> EventRecord:
    return decode(json.dumps(load_fixture(path)["record"]).encode())


async def apply(conn: asyncpg.Connection, records: Iterable[EventRecord]) -> WriteResult:
    """One batch, one transaction, exactly as the consumer writes it."""
    async with conn.transaction():
        return await write_batch(conn, merge(map_record(r) for r in records))


async def apply_batches(conn: asyncpg.Connection, batches: Sequence[Sequence[EventRecord]]) -> None:
    for batch in batches:
        await apply(conn, batch)


async def table_state(conn: asyncpg.Connection, *, with_clock: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the writer owns, sorted, optionally without wall-clock columns."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for table in WRITER_TABLES:
        rows = await conn.fetch(f"SELECT * FROM {table}")
        state[table] = sorted(
            (tuple((k, v) for k, v in r.items() if with_clock or k not in CLOCK_COLUMNS) for r in rows),
            key=repr)
    return state


async def truncate(conn: asyncpg.Connection) -> None:
    await conn.execute(f"TRUNCATE {', '.join(WRITER_TABLES)}")
