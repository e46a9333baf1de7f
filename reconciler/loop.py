"""`convsync reconcile`: every `poll_s`, lease the pages whose next sync is due and sync them, and
check the webhook subscription of the pages whose check is due (`reconciler.subscriptions`; with
CONVSYNC_APP_ID set), repairing it and syncing the page when Meta stopped delivering.

Safe to run several: a page is leased by one replica at a time (`FOR UPDATE SKIP LOCKED`), and a
run's end schedules the page's next sync as `reconciler.schedule` decides (jittered, so replicas spread out),
and each replica leases only its share of the app's Graph call budget (`reconciler.replicas`).
Pages that need a new token are never leased; a failed run just waits for its next turn.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from kernel.sqlfiles import statement
from reconciler import metrics, pages, replicas
from reconciler.db import Conn
from reconciler.service import Reconciler
from reconciler.subscriptions import SubscriptionChecker

log = structlog.get_logger("convsync.reconciler")
REPLICA_WINDOW_POLLS = 3  # a replica silent this many polls no longer shares the budget


async def lease_and_launch(reconciler: Reconciler) -> int:
    """One tick: take this replica's share of the app's call budget (`reconciler.replicas`), lease as
    many due pages as that leaves free slots and start their runs, then measure how far the schedule
    is behind (`convsync_schedule_behind`: the pages still due and unsynced)."""
    settings, leases = reconciler.ctx.settings, []
    async with reconciler.ctx.pool.acquire() as conn:
        await take_share(reconciler, conn)
        free = reconciler.free_slots()
        if free > 0:
            leases = await pages.lease_due(conn, reconciler.owner, settings.lease_s, free, settings.interval_s)
        behind = await conn.fetchrow(statement("reconciler", "schedule_behind"))
    if behind is not None:  # one aggregate row, always
        metrics.SCHEDULE_BEHIND.set(behind["behind"])
        metrics.SCHEDULE_LATEST.set(behind["latest_s"])
    for lease in leases:
        await reconciler.launch(lease, "auto", "timer")
    return len(leases)


async def _next_tick(reconciler: Reconciler, stop: asyncio.Event) -> None:
    """Until `poll_s` passed, a run ended (its slot is free: a due page need not wait a whole poll),
    or `stop` was set."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(reconciler.slot_freed.wait())]
    try:
        await asyncio.wait(waits, timeout=reconciler.ctx.settings.poll_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    reconciler.slot_freed.clear()


async def take_share(reconciler: Reconciler, conn: Conn) -> None:
    """Say this replica is alive with the app usage it saw; take its share of the call budget, pace
    every page by the newest usage any replica saw, and stretch quiet pages only as far as the
    budget needs for the pages there are."""
    share = await replicas.heartbeat(conn, reconciler.owner, reconciler.app.seen_percent,
                                     REPLICA_WINDOW_POLLS * reconciler.ctx.settings.poll_s)
    reconciler.app.seen_percent = None
    reconciler.app.shared_percent = share.app_percent
    reconciler.budget_slots = reconciler.policy.parallel_pages(share.replicas, share.app_percent)
    reconciler.counted_pages(share.pages)
    metrics.QUIET_BOUND.set(reconciler.policy.quiet_bound_s(share.pages))
    metrics.REPLICAS.set(share.replicas)
    metrics.APP_USAGE.set(share.app_percent)
    metrics.PARALLEL_PAGES.set(min(reconciler.budget_slots, reconciler.ctx.settings.max_parallel_pages))


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
        await _next_tick(reconciler, stop)
    await reconciler.drain()
    log.info("reconcile_loop_stopped", owner=reconciler.owner)
