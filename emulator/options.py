"""The emulator's command-line options, shared by `convsync emulator` and `convsync dev` (each with
defaults of its own: a small world for a test, a lively one for the dev panel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        for option in reversed(options):  # top to bottom in --help, as listed
            command = option(command)
        return command

    return decorate


def world_options(*, pages: int, instagram_pages: int, conversations: int, messages: int) -> Callable[[F], F]:
    """--pages --instagram-pages --conversations --messages: the world seeded at start."""
    return _apply([
        click.option("--pages", default=pages, show_default=True, help="Pages the emulator serves."),
        click.option("--instagram-pages", default=instagram_pages, show_default=True,
                     help="How many of --pages are Instagram accounts."),
        click.option("--conversations", default=conversations, show_default=True,
                     help="Conversations per page at start."),
        click.option("--messages", default=messages, show_default=True, help="Messages per conversation at start."),
    ])


def fault_options(*, loss: float, duplicate: float, reorder: float) -> Callable[[F], F]:
    """--loss --dup --reorder: what happens to webhook POSTs on the way."""
    return _apply([
        click.option("--loss", default=loss, show_default=True, help="Share of webhook POSTs lost on purpose."),
        click.option("--dup", "duplicate", default=duplicate, show_default=True,
                     help="Share of webhook POSTs sent twice."),
        click.option("--reorder", default=reorder, show_default=True,
                     help="Share of webhook POSTs swapped with the next."),
    ])
