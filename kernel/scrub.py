"""The values that must never appear in a log line (app secrets, tokens, passwords), and their removal.

Secrets are wrapped (`kernel.settings.Secret`) so they print as `***`; this registry is the second
fence: every structlog event (convsync.logs) and every standard-library log record (aiokafka,
asyncpg, aiohttp, uvicorn: `install_record_scrubber`) has the registered values replaced before it is
written. Page tokens are registered as they are decrypted (reconciler.tokens), so a token Meta or a
library echoes back is caught too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MIN_LENGTH = 4  # shorter values would scrub ordinary words
_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    _secrets.update(v for v in values if len(v) >= MIN_LENGTH)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def active() -> bool:
    return bool(_secrets)


def install_record_scrubber() -> None:
    """Scrub every standard-library LogRecord as it is made, whichever logger and handler it goes to."""
    make = logging.getLogRecordFactory()
    if getattr(make, "convsync_scrubs", False):
        return

    def scrubbed(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if _secrets:
            # each part scrubbed in place, so formatters that unpack `args` (uvicorn's access log) still can
            if isinstance(record.msg, str):
                record.msg = scrub(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(_clean(a) for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: _clean(v) for k, v in record.args.items()}
            if record.exc_info and record.exc_info[0] is not None:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return record

    scrubbed.convsync_scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed)


def _clean(value: object) -> object:
    """A log argument without secrets: strings scrubbed; an object (an exception, a URL) whose text
    holds one is replaced by its scrubbed text; anything else as it was."""
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    clean = scrub(text)
    return clean if clean != text else value
