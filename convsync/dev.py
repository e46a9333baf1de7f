"""`convsync dev`: the whole system on one command, on the embedded default.

It starts PostgreSQL and the Tansu broker under the data folder, applies the migrations, runs
`serve`, `consume` and `reconcile` as separate processes (as deployed), and plays Meta in-process
with the emulator: its Graph API answers the reconciler, its users and agents send signed webhooks
with some lost, duplicated and reordered. The emulator's pages are registered through the admin
API. A status panel shows the flow and whether the database matches the emulator's ground truth.
Ctrl-C or SIGTERM stops everything this command started and prints a summary.

Dev secrets (app secret, tokens, the Fernet key) are generated once into `<data>/dev-secrets.json`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import click
from aiokafka.errors import KafkaError
from cryptography.fernet import Fernet
from rich.console import Console
from rich.live import Live

from convsync.embedded import EmbeddedStack, embedded_stack, free_port
from convsync.migrate import migrate_url
from convsync.processes import Processes, role_env, wait_http_ok
from convsync.status import Collector, Snapshot, rates, render
from emulator.gate import GraphConfig
from emulator.options import fault_options, world_options
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.traffic import TrafficConfig
from emulator.truth import compare, expected
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import Settings
from kernel.sqlfiles import statement

TRUTH_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class DevOptions:
    pages: int
    instagram_pages: int
    conversations: int
    messages: int
    rate: float
    loss: float
    duplicate: float
    reorder: float
    reconcile_interval_s: float
    duration_s: float
    seed: int
    consumers: int


def dev_secrets(folder: Path) -> dict[str, str]:
    """The dev stack's secrets: made once, kept (0600) so a second run reuses its encrypted tokens."""
    path = folder / "dev-secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    made = {
        "CONVSYNC_APP_SECRETS": secrets.token_hex(16),
        "CONVSYNC_VERIFY_TOKEN": secrets.token_urlsafe(16),
        "CONVSYNC_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "CONVSYNC_TOKEN_KEY": Fernet.generate_key().decode(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(made))
    return made


def child_env(stack: EmbeddedStack, secret_env: dict[str, str], graph_url: str, folder: Path,
              options: DevOptions) -> dict[str, str]:
    # stack.kafka: Tansu, idempotence off (it refuses the idempotent producer)
    return role_env(stack.database_url, stack.kafka, graph_url, folder, secret_env,
                    reconcile_interval_s=str(options.reconcile_interval_s), sync_overlap_s="60")


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where PostgreSQL's files, logs and dev secrets live (default: CONVSYNC_DATA_DIR or .convsync).")
@click.option("--fresh", is_flag=True, help="Delete the data folder first and start from nothing.")
@world_options(pages=3, instagram_pages=1, conversations=200, messages=8)
@click.option("--rate", default=20.0, show_default=True, help="Changes per second (messages, reads, reactions...).")
@fault_options(loss=0.03, duplicate=0.02, reorder=0.02)
@click.option("--reconcile-interval", "reconcile_interval_s", default=20.0, show_default=True,
              help="Seconds between reconciler passes.")
@click.option("--duration", "duration_s", default=3600.0, show_default=True, help="Stop after this many seconds.")
@click.option("--seed", default=None, type=int, help="World seed (default: a new one each run).")
@click.option("--consumers", default=1, show_default=True, type=click.IntRange(1, 8),
              help="`convsync consume` processes.")
@click.pass_obj
def dev(settings: Settings, /, data_dir: Path | None, fresh: bool, seed: int | None, **knobs: float) -> None:
    """The whole system on the embedded default; Ctrl-C stops everything cleanly."""
    options = DevOptions(seed=seed if seed is not None else secrets.randbelow(1 << 30), **knobs)  # type: ignore[arg-type]
    folder = (data_dir or Path(settings.data_dir)).resolve()
    console = Console()
    with embedded_stack(folder, settings.kafka, fresh=fresh) as stack:
        applied = asyncio.run(migrate_url(stack.database_url))
        console.print(f"PostgreSQL  {stack.database_url}  (data in {folder / 'pgdata'}; {len(applied)} migrations applied now)")
        console.print(f"Kafka       {stack.kafka_bootstrap}  (Tansu, memory storage, idempotence off)")
        procs = Processes({}, folder / "logs")
        try:
            summary = asyncio.run(_run(stack, procs, folder, options, settings, console))
        finally:
            procs.stop_all()
    console.print(summary)


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _run(stack: EmbeddedStack, procs: Processes, folder: Path, options: DevOptions,
               settings: Settings, console: Console) -> str:
    stop = asyncio.Event()
    _install_stop(stop)
    secret_env = dev_secrets(folder)
    graph_port, serve_port = free_port(), free_port()
    procs.env = child_env(stack, secret_env, f"http://127.0.0.1:{graph_port}", folder, options)
    serve = procs.start("serve", "serve", "--port", str(serve_port), "--no-access-log")
    for n in range(options.consumers):
        procs.start(f"consume-{n + 1}", "consume")
    procs.start("reconcile", "reconcile")
    await asyncio.to_thread(wait_http_ok, f"http://127.0.0.1:{serve_port}/healthz", serve)
    console.print(f"serve       http://127.0.0.1:{serve_port}  (webhook /webhook, admin /admin, metrics /metrics)")
    console.print(f"console     http://127.0.0.1:{serve_port}/admin/console  (log in with CONVSYNC_ADMIN_TOKEN "
                  f"from {folder / 'dev-secrets.json'})")
    config = _emulator_config(options, graph_port, f"http://127.0.0.1:{serve_port}/webhook",
                              secret_env["CONVSYNC_APP_SECRETS"])
    async with run_emulator(config) as emu:
        console.print(f"emulator    {emu.graph_url}  ({len(emu.world.pages)} pages, seed {options.seed}, "
                      f"{options.rate:g} changes/s, {options.loss:.0%} of webhooks lost)")
        await _register_pages(emu, f"http://127.0.0.1:{serve_port}", secret_env["CONVSYNC_ADMIN_TOKEN"], stack)
        console.print(f"logs        {folder / 'logs'}   Ctrl-C stops everything")
        collector = Collector(stack.database_url, stack.kafka, settings.consumer.group_id)
        try:
            last = await _watch(emu, collector, procs, stop, options, console)
        finally:
            await collector.close()
    return _summary(last)


def _emulator_config(options: DevOptions, port: int, webhook_url: str, app_secret: str) -> EmulatorConfig:
    return EmulatorConfig(
        world=WorldConfig(seed=options.seed, pages=options.pages, instagram_pages=options.instagram_pages,
                          conversations_per_page=options.conversations,
                          messages_per_conversation=options.messages),
        graph=GraphConfig(app_secret=app_secret),
        port=port,
        webhook=WebhookConfig(url=webhook_url, app_secret=app_secret, loss=options.loss,
                              duplicate=options.duplicate, reorder=options.reorder, seed=options.seed),
        traffic=TrafficConfig(rate=options.rate, max_changes=int(options.rate * options.duration_s) + 1,
                              max_seconds=options.duration_s, seed=options.seed),
        realtime=True,
    )


async def _register_pages(emu: Emulator, base_url: str, admin_token: str, stack: EmbeddedStack) -> None:
    """Register the emulator's pages, and drop pages of earlier dev runs (their world is gone)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for page in emu.world.pages.values():
            body = {"page_id": page.page_id, "graph_page_id": page.graph_page_id, "platform": page.platform,
                    "name": page.name, "access_token": page.access_token}
            async with http.post(f"{base_url}/admin/pages", json=body) as response:
                if response.status != 201:
                    raise click.ClickException(f"registering page {page.page_id} failed: HTTP {response.status}")
        conn = await asyncpg.connect(stack.database_url)
        try:
            stale = await conn.fetch(statement("convsync", "stale_pages"), list(emu.world.pages))
        finally:
            await conn.close()
        for row in stale:
            async with http.delete(f"{base_url}/admin/pages/{row['page_id']}"):
                pass


async def _snapshot(emu: Emulator, collector: Collector, truth: str) -> Snapshot:
    messages, conversations, gaps, pages = await collector.database()
    try:
        lag = await asyncio.wait_for(collector.lag(), timeout=2)
    except (TimeoutError, KafkaError, OSError):  # lag is informational: never stop the panel for it
        lag = None
    delivery = emu.delivery
    return Snapshot(time.monotonic(), len(delivery.delivered) if delivery else 0,
                    len(delivery.lost) if delivery else 0, messages, conversations, gaps, lag, pages, truth)


async def _truth(emu: Emulator, database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        diff = await compare(conn, expected(emu.world), window=20)
    finally:
        await conn.close()
    if diff.ok:
        return "database matches (every message within Meta's 20-message window)"
    return (f"catching up: {len(diff.missing)} missing, {len(diff.different)} different, {len(diff.extra)} extra "
            "(in flight, lost webhooks awaiting the next reconcile, or lost edits and reactions "
            "only a full sync finds)")


async def _watch(emu: Emulator, collector: Collector, procs: Processes, stop: asyncio.Event,
                 options: DevOptions, console: Console) -> Snapshot:
    before: Snapshot | None = None
    truth, truth_at = "not checked yet", 0.0
    deadline = time.monotonic() + options.duration_s
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while not stop.is_set() and time.monotonic() < deadline:
            procs.check_alive()
            if time.monotonic() - truth_at >= TRUTH_EVERY_S:
                truth, truth_at = await _truth(emu, collector.database_url), time.monotonic()
            now = await _snapshot(emu, collector, truth)
            live.update(render(now, rates(before, now), lag_exact=False))
            before = now
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
    assert before is not None
    return before


def _summary(last: Snapshot) -> str:
    return (f"stopped. delivered {last.webhooks_delivered} webhook events ({last.webhooks_lost} lost on purpose); "
            f"stored {last.messages} messages in {last.conversations} conversations; "
            f"the reconciler filled {last.gap_messages} gaps; ground truth: {last.truth}")
