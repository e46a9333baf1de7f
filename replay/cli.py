"""`convsync replay`: re-derive events from the raw archive, or retry dead letters, with a progress bar.

Needs CONVSYNC_DATABASE_URL (each replay is a `replays` row), CONVSYNC_KAFKA_BOOTSTRAP and, for the
raw archive, CONVSYNC_APP_SECRETS (every body is verified again). Exit status 0 when the replay
succeeded, 1 when it failed (the summary says why), 2 for a malformed selection.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from kernel.settings import Settings, require
from kernel.startup import database_ready, topics_ensured
from replay.runner import Counts
from replay.service import Replays
from replay.window import Selection, SelectionError, selection


@click.command()
@click.option("--from", "source", type=click.Choice(["raw", "dlq"]), required=True,
              help="raw: the archive of webhook bodies; dlq: the dead letters.")
@click.option("--page", "pages", multiple=True, metavar="PAGE_ID", help="Only these pages (repeatable).")
@click.option("--since", metavar="T", help="ISO 8601 or relative (-2h, -30m, -7d).")
@click.option("--until", metavar="T", help="ISO 8601 or relative; the window ends before it.")
@click.option("--dry-run", is_flag=True, help="Count what would be produced; produce nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the final replay row as JSON (no progress bar).")
@click.pass_obj
def replay(settings: Settings, source: str, pages: tuple[str, ...], since: str | None, until: str | None,
           dry_run: bool, as_json: bool) -> None:
    """Re-derive events from the raw archive with today's parser, or retry dead letters; safe to repeat."""
    try:
        wanted = selection(source, pages, since, until, dry_run, now_ms=int(time.time() * 1000))
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    if wanted.source == "raw":
        require(settings.webhook.app_secrets, "APP_SECRETS")
    row = asyncio.run(_run(settings, wanted, as_json))
    if as_json:
        click.echo(json.dumps(row, default=str))
    else:
        click.echo(summary(row))
    sys.exit(0 if row.get("status") == "succeeded" else 1)


async def _run(settings: Settings, wanted: Selection, quiet: bool) -> dict[str, Any]:
    import asyncpg

    url = require(settings.database.url, "DATABASE_URL").reveal()
    require(settings.kafka.bootstrap, "KAFKA_BOOTSTRAP")
    await database_ready(url)
    await topics_ensured(settings.kafka)
    secrets = [s.reveal().encode() for s in settings.webhook.app_secrets]
    async with asyncpg.create_pool(url, min_size=1, max_size=2,
                                   server_settings=settings.database.server_settings()) as pool:
        async with Replays(pool, settings.kafka, secrets) as replays:
            if quiet:
                return await replays.run(wanted, "cli")
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                          console=Console(stderr=True)) as bar:
                task = bar.add_task(f"replay {wanted.source}", total=None, counts="")
                return await replays.run(wanted, "cli", lambda counts: _show(bar, task, counts))


def _show(bar: Progress, task: TaskID, counts: Counts) -> None:
    bar.update(task, total=max(counts.to_scan, counts.scanned), completed=counts.scanned,
               counts=f"matched {counts.matched}, produced {counts.produced}, skipped {counts.skipped}")


def summary(row: dict[str, Any]) -> str:
    """The last line: the replay's id, status and counts, and why records were skipped or it failed."""
    line = (f"replay {row['replay_id']} {row['status']}{' (dry run)' if row.get('dry_run') else ''}: "
            f"scanned {row['scanned']}, matched {row['matched']}, produced {row['produced']}, "
            f"skipped {row['skipped']}")
    reasons = row.get("skipped_reasons") or {}
    if reasons:
        line += " (" + ", ".join(f"{why}: {n}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])) + ")"
    if row.get("error"):
        line += f"; error: {row['error']}"
    return line
