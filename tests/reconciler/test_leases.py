"""Leases and the fenced watermark, on real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import pytest

from kernel.settings import ReconcilerSettings
from reconciler.schedule import NextSync, SchedulePolicy
from reconciler.service import Reconciler
from reconciler import pages, replicas
from reconciler.run import _renewing

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=2, max_size=6) as created:
        async with created.acquire() as conn:
            for n in range(6):
                await pages.upsert(conn, f"p{n}", "messenger", f"page {n}", b"ciphertext")
        yield created


async def test_two_replicas_never_lease_the_same_page(pool: asyncpg.Pool) -> None:
    async def lease(owner: str) -> list[str]:
        async with pool.acquire() as conn:
            return [lease.page_id for lease in await pages.lease_due(conn, owner, 60, 4, 300)]

    a, b = await asyncio.gather(lease("a"), lease("b"))
    assert not set(a) & set(b) and len(a) + len(b) == 6
    async with pool.acquire() as conn:
        assert await pages.lease_due(conn, "c", 60, 10, 300) == []  # all held
        assert await pages.lease_page(conn, "p0", "c", 60) is None


async def test_the_heartbeat_shares_the_replicas_the_newest_usage_and_the_active_pages(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM reconciler_replicas")
        await pages.set_paused(conn, "p4", True)
        await pages.mark_needs_reauth(conn, "p5", "token expired")
        first = await replicas.heartbeat(conn, "a", 20.0, 15)
        second = await replicas.heartbeat(conn, "b", None, 15)
        # the active pages decide how far quiet ones stretch (reconciler.schedule.quiet_bound_s)
        assert first == replicas.Share(1, 20.0, 4) and second == replicas.Share(2, 20.0, 4)
        await conn.execute("UPDATE reconciler_replicas SET seen_at = now() - interval '1 min' WHERE owner = 'a'")
        assert await replicas.heartbeat(conn, "b", 35.0, 15) == replicas.Share(1, 35.0, 4)


async def test_a_reconciler_without_a_timer_counts_the_active_pages_itself(pool: asyncpg.Pool) -> None:
    """The admin API's and `convsync sync`'s reconcilers have no heartbeat: they count the pages for
    the schedule themselves, at most once a poll; the timer's heartbeat count is used as it comes."""
    ctx = SimpleNamespace(settings=ReconcilerSettings(poll_s=60))
    reconciler = Reconciler(ctx, schedule=SchedulePolicy())  # type: ignore[arg-type]  # settings only
    async with pool.acquire() as conn:
        assert await reconciler.pages_for_schedule(conn) == 6
        await pages.set_paused(conn, "p0", True)
        assert await reconciler.pages_for_schedule(conn) == 6  # counted within this poll
        reconciler.active_pages_at -= 61
        assert await reconciler.pages_for_schedule(conn) == 5
        reconciler.counted_pages(9_000)
        assert await reconciler.pages_for_schedule(conn) == 9_000


async def test_watermark_only_grows_and_only_for_the_lease_holder(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        stale = await pages.lease_page(conn, "p1", "old", 60)
        assert stale is not None
        assert await pages.advance_watermark(conn, stale, T0)
        assert await pages.advance_watermark(conn, stale, T0 - timedelta(hours=1))  # allowed, but no effect
        assert await conn.fetchval("SELECT last_synced_at FROM pages WHERE page_id = 'p1'") == T0
        await conn.execute("UPDATE pages SET lease_expires_at = now() - interval '1 s' WHERE page_id = 'p1'")
        fresh = await pages.lease_page(conn, "p1", "new", 60)
        assert fresh is not None and fresh.epoch == stale.epoch + 1 and fresh.last_synced_at == T0
        assert not await pages.advance_watermark(conn, stale, T0 + timedelta(days=1))  # fenced
        assert not await pages.renew(conn, stale, 60)
        await pages.release(conn, stale, NextSync(0, 0, 0, "active"))  # a stale release changes nothing
        assert await conn.fetchval("SELECT lease_owner FROM pages WHERE page_id = 'p1'") == "new"
        assert await pages.advance_watermark(conn, fresh, T0 + timedelta(days=1))
        await pages.release(conn, fresh, NextSync(300, 0, 0, "active"))
        row = await conn.fetchrow("SELECT lease_owner, next_sync_at > now() AS later FROM pages WHERE page_id='p1'")
        assert row["lease_owner"] is None and row["later"]


async def test_replacing_a_token_reactivates_and_keeps_the_watermark(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        lease = await pages.lease_page(conn, "p2", "a", 60)
        assert lease is not None and await pages.advance_watermark(conn, lease, T0)
        await pages.mark_needs_reauth(conn, "p2", "token: dead")
        await pages.release(conn, lease, NextSync(0, 0, 0, "active"))
        assert await pages.lease_page(conn, "p2", "a", 60) is None  # needs_reauth pages are not synced
        assert not await pages.upsert(conn, "p2", "messenger", "page 2", b"new-ciphertext")
        again = await pages.lease_page(conn, "p2", "a", 60)
        assert again is not None and again.last_synced_at == T0 and again.token_ciphertext == b"new-ciphertext"


async def test_a_working_run_keeps_its_lease_through_a_failed_renewal(pool: asyncpg.Pool,
                                                                      database_url: str) -> None:
    settings = ReconcilerSettings(lease_s=3.0)  # renewed every second
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2,
                                   server_settings={"statement_timeout": "300"}) as impatient:
        ctx = SimpleNamespace(pool=impatient, settings=settings)  # _renewing reads only these two
        async with pool.acquire() as conn:
            lease = await pages.lease_page(conn, "p2", "worker", settings.lease_s)
        assert lease is not None
        async with _renewing(ctx, lease):  # type: ignore[arg-type]
            await asyncio.sleep(1.5)
            async with pool.acquire() as conn, conn.transaction():  # the renewal at 2 s times out
                await conn.execute("SELECT 1 FROM pages WHERE page_id = 'p2' FOR UPDATE")
                await asyncio.sleep(1.1)
            await asyncio.sleep(2.4)  # 5 s in: the first lease ran out at 4 s, only later renewals hold it
            async with pool.acquire() as conn:
                assert await pages.lease_page(conn, "p2", "other", 60) is None
    await asyncio.sleep(3.2)  # no more renewals: the lease lapses
    async with pool.acquire() as conn:
        assert await pages.lease_page(conn, "p2", "other", 60) is not None
