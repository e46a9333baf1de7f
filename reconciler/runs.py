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


from reconciler.db import Conn

Mode = Literal["full", "incremental"]
FinalStatus = Literal["succeeded", "failed"]


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
    """The run's row, `running`. Runs of the page still open were left by a process that died (the
    caller holds the page's lease now): they are marked failed in the same statement."""
    await conn.execute(
        """WITH abandoned AS (
               UPDATE sync_runs SET status = 'failed', finished_at = now(),
                      error = 'abandoned: the reconciler stopped before finishing'
               WHERE page_id = $2 AND status IN ('queued', 'running'))
           INSERT INTO sync_runs (run_id, page_id, mode, trigger, status, started_at, watermark_from, owner)
           VALUES ($1, $2, $3, $4, 'running', now(), $5, $6)""",
        uuid.UUID(run_id), page_id, mode, trigger, watermark_from, owner,
    )


async def progress(conn: Conn, run_id: str, tally: RunTally) -> None:
    await conn.execute(
        """UPDATE sync_runs SET conversations = $2, messages = $3, graph_calls = $4, throttled = $5
           WHERE run_id = $1 AND status = 'running'""",
        uuid.UUID(run_id), tally.conversations, tally.messages, tally.graph_calls, tally.throttled,
    )


async def finish(conn: Conn, run_id: str, status: FinalStatus, tally: RunTally,
                 watermark_to: datetime | None, error: str | None) -> None:
    await conn.execute(
        """UPDATE sync_runs SET status = $2, finished_at = now(), conversations = $3, messages = $4,
                  graph_calls = $5, throttled = $6, watermark_to = $7, error = $8
           WHERE run_id = $1""",
        uuid.UUID(run_id), status, tally.conversations, tally.messages, tally.graph_calls,
        tally.throttled, watermark_to, error,
    )


async def get(conn: Conn, run_id: str) -> dict[str, Any] | None:
    raw = await conn.fetchval("SELECT to_jsonb(r) FROM sync_runs r WHERE run_id = $1", uuid.UUID(run_id))
    return None if raw is None else _decoded(raw)


async def recent(conn: Conn, page_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT to_jsonb(r) AS run FROM sync_runs r WHERE $1::text IS NULL OR page_id = $1
           ORDER BY created_at DESC LIMIT $2""",
        page_id, limit,
    )
    return [_decoded(r["run"]) for r in rows]


def _decoded(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return dict(value)
