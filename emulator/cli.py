"""`convsync emulator`: the Meta stand-in on its own — Graph API on a port, webhook traffic to a URL.

    convsync emulator --graph-port 8900 --webhook-url http://127.0.0.1:8000/webhook --rate 20 --loss 0.05

It prints where the Graph API listens, the pages it serves, and a status line every few seconds with
what it sent (delivered / lost events) and what the Graph API answered (calls / throttled).
The app secret comes from `--app-secret` or the first of `CONVSYNC_APP_SECRETS`.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

import click

from emulator.graph import GraphConfig
from emulator.options import fault_options, world_options
from emulator.resolve import Limits
from emulator.runner import Emulator, EmulatorConfig, run_emulator, wall_clock_ms
from emulator.traffic import TrafficConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import Settings

STATUS_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class Options:
    """The command line, grouped the way the emulator's configs are."""

    world: WorldConfig
    graph: GraphConfig
    host: str
    port: int
    webhook: WebhookConfig | None
    traffic: TrafficConfig | None

    def config(self) -> EmulatorConfig:
        return EmulatorConfig(
            self.world, self.graph, self.host, self.port, self.webhook, self.traffic, realtime=True
        )


@click.command()
@click.option("--seed", default=1, show_default=True, help="Seed of the world and of every random choice.")
@world_options(pages=2, instagram_pages=0, conversations=10, messages=5)
@click.option("--graph-host", default="127.0.0.1", show_default=True)
@click.option("--graph-port", default=8900, show_default=True, help="0 picks a free port.")
@click.option("--webhook-url", default=None, help="Where to POST webhooks; without it no traffic is sent.")
@click.option("--app-secret", default=None, help="Signs webhooks; default: the first of CONVSYNC_APP_SECRETS.")
@click.option("--rate", default=5.0, show_default=True, help="Changes (messages, reads, ...) per second.")
@click.option("--max-changes", default=1_000_000, show_default=True)
@click.option("--duration", default=3600.0, show_default=True, help="Seconds of traffic at most.")
@click.option("--batch", default=10, show_default=True, help="Events per webhook POST at most.")
@fault_options(loss=0.0, duplicate=0.0, reorder=0.0)
@click.option("--retries", default=3, show_default=True, help="Retries of a POST answered non-2xx or timed out.")
@click.option("--calls-per-second", default=2.0, show_default=True, help="Graph API rate limit per page.")
@click.option("--throttle-code", type=click.Choice(["613", "80006"]), default="613", show_default=True)
@click.option("--transient", default=0.0, show_default=True, help="Share of Graph calls failing with code 2.")
@click.option("--latency-ms", default=0.0, show_default=True)
@click.option("--jitter-ms", default=0.0, show_default=True)
@click.option("--max-limit", default=100, show_default=True, help="Largest `limit` the Graph API honours.")
@click.option("--data-budget", default=1000, show_default=True, help="limit x nested messages before code 1.")
@click.pass_obj
def emulator(settings: Settings, /, **opts: object) -> None:
    """The Meta stand-in (Graph API + webhook traffic) on its own."""
    options = _options(settings, opts)
    try:
        asyncio.run(_run(options))
    except KeyboardInterrupt:
        click.echo("emulator stopped")


def _options(settings: Settings, o: dict[str, object]) -> Options:
    def num(name: str) -> float:
        return float(str(o[name]))

    seed = int(num("seed"))
    world = WorldConfig(
        seed=seed,
        pages=int(num("pages")),
        instagram_pages=int(num("instagram_pages")),
        conversations_per_page=int(num("conversations")),
        messages_per_conversation=int(num("messages")),
        start_ms=wall_clock_ms(),
    )
    secret = o["app_secret"] or (settings.webhook.app_secrets[0].reveal() if settings.webhook.app_secrets else None)
    graph = GraphConfig(
        calls_per_second=num("calls_per_second"),
        throttle_code=int(num("throttle_code")),
        transient_failure_rate=num("transient"),
        latency_ms=num("latency_ms"),
        jitter_ms=num("jitter_ms"),
        limits=Limits(max_limit=int(num("max_limit")), data_budget=int(num("data_budget"))),
        app_secret=str(secret) if secret else None,
        seed=seed,
    )
    webhook = traffic = None
    if o["webhook_url"]:
        if not secret:
            raise click.UsageError("--webhook-url needs --app-secret or CONVSYNC_APP_SECRETS to sign webhooks")
        webhook = WebhookConfig(
            str(o["webhook_url"]),
            str(secret),
            batch_size=int(num("batch")),
            loss=num("loss"),
            duplicate=num("duplicate"),
            reorder=num("reorder"),
            retries=int(num("retries")),
            seed=seed,
        )
        traffic = TrafficConfig(
            rate=num("rate"), max_changes=int(num("max_changes")), max_seconds=num("duration"), seed=seed
        )
    return Options(world, graph, str(o["graph_host"]), int(num("graph_port")), webhook, traffic)


async def _run(options: Options) -> None:
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        async with run_emulator(options.config()) as emu:
            _announce(emu, options)
            await _report_until_done(emu)
    except asyncio.CancelledError:
        click.echo("emulator stopped")


async def _report_until_done(emu: Emulator) -> None:
    """A status line every few seconds; returns once bounded traffic has finished (never without traffic)."""
    started = last = time.monotonic()
    while emu.traffic is None or not emu.traffic.finished():
        await asyncio.sleep(0.2)
        if time.monotonic() - last >= STATUS_EVERY_S:
            last = time.monotonic()
            click.echo(_status(emu, last - started))
    await emu.traffic.wait()
    click.echo(_status(emu, time.monotonic() - started) + "  (traffic finished)")


def _announce(emu: Emulator, options: Options) -> None:
    click.echo(
        f"Graph API: {emu.graph_url}/v25.0/  (any version path works; controls under {emu.graph_url}/_emulator/)"
    )
    for page in emu.world.pages.values():
        count = len(emu.world.conversations_of(page.page_id))
        linked = f"  via Page {page.graph_page_id}" if page.graph_page_id != page.page_id else ""
        click.echo(f"  page {page.page_id}  {page.platform:<9}  {page.name}  ({count} conversations){linked}")
    click.echo(f"  page tokens: GET {emu.graph_url}/_emulator/pages")
    if options.webhook and options.traffic:
        w, t = options.webhook, options.traffic
        click.echo(
            f"webhooks: {t.rate:g} changes/s to {w.url}  batch {w.batch_size}, loss {w.loss:g}, "
            f"dup {w.duplicate:g}, reorder {w.reorder:g}, retries {w.retries}"
        )
    else:
        click.echo("webhooks: none (no --webhook-url)")


def _status(emu: Emulator, elapsed: float) -> str:
    graph = emu.stats
    line = f"[{elapsed:6.0f}s] graph calls {sum(graph.calls.values())}, throttled {sum(graph.throttled.values())}"
    if emu.traffic is not None and emu.delivery is not None:
        d = emu.delivery
        line += (
            f" | changes {emu.traffic.changes}, delivered {len(d.delivered)}, lost {len(d.lost)}, posts {d.posts}"
        )
    return line
