"""`convsync dev`: the whole system on the embedded default.

Today it starts PostgreSQL and the Tansu broker under the data folder, applies the migrations and
reports what runs; serve, consume, reconcile and the emulator join as their issues land (#8).
Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from convsync.embedded import embedded_stack
from convsync.migrate import migrate_url
from ingest.settings import Settings


def _stop_on_sigterm(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where PostgreSQL's files and logs live (default: CONVSYNC_DATA_DIR or .convsync).")
@click.option("--fresh", is_flag=True, help="Delete the data folder first and start from nothing.")
@click.pass_obj
def dev(settings: Settings, data_dir: Path | None, fresh: bool) -> None:
    """The whole system on the embedded default; Ctrl-C stops everything cleanly."""
    folder = data_dir or Path(settings.data_dir)
    stop = threading.Event()
    _stop_on_sigterm(stop)
    with embedded_stack(folder, settings.kafka, fresh=fresh) as stack:
        applied = asyncio.run(migrate_url(stack.database_url))
        click.echo(f"PostgreSQL  {stack.database_url}  (data in {folder.resolve() / 'pgdata'})")
        click.echo(f"Kafka       {stack.kafka_bootstrap}  (Tansu, memory storage, idempotence off)")
        click.echo(f"migrations  {len(applied)} applied now")
        click.echo("running; Ctrl-C stops everything")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    click.echo("stopped")
