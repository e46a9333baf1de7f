"""The commands, as a user runs them: `convsync pages add/list/remove` and `convsync sync`."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from convsync.cli import main
from emulator.graph import GraphConfig
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from tests.reconciler.conftest import ADMIN_TOKEN, APP_SECRET, TOKEN_KEY

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
def emulator_thread() -> Iterator[Emulator]:
    """The emulator on its own event loop in a thread: the commands run `asyncio.run` themselves."""
    ready: list[Emulator] = []
    started, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        config = EmulatorConfig(world=WorldConfig(seed=4, pages=1, conversations_per_page=30),
                                graph=GraphConfig(calls_per_second=50.0, app_secret=APP_SECRET))
        async with run_emulator(config) as emu:
            ready.append(emu)
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert started.wait(30)
    yield ready[0]
    stop.set()
    thread.join(30)


def test_pages_and_sync_commands(database_url: str, kafka: KafkaSettings, emulator_thread: Emulator) -> None:
    env = {"CONVSYNC_DATABASE_URL": database_url, **kafka.environment(),
           "CONVSYNC_TOKEN_KEY": TOKEN_KEY, "CONVSYNC_APP_SECRETS": APP_SECRET, "CONVSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
           "CONVSYNC_GRAPH_URL": emulator_thread.graph_url, "CONVSYNC_GRAPH_CALLS_PER_SECOND": "50",
           "CONVSYNC_SYNC_APPLY_WAIT_S": "0.5", "CONVSYNC_LOG_FORMAT": "json"}
    page = next(iter(emulator_thread.world.pages.values()))
    runner = CliRunner()
    added = runner.invoke(main, ["pages", "add", page.page_id, "--name", "Shop", "--token", page.access_token], env=env)
    assert added.exit_code == 0 and "added" in added.output, added.output
    synced = runner.invoke(main, ["sync", page.page_id], env=env)
    assert synced.exit_code == 0, synced.output
    run = json.loads(synced.stdout[synced.stdout.index("{"):])
    assert (run["status"], run["mode"], run["conversations"]) == ("succeeded", "full", 30)
    listed = runner.invoke(main, ["pages", "list", "--json"], env=env)
    [row] = json.loads(listed.stdout)
    assert row["last_synced_at"] and row["last_run"]["run_id"] == run["run_id"]
    assert page.access_token not in listed.output + synced.output + added.output
    assert runner.invoke(main, ["sync"], env=env).exit_code == 2  # neither PAGE_ID nor --all
    unknown = runner.invoke(main, ["sync", "424242"], env=env)  # one line, as every refused start
    assert unknown.exit_code == 1, unknown.output
    assert unknown.output.strip().endswith("unknown page '424242'") and "Traceback" not in unknown.output
    for refused in (["--token", " "], ["--token", "T", "--name", "x" * 501]):  # checked as POST /admin/pages does
        assert runner.invoke(main, ["pages", "add", "424243", *refused], env=env).exit_code == 2
    assert runner.invoke(main, ["pages", "add", "a/../b", "--token", "T"], env=env).exit_code == 2
    tokenless = runner.invoke(main, ["pages", "add", "424244"], env=env)  # no terminal to ask in
    assert tokenless.exit_code == 2 and "CONVSYNC_PAGE_TOKEN" in tokenless.output, tokenless.output
    assert runner.invoke(main, ["pages", "remove", page.page_id], env=env).exit_code == 0
    assert runner.invoke(main, ["pages", "remove", page.page_id], env=env).exit_code == 1
