"""`convsync reconcile`: every `poll_s`, lease the pages whose next sync is due and sync them, and
check the webhook subscription of the pages whose check is due (`reconciler.subscriptions`; with
CONVSYNC_APP_ID set), repairing it and syncing the page when Meta stopped delivering.

Safe to run several: a page is leased by one replica at a time (`FOR UPDATE SKIP LOCKED`), and a
run's end schedules the page's next sync one interval later plus jitter, so replicas spread out.
Pages that need a new token are never leased; a failed run just waits for its next turn.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from kernel.sqlfiles import statement
from reconciler import metrics, pages
from reconciler.service import Reconciler
from reconciler.subscriptions import SubscriptionChecker

log = structlog.get_logger("convsync.reconciler")


async def lease_and_launch(reconciler: Reconciler) -> int:
    """One tick: lease as many due pages as there are free slots and start their runs, then measure
    how far the schedule is behind (`convsync_schedule_behind`: the pages still due and unsynced)."""
    free, settings, leases = reconciler.free_slots(), reconciler.ctx.settings, []
    async with reconciler.ctx.pool.acquire() as conn:
        if free > 0:
            leases = await pages.lease_due(conn, reconciler.owner, settings.lease_s, free)
        behind = await conn.fetchrow(statement("reconciler", "schedule_behind"))
    if behind is not None:  # one aggregate row, always
        metrics.SCHEDULE_BEHIND.set(behind["behind"])
        metrics.SCHEDULE_LATEST.set(behind["latest_s"])
    for lease in leases:
        await reconciler.launch(lease, "auto", "timer")
    return len(leases)


async def reconcile_forever(reconciler: Reconciler, stop: asyncio.Event) -> None:
    """Tick until `stop` is set, then wait for the runs in flight."""
    log.info("reconcile_loop_started", owner=reconciler.owner, subscription_checks=reconciler.ctx.settings.app_id
             is not None)
    checker = SubscriptionChecker(reconciler)
    while not stop.is_set():
        try:
            await lease_and_launch(reconciler)
            await checker.check_due(reconciler.ctx.settings.max_parallel_pages)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:  # DB away: next tick
            log.warning("reconcile_tick_failed", error=exc.__class__.__name__)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), reconciler.ctx.settings.poll_s)
    await reconciler.drain()
    log.info("reconcile_loop_stopped", owner=reconciler.owner)
