"""Structured logging, configured once per process: JSON when not on a terminal, console otherwise.

One line per unit of work with a stable event name. Secrets are wrapped (`kernel.settings.Secret`)
so they print as `***`; as a second fence, the values registered here are scrubbed from every line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from kernel import scrub

def register_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (tokens, secrets, passwords)."""
    scrub.register_secrets(values)


def _scrub_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if not scrub.active():
        return event
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = scrub.scrub(value)
    return event


def configure(fmt: str = "auto", level: int = logging.INFO) -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    scrub.install_record_scrubber()  # aiokafka, asyncpg, aiohttp, uvicorn: the same fence
