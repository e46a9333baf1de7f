"""`convsync consume`: one member of the writer's consumer group.

SIGTERM or SIGINT finishes the batch in hand, commits it, and exits 0; too many poison records in
a row, or a defect of the installation or the schema (a missing SQL file, a migration not applied),
exit 1 with the reason. `--metrics-port` serves /metrics, /healthz and /readyz (consumers.probes).
"""

from __future__ import annotations

import asyncio
import signal

import click

from consumers.failures import WriterDefect
from consumers.loop import PoisonLimitExceeded, run_consumer
from kernel.settings import Settings, require


@click.command()
@click.option("--metrics-port", type=int, default=None,
              help="Serve /metrics, /healthz and /readyz on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@click.pass_obj
def consume(settings: Settings, metrics_port: int | None, metrics_host: str) -> None:
    """One consumer-group member writing events to PostgreSQL."""
    require(settings.database.url, "DATABASE_URL")
    require(settings.kafka.bootstrap, "KAFKA_BOOTSTRAP")
    probes_at = (metrics_host, metrics_port) if metrics_port is not None else None
    try:
        asyncio.run(_consume(settings, probes_at))
    except (PoisonLimitExceeded, WriterDefect) as exc:
        raise click.ClickException(str(exc)) from None


async def _consume(settings: Settings, probes_at: tuple[str, int] | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_consumer(settings, stop=stop, probes_at=probes_at)
