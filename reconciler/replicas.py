"""The reconciler replicas share one budget: each tick, a replica says it is alive and what app usage
Meta last reported to it, and learns how many replicas are live, the newest report any of them got
and how many pages are active.

    share = await heartbeat(conn, owner, app.seen_percent, window_s)
    slots = policy.parallel_pages(share.replicas, share.app_percent)

One row per replica in `reconciler_replicas`; a replica silent for `window_s` (three polls) no longer
counts, so when one stops the others take its share within a few ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.sqlfiles import statement
from reconciler.db import Conn


@dataclass(frozen=True, slots=True)
class Share:
    replicas: int
    app_percent: float  # 0 when no replica has heard from Meta lately
    pages: int  # active pages, all replicas' together


async def heartbeat(conn: Conn, owner: str, seen_percent: float | None, window_s: float) -> Share:
    row = await conn.fetchrow(statement("reconciler", "replica_heartbeat"), owner, seen_percent, window_s)
    assert row is not None  # one aggregate row, always
    return Share(int(row["replicas"]), float(row["app_usage_percent"] or 0.0), int(row["pages"]))
