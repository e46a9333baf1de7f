"""The reconciler of one process: starts runs on leased pages, bounded, and keeps their tasks.

Everything that syncs goes through here (the timer loop, the admin API, the CLI), so one semaphore
bounds the pages synced at once (`max_parallel_pages`) and one `Governors` registry paces each page.
A run starts only on a page this process leased; the lease is released when the run ends, with the
next timer sync scheduled one interval (plus jitter) later. A run's failure is recorded on its row
and never reaches the other runs.

Rejections (what the caller answers):
    SyncRejected
    ├── UnknownPage    404
    ├── PageNotActive  409 (needs_reauth or paused: replace the token first)
    └── PageBusy       409 (another run holds the page's lease)
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from reconciler import metrics, pages, runs
from reconciler.applied import wait_applied
from reconciler.db import Conn
from reconciler.governor import AppUsage
from reconciler.pages import Lease
from reconciler.schedule import NextSync, RunSignal, SchedulePolicy, page_class
from reconciler.run import RequestedMode, RunContext, RunOutcome, resolve_mode, run_page
from reconciler.walk import Progress

log = structlog.get_logger("convsync.reconciler")


class SyncRejected(Exception):
    status_code = 409


class UnknownPage(SyncRejected):
    status_code = 404


class PageNotActive(SyncRejected):
    pass


class PageBusy(SyncRejected):
    pass


@dataclass(frozen=True, slots=True)
class StartedRun:
    run_id: str
    page_id: str
    name: str
    mode: runs.Mode
    task: asyncio.Task[RunOutcome] = field(repr=False)


def new_owner() -> str:
    """This replica's lease owner id: readable host, unique suffix."""
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class Reconciler:
    ctx: RunContext
    owner: str = field(default_factory=new_owner)
    rand: Callable[[], float] = random.random
    running: set[asyncio.Task[RunOutcome]] = field(default_factory=set)
    watchers: set[asyncio.Task[None]] = field(default_factory=set)
    schedule: SchedulePolicy | None = None  # None: from the settings, at 2 calls/s per page
    app: AppUsage = field(default_factory=AppUsage)  # Meta's app usage, as the governors see it
    budget_slots: int | None = None  # the timer's share of the app's call budget (reconciler.loop sets it)
    active_pages: int = 0  # how many pages share that budget: how far quiet ones stretch (`pages_for_schedule`)
    active_pages_at: float = float("-inf")  # monotonic time of that count
    slot_freed: asyncio.Event = field(default_factory=asyncio.Event)
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.ctx.settings.max_parallel_pages)
        if self.schedule is None:
            self.schedule = SchedulePolicy.from_settings(self.ctx.settings, 2.0)

    @property
    def policy(self) -> SchedulePolicy:
        assert self.schedule is not None  # set in __post_init__
        return self.schedule

    def free_slots(self) -> int:
        """Runs the timer may start now: its budget share (at most the hard cap) less what is running."""
        cap = self.ctx.settings.max_parallel_pages
        allowed = cap if self.budget_slots is None else min(cap, self.budget_slots)
        return max(0, allowed - len(self.running))

    async def start(self, page_id: str, requested: RequestedMode, trigger: str,
                    on_progress: Progress | None = None) -> StartedRun:
        """Lease one page and start its run now; raise a SyncRejected saying why not."""
        async with self.ctx.pool.acquire() as conn:
            lease = await pages.lease_page(conn, page_id, self.owner, self.ctx.settings.lease_s)
            status = None if lease else await pages.status_of(conn, page_id)
        if lease is not None:
            return await self.launch(lease, requested, trigger, on_progress)
        if status is None:
            raise UnknownPage(f"unknown page {page_id!r}")
        if status != "active":
            raise PageNotActive(f"page {page_id!r} is {status}: add its token again first")
        raise PageBusy(f"page {page_id!r} is being synced already")

    async def launch(self, lease: Lease, requested: RequestedMode, trigger: str,
                     on_progress: Progress | None = None) -> StartedRun:
        """Start the run of a page this process has leased (its row exists when this returns)."""
        mode, run_id = resolve_mode(requested, lease.last_synced_at), runs.new_run_id()
        async with self.ctx.pool.acquire() as conn:
            await runs.create(conn, run_id, lease.page_id, mode, trigger, lease.last_synced_at, self.owner)
        task = asyncio.create_task(self._run(lease, mode, run_id, on_progress))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return StartedRun(run_id, lease.page_id, lease.name, mode, task)

    async def start_all(self, requested: RequestedMode, trigger: str) -> tuple[list[StartedRun], dict[str, str]]:
        """A run for every active page (all in parallel, bounded); pages that cannot start say why."""
        async with self.ctx.pool.acquire() as conn:
            page_ids = await pages.active_page_ids(conn)
        started, skipped = [], {}
        for page_id in page_ids:
            try:
                started.append(await self.start(page_id, requested, trigger))
            except SyncRejected as exc:
                skipped[page_id] = str(exc)
        return started, skipped

    async def _run(self, lease: Lease, mode: runs.Mode, run_id: str, on_progress: Progress | None) -> RunOutcome:
        outcome: RunOutcome | None = None
        try:
            async with self.slots:
                if lease.staleness_s is not None:
                    metrics.STALENESS.labels(page_class(lease)).observe(lease.staleness_s)
                outcome = await run_page(self.ctx, lease, mode, run_id, on_progress)
            self._count(outcome)
            return outcome
        finally:
            async with self.ctx.pool.acquire() as conn:
                await pages.release(conn, lease, await self._next_sync(conn, lease, outcome))
            self.slot_freed.set()  # the timer may lease the next due page now, not at its next poll

    async def _next_sync(self, conn: Conn, lease: Lease, outcome: RunOutcome | None) -> NextSync:
        """When the page is synced next, from what this run found (reconciler.schedule)."""
        succeeded = outcome is not None and outcome.status == "succeeded"
        newest = outcome.watermark_to if outcome is not None else None
        moved = newest is not None and (lease.last_synced_at is None or newest > lease.last_synced_at)
        signal = RunSignal(succeeded, moved, await pages.is_silent(conn, lease.page_id),
                           self.policy.lost_webhooks_lately(lease.since_gaps_s))
        return self.policy.after_run(signal, lease.quiet_runs, self.rand(), await self.pages_for_schedule(conn))

    def counted_pages(self, active: int) -> None:
        """The timer's heartbeat counted the active pages (reconciler.loop), every poll."""
        self.active_pages, self.active_pages_at = active, time.monotonic()

    async def pages_for_schedule(self, conn: Conn) -> int:
        """The active pages, as the timer's heartbeat last counted them; a reconciler without a timer
        (the admin API's, `convsync sync`) counts them itself, at most once a poll."""
        if time.monotonic() - self.active_pages_at > self.ctx.settings.poll_s:
            self.counted_pages(await pages.active_page_count(conn))
        return self.active_pages

    def _count(self, outcome: RunOutcome) -> None:
        metrics.RUNS.labels(outcome.mode, outcome.status).inc()
        metrics.GRAPH_CALLS.labels(outcome.page_id).inc(outcome.tally.graph_calls)
        metrics.THROTTLED.labels(outcome.page_id).inc(outcome.tally.throttled)
        metrics.CONVERSATIONS.labels(outcome.page_id).inc(outcome.tally.conversations)
        watcher = asyncio.create_task(self._count_gaps(outcome))
        self.watchers.add(watcher)
        watcher.add_done_callback(self.watchers.discard)

    async def _count_gaps(self, outcome: RunOutcome) -> None:
        """Once the consumers applied the run, add its gap messages to the missed-webhook metric; an
        incremental run that found some makes its page suspicious (reconciler.schedule)."""
        if not await wait_applied(self.ctx.pool, outcome.page_id, outcome.applied_check,
                                  self.ctx.settings.apply_wait_s, poll_s=1.0):
            return
        async with self.ctx.pool.acquire() as conn:
            row = await runs.get(conn, outcome.run_id) or {}
        gaps = int(row.get("gap_messages") or 0)
        metrics.MISSED_WEBHOOK_MESSAGES.labels(outcome.page_id).inc(gaps)
        if gaps > 0 and outcome.mode == "incremental":  # a full sync's are history read back, not losses
            async with self.ctx.pool.acquire() as conn:
                await pages.gaps_found(conn, outcome.page_id, self.policy.urgent_s)

    async def finished(self, started: StartedRun) -> dict[str, Any]:
        """The run's row once it ended and, bounded by `apply_wait_s`, once the consumers applied
        its snapshots (`applied` says whether they did in time)."""
        outcome = await started.task
        applied = await wait_applied(self.ctx.pool, outcome.page_id, outcome.applied_check,
                                     self.ctx.settings.apply_wait_s)
        async with self.ctx.pool.acquire() as conn:
            row = await runs.get(conn, started.run_id)
        return {**(row or {}), "applied": applied}

    async def drain(self) -> None:
        """Wait for every run this process started (on shutdown); stop watching for applied runs."""
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)
        for watcher in list(self.watchers):
            watcher.cancel()
        await asyncio.gather(*self.watchers, return_exceptions=True)
