"""The `convsync` command. Settings are read here, once, and passed down as `ctx.obj`.

Each component owns its commands (`<package>/cli.py`); they are imported only when invoked, so
`convsync consume` never loads the webhook app and a broken component cannot break `--help`.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys

import click

from convsync import logs
from kernel.settings import Settings, SettingsError, load, require
from kernel.startup import StartupError

# command name -> (module, attribute, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "dev": ("convsync.dev", "dev", "The whole system on the embedded default, with the emulator."),
    "serve": ("convsync.serve", "serve", "Webhook + admin HTTP (uvicorn)."),
    "consume": ("consumers.cli", "consume", "One consumer-group member writing events to PostgreSQL."),
    "reconcile": ("reconciler.cli", "reconcile", "The timer loop syncing leased pages from the Graph API."),
    "sync": ("reconciler.cli", "sync", "One sync now (PAGE_ID [--full] or --all), with a progress bar."),
    "pages": ("reconciler.cli", "pages", "Manage connected pages and their tokens (add/list/remove)."),
    "subscriptions": ("reconciler.cli", "subscriptions", "Show (check) or repair (fix) each page's webhook subscription."),
    "replay": ("replay.cli", "replay", "Re-derive events from the raw archive, or retry dead letters."),
    "emulator": ("emulator.cli", "emulator", "The Meta stand-in (Graph API + webhook traffic) on its own."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*COMMANDS, *super().list_commands(ctx)])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module, attribute, short_help = COMMANDS[name]
        if ctx.resilient_parsing or "--help" in sys.argv[1:2]:
            return click.Command(name, short_help=short_help, help=short_help)
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="convsync", prog_name="convsync")
@click.pass_context
def main(ctx: click.Context) -> None:
    """convsync: Messenger and Instagram conversations, kept complete and current in PostgreSQL."""
    try:
        settings = load(os.environ)
    except SettingsError as exc:
        click.echo(f"convsync: {exc}", err=True)
        ctx.exit(2)
    logs.configure(settings.log_format)
    logs.register_secrets(_secret_values(settings))
    ctx.obj = settings


def _secret_values(settings: Settings) -> list[str]:
    candidates = [
        *settings.webhook.app_secrets,
        settings.webhook.verify_token,
        settings.admin.admin_token,
        *settings.graph.token_keys,
    ]
    return [s.reveal() for s in candidates if s is not None]


@main.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply database migrations (idempotent, safe to run concurrently)."""
    from convsync.migrate import migrate_url

    url = require(settings.database.url, "DATABASE_URL").reveal()
    applied = asyncio.run(migrate_url(url))
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


def run() -> None:
    """Entry point wrapper: a SettingsError from any command is one line, exit code 2; a StartupError
    (a database or broker that cannot be reached or used) one line, exit code 1."""
    try:
        main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"convsync: {exc}", err=True)
        sys.exit(2)
    except StartupError as exc:
        click.echo(f"convsync: {exc}", err=True)
        sys.exit(1)
