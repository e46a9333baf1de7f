"""The writer's one PostgreSQL connection: opened lazily, reopened after any failure.

A write either commits the whole batch or raises `DatabaseUnavailable` (the loop then seeks back and
retries with backoff: a database error never sends a record to the DLQ).
"""

from __future__ import annotations

import contextlib
from types import TracebackType

import asyncpg

from consumers.batch import Batch
from consumers.store import WriteResult, write_batch


class DatabaseUnavailable(RuntimeError):
    """The batch was not written (connection lost, server down, statement failed): retry it."""


class Database:
    def __init__(self, url: str, *, command_timeout_s: float = 60.0, connect_timeout_s: float = 5.0) -> None:
        self._url = url
        self._command_timeout_s = command_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._close()

    async def write(self, batch: Batch) -> WriteResult:
        """Write `batch` in one transaction."""
        try:
            conn = await self._connection()
            async with conn.transaction():
                return await write_batch(conn, batch)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            await self._close()
            raise DatabaseUnavailable(f"{exc.__class__.__name__}: {exc}") from exc

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._url, timeout=self._connect_timeout_s,
                                               command_timeout=self._command_timeout_s)
        return self._conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
