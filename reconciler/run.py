"""One sync run of one leased page, from the `sync_runs` row to the watermark.

Order matters for the guarantees (DESIGN §8):
  1. walk and send the records, 2. await every Kafka ack, 3. advance `pages.last_synced_at` to the
  newest `updated_time` seen (never the clock, never backwards, only while the lease is held),
  4. finish the run row.
A failure anywhere before 3 leaves the watermark where it was, so the next run re-reads what this
one may have missed; the run row says why, in words without secrets. A dead token (190) marks the
page `needs_reauth`, which takes it out of the timer loop until `POST /admin/pages` replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import structlog
from aiokafka.errors import KafkaError

from kernel.settings import ReconcilerSettings
from reconciler import metrics, pages, profiles, runs, silence
from reconciler.graph import CallStats, GraphError, TokenDead
from reconciler.pages import Lease
from reconciler.runs import Mode, RunTally
from reconciler.snapshot import SnapshotError, cutoff
from reconciler.tokens import TokenCipher, TokenKeyMismatch, TokenUnreadable
from reconciler.walk import Progress, Walker, WalkPlan, WalkResult

log = structlog.get_logger("convsync.reconciler")

RequestedMode = Literal["auto", "full", "incremental"]
MODES: frozenset[str] = frozenset({"auto", "full", "incremental"})


class LeaseLost(Exception):
    """Another owner took the page while this run was walking: its watermark is not ours to move."""


def resolve_mode(requested: RequestedMode, last_synced_at: datetime | None) -> Mode:
    """"auto" is full when the page was never synced (or its watermark was reset to NULL)."""
    if requested == "auto":
        return "full" if last_synced_at is None else "incremental"
    return requested


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: str
    page_id: str
    mode: Mode
    status: runs.FinalStatus
    tally: RunTally
    watermark_to: datetime | None
    error: str | None
    applied_check: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class RunContext:
    pool: asyncpg.Pool
    walker: Walker
    cipher: TokenCipher
    settings: ReconcilerSettings


async def run_page(ctx: RunContext, lease: Lease, mode: Mode, run_id: str,
                   on_progress: Progress | None = None) -> RunOutcome:
    """Run one sync of a leased page (its `sync_runs` row exists) to its end; never raises for Graph,
    Kafka or data failures: they are recorded on the run."""
    stats, started, started_at = CallStats(), time.monotonic(), datetime.now(UTC)
    result: WalkResult | None = None
    plan: WalkPlan | None = None
    acked_s = 0.0
    try:
        plan = _plan(ctx, lease, mode, run_id)
        async with _renewing(ctx, lease):
            result = await _walk(ctx, plan, stats, on_progress)
            walked_at = time.monotonic()
            await asyncio.gather(*result.acks)
            acked_s = time.monotonic() - walked_at
            await _advance(ctx, lease, result.newest)
        outcome = _outcome(lease, mode, run_id, "succeeded", stats, result, None)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run; see _failure
        if result is not None:  # settle the sends already made, so no ack error goes unobserved
            await asyncio.gather(*result.acks, return_exceptions=True)
        outcome = _outcome(lease, mode, run_id, "failed", stats, result, await _failure(ctx, lease, exc))
    await _finish(ctx, outcome)
    if outcome.status == "succeeded" and result is not None and plan is not None:
        await _observe_silence(ctx, lease.page_id, result.newest)
        async with _renewing(ctx, lease):
            await _read_profiles(ctx, lease, plan, result, started_at)
    log.info("sync_run_finished", page_id=lease.page_id, run_id=run_id, mode=mode, status=outcome.status,
             conversations=outcome.tally.conversations, graph_calls=stats.calls, throttled=stats.throttled,
             seconds=round(time.monotonic() - started, 3), ack_wait_s=round(acked_s, 3), error=outcome.error)
    return outcome


async def _observe_silence(ctx: RunContext, page_id: str, newest: datetime | None) -> None:
    """The page's webhook silence (reconciler.silence); a failure here is logged, never the run's."""
    try:
        await silence.observe(ctx.pool, page_id, newest, ctx.settings.silence_threshold_s)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        log.warning("silence_check_failed", page_id=page_id, error=exc.__class__.__name__)


async def _read_profiles(ctx: RunContext, lease: Lease, plan: WalkPlan, result: WalkResult,
                         started_at: datetime) -> None:
    """The contacts pass (reconciler.profiles) after a successful run; never the run's failure. People
    the run read, or who wrote first after it started, are left to their Graph reading."""
    try:
        done = await profiles.read_profiles(
            ctx.pool, ctx.walker.graph, page_id=lease.page_id, graph_page_id=lease.graph_page_id,
            platform=lease.platform, token=plan.token, settings=ctx.settings,
            read_this_run=result.users, active_before=started_at,
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        log.warning("profiles_failed", page_id=lease.page_id, error=exc.__class__.__name__)
        return
    metrics.GRAPH_CALLS.labels(lease.page_id).inc(done.graph_calls)  # not on the run's row: it had ended
    metrics.PROFILES.labels("read").inc(done.read)
    metrics.PROFILES.labels("refused").inc(done.refused)
    if done.read or done.refused or done.stopped:
        log.info("profiles_read", page_id=lease.page_id, read=done.read, refused=done.refused, stopped=done.stopped)


def _plan(ctx: RunContext, lease: Lease, mode: Mode, run_id: str) -> WalkPlan:
    if lease.token_ciphertext is None:
        raise TokenUnreadable("the page has no stored token")
    return WalkPlan.for_mode(
        full=mode == "full", cutoff=cutoff(lease.last_synced_at, ctx.settings.overlap_s),
        page_id=lease.page_id, graph_page_id=lease.graph_page_id, platform=lease.platform, token=ctx.cipher.decrypt(lease.token_ciphertext),
        page_size=ctx.settings.page_size, run_id=run_id,
    )


async def _walk(ctx: RunContext, plan: WalkPlan, stats: CallStats, on_progress: Progress | None) -> WalkResult:
    walker = ctx.walker if on_progress is None else _with_progress(ctx.walker, on_progress)
    return await walker.walk(plan, stats)


def _with_progress(walker: Walker, on_progress: Progress) -> Walker:
    return Walker(walker.graph, walker.sink, walker.clock_ms, on_progress)


async def _advance(ctx: RunContext, lease: Lease, newest: datetime | None) -> None:
    if newest is None:
        return
    async with ctx.pool.acquire() as conn:
        if not await pages.advance_watermark(conn, lease, newest):
            raise LeaseLost("the page's lease was taken over; the watermark was left to the new owner")


@contextlib.asynccontextmanager
async def _renewing(ctx: RunContext, lease: Lease) -> AsyncIterator[None]:
    """Keep the lease alive while the run works (a long full sync outlives one lease period).

    Renewal runs every third of the lease, and a failed renewal (the database away for a moment)
    is tried again at the next tick: the lease lapses only if it cannot be renewed for a whole period,
    and then the fencing epoch keeps this run from moving the watermark."""
    async def renew_forever() -> None:
        while True:
            await asyncio.sleep(ctx.settings.lease_s / 3)
            try:
                async with ctx.pool.acquire() as conn:
                    await pages.renew(conn, lease, ctx.settings.lease_s)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                log.warning("lease_renewal_failed", page_id=lease.page_id, error=exc.__class__.__name__)

    task = asyncio.create_task(renew_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _failure(ctx: RunContext, lease: Lease, exc: BaseException) -> str:
    """The run's error text (no secrets: Meta's message or an exception class), after side effects."""
    if isinstance(exc, TokenDead | TokenUnreadable):
        reason = f"token: {exc}"
        async with ctx.pool.acquire() as conn:
            await pages.mark_needs_reauth(conn, lease.page_id, reason)
        log.warning("page_needs_reauth", page_id=lease.page_id, reason=reason)
        return reason
    if isinstance(exc, TokenKeyMismatch):  # this process's keys, not the page: the page is left as it is
        log.error("token_key_mismatch", page_id=lease.page_id)
        return f"token: {exc}"
    if isinstance(exc, GraphError | SnapshotError | LeaseLost):
        return f"{exc.__class__.__name__}: {exc}"
    if isinstance(exc, KafkaError):
        return f"kafka: {exc.__class__.__name__}"
    log.exception("sync_run_crashed", page_id=lease.page_id)
    return f"internal: {exc.__class__.__name__}"


def _outcome(lease: Lease, mode: Mode, run_id: str, status: runs.FinalStatus, stats: CallStats,
             result: WalkResult | None, error: str | None) -> RunOutcome:
    walked = result or WalkResult()
    tally = RunTally(walked.conversations, walked.messages, stats.calls, stats.throttled, stats.answer_s)
    return RunOutcome(run_id, lease.page_id, mode, status, tally,
                      walked.newest if status == "succeeded" else None, error, tuple(walked.applied_check))


async def _finish(ctx: RunContext, outcome: RunOutcome) -> None:
    async with ctx.pool.acquire() as conn:
        await runs.finish(conn, outcome.run_id, outcome.status, outcome.tally, outcome.watermark_to, outcome.error)


def as_json(outcome: RunOutcome) -> dict[str, Any]:
    t = outcome.tally
    return {"run_id": outcome.run_id, "page_id": outcome.page_id, "mode": outcome.mode, "status": outcome.status,
            "conversations": t.conversations, "messages": t.messages, "graph_calls": t.graph_calls,
            "throttled": t.throttled, "error": outcome.error}
