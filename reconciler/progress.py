"""What `convsync sync` and `convsync pages list` show on a terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kernel.settings import Settings
from reconciler.graph import CallStats
from reconciler.resources import open_reconciler
from reconciler.run import RequestedMode
from reconciler.service import Reconciler, StartedRun
from reconciler.walk import WalkResult


async def run_with_progress(settings: Settings, page_id: str | None, mode: RequestedMode) -> list[dict[str, Any]]:
    """Start the run(s), show one live line per page, and return the finished runs' rows."""
    console = Console(stderr=True)
    async with open_reconciler(settings, check=True) as reconciler:  # its start-up errors print no bar
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=False) as bar:
            started = await _start(reconciler, bar, page_id, mode)
            return [await _finished(reconciler, bar, s) for s in started]


async def _start(reconciler: Reconciler, bar: Progress, page_id: str | None, mode: RequestedMode) -> list[StartedRun]:
    if page_id is not None:
        task = bar.add_task(f"{page_id}: starting")
        return [await reconciler.start(page_id, mode, "cli", _reporter(bar, task, page_id))]
    started, skipped = await reconciler.start_all(mode, "cli")
    for skipped_id, why in skipped.items():
        bar.console.print(f"[yellow]{skipped_id}: skipped: {why}")
    return started


def _reporter(bar: Progress, task: Any, page_id: str) -> Any:
    def report(result: WalkResult, stats: CallStats) -> None:
        bar.update(task, description=f"{page_id}: {result.conversations} conversations, {result.messages} messages, "
                                     f"{stats.calls} Graph calls, {stats.throttled} throttled")
    return report


async def _finished(reconciler: Reconciler, bar: Progress, started: StartedRun) -> dict[str, Any]:
    row = await reconciler.finished(started)
    bar.console.print(f"{started.page_id}: {row.get('status')} ({row.get('mode')}), {row.get('conversations')} "
                      f"conversations, {row.get('graph_calls')} Graph calls")
    return row


def pages_table(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """One line per page. An id is what the user copies next, so its column is never cut or wrapped:
    the other columns wrap instead."""
    widest = max((len(str(row["page_id"])) for row in rows), default=len("page_id"))
    table = Table(show_lines=False)
    table.add_column("page_id", no_wrap=True, min_width=max(widest, len("page_id")), overflow="fold")
    for name in ("platform", "name", "status", "last_synced_at", "last run"):
        table.add_column(name, overflow="fold")
    for row in rows:
        last = row.get("last_run") or {}
        summary = f"{last.get('status', '-')} {last.get('mode', '')} {last.get('finished_at') or ''}".strip()
        table.add_row(row["page_id"], row["platform"], row["name"], row["status"],
                      str(row.get("last_synced_at") or "-"), summary)
    (console or Console()).print(table)
