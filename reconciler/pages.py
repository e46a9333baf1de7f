"""The `pages` table: connected pages, their encrypted tokens, leases and watermarks.

Leases keep several reconcilers (and the admin API) from syncing one page at once: a lease is an
owner, an expiry and an epoch bumped on every grant. Taking one uses `FOR UPDATE SKIP LOCKED`, so
replicas never wait on each other. The epoch fences the watermark: `advance_watermark` only moves
`last_synced_at` while the caller still holds that exact lease, and only forward (`GREATEST`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from kernel.records import Platform
from kernel.sqlfiles import statement
from reconciler.db import Conn
from reconciler.schedule import NextSync


def sql(name: str) -> str:
    return statement("reconciler", name)


@dataclass(frozen=True, slots=True)
class Lease:
    page_id: str
    platform: Platform
    name: str
    owner: str
    epoch: int
    last_synced_at: datetime | None
    token_ciphertext: bytes | None = field(repr=False)
    graph_page_id: str = ""  # the Graph node its inbox is listed at (DESIGN §2); "" means page_id
    priority: int = 0  # 1: leased as suspicious (reconciler.schedule)
    quiet_runs: int = 0
    staleness_s: float | None = None  # since its previous sync started; None: its first
    since_gaps_s: float | None = None  # since a run last found messages webhooks had missed; None: never

    def __post_init__(self) -> None:
        if not self.graph_page_id:
            object.__setattr__(self, "graph_page_id", self.page_id)


def _lease(row: asyncpg.Record) -> Lease:
    return Lease(row["page_id"], row["platform"], row["name"], row["lease_owner"], row["lease_epoch"],
                 row["last_synced_at"], row["access_token"], row["graph_page_id"], row["sync_priority"],
                 row["quiet_runs"], row["staleness_s"], row["since_gaps_s"])


async def upsert(conn: Conn, page_id: str, platform: str, name: str, ciphertext: bytes,
                 graph_page_id: str | None = None) -> bool:
    """Add a page or replace its name, token and Graph node (status back to active); True when it was new.
    `graph_page_id` None: the page is its own Graph node (Messenger)."""
    created: bool = await conn.fetchval(sql("upsert_page"), page_id, platform, name, ciphertext,
                                        graph_page_id or page_id)
    return created


async def remove(conn: Conn, page_id: str) -> bool:
    return await conn.fetchval(sql("remove_page"), page_id) is not None


async def set_paused(conn: Conn, page_id: str, paused: bool) -> str | None:
    """Pause an active page or resume a paused one; the status afterwards, None for an unknown page."""
    status: str | None = await conn.fetchval(sql("set_page_paused"), page_id, paused)
    return status


async def public_rows(conn: Conn, page_id: str | None = None) -> list[dict[str, Any]]:
    """Pages as the admin API shows them: never the token."""
    return [dict(r) for r in await conn.fetch(sql("page_rows"), page_id)]


async def lease_due(conn: Conn, owner: str, lease_s: float, limit: int, interval_s: float) -> list[Lease]:
    """Lease up to `limit` active pages whose next sync is due and that nobody holds; a quiet page is
    due too once a webhook brought it a message `interval_s` ago or more (it is active again)."""
    return [_lease(r) for r in await conn.fetch(sql("lease_pages"), owner, lease_s, None, limit, interval_s)]


async def lease_page(conn: Conn, page_id: str, owner: str, lease_s: float) -> Lease | None:
    """Lease one active page now (an on-demand sync), or None when it is held, unknown or not active."""
    row = await conn.fetchrow(sql("lease_pages"), owner, lease_s, page_id, 1, 0.0)
    return None if row is None else _lease(row)


async def status_of(conn: Conn, page_id: str) -> str | None:
    """The page's status, None when there is no such page."""
    status: str | None = await conn.fetchval(sql("page_status"), page_id)
    return status


async def renew(conn: Conn, lease: Lease, lease_s: float) -> bool:
    status = await conn.execute(sql("renew_lease"), lease.page_id, lease.owner, lease.epoch, lease_s)
    return status.endswith(" 1")


async def release(conn: Conn, lease: Lease, next_sync: NextSync) -> None:
    await conn.execute(sql("release_lease"), lease.page_id, lease.owner, lease.epoch, next_sync.in_s,
                       next_sync.priority, next_sync.quiet_runs)


async def is_silent(conn: Conn, page_id: str) -> bool:
    return bool(await conn.fetchval(sql("page_silent"), page_id))


async def gaps_found(conn: Conn, page_id: str, due_in_s: float) -> None:
    """Messages webhooks had missed were found on the page: its next sync comes soon, first."""
    await conn.execute(sql("gaps_found"), page_id, due_in_s)


async def advance_watermark(conn: Conn, lease: Lease, to: datetime) -> bool:
    """Move last_synced_at forward to `to` if this lease is still held; False when it was lost."""
    status = await conn.execute(sql("advance_watermark"), lease.page_id, lease.owner, lease.epoch, to)
    return status.endswith(" 1")


async def mark_needs_reauth(conn: Conn, page_id: str, reason: str) -> None:
    await conn.execute(sql("mark_needs_reauth"), page_id, reason)


async def active_page_count(conn: Conn) -> int:
    count: int = await conn.fetchval(sql("active_page_count"))
    return count


async def active_page_ids(conn: Conn) -> list[str]:
    return [r["page_id"] for r in await conn.fetch(sql("active_page_ids"))]
