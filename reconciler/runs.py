"""The `sync_runs` table: one row per sync, from queued to succeeded or failed.

The reconciler writes what it did (conversations and messages produced, Graph calls, throttles, the
watermark it moved from and to, and why it failed); the consumers add what the database did with
the run's records (inserted, updated, gap messages). Rows are read back as JSON objects of every
column (`to_jsonb`), so columns the writer adds appear in the admin API without changes here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kernel.sqlfiles import statement
from reconciler.db import Conn

Mode = Literal["full", "incremental"]
FinalStatus = Literal["succeeded", "failed"]


def sql(name: str) -> str:
    return statement("reconciler", name)


@dataclass(frozen=True, slots=True)
class RunTally:
    conversations: int = 0
    messages: int = 0
    graph_calls: int = 0
    throttled: int = 0
    answer_s: float = 0.0  # time spent waiting for Meta's answers (not stored; benchmarks read it)


def new_run_id() -> str:
    return str(uuid.uuid4())


async def create(conn: Conn, run_id: str, page_id: str, mode: Mode, trigger: str,
                 watermark_from: datetime | None, owner: str) -> None:
    """The run's row, `running`; runs of the page a dead process left open are marked failed."""
    await conn.execute(sql("create_run"), uuid.UUID(run_id), page_id, mode, trigger, watermark_from, owner)


async def progress(conn: Conn, run_id: str, tally: RunTally) -> None:
    await conn.execute(sql("run_progress"), uuid.UUID(run_id), tally.conversations, tally.messages,
                       tally.graph_calls, tally.throttled)


async def finish(conn: Conn, run_id: str, status: FinalStatus, tally: RunTally,
                 watermark_to: datetime | None, error: str | None) -> None:
    await conn.execute(sql("finish_run"), uuid.UUID(run_id), status, tally.conversations, tally.messages,
                       tally.graph_calls, tally.throttled, watermark_to, error)


async def get(conn: Conn, run_id: str) -> dict[str, Any] | None:
    raw = await conn.fetchval(sql("run"), uuid.UUID(run_id))
    return None if raw is None else _decoded(raw)


async def recent(conn: Conn, page_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
    return [_decoded(r["run"]) for r in await conn.fetch(sql("recent_runs"), page_id, limit)]


def _decoded(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return dict(value)
