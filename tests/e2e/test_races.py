"""Twenty admin syncs started at once, racing live webhooks and the reconciler's own timer (issue 20 §3):
no deadlock (every request answered, every run ends, no write fails on one), every page's watermark
only ever grows, and every event whose webhook got a 2xx is stored."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from emulator.runner import EmulatorConfig
from emulator.traffic import TrafficConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.e2e.harness import System, running_system, wait_until

pytestmark = [pytest.mark.e2e]  # leases and watermarks, not the broker kind: the Tansu leg only

CONFIG = EmulatorConfig(
    world=WorldConfig(seed=21, pages=3, instagram_pages=1, conversations_per_page=30, messages_per_conversation=4),
    webhook=WebhookConfig(url="", app_secret="", batch_size=5, duplicate=0.05, reorder=0.05, seed=21),
    traffic=TrafficConfig(rate=40, max_changes=400, max_seconds=60, seed=21),
    realtime=True,
)
TIMER = {"CONVSYNC_RECONCILE_INTERVAL_S": "3", "CONVSYNC_RECONCILE_POLL_S": "0.3", "CONVSYNC_RECONCILE_JITTER": "0.01"}


async def watch_watermarks(system: System, seen: dict[str, list[datetime]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for row in await system.fetch("SELECT page_id, last_synced_at FROM pages WHERE last_synced_at IS NOT NULL"):
            history = seen[row["page_id"]]
            if not history or history[-1] != row["last_synced_at"]:
                history.append(row["last_synced_at"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def test_twenty_admin_syncs_at_once_race_webhooks_and_the_timer(
        database_url: str, kafka: KafkaSettings, tmp_path: Path) -> None:
    async with running_system(database_url, kafka, tmp_path, CONFIG, extra_env=TIMER) as system:
        pages = sorted(system.emu.world.pages)
        seen: dict[str, list[datetime]] = defaultdict(list)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_watermarks(system, seen, stop))
        try:
            await asyncio.sleep(2)  # webhooks flowing, the timer's first full syncs under way
            modes = ["auto", "full", "incremental", "auto"]

            async def sync(n: int) -> tuple[int, object]:
                await asyncio.sleep(0.3 * (n // 4))  # in waves of four: some meet the timer, some each other
                return await system.admin("POST", f"/admin/pages/{pages[n % len(pages)]}/sync",
                                          {"mode": modes[n % len(modes)]})
            answers = await asyncio.gather(*(sync(n) for n in range(20)))
            statuses = sorted(status for status, _ in answers)
            assert set(statuses) <= {202, 409} and 202 in statuses, statuses  # started, or the page was busy
            assert system.emu.traffic is not None
            await asyncio.wait_for(system.emu.traffic.wait(), timeout=120)

            async def all_runs_ended() -> bool:
                rows = await system.fetch("SELECT count(*) AS n FROM sync_runs WHERE status IN ('queued', 'running')")
                return rows[0]["n"] == 0
            await wait_until(all_runs_ended, timeout_s=90, what="every run to end")

            async def delivered_stored() -> bool:
                return not await system.delivered_mids_missing()
            await wait_until(delivered_stored, timeout_s=90, what="every delivered event stored")
        finally:
            stop.set()
            await watcher
        runs = await system.fetch("SELECT trigger, status, error FROM sync_runs")
        failed = [(r["trigger"], r["error"]) for r in runs if r["status"] != "succeeded"]
        assert not failed, failed
        assert {r["trigger"] for r in runs} >= {"admin", "timer"}, "the timer must have raced the admin syncs"
        for page in pages:
            history = seen[page]
            assert history == sorted(history), f"page {page}'s watermark went back: {history}"
        system.procs.check_alive()
        for role in system.procs.roles.values():
            text = role.log_path.read_text(errors="replace").lower()
            assert "deadlock" not in text, f"{role.name} met a deadlock"
        print(f"20 admin syncs: {statuses.count(202)} started, {statuses.count(409)} refused as busy; "
              f"{len(runs)} runs in all; watermark moves per page {[len(seen[p]) for p in pages]}")
