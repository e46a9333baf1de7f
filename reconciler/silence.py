"""Silence: a page whose Graph listing shows activity newer than its last webhook.

`subscribed_apps` does not show every way Meta stops delivering (an app-level subscription Meta
disabled, a webhook URL changed elsewhere). What does show: a sync lists conversations updated after
the newest message any webhook delivered. After each successful sync the reconciler compares the
newest `updated_time` it listed with the newest webhook-delivered message of the page (or, before
any webhook, the time the page was connected); more than CONVSYNC_SILENCE_THRESHOLD_S apart is
silent: log event `page_silent`, gauge `convsync_page_webhook_silence_seconds{page_id}`, and the
page's `silence` in `GET /admin/pages`. The threshold absorbs the writer's lag and single lost webhooks.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from kernel.sqlfiles import statement
from reconciler import metrics

log = structlog.get_logger("convsync.reconciler")


def silence_s(graph_newest: datetime | None, last_webhook: datetime | None, connected_at: datetime) -> float | None:
    """Seconds by which Meta's newest activity leads the newest webhook; None when the sync saw none."""
    if graph_newest is None:
        return None
    reference = last_webhook if last_webhook is not None else connected_at
    return max(0.0, (graph_newest - reference).total_seconds())


async def observe(pool: asyncpg.Pool, page_id: str, graph_newest: datetime | None, threshold_s: float) -> float | None:
    """Record the page's silence after a sync that listed activity up to `graph_newest`."""
    if graph_newest is None:
        return None
    async with pool.acquire() as conn:
        row = await conn.fetchrow(statement("reconciler", "last_webhook"), page_id)
        if row is None:
            return None
        seconds = silence_s(graph_newest, row["last_webhook_at"], row["connected_at"])
        assert seconds is not None
        silent = seconds > threshold_s
        await conn.execute(statement("reconciler", "record_silence"), page_id, graph_newest, row["last_webhook_at"],
                           seconds, silent)
    metrics.WEBHOOK_SILENCE.labels(page_id).set(seconds)
    if silent:
        log.warning("page_silent", page_id=page_id, silence_s=round(seconds), threshold_s=threshold_s,
                    graph_activity_at=graph_newest.isoformat(),
                    last_webhook_at=row["last_webhook_at"].isoformat() if row["last_webhook_at"] else None)
    return seconds
