"""End to end, as deployed: serve, consume and reconcile as OS processes, the emulator playing Meta.

Each test checks DESIGN §8 guarantees on real PostgreSQL, a real broker and real HTTP on loopback:
no loss of any event whose webhook got a 2xx, no double effect, convergence to Meta's ground truth,
and gap repair.

Gap repair comes in the reconciler's two modes. An incremental pass re-reads the conversations whose
`updated_time` moved since the last sync, so it restores every message a lost webhook carried. A
lost edit, reaction or unsend moves no `updated_time` (in the emulator, as nothing in Meta's
documentation says it does), so only a full sync, started by an operator, finds it. `_repair`
checks both: after the incremental pass no message is missing, after the full one everything equals.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from convsync.embedded import Postgres, free_port
from convsync.migrate import migrate_url
from emulator.model import WebhookEvent
from emulator.runner import EmulatorConfig
from emulator.traffic import TrafficConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.consumers.brokers import committed as committed_offsets
from tests.e2e.harness import System, running_system, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def _config(*, seed: int, changes: int, rate: float, loss: float, duplicate: float = 0.05,
            reorder: float = 0.05, pages: int = 3) -> EmulatorConfig:
    return EmulatorConfig(
        world=WorldConfig(seed=seed, pages=pages, instagram_pages=1, conversations_per_page=15,
                          messages_per_conversation=4),
        webhook=WebhookConfig(url="", app_secret="", batch_size=5, loss=loss, duplicate=duplicate,
                              reorder=reorder, seed=seed),
        traffic=TrafficConfig(rate=rate, max_changes=changes, max_seconds=60, seed=seed),
        realtime=True,
    )


async def _quiet(system: System, timeout_s: float = 90) -> None:
    """Traffic over, and every event whose webhook got a 2xx is stored."""
    assert system.emu.traffic is not None
    await asyncio.wait_for(system.emu.traffic.wait(), timeout=timeout_s)

    missing: set[str] = set()

    async def delivered_stored() -> bool:
        missing.clear()
        missing.update(await system.delivered_mids_missing())
        return not missing

    try:
        await wait_until(delivered_stored, timeout_s=timeout_s, what="every delivered message to be stored")
    except AssertionError:
        print(f"{len(missing)} delivered messages not stored, e.g. {sorted(missing)[:5]}")
        raise


async def _reconcile_all(system: System, mode: str, *, expect_failed: frozenset[str] = frozenset()) -> None:
    """One reconcile pass over every page: start a run for each (a page still leased by a run that
    died with the database is retried until its lease expires), then wait until every run ends."""
    runs: dict[str, str] = {}

    async def all_started() -> bool:
        status, answer = await system.admin("POST", "/admin/sync-all", {"mode": mode})
        assert status == 202, answer
        runs.update({r["page_id"]: r["run_id"] for r in answer["runs"]})
        return set(runs) >= set(system.emu.world.pages) - expect_failed

    await wait_until(all_started, timeout_s=90, what="a sync run for every page", every_s=2)

    async def all_finished() -> bool:
        ends = [(await system.admin("GET", f"/admin/sync-runs/{run_id}"))[1] for run_id in runs.values()]
        return all(run["status"] in {"succeeded", "failed"} for run in ends)

    await wait_until(all_finished, timeout_s=120, what="every sync run to finish", every_s=1)
    for page_id, run_id in runs.items():
        _, run = await system.admin("GET", f"/admin/sync-runs/{run_id}")
        if page_id not in expect_failed:
            assert run["status"] == "succeeded", run


async def _converged(system: System, timeout_s: float = 120, page_ids: list[str] | None = None, *,
                     messages_only: bool = False) -> None:
    """Until the database equals the ground truth (with `messages_only`: no message is missing)."""
    async def matches() -> bool:
        diff = await system.truth(window=20, page_ids=page_ids)
        return not [m for m in diff.missing if m.startswith("message ")] if messages_only else diff.ok

    try:
        await wait_until(matches, timeout_s=timeout_s, what="the database to equal the ground truth")
    except AssertionError:
        print((await system.truth(window=20, page_ids=page_ids)).report())
        raise


async def _repair(system: System, *, expect_failed: frozenset[str] = frozenset(),
                  page_ids: list[str] | None = None) -> None:
    """Incremental pass: every message is back. Full pass: everything equals the ground truth."""
    await _reconcile_all(system, "incremental", expect_failed=expect_failed)
    await _converged(system, page_ids=page_ids, messages_only=True)
    await _reconcile_all(system, "full", expect_failed=expect_failed)
    await _converged(system, page_ids=page_ids)


async def _no_double_effect(system: System) -> None:
    """What was delivered against what is stored: each delivered conversation event stored exactly once,
    each message's edit count the highest delivered `num_edit`, each reaction the newest delivered one.
    (Duplicated and reordered deliveries are in `delivered`; lost ones are not, and are not stored.)"""
    assert system.emu.delivery is not None
    delivered = system.emu.delivery.delivered
    for kind in ("postback", "referral"):
        distinct = {json.dumps(e.event, sort_keys=True) for e in delivered if e.kind == kind}
        rows = await system.fetch("SELECT count(*) AS n FROM conversation_events WHERE kind = $1", kind)
        assert rows[0]["n"] == len(distinct), f"{kind}: {rows[0]['n']} rows for {len(distinct)} delivered"
    await _edits_once(system, delivered)
    await _reactions_newest(system, delivered)


async def _edits_once(system: System, delivered: list[WebhookEvent]) -> None:
    highest: dict[str, int] = {}
    for e in delivered:
        if e.kind == "message_edit":
            edit = e.event["message_edit"]
            highest[edit["mid"]] = max(highest.get(edit["mid"], 0), int(edit["num_edit"]))
    rows = await system.fetch("SELECT mid, edit_count FROM messages WHERE mid = ANY($1::text[])", list(highest))
    assert highest, "the test needs delivered edits"
    wrong = {r["mid"]: (r["edit_count"], highest[r["mid"]]) for r in rows if r["edit_count"] != highest[r["mid"]]}
    assert not wrong, f"edit_count (stored, highest delivered): {wrong}"


async def _reactions_newest(system: System, delivered: list[WebhookEvent]) -> None:
    newest: dict[tuple[str, str], tuple[int, str | None]] = {}
    for e in delivered:
        if e.kind == "reaction":
            r, key = e.event["reaction"], (e.event["reaction"]["mid"], e.event["sender"]["id"])
            value = None if r["action"] == "unreact" else r["reaction"]
            if key not in newest or int(e.event["timestamp"]) > newest[key][0]:
                newest[key] = (int(e.event["timestamp"]), value)
    assert newest, "the test needs delivered reactions"
    rows = await system.fetch("SELECT mid, user_id, reaction FROM reactions")
    stored = {(r["mid"], r["user_id"]): r["reaction"] for r in rows}
    wrong = {k: (stored.get(k), v) for k, (_, v) in newest.items() if stored.get(k) != v}
    assert not wrong, f"reaction (stored, newest delivered): {wrong}"


async def _uncommitted_events(system: System) -> int:
    """Records produced (webhook events the edge accepted, graph records the runs produced) that the
    writer's group has not committed yet: a batch in flight."""
    accepted = sum(int(float(line.rsplit(" ", 1)[1])) for line in (await system.metrics()).splitlines()
                   if line.startswith("convsync_webhook_events_total{"))
    graph = (await system.fetch("SELECT coalesce(sum(conversations), 0) AS n FROM sync_runs"))[0]["n"]
    committed = await committed_offsets(system.kafka, "convsync-writer")
    return accepted + graph - sum(o or 0 for o in committed.values())


async def test_steady_traffic_with_loss_duplicates_and_reordering_converges(
        database_url: str, kafka: KafkaSettings, tmp_path: Path) -> None:
    config = _config(seed=11, changes=400, rate=50, loss=0.1)
    async with running_system(database_url, kafka, tmp_path, config) as system:
        await _quiet(system)
        assert system.emu.delivery is not None and system.emu.delivery.lost, "the test needs lost webhooks"
        await _repair(system)
        await _no_double_effect(system)
        await _gaps_on_serves_metrics(system)


async def _gaps_on_serves_metrics(system: System) -> None:
    """The syncs the admin API started ran in `serve`: its /metrics shows the gaps they found."""
    rows = await system.fetch("SELECT page_id, sum(gap_messages)::int AS gaps FROM sync_runs WHERE trigger = 'admin' "
                              "GROUP BY page_id")
    found = {r["page_id"]: r["gaps"] for r in rows if r["gaps"]}
    assert found, "the repair found no gap messages"
    shown: dict[str, float] = {}

    async def counted() -> bool:
        for line in (await system.metrics()).splitlines():
            if line.startswith("convsync_missed_webhook_messages_total{"):
                page = line.split('page_id="', 1)[1].split('"', 1)[0]
                shown[page] = float(line.rsplit(" ", 1)[1])
        return all(shown.get(page, 0) >= gaps for page, gaps in found.items())
    await wait_until(counted, timeout_s=60, what="serve's /metrics to count the gaps its syncs found")


async def test_consumer_killed_and_postgres_restarted_lose_nothing(kafka: KafkaSettings, tmp_path: Path) -> None:
    postgres = Postgres(pgdata=tmp_path / "pg" / "pgdata", port=free_port())
    postgres.start()
    try:
        await migrate_url(postgres.url)
        config = _config(seed=12, changes=500, rate=40, loss=0.05)
        async with running_system(postgres.url, kafka, tmp_path, config) as system:
            await asyncio.sleep(3)

            async def in_flight() -> bool:
                return await _uncommitted_events(system) > 0

            await wait_until(in_flight, timeout_s=30, what="events accepted but not yet committed", every_s=0.05)
            system.role("consume-1").kill()  # SIGKILL mid-stream: no chance to commit them
            await asyncio.sleep(1)
            system.role("consume-1").start()
            await asyncio.sleep(2)
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(4)  # webhooks keep arriving; the writer retries without losing its batch
            await asyncio.to_thread(postgres.start)
            await _quiet(system, timeout_s=120)
            await _repair(system)
            await _no_double_effect(system)
            system.procs.check_alive()
    finally:
        postgres.stop()


async def test_token_expiry_marks_one_page_and_it_catches_up_after_a_new_token(
        database_url: str, kafka: KafkaSettings, tmp_path: Path) -> None:
    config = _config(seed=13, changes=300, rate=50, loss=0.1)
    async with running_system(database_url, kafka, tmp_path, config) as system:
        dead = next(iter(system.emu.world.pages))
        system.emu.expire_token(dead)
        await _quiet(system)
        others = [p for p in system.emu.world.pages if p != dead]
        await _repair(system, expect_failed=frozenset({dead}), page_ids=others)

        async def marked() -> bool:
            rows = await system.fetch("SELECT status FROM pages WHERE page_id = $1", dead)
            return rows[0]["status"] == "needs_reauth"

        await wait_until(marked, timeout_s=60, what=f"page {dead} to be marked needs_reauth")
        system.procs.check_alive()  # a dead token never crashes the reconciler
        fresh = "EAAG" + "renewed" * 4
        system.emu.set_token(dead, fresh)
        await system.register_pages({dead: fresh})
        status, _ = await system.admin("POST", f"/admin/pages/{dead}/sync?wait=true", {"mode": "auto"})
        assert status == 200
        await _converged(system)


@pytest.mark.apache_only
async def test_broker_restart_while_meta_keeps_sending(kafka: KafkaSettings, database_url: str, tmp_path: Path,
                                                       infra: object) -> None:
    broker = getattr(infra, "broker")
    config = _config(seed=14, changes=500, rate=40, loss=0.05)
    async with running_system(database_url, kafka, tmp_path, config) as system:
        await asyncio.sleep(3)
        await asyncio.to_thread(broker.kill)  # webhooks now land in serve's spool
        await asyncio.sleep(5)
        spooled = [line for line in (await system.metrics()).splitlines()
                   if line.startswith("convsync_spool_appended_requests_total")]
        assert spooled and float(spooled[0].rsplit(" ", 1)[1]) > 0, "the spool must hold requests meanwhile"
        await asyncio.to_thread(broker.start)  # same log dir: acknowledged records survive
        await _quiet(system, timeout_s=150)
        await _repair(system)
        await _no_double_effect(system)
