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

from reconciler.db import Conn

from kernel.records import Platform

_LEASE_COLUMNS = "page_id, platform, name, access_token, last_synced_at, lease_owner, lease_epoch"


@dataclass(frozen=True, slots=True)
class Lease:
    page_id: str
    platform: Platform
    name: str
    owner: str
    epoch: int
    last_synced_at: datetime | None
    token_ciphertext: bytes | None = field(repr=False)


def _lease(row: asyncpg.Record) -> Lease:
    return Lease(row["page_id"], row["platform"], row["name"], row["lease_owner"], row["lease_epoch"],
                 row["last_synced_at"], row["access_token"])


async def upsert(conn: Conn, page_id: str, platform: str, name: str, ciphertext: bytes) -> bool:
    """Add a page or replace its name and token (status back to active); True when it was new."""
    created: bool = await conn.fetchval(
        """
        INSERT INTO pages (page_id, platform, name, access_token) VALUES ($1, $2, $3, $4)
        ON CONFLICT (page_id) DO UPDATE SET
            platform = EXCLUDED.platform, name = EXCLUDED.name, access_token = EXCLUDED.access_token,
            status = 'active', status_reason = NULL, next_sync_at = NULL, updated_at = now()
        RETURNING (xmax = 0)
        """,
        page_id, platform, name, ciphertext,
    )
    return created


async def remove(conn: Conn, page_id: str) -> bool:
    return await conn.fetchval("DELETE FROM pages WHERE page_id = $1 RETURNING true", page_id) is not None


_PUBLIC = """
    SELECT p.page_id, p.platform, p.name, p.status, p.status_reason, p.last_synced_at,
           p.lease_owner, p.lease_expires_at, p.next_sync_at, p.created_at, p.updated_at,
           (SELECT to_jsonb(r) FROM sync_runs r WHERE r.page_id = p.page_id
             ORDER BY r.created_at DESC LIMIT 1) AS last_run
    FROM pages p
"""


async def public_rows(conn: Conn, page_id: str | None = None) -> list[dict[str, Any]]:
    """Pages as the admin API shows them: never the token."""
    if page_id is None:
        rows = await conn.fetch(_PUBLIC + " ORDER BY p.page_id")
    else:
        rows = await conn.fetch(_PUBLIC + " WHERE p.page_id = $1", page_id)
    return [dict(r) for r in rows]


# Grant the lease on the rows of the CTE `chosen`: owner, expiry ($1, $2), the epoch bumped (fencing).
_GRANT = f"""
    UPDATE pages p SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
                       lease_epoch = p.lease_epoch + 1
    FROM chosen WHERE p.page_id = chosen.page_id
    RETURNING {', '.join('p.' + c for c in _LEASE_COLUMNS.split(', '))}
"""


async def lease_due(conn: Conn, owner: str, lease_s: float, limit: int) -> list[Lease]:
    """Lease up to `limit` active pages whose next sync is due and that nobody holds."""
    rows = await conn.fetch(
        """
        WITH chosen AS (
            SELECT page_id FROM pages
            WHERE status = 'active' AND (next_sync_at IS NULL OR next_sync_at <= now())
              AND (lease_expires_at IS NULL OR lease_expires_at < now())
            ORDER BY next_sync_at NULLS FIRST LIMIT $3
            FOR UPDATE SKIP LOCKED)
        """ + _GRANT,
        owner, lease_s, limit,
    )
    return [_lease(r) for r in rows]


async def lease_page(conn: Conn, page_id: str, owner: str, lease_s: float) -> Lease | None:
    """Lease one active page now (an on-demand sync), or None when it is held, unknown or not active."""
    row = await conn.fetchrow(
        """
        WITH chosen AS (
            SELECT page_id FROM pages
            WHERE page_id = $3 AND status = 'active'
              AND (lease_expires_at IS NULL OR lease_expires_at < now())
            FOR UPDATE SKIP LOCKED)
        """ + _GRANT,
        owner, lease_s, page_id,
    )
    return None if row is None else _lease(row)


_HELD = "page_id = $1 AND lease_owner = $2 AND lease_epoch = $3"


async def renew(conn: Conn, lease: Lease, lease_s: float) -> bool:
    status = await conn.execute(
        f"UPDATE pages SET lease_expires_at = now() + make_interval(secs => $4) WHERE {_HELD}",
        lease.page_id, lease.owner, lease.epoch, lease_s,
    )
    return status.endswith(" 1")


async def release(conn: Conn, lease: Lease, next_sync_in_s: float) -> None:
    await conn.execute(
        f"""UPDATE pages SET lease_owner = NULL, lease_expires_at = NULL,
                   next_sync_at = now() + make_interval(secs => $4) WHERE {_HELD}""",
        lease.page_id, lease.owner, lease.epoch, next_sync_in_s,
    )


async def advance_watermark(conn: Conn, lease: Lease, to: datetime) -> bool:
    """Move last_synced_at forward to `to` if this lease is still held; False when it was lost."""
    status = await conn.execute(
        f"""UPDATE pages SET last_synced_at = GREATEST(last_synced_at, $4), updated_at = now()
            WHERE {_HELD}""",
        lease.page_id, lease.owner, lease.epoch, to,
    )
    return status.endswith(" 1")


async def mark_needs_reauth(conn: Conn, page_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE pages SET status = 'needs_reauth', status_reason = $2, updated_at = now() WHERE page_id = $1",
        page_id, reason,
    )


async def active_page_ids(conn: Conn) -> list[str]:
    rows = await conn.fetch("SELECT page_id FROM pages WHERE status = 'active' ORDER BY page_id")
    return [r["page_id"] for r in rows]
