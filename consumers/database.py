"""The writer's one PostgreSQL connection: opened lazily, reopened after any failure.

`write` commits a batch in one transaction. When the database refuses a record (consumers.failures:
class 22, 23 or 54), the batch is written again in one transaction in which halves are tried under
savepoints, recursively, until each refused record stands alone: those are returned as `Refusal`s
for the DLQ and everything else of the batch is committed. With k bad records among n that is about
2k·log2(n) savepoints, paid only by a batch that holds one. Anything that means the database is
unavailable raises `DatabaseUnavailable`; anything that means our own defect raises `WriterDefect`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import NoReturn

import asyncpg
import structlog

from consumers.batch import merge
from consumers.failures import (
    DatabaseUnavailable,
    WriterDefect,
    describe,
    sqlstate,
    verdict,
)
from consumers.rows import Rows
from consumers.store import WriteResult, write_batch
from kernel.startup import database_reachable

log = structlog.get_logger("convsync.consumer")


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int  # position of the refused record in the written sequence
    sqlstate: str
    error: str


@dataclass(frozen=True, slots=True)
class Written:
    result: WriteResult
    refused: tuple[Refusal, ...] = ()


class _Refused(Exception):
    """Inside an isolating transaction: a sub-batch failed for its data (unwinds its savepoint)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Database:
    def __init__(self, url: str, *, command_timeout_s: float = 60.0, connect_timeout_s: float = 5.0,
                 graph_unsends: bool = True, server_settings: dict[str, str] | None = None) -> None:
        self._url = url
        self._server_settings = server_settings
        self._graph_unsends = graph_unsends
        self._command_timeout_s = command_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._close()

    async def write(self, rows: Sequence[Rows]) -> Written:
        """Write the rows of these records; refused records are left out and named."""
        try:
            return Written(await self._transaction(rows))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            if verdict(exc) != "refuse":
                await self._fail(exc)
            log.info("batch_refused_isolating", records=len(rows), sqlstate=sqlstate(exc))
        try:
            return await self._isolating(rows)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            await self._fail(exc)

    async def ping(self) -> bool:
        """Whether the database answers now, on a connection of its own (the writer's may be busy)."""
        return await database_reachable(self._url)

    async def _transaction(self, rows: Sequence[Rows]) -> WriteResult:
        conn = await self._connection()
        async with conn.transaction():
            return await write_batch(conn, merge(rows), graph_unsends=self._graph_unsends)

    async def _isolating(self, rows: Sequence[Rows]) -> Written:
        conn = await self._connection()
        async with conn.transaction():
            results, refused = await _bisect(conn, list(enumerate(rows)), self._graph_unsends)
        return Written(WriteResult.combine(results), tuple(sorted(refused, key=lambda r: r.index)))

    async def _fail(self, exc: BaseException) -> NoReturn:
        await self._close()
        if verdict(exc) == "stop":
            raise WriterDefect(describe(exc)) from exc
        raise DatabaseUnavailable(describe(exc)) from exc

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._url, timeout=self._connect_timeout_s,
                                               command_timeout=self._command_timeout_s,
                                               server_settings=self._server_settings)
        return self._conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


async def _bisect(conn: asyncpg.Connection, items: list[tuple[int, Rows]], graph_unsends: bool
                  ) -> tuple[list[WriteResult], list[Refusal]]:
    """Write `items` under a savepoint; when the database refuses them, split until the refused stand alone."""
    try:
        async with conn.transaction():  # nested: a savepoint
            try:
                return [await write_batch(conn, merge(r for _, r in items), graph_unsends=graph_unsends)], []
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if verdict(exc) != "refuse":
                    raise
                raise _Refused(exc) from exc
    except _Refused as refused:
        if len(items) == 1:
            return [], [Refusal(items[0][0], sqlstate(refused.cause), describe(refused.cause))]
    half = len(items) // 2
    left, right = await _bisect(conn, items[:half], graph_unsends), await _bisect(conn, items[half:], graph_unsends)
    return left[0] + right[0], left[1] + right[1]
