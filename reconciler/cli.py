"""Commands of `reconciler/`: `convsync reconcile`, `convsync sync`, `convsync pages add/list/remove`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import click

from kernel.settings import Settings, require
from reconciler import compat
from reconciler import pages as page_table
from reconciler.requests import BadRequest, page_request
from reconciler.resources import open_pool, open_reconciler
from reconciler.tokens import TokenCipher


@click.command()
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@click.pass_obj
def reconcile(settings: Settings, metrics_port: int | None, metrics_host: str) -> None:
    """The timer loop: sync due pages every interval; safe to run several (pages are leased)."""
    from reconciler.loop import reconcile_forever

    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_reconciler(settings, check=True) as reconciler:
            await reconcile_forever(reconciler, stop)

    asyncio.run(main())


@click.command()
@click.argument("page_id", required=False)
@click.option("--full", is_flag=True, help="Read every conversation, not only those changed since the watermark.")
@click.option("--all", "all_pages", is_flag=True, help="Sync every active page, in parallel (bounded).")
@click.pass_obj
def sync(settings: Settings, page_id: str | None, full: bool, all_pages: bool) -> None:
    """One sync now, with a progress bar; prints the finished run."""
    from reconciler.progress import run_with_progress
    from reconciler.service import SyncRejected

    if (page_id is None) == (not all_pages):
        raise click.UsageError("give a PAGE_ID or --all (not both)")
    try:
        results = asyncio.run(run_with_progress(settings, page_id, "full" if full else "auto"))
    except SyncRejected as refused:  # an unknown page, one that needs its token again, one being synced
        raise click.ClickException(str(refused)) from None
    for run in results:
        click.echo(json.dumps(run, indent=2, default=str))
    if any(run.get("status") != "succeeded" for run in results):
        sys.exit(1)


@click.group()
def pages() -> None:
    """Manage connected pages and their tokens."""


@pages.command("add")
@click.argument("page_id")
@click.option("--platform", type=click.Choice(["messenger", "instagram"]), default="messenger")
@click.option("--name", default="")
@click.option("--graph-page-id", default=None,
              help="Instagram: the Facebook Page the account is linked to (required; its inbox is listed there).")
@click.option("--token", default=None, envvar="CONVSYNC_PAGE_TOKEN",
              help="The page access token (or CONVSYNC_PAGE_TOKEN; asked for, hidden, in a terminal).")
@click.pass_obj
def pages_add(settings: Settings, page_id: str, platform: str, name: str, graph_page_id: str | None,
              token: str | None) -> None:
    """Add a page, or replace its name and token (its watermark is kept)."""
    if token is None:
        if not sys.stdin.isatty():  # a script: say what is missing instead of click's bare "Aborted!"
            raise click.UsageError("no page token: give --token or set CONVSYNC_PAGE_TOKEN")
        token = click.prompt("Token", hide_input=True)
    try:  # checked as `POST /admin/pages` checks it
        page = page_request({"page_id": page_id, "platform": platform, "name": name, "access_token": token,
                             "graph_page_id": graph_page_id})
    except BadRequest as exc:
        raise click.UsageError(str(exc)) from None
    cipher = TokenCipher(require(settings.graph.token_keys, "TOKEN_KEY"))

    async def main() -> bool:
        async with open_pool(settings, check=True) as pool, pool.acquire() as conn:
            return await page_table.upsert(conn, page.page_id, page.platform, page.name,
                                           cipher.encrypt(page.access_token), page.graph_page_id)

    created = asyncio.run(main())
    click.echo(f"page {page_id} {'added' if created else 'updated (token replaced, status active)'}")


@pages.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def pages_list(settings: Settings, as_json: bool) -> None:
    """Pages with their status, watermark and last run (never their tokens)."""
    async def main() -> list[dict[str, Any]]:
        async with open_pool(settings, check=True) as pool, pool.acquire() as conn:
            return [compat.jsonable(r) for r in await page_table.public_rows(conn)]

    rows = asyncio.run(main())
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    from reconciler.progress import pages_table

    pages_table(rows)


@pages.command("remove")
@click.argument("page_id")
@click.pass_obj
def pages_remove(settings: Settings, page_id: str) -> None:
    """Disconnect a page (its conversations and messages stay)."""
    async def main() -> bool:
        async with open_pool(settings, check=True) as pool, pool.acquire() as conn:
            return await page_table.remove(conn, page_id)

    if not asyncio.run(main()):
        raise click.ClickException(f"unknown page {page_id}")
    click.echo(f"page {page_id} removed")



@click.command()
@click.argument("action", type=click.Choice(["check", "fix"]), default="check")
@click.argument("page_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def subscriptions(settings: Settings, action: str, page_id: str | None, as_json: bool) -> None:
    """Show (check) or repair (fix) each page's webhook subscription; a repaired page is synced at once."""
    from reconciler.subscriptions import SubscriptionChecker

    require(settings.reconciler.app_id, "APP_ID")

    async def main() -> list[dict[str, Any]]:
        async with open_reconciler(settings, check=True) as reconciler:
            checker = SubscriptionChecker(reconciler)
            if page_id is not None:
                wanted = [page_id]
            else:
                async with reconciler.ctx.pool.acquire() as conn:
                    wanted = [str(r["page_id"]) for r in await page_table.public_rows(conn)]
            results = []
            for one in wanted:
                found = await checker.check(one, fix=action == "fix")
                if found is None:
                    raise click.ClickException(f"unknown page {one}")
                results.append(found.as_json())
            return results

    results = asyncio.run(main())
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table()
        for name in ("page_id", "status", "lacking", "error", "resubscribe run"):
            table.add_column(name, no_wrap=name == "page_id", overflow="fold")
        for r in results:
            table.add_row(str(r["page_id"]), str(r["status"]), ", ".join(r["lacking"]),
                          str(r["error"] or ""), str(r["run_id"] or ""))
        Console().print(table)
    if any(r["status"] in {"failed", "needs_reauth"} or (action == "check" and r["status"] == "missing")
           for r in results):
        sys.exit(1)
