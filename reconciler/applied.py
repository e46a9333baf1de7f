"""When has the database caught up with a run? (for `?wait=true` and the compatibility endpoints)

A run is *finished* for the reconciler once Kafka acknowledged every record and the watermark moved.
The consumers apply those records later, and add `inserted`/`updated`/`gap_messages` to the run's row
in the same transaction as the rows. So a caller that wants real database counts waits, bounded by
`apply_wait_s`, until every snapshot the run produced is visible: the conversation with that Graph id
has `snapshot_at` at or after the snapshot's `updated_time`. The answer says whether it got there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from kernel.sqlfiles import statement
from reconciler.db import Conn


async def pending_snapshots(conn: Conn, page_id: str, check: Sequence[tuple[str, datetime]]) -> int:
    """How many of a page's (graph id, updated_time) snapshots are not in the database yet."""
    if not check:
        return 0
    count: int = await conn.fetchval(statement("reconciler", "pending_snapshots"), [g for g, _ in check],
                                     [u for _, u in check], page_id)
    return count


async def wait_applied(pool: asyncpg.Pool, page_id: str, check: Sequence[tuple[str, datetime]], timeout_s: float,
                       poll_s: float = 0.1) -> bool:
    """True once every snapshot of `check` is in the database, False when `timeout_s` ran out first."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with pool.acquire() as conn:
            if await pending_snapshots(conn, page_id, check) == 0:
                return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_s)
