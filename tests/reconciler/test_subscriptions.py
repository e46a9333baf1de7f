"""Subscription checks: the decision (pure), then against the emulator: a page Meta stopped delivering
is found, subscribed again with every field, and the sync that follows restores what was lost."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
import random
from pathlib import Path

import aiohttp
import pytest

from convsync.embedded import free_port
from emulator import truth
from emulator.subscriptions import SubscriptionConfig
from emulator.traffic import DEFAULT_MIX, step
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from ingest.app import create_app
from kernel.settings import MESSAGING_FIELDS, KafkaSettings
from reconciler.resources import open_reconciler
from reconciler.subscription import decide
from reconciler.subscriptions import SubscriptionChecker
from tests.reconciler.conftest import ADMIN_TOKEN, APP_SECRET, make_settings, serve_admin, serve_app
from tests.reconciler.support import Env, consumers_running, environment
from tests.consumers.brokers import wait_for
from tests.reconciler.test_gap_repair import converged

APP_ID = SubscriptionConfig().app_id
WORLD = WorldConfig(seed=17, pages=2, conversations_per_page=12, messages_per_conversation=3)


def app(app_id: str, fields: list[str]) -> dict[str, object]:
    return {"category": "Business", "link": "https://x", "name": "n", "id": app_id, "subscribed_fields": fields}


def test_the_decision() -> None:
    everything = list(MESSAGING_FIELDS)
    fine = decide({"data": [app("1", ["feed"]), app(APP_ID, everything)]}, APP_ID, MESSAGING_FIELDS)
    assert (fine.status, fine.repair, fine.lacking) == ("ok", None, ())
    missing = decide({"data": [app("1", everything)]}, APP_ID, MESSAGING_FIELDS)
    assert (missing.status, missing.app_subscribed, missing.lacking) == ("missing", False, MESSAGING_FIELDS)
    assert missing.repair == ",".join(sorted(MESSAGING_FIELDS))
    partial = decide({"data": [app(APP_ID, ["messages", "feed"])]}, APP_ID, ["messages", "message_echoes"])
    assert (partial.status, partial.lacking) == ("missing", ("message_echoes",))
    assert partial.repair == "feed,message_echoes,messages"  # fields the app had are kept
    assert decide({}, APP_ID, ["messages"]).status == "missing"


pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@contextlib.asynccontextmanager
async def with_edge(database_url: str, kafka: KafkaSettings, data_dir: Path, *, seed: int,
                    **knobs: Any) -> AsyncIterator[Env]:
    """The real edge receiving the emulator's webhooks, the reconciler (with `knobs`) and a consumer."""
    port = free_port()
    edge = make_settings(database_url, kafka)
    edge = dataclasses.replace(edge, webhook=dataclasses.replace(edge.webhook, spool_dir=str(data_dir / "spool")))
    webhook = WebhookConfig(url=f"http://127.0.0.1:{port}/webhook", app_secret=APP_SECRET, seed=seed)
    async with (serve_app(create_app(edge), port=port),
                environment(database_url, kafka, world=WORLD, webhook=webhook, apply_wait_s=60.0, **knobs) as env,
                consumers_running(env.settings)):
        yield env


async def test_an_unsubscribed_page_is_found_fixed_and_its_gap_filled(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    async with with_edge(database_url, kafka, data_dir, seed=3, app_id=APP_ID, subscription_check_s=3600.0) as env:
        for page_id in env.page_ids:
            assert (await env.sync(page_id)).status == "succeeded"
        silenced, other = env.page_ids
        env.emu.unsubscribe(silenced)
        rng = random.Random(4)
        events = [e for _ in range(120) for e in step(env.emu.world, rng, dict(DEFAULT_MIX))]
        assert env.emu.sender is not None
        await env.emu.sender.send(events)
        assert env.emu.subscriptions.stats.withheld[silenced] > 0

        checker = SubscriptionChecker(env.reconciler)
        results = {r.page_id: r for r in await checker.check_due()}
        assert results[other].status == "ok" and results[other].run_id is None
        fixed = results[silenced]
        assert fixed.status == "fixed" and fixed.run_id is not None and set(fixed.lacking) == set(MESSAGING_FIELDS)
        assert env.emu.subscriptions.fields(silenced) == frozenset(MESSAGING_FIELDS)
        assert await checker.check_due() == []  # both were checked this interval
        row = await env.fetchval("SELECT to_jsonb(r) FROM sync_runs r WHERE run_id = $1::uuid", fixed.run_id)
        assert '"trigger": "resubscribe"' in row

        # the silenced page equals Meta's truth (its resubscribe sync read what was withheld); the other
        # page got every webhook (its new conversations lack only the graph id a sync would add)
        diff = await converged(database_url, truth.expected(env.emu.world, [silenced]))
        assert diff.ok, diff.report()
        other_diff = await converged(database_url, truth.expected(env.emu.world, [other]), timeout_s=5)
        assert not other_diff.missing and all("graph_id expected" in d for d in other_diff.different)
        status = await env.fetchval("SELECT subscription_status FROM pages WHERE page_id = $1", silenced)
        assert status == "fixed"
        assert (await checker.check(silenced, fix=False)).status == "ok"  # type: ignore[union-attr]


async def test_several_reconcilers_check_each_page_once_per_interval(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD, app_id=APP_ID, subscription_check_s=3600.0) as env:
        async with open_reconciler(env.settings) as second:
            found = await asyncio.gather(SubscriptionChecker(env.reconciler).check_due(),
                                         SubscriptionChecker(second).check_due())
        checked = [r.page_id for results in found for r in results]
        assert sorted(checked) == env.page_ids
        assert sum(env.emu.stats.calls.values()) == len(env.page_ids)  # one GET each, no repair needed


async def test_a_dead_token_is_needs_reauth_not_a_subscription_failure(database_url: str,
                                                                        kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD, app_id=APP_ID) as env:
        page_id = env.page_ids[0]
        env.emu.expire_token(page_id)
        result = await SubscriptionChecker(env.reconciler).check(page_id, fix=True)
        assert result is not None and result.status == "needs_reauth"
        assert await env.fetchval("SELECT status FROM pages WHERE page_id = $1", page_id) == "needs_reauth"
        assert await env.fetchval("SELECT subscription_status FROM pages WHERE page_id = $1", page_id) == "unknown"


async def test_the_admin_api_subscribes_and_shows_the_state(database_url: str, kafka: KafkaSettings) -> None:
    async with environment(database_url, kafka, world=WORLD, app_id=APP_ID) as env:
        page_id = env.page_ids[0]
        env.emu.drop_field(page_id, "message_reads")
        async with serve_admin(env.settings) as url, aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with http.post(f"{url}/admin/pages/{page_id}/subscribe") as refused:
                assert refused.status == 401
            async with http.post(f"{url}/admin/pages/{page_id}/subscribe", headers=headers) as answer:
                body = await answer.json()
            assert answer.status == 200 and body["status"] == "fixed" and body["lacking"] == ["message_reads"]
            async with http.post(f"{url}/admin/pages/nope/subscribe", headers=headers) as unknown:
                assert unknown.status == 404
            async with http.get(f"{url}/admin/pages", headers=headers) as listed:
                shown = {p["page_id"]: p["subscription"] for p in (await listed.json())["pages"]}
        assert shown[page_id]["status"] == "fixed" and "message_reads" in shown[page_id]["fields"]
        assert shown[env.page_ids[1]]["status"] == "unknown"


def test_silence_is_how_far_metas_activity_leads_the_last_webhook() -> None:
    from datetime import UTC, datetime, timedelta

    from reconciler.silence import silence_s

    at = datetime(2026, 12, 3, 10, tzinfo=UTC)
    assert silence_s(at + timedelta(minutes=20), at, at - timedelta(days=1)) == 1200
    assert silence_s(at, at + timedelta(seconds=5), at) == 0  # a webhook newer than the listing
    assert silence_s(at + timedelta(minutes=5), None, at) == 300  # no webhook yet: since connected
    assert silence_s(None, at, at) is None  # the sync listed nothing new: no verdict


async def test_a_page_whose_webhooks_stopped_unseen_is_flagged_silent(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    """Delivery stops without `subscribed_apps` being asked (no CONVSYNC_APP_ID): the next sync flags it."""
    async with with_edge(database_url, kafka, data_dir, seed=8, silence_threshold_s=30.0) as env:
        for page_id in env.page_ids:
            assert (await env.sync(page_id)).status == "succeeded"
        quiet, fine = env.page_ids
        assert env.emu.sender is not None
        rng = random.Random(2)
        await env.emu.sender.send([e for _ in range(40) for e in step(env.emu.world, rng, dict(DEFAULT_MIX))])
        env.emu.unsubscribe(quiet)  # from here on Meta sends nothing for `quiet`, and nobody checks
        events = [e for _ in range(150) for e in step(env.emu.world, rng, dict(DEFAULT_MIX))]
        await env.emu.sender.send(events)
        assert env.emu.subscriptions.stats.withheld[quiet] > 0
        delivered = {str(e.event["message"]["mid"]) for e in env.emu.sender.stats.delivered
                     if e.kind in {"message", "echo"}}

        async def all_written() -> bool:  # the writer applied every delivered message (its group joined)
            found = await env.reconciler.ctx.pool.fetch("SELECT mid FROM messages WHERE mid = ANY($1::text[])",
                                                        list(delivered))
            return len(found) == len(delivered)
        await wait_for(all_written, "the delivered webhooks to be written")
        runs = [await env.reconciler.start(p, "auto", "test") for p in env.page_ids]
        assert [(await env.reconciler.finished(r))["status"] for r in runs] == ["succeeded", "succeeded"]
        rows = {r["page_id"]: r for r in await env.reconciler.ctx.pool.fetch(
            "SELECT page_id, silent, webhook_silence_s, last_webhook_at, graph_activity_at, created_at FROM pages")}
        assert rows[quiet]["silent"] and rows[quiet]["webhook_silence_s"] > 30, dict(rows[quiet])
        assert not rows[fine]["silent"], dict(rows[fine])
        from reconciler import metrics
        shown = metrics.exposition().decode()
        assert f'convsync_page_webhook_silence_seconds{{page_id="{quiet}"}}' in shown
        async with serve_admin(env.settings) as url, aiohttp.ClientSession() as http:
            async with http.get(f"{url}/admin/pages", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as listed:
                silence = {p["page_id"]: p["silence"] for p in (await listed.json())["pages"]}
        assert silence[quiet]["silent"] is True and silence[fine]["silent"] is False
