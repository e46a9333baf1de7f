"""Gap repair end to end: the emulator's webhooks (10% lost) through the real edge into Kafka, the
real consumers writing PostgreSQL, then one incremental reconcile pass: the database equals the
emulator's ground truth for every message within Meta's 20-message window."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from pathlib import Path

import asyncpg
import pytest

from convsync.embedded import free_port
from emulator import truth
from emulator.traffic import DEFAULT_MIX, step
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from ingest.app import create_app
from kernel.settings import KafkaSettings
from tests.reconciler.conftest import APP_SECRET, make_settings, serve_app
from tests.reconciler.support import consumers_running, environment

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

WORLD = WorldConfig(seed=11, pages=2, conversations_per_page=40, messages_per_conversation=4)


def repaired(diff: truth.Diff) -> bool:
    """Everything in the window is there, with its final text: a message whose edit webhook was lost
    takes the text of the newer Graph reading (consumers/sql/apply_graph_texts.sql)."""
    return diff.ok


async def converged(database_url: str, expected: truth.Expected,
                    timeout_s: float = 60.0) -> truth.Diff:
    deadline = time.monotonic() + timeout_s
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            diff = await truth.compare(conn, expected, window=20)
            if repaired(diff) or time.monotonic() > deadline:
                return diff
            await asyncio.sleep(0.25)
    finally:
        await conn.close()


async def test_one_incremental_pass_restores_what_lost_webhooks_missed(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    port = free_port()
    edge_settings = make_settings(database_url, kafka)
    edge_settings = dataclasses.replace(edge_settings, webhook=dataclasses.replace(
        edge_settings.webhook, spool_dir=str(data_dir / "spool")))
    webhook = WebhookConfig(url=f"http://127.0.0.1:{port}/webhook", app_secret=APP_SECRET, loss=0.1, seed=5)
    async with (serve_app(create_app(edge_settings), port=port),
                environment(database_url, kafka, world=WORLD, webhook=webhook, apply_wait_s=60.0) as env,
                consumers_running(env.settings)):
        for page_id in env.page_ids:  # the baseline: both pages synced once
            assert (await env.sync(page_id)).status == "succeeded"
        rng = random.Random(9)
        events = [e for _ in range(300) for e in step(env.emu.world, rng, dict(DEFAULT_MIX))]
        assert env.emu.sender is not None
        await env.emu.sender.send(events)
        lost = env.emu.sender.stats.lost
        assert lost and env.emu.sender.stats.delivered
        runs = [await env.reconciler.start(page_id, "auto", "test") for page_id in env.page_ids]
        finished = [await env.reconciler.finished(run) for run in runs]
        assert all(r["status"] == "succeeded" and r["mode"] == "incremental" and r["applied"] for r in finished)
        assert any(e.kind == "message_edit" for e in lost), "the test needs a lost edit webhook"
        diff = await converged(database_url, truth.expected(env.emu.world))
        assert repaired(diff), diff.report()
        assert sum(r["gap_messages"] for r in finished) > 0  # the reconciler found what webhooks missed
