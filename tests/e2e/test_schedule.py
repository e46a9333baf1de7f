"""The adaptive schedule on the real stack (issue 21): several `convsync reconcile` processes share
the pages; every page is synced again within its interval, and no page by two replicas at once."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from pathlib import Path

import pytest

from emulator.runner import EmulatorConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.e2e.harness import running_system

pytestmark = [pytest.mark.e2e]  # leases and the schedule, not the broker kind: the Tansu leg only

# CONVSYNC_E2E_SCHEDULE="500,20,120" (pages, interval, seconds watched) for the larger run of the README
PAGES, INTERVAL_S, WATCH_S = (int(float(v)) for v in os.environ.get("CONVSYNC_E2E_SCHEDULE", "60,4,40").split(","))
REPLICAS, MAX_INTERVAL_S, POLL_S = 3, 4.0 * INTERVAL_S, 0.5  # stretching, were it wrongly on, would show
CONFIG = EmulatorConfig(world=WorldConfig(seed=33, pages=PAGES, conversations_per_page=2, messages_per_conversation=2),
                        webhook=WebhookConfig(url="", app_secret=""))
TIMER = {"CONVSYNC_RECONCILE_INTERVAL_S": str(INTERVAL_S), "CONVSYNC_RECONCILE_MAX_INTERVAL_S": str(MAX_INTERVAL_S),
         "CONVSYNC_RECONCILE_POLL_S": str(POLL_S), "CONVSYNC_RECONCILE_JITTER": "0.1",
         "CONVSYNC_SYNC_MAX_PARALLEL_PAGES": "16", "CONVSYNC_PROFILE_LIMIT": "0"}
# The default budget (40 calls/s) looks at these pages once an interval with room to spare, so quiet
# pages are not stretched (reconciler.schedule.quiet_bound_s): every page is synced again within its
# jittered interval, plus a replica's poll and a slow run on two shared cores.
BOUND_S = INTERVAL_S * 1.1 + 2 * POLL_S + 4.0


async def test_replicas_share_the_pages_and_keep_every_bound(database_url: str, kafka: KafkaSettings,
                                                             tmp_path: Path) -> None:
    async with running_system(database_url, kafka, tmp_path, CONFIG, reconcilers=REPLICAS, extra_env=TIMER) as system:
        await asyncio.sleep(WATCH_S)
        runs = await system.fetch("SELECT page_id, owner, mode, status, started_at, finished_at FROM sync_runs "
                                  "WHERE trigger = 'timer' ORDER BY page_id, started_at")
        replicas = await system.fetch("SELECT count(*) AS n FROM reconciler_replicas")
        quiet = await system.fetch("SELECT count(*) AS n FROM pages WHERE quiet_runs > 0")
        system.procs.check_alive()
    by_page: dict[str, list[object]] = defaultdict(list)
    for run in runs:
        by_page[run["page_id"]].append(run)
    assert set(by_page) == set(system.emu.world.pages), "every page synced by the timer"
    # a run the snapshot caught in progress can only be its page's latest; every other one succeeded
    assert all(r["status"] == "succeeded" for page_runs in by_page.values() for r in page_runs[:-1]), \
        [r for r in runs if r["status"] != "succeeded"][:3]
    assert all(page_runs[-1]["status"] in ("succeeded", "running") for page_runs in by_page.values()), \
        [r for r in runs if r["status"] not in ("succeeded", "running")][:3]
    assert len({r["owner"] for r in runs}) == REPLICAS, "the three replicas shared the pages"
    assert replicas[0]["n"] == REPLICAS and quiet[0]["n"] > 0  # pages that found nothing new were scheduled as quiet
    worst, after_first = 0.0, 0.0  # waits in steady state; waits after a page's first (full) sync
    for page, page_runs in by_page.items():
        assert len(page_runs) >= 3, (page, len(page_runs))
        for before, after in zip(page_runs, page_runs[1:]):
            assert after["started_at"] >= before["finished_at"], f"page {page} synced by two replicas at once"
            wait = (after["started_at"] - before["started_at"]).total_seconds()
            if before["mode"] == "full":  # every page connected at once: their first syncs queue together
                after_first = max(after_first, wait)
            else:
                worst = max(worst, wait)
    assert worst <= BOUND_S, f"a page waited {worst:.1f} s between syncs (bound {BOUND_S} s)"
    print(f"{len(runs)} timer runs over {PAGES} pages by {REPLICAS} replicas in {WATCH_S:.0f} s; longest wait "
          f"between two syncs of a page {worst:.1f} s (bound {BOUND_S} s), {after_first:.1f} s after the first")
