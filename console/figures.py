"""What the console's pages show, read from PostgreSQL (one small function per view, SQL in `console/sql/`)."""

from __future__ import annotations

from typing import Any

from kernel.sqlfiles import statement
from reconciler.db import Conn


def sql(name: str) -> str:
    return statement("console", name)


async def pages_overview(conn: Conn, page_id: str | None = None, *, search: str | None = None, limit: int = 1,
                         offset: int = 0) -> list[dict[str, Any]]:
    """Pages (one, or those whose name or id contains `search`; those needing attention first), each
    with its latest run, gaps found (24 h, 7 days) and reply windows open now; `matching` on each row
    counts the pages the filter matched."""
    return [dict(r) for r in await conn.fetch(sql("pages_overview"), page_id, search, limit, offset)]


async def pages_count(conn: Conn) -> tuple[int, int]:
    """(pages, pages needing attention)."""
    row = await conn.fetchrow(sql("pages_attention"))
    return (int(row["pages"]), int(row["attention"])) if row else (0, 0)


async def runs(conn: Conn, page_id: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(sql("runs"), page_id, status, limit)]


async def recent_conversations(conn: Conn, page_id: str, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(sql("recent_conversations"), page_id, limit)]
