"""End to end: the edge is down long enough that Meta (the emulator) unsubscribes the pages; when it
is back, the reconciler finds them within one check interval, subscribes them again, webhooks flow
again, and the sync that follows fills the gap: every message in Meta's 20-message window is stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from convsync.processes import wait_http_ok
from emulator.gate import GraphConfig
from emulator.runner import EmulatorConfig
from emulator.subscriptions import MESSAGING_FIELDS, SubscriptionConfig
from emulator.traffic import TrafficConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.e2e.harness import running_system, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

APP_ID = "900000000000042"
CONFIG = EmulatorConfig(
    world=WorldConfig(seed=31, pages=2, conversations_per_page=10, messages_per_conversation=3),
    graph=GraphConfig(calls_per_second=20.0, subscriptions=SubscriptionConfig(app_id=APP_ID, unsubscribe_after_s=3.0)),
    webhook=WebhookConfig(url="", app_secret="", batch_size=3, retries=1, retry_delay_s=0.1, timeout_s=2.0, seed=31),
    traffic=TrafficConfig(rate=15, max_changes=450, max_seconds=90, seed=31),
    realtime=True,
)


async def test_pages_meta_unsubscribed_during_an_outage_are_found_fixed_and_filled(
        kafka: KafkaSettings, database_url: str, tmp_path: Path) -> None:
    env = {"CONVSYNC_APP_ID": APP_ID, "CONVSYNC_SUBSCRIPTION_CHECK_S": "5", "CONVSYNC_RECONCILE_POLL_S": "1"}
    async with running_system(database_url, kafka, tmp_path, CONFIG, extra_env=env) as system:
        emu, pages = system.emu, sorted(system.emu.world.pages)

        async def checked_ok() -> bool:
            rows = await system.fetch("SELECT subscription_status FROM pages")
            return len(rows) == len(pages) and all(r["subscription_status"] == "ok" for r in rows)
        await wait_until(checked_ok, timeout_s=60, what="the first check to find every page subscribed")

        serve = system.role("serve")
        serve.stop()  # the edge is down; Meta's deliveries fail, and after 3 s it unsubscribes the pages

        async def unsubscribed() -> bool:
            return all(emu.subscriptions.fields(p) is None for p in pages)
        await wait_until(unsubscribed, timeout_s=60, what="Meta to unsubscribe every page")
        serve.start()
        await asyncio.to_thread(wait_http_ok, f"{system.serve_url}/healthz", serve)

        async def resubscribed() -> bool:
            return all(emu.subscriptions.fields(p) == frozenset(MESSAGING_FIELDS) for p in pages)
        await wait_until(resubscribed, timeout_s=30, what="the reconciler to subscribe every page again")
        runs = await system.fetch("SELECT page_id FROM sync_runs WHERE trigger = 'resubscribe'")
        assert {r["page_id"] for r in runs} == set(pages)

        assert emu.traffic is not None
        await asyncio.wait_for(emu.traffic.wait(), timeout=120)
        assert emu.delivery is not None
        delivered_after = len(emu.delivery.delivered)
        assert delivered_after > 0
        # The re-subscription can come while the edge is still starting: what Meta sent between that
        # sync's listing and the edge's first 200 is the next timer sync's to find (within one interval;
        # this system's timer is an hour, so that sync is started here).
        for page in pages:
            status, _ = await system.admin("POST", f"/admin/pages/{page}/sync?wait=true", {"mode": "incremental"})
            assert status == 200

        async def every_message_stored() -> bool:
            diff = await system.truth(window=20)
            return not [m for m in diff.missing if m.startswith("message ")]
        try:
            await wait_until(every_message_stored, timeout_s=120, what="every message in the window to be stored")
        except AssertionError:
            print((await system.truth(window=20)).report())
            raise
        assert not await system.delivered_mids_missing()
