"""Start-up checks every long-running command makes, each failure one line that names its cause and
the setting to change (`convsync.cli.run` prints it and exits 1; never a traceback).

    connect(url)                   a PostgreSQL connection, or the one line saying where it failed
    database_ready(url)            PostgreSQL answers and holds every migration this version ships
    database_reachable(url)        whether PostgreSQL answers now (readiness probes; never raises)
    kafka_started(client, kafka)   a producer or consumer connected (and, with idempotence on, the
                                   broker granted a producer id: Tansu does not)
    topics_ensured(kafka)          convsync's topics exist (created when missing), within 30 s

Nothing here prints a password: a database is named by host, port and database name only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError

import migrations
from kernel.kafka import ensure_topics
from kernel.settings import PREFIX, KafkaSettings
from kernel.sqlfiles import statement


class StartupError(RuntimeError):
    """A command cannot start; the message is the one line the user sees."""


class KafkaClient(Protocol):
    async def start(self) -> Any: ...

    async def stop(self) -> Any: ...


def where(url: str) -> str:
    """`host:port/database` of a PostgreSQL URL, without user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def connect(url: str, *, timeout_s: float = 10.0) -> asyncpg.Connection:
    """A connection to PostgreSQL at `url`, or StartupError naming where and the setting to check."""
    try:
        return await asyncpg.connect(url, timeout=timeout_s)
    except CONNECT_ERRORS as exc:
        raise StartupError(f"PostgreSQL at {where(url)} cannot be reached ({exc.__class__.__name__}): "
                           f"check {PREFIX}DATABASE_URL and that the server is up") from None


async def database_reachable(url: str, *, timeout_s: float = 2.0) -> bool:
    """Whether PostgreSQL answers at `url` now, on a connection of its own."""
    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
    except CONNECT_ERRORS:
        return False
    try:
        return bool(await conn.fetchval("SELECT true", timeout=timeout_s))
    except CONNECT_ERRORS:
        return False
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=timeout_s)


async def database_ready(url: str, *, timeout_s: float = 10.0) -> None:
    """PostgreSQL answers at `url` and has every migration of this version applied."""
    conn = await connect(url, timeout_s=timeout_s)
    try:
        applied = {r["version"] for r in await conn.fetch(statement("migrations", "applied"))}
    except asyncpg.UndefinedTableError:
        applied = set()
    finally:
        await conn.close()
    missing = [v for v in migrations.versions() if v not in applied]
    if missing:
        raise StartupError(f"the database at {where(url)} lacks migration(s) {', '.join(missing)}: "
                           f"run `convsync migrate` with the same {PREFIX}DATABASE_URL")


class _Quieted:
    """A logger held at CRITICAL while any of several overlapping users wants it quiet, then given
    back its own level. (Each saving and restoring the level itself, two clients starting at once
    could restore each other's CRITICAL and silence the library for good.)"""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)
        self._users = 0
        self._level = logging.NOTSET

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self._users == 0:
            self._level = self._logger.level
            self._logger.setLevel(logging.CRITICAL)
        self._users += 1
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                self._logger.setLevel(self._level)


# aiokafka logs its own ERROR lines for a failed start; the StartupError says it in one.
_quiet_aiokafka = _Quieted("aiokafka")


async def kafka_started(client: KafkaClient, kafka: KafkaSettings, *, producer: bool) -> None:
    """`await client.start()`, or StartupError (the client stopped) naming what to change."""
    try:
        with _quiet_aiokafka():
            await client.start()
    except KafkaError as exc:
        await client.stop()
        if isinstance(exc, KafkaConnectionError):
            raise StartupError(f"Kafka at {kafka.bootstrap} cannot be reached: check {PREFIX}KAFKA_BOOTSTRAP "
                               "and that the broker is up") from None
        if producer and kafka.idempotence:
            raise StartupError(f"Kafka at {kafka.bootstrap} refused an idempotent producer "
                               f"({exc.__class__.__name__}); a broker without it (such as Tansu) needs "
                               f"{PREFIX}KAFKA_IDEMPOTENCE=false") from None
        raise StartupError(f"Kafka at {kafka.bootstrap} refused the connection ({exc.__class__.__name__}: "
                           f"{exc})") from None


async def topics_ensured(kafka: KafkaSettings) -> None:
    try:
        with _quiet_aiokafka():
            await ensure_topics(kafka)
    except KafkaError as exc:
        raise StartupError(f"Kafka at {kafka.bootstrap} cannot be reached ({exc.__class__.__name__}): "
                           f"check {PREFIX}KAFKA_BOOTSTRAP and that the broker is up") from None
